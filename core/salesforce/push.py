"""Warehouse → Salesforce: changed scores written with Bulk API 2.0, safely.

Guarantees (each tested against the HTTPS stand-in):

- changed-only and idempotent: a ledger keeps, per lead, the hash of the values that last landed; only rows
  whose hash differs are sent, so a second run sends nothing;
- nothing lost: every intended row ends the run landed (ledger), failed (failure ledger, with Salesforce's
  error) or deferred (failure ledger, with why); ``UNABLE_TO_LOCK_ROW`` and unprocessed rows are retried in a
  new job with bounded exponential backoff;
- nothing twice: a job whose results could not be read is kept in ``ops.sf_jobs`` and reconciled by the next
  push before anything is sent again;
- gentle: ``REQUEST_LIMIT_EXCEEDED`` stops the push and leaves the rest for the next run; a circuit breaker
  stops a push whose failure rate passes ``breaker_threshold``; below the org's API floor nothing is sent;
- one at a time: a second push while one runs is refused, naming the holder;
- honest: nothing is pushed while the scores in place are yesterday's (the last daily run failed).
"""

from __future__ import annotations

import json
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from simple_salesforce.exceptions import SalesforceResourceNotFound

from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.export import write_text_file
from core.ingest.loader import no_progress
from core.locks import flock_held
from core.operation import audited
from core.salesforce import ledger
from core.salesforce.client import RequestLimitExceeded, SalesforceClient, TransientFailure
from core.salesforce.config import salesforce_config
from core.salesforce.payload import payload_csv
from core.salesforce.result import Outcome, SyncResult, now, record_sync
from core.warehouse import Warehouse

RETRYABLE = ("UNABLE_TO_LOCK_ROW",)
# What a per-record error means in an org and what to do, for the codes a write-back meets (the message says the rest).
ADVICE = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "a validation rule on Lead fires on these updates: exempt the integration user "
                                         "(a custom permission the rule checks) or fix the rule",
    "CANNOT_EXECUTE_FLOW_TRIGGER": "a flow on Lead fails on these updates: fix the flow, or skip it for the "
                                   "integration user",
    "INSUFFICIENT_ACCESS_OR_READONLY": "the integration user cannot edit these Leads: give it edit access (sharing, "
                                      "or Modify All on Lead)",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY": "the integration user cannot edit these Leads: give it edit "
                                                     "access (sharing, or Modify All on Lead)",
    "CANNOT_UPDATE_CONVERTED_LEAD": "converted Leads are read-only to the API: load a newer Lead export so they "
                                    "leave the scored leads",
    "ENTITY_IS_DELETED": "deleted in Salesforce since the loaded Lead export: load a newer one",
    "INVALID_CROSS_REFERENCE_KEY": "no such Lead in this org: is the Lead export from another org (a sandbox)?",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": "the tier picklist lacks a value: give Lead_Score_Tier__c the values "
                                               "A, B and C",
    "STRING_TOO_LONG": "a text field is shorter than the contract's: widen it to the length in "
                       "salesforce_writeback_fields.csv",
    "NUMBER_OUTSIDE_VALID_RANGE": "Lead_Score__c cannot hold 0–100: make it a Number(3, 0) field",
}


def failure_words(codes: dict[str, int], examples: dict[str, str]) -> str:
    """The commonest per-record errors in words: code, rows, Salesforce's message and what to do."""
    parts = []
    for code, n in sorted(codes.items(), key=lambda kv: -kv[1])[:3]:
        advice = ADVICE.get(code)
        parts.append(f"{code} × {n:,} ({examples[code][:120]!r}" + (f": {advice})" if advice else ")"))
    return "Most common: " + "; ".join(parts) + "." if parts else ""
JOB_REQUESTS = 10  # API requests one Bulk job costs: create, upload, close, polls, results (a safe upper bound)


def check_fields(client: SalesforceClient, cfg) -> None:
    """Every mapped write-back field exists on the object and is updateable for this user, or stop."""
    if not cfg.check_fields:
        return
    described = client.describe_fields()
    for contract_name, api_name in cfg.field_map.items():
        f = described.get(api_name)
        if f is None:
            raise LeadScoringError(
                f"Salesforce {cfg.object_name} has no field {api_name} (write-back field {contract_name}); nothing was "
                f"sent. Create it in Setup → Object Manager → {cfg.object_name} → Fields (type per "
                "salesforce_writeback_fields.csv), or map it to the org's name in salesforce.field_map.")
        if not f.get("updateable"):
            raise LeadScoringError(
                f"Salesforce field {cfg.object_name}.{api_name} ({contract_name}) is not updateable for the integration "
                "user; nothing was sent. Grant Edit on the field in the user's permission set (field-level security).")


def _org_allows(push: "_Push", client: SalesforceClient, cfg, pending: pd.DataFrame) -> bool:
    """The checks before any job: the fields (a missing or read-only one stops with the project's error) and
    the API allowance (below the floor, or unreadable, the rows are deferred into the ledger, nothing sent)."""
    result = push.result
    try:
        check_fields(client, cfg)
        needed = JOB_REQUESTS * -(-len(pending) // cfg.batch_size) + 5
        floor = client.api_floor_shortfall(needed, f"this push needs about {needed:,}")
    except (RequestLimitExceeded, TransientFailure) as exc:
        limit = isinstance(exc, RequestLimitExceeded)
        result.outcome = Outcome.STOPPED_REQUEST_LIMIT if limit else Outcome.STOPPED_TRANSIENT
        push.defer(pending, "REQUEST_LIMIT_EXCEEDED" if limit else "TRANSIENT_ERROR",
                   f"not sent: the org could not be checked first ({exc})")
        result.message = f"The org's fields and limits could not be read ({exc}); nothing was sent."
        return False
    if floor:
        floor = floor[:1].upper() + floor[1:]
        result.outcome = Outcome.DEFERRED_API_FLOOR
        push.defer(pending, "API_FLOOR", floor)
        result.message = f"{floor} Nothing was sent; the {len(pending):,} rows wait in the ledger for the next push."
        return False
    return True


def _code(error: str) -> str:
    return (error or "").split(":", 1)[0].strip() or "UNKNOWN"


def _rest(queue: deque, pending: pd.DataFrame) -> pd.DataFrame:
    """The rows still waiting in the queue (an empty frame of the same shape when none)."""
    return pd.concat(list(queue)) if queue else pending.iloc[0:0]


class _Push:
    """One push run's state and its warehouse writes (short transactions, one per job)."""

    def __init__(self, wh: Warehouse, cfg, client: SalesforceClient, result: SyncResult, sleep):
        self.wh, self.cfg, self.client, self.result, self.sleep = wh, cfg, client, result, sleep
        self.attempts: dict[str, int] = {}
        self.permanent = 0
        self.done = 0  # rows landed or finally failed, for progress
        self.codes: dict[str, int] = {}  # final failures by error code, with the first message of each
        self.examples: dict[str, str] = {}

    def write(self, job_id: str | None, landed: pd.DataFrame | None = None, failures: list[dict] = (),
              reconciled: bool = True, sync_id: str | None = None) -> None:
        ledger.record_job(self.wh, sync_id or self.result.sync_id, job_id, landed, failures, reconciled)

    def outcome_rows(self, res, hashes: dict) -> tuple[pd.DataFrame, list[dict], list[str]]:
        """Split a job's results into landed rows, final failures and Ids to retry."""
        landed = pd.DataFrame(res.successful)
        if not landed.empty:
            fields = [c for c in landed.columns if not c.startswith("sf__") and c != "Id"]
            landed = landed.assign(values_hash=landed.Id.map(hashes),
                                   values_json=[json.dumps(dict(zip(fields, v))) for v in
                                                landed[fields].itertuples(index=False)])
        else:
            landed = pd.DataFrame(columns=["Id", "values_hash", "values_json"])
        failures, retry = [], []
        for row in res.failed:
            lead_id, error = row.get("Id") or row.get("sf__Id"), row.get("sf__Error", "")
            n = self.attempts.get(lead_id, 1)
            if _code(error) in RETRYABLE and n < self.cfg.max_attempts:
                retry.append(lead_id)
            else:
                failures.append({"lead_id": lead_id, "kind": "failed", "error_code": _code(error),
                                 "error_message": error, "attempts": n})
        for row in res.unprocessed:
            lead_id = row.get("Id")
            n = self.attempts.get(lead_id, 1)
            if not res.rejected and n < self.cfg.max_attempts:
                retry.append(lead_id)
            else:
                failures.append({"lead_id": lead_id, "kind": "failed",
                                 "error_code": _code(res.error) if res.error else "UNPROCESSED",
                                 "error_message": res.error or f"not processed by job {res.job_id} ({res.state})",
                                 "attempts": n})
        return landed, failures, retry

    def reconcile_open_jobs(self) -> int:
        """Jobs an earlier push could not finish reading: learn what landed before sending anything."""
        jobs = ledger.open_jobs(self.wh)
        for job in jobs.itertuples():
            hashes = dict(json.loads(job.rows_json))
            try:
                info = self.client.job_state(job.job_id)
            except SalesforceResourceNotFound:
                # Salesforce purges jobs after 7 days: what it did is unknowable now. Its rows are sent again
                # (the same values, so a row that had landed is rewritten unchanged) and the run says so.
                self.write(job.job_id, sync_id=job.sync_id)
                self.result.message += (f"Earlier job {job.job_id} no longer exists in Salesforce; its "
                                        f"{len(hashes):,} rows are sent again. ")
                continue
            if info["state"] == "Open":  # never closed: abort; nothing of it was processed
                self.client.abort_quietly(job.job_id)
                self.write(job.job_id, sync_id=job.sync_id)
                continue
            if info["state"] not in ("JobComplete", "Failed", "Aborted"):
                info = self.client.wait(job.job_id)
            res = self.client.results(job.job_id, info)
            landed, failures, _ = self.outcome_rows(res, hashes)
            # What did not land is sent again by this push (its hash still differs from the ledger).
            self.write(job.job_id, landed, [], sync_id=job.sync_id)
            self.result.job_ids.append(job.job_id)
        return len(jobs)

    def defer(self, rows: pd.DataFrame, code: str, message: str) -> None:
        if rows.empty:
            return
        self.result.deferred += len(rows)
        self.write(None, failures=[
            {"lead_id": i, "kind": "deferred", "error_code": code, "error_message": message,
             "attempts": self.attempts.get(i, 0)} for i in rows.Id])

    def run(self, pending: pd.DataFrame, progress) -> None:
        """Send ``pending`` in jobs of batch_size rows; retryable failures go back on the queue with backoff. Stops
        cleanly (every unsent row deferred with its reason) on a request limit, a transient error, a rejected job or
        the circuit breaker."""
        cfg = self.cfg
        by_id = pending.set_index("Id", drop=False)
        queue = deque(pending.iloc[i: i + cfg.batch_size] for i in range(0, len(pending), cfg.batch_size))
        self.done = 0
        for _ in range(len(queue) * (cfg.max_attempts + 1) + 10):  # bounded: each row is retried at most max_attempts
            if not queue:
                break
            chunk = queue.popleft()
            for i in chunk.Id:
                self.attempts[i] = self.attempts.get(i, 0) + 1
            sent = self._send(chunk, queue, pending)
            if sent is None:
                return
            retry = self._after_job(*sent, by_id, queue, pending, progress)
            if retry is None:
                return
            if retry:
                wait = min(cfg.backoff_seconds * 2 ** (max(self.attempts[i] for i in retry) - 1), cfg.backoff_max_seconds)
                self.sleep(wait)
                queue.append(by_id.loc[retry])
        # rows still queued only if the loop bound ran out (it should not): every row is still accounted for
        self.defer(_rest(queue, pending), "RETRY_BUDGET", "not sent: retry budget exhausted")
        if self.result.failed and self.result.outcome == Outcome.OK:
            self.result.outcome = Outcome.PARTIAL
            self.result.message = (f"{self.result.failed:,} row(s) failed; see the failure ledger (retry with "
                                   "--retry-failed). " + failure_words(self.codes, self.examples)).strip()

    def _send(self, chunk: pd.DataFrame, queue, pending: pd.DataFrame):
        """One job: create (registered in the ledger before any data goes), upload, close, wait, read its results.
        Returns (job id, results); None when the push stopped (request limit or transient error)."""
        job_id, uploaded = None, False
        try:
            job_id = self.client.create_update_job()
            self.result.job_ids.append(job_id)
            ledger.register_job(self.wh, self.result.sync_id, job_id, chunk)
            self.client.upload(job_id, payload_csv(chunk))
            uploaded = True
            self.client.close(job_id)
            self.result.sent += len(chunk)
            return job_id, self.client.results(job_id, self.client.wait(job_id))
        except (RequestLimitExceeded, TransientFailure) as exc:
            self._stop_early(exc, chunk, job_id, uploaded, queue, pending)
            return None

    def _stop_early(self, exc, chunk: pd.DataFrame, job_id: str | None, uploaded: bool, queue, pending) -> None:
        limit = isinstance(exc, RequestLimitExceeded)
        code = "REQUEST_LIMIT_EXCEEDED" if limit else "TRANSIENT_ERROR"
        self.result.outcome = Outcome.STOPPED_REQUEST_LIMIT if limit else Outcome.STOPPED_TRANSIENT
        if job_id and uploaded:
            self.defer(chunk, "RESULTS_PENDING", f"{exc}; job {job_id} was submitted and its results could "
                                                 "not be read: the next push reconciles it before sending")
        else:  # no job, or aborted before any data: the rows are simply not sent yet
            if job_id:
                self.client.abort_quietly(job_id)
                self.write(job_id)
            self.defer(chunk, code, f"{exc}; not sent, the next push sends it")
        self.defer(_rest(queue, pending), code, "not sent: the push stopped early; the next push sends it")
        self.result.message = (("Salesforce's API request limit is used up" if limit else str(exc))
                               + f": stopped cleanly; {self.result.deferred:,} row(s) left for the next push.")

    def _after_job(self, job_id: str, res, by_id: pd.DataFrame, queue, pending: pd.DataFrame, progress) -> list | None:
        """Record a job's outcome; the Ids to retry, or None when the push stops (job rejected, circuit breaker)."""
        cfg, result = self.cfg, self.result
        landed, failures, retry = self.outcome_rows(res, by_id.values_hash.to_dict())
        self.write(job_id, landed, failures)
        result.succeeded += len(landed)
        result.failed += len(failures)
        self.permanent += len(failures)
        for f in failures:
            self.codes[f["error_code"]] = self.codes.get(f["error_code"], 0) + 1
            self.examples.setdefault(f["error_code"], str(f["error_message"]))
        self.done += len(landed) + len(failures)
        progress(min(0.1 + 0.85 * self.done / max(len(pending), 1), 0.95),
                 f"Job {job_id}: {len(landed):,} landed, {len(failures):,} failed, {len(retry):,} to retry")
        if res.rejected:
            result.outcome = Outcome.FAILED
            self.defer(_rest(queue, pending), "JOB_REJECTED", f"not sent: Salesforce rejected job {job_id} ({res.error})")
            result.message = (f"Salesforce rejected the job: {res.error}. Check salesforce.field_map against the "
                              "Lead fields in the org.")
            return None
        processed = result.succeeded + self.permanent
        if processed >= cfg.breaker_min_rows and self.permanent / processed > cfg.breaker_threshold:
            result.outcome = Outcome.CIRCUIT_OPEN
            if retry:
                queue.appendleft(by_id.loc[retry])
            self.defer(_rest(queue, pending), "CIRCUIT_BREAKER", f"not sent: {self.permanent:,} of {processed:,} rows "
                                                                 f"failed (> {cfg.breaker_threshold:.0%}); push stopped")
            result.message = (f"Circuit breaker: {self.permanent / processed:.0%} of processed rows failed "
                              f"(threshold {cfg.breaker_threshold:.0%}); the push stopped. Read the failures, fix "
                              "the cause, then retry. " + failure_words(self.codes, self.examples)).strip()
            return None
        return retry


@contextmanager
def push_lock(settings: Settings):
    """One push at a time per installation: two concurrent pushes would both send the same changed rows."""
    busy = lambda who: LeadScoringError(  # noqa: E731
        f"Another Salesforce push is running ({who}). Wait for it to finish; its results will be on the Salesforce "
        "sync page.")
    with flock_held(Path(settings.data_dir) / "salesforce_push.lock", exclusive=True, timeout=0,
                    what="Salesforce push", busy=busy):
        yield


@audited("push_scores", "salesforce_push", failures=False)  # record_sync audits every outcome
def push_scores(wh: Warehouse, settings: Settings, actor: Actor | None = None, dry_run: str | Path | None = None,
                retry_failed: bool = False, progress=no_progress, client: SalesforceClient | None = None,
                sleep=time.sleep) -> SyncResult:
    """Write changed scores to Salesforce with Bulk API 2.0 (or, with ``dry_run``, the exact CSV it would send)."""
    started, t0 = now(), time.perf_counter()
    result = SyncResult.start("dry_run" if dry_run else "push")
    cfg = salesforce_config(settings)
    try:
        stale = ledger.stale_scores_reason(wh)
        if stale:
            result.outcome, result.message = Outcome.REFUSED, f"Nothing pushed: {stale}"
            raise LeadScoringError(result.message)
        rows = ledger.outgoing_rows(wh, settings)
        pending = ledger.pending_rows(wh, rows, retry_failed)
        result.intended = len(pending)
        if dry_run:
            write_text_file(payload_csv(pending), dry_run, "--dry-run")
            clears = int(pending["reason"].notna().sum()) if "reason" in pending else 0
            result.message = (f"{len(pending) - clears:,} of {len(rows) - clears:,} scored leads would be sent"
                              + (f", and {clears:,} lead(s) that left scoring would be cleared" if clears else "")
                              + f"; wrote {dry_run}.")
            return result
        cfg.require()
        with push_lock(settings):
            # The ledger is read again under the lock: a push that just finished may have landed rows.
            pending = ledger.pending_rows(wh, rows, retry_failed)
            result.intended = len(pending)
            progress(0.02, "Connecting to Salesforce")
            client = client or SalesforceClient(cfg, sleep=sleep)
            push = _Push(wh, cfg, client, result, sleep)
            try:
                result.reconciled_jobs = push.reconcile_open_jobs()
            except (RequestLimitExceeded, TransientFailure) as exc:
                limit = isinstance(exc, RequestLimitExceeded)
                result.outcome = Outcome.STOPPED_REQUEST_LIMIT if limit else Outcome.STOPPED_TRANSIENT
                push.defer(pending, "REQUEST_LIMIT_EXCEEDED" if limit else "TRANSIENT_ERROR",
                           "not sent: an earlier job could not be reconciled first")
                result.message = (f"An earlier job could not be reconciled ({exc}); nothing was sent so that no row "
                                  "lands twice. The next push tries again.")
                return result
            if result.reconciled_jobs:  # what landed meanwhile is no longer pending
                pending = ledger.pending_rows(wh, rows, retry_failed)
                result.intended = len(pending)
            if pending.empty:
                result.outcome = Outcome.NOTHING_TO_SEND
                result.message = f"All {len(rows):,} scores are already in Salesforce."
                return result
            if not _org_allows(push, client, cfg, pending):
                return result
            progress(0.1, f"Sending {len(pending):,} changed rows in jobs of {cfg.batch_size:,}")
            push.run(pending, progress)
            result.retries = client.retries
            ledger.record_cleared(wh, pending, result)
            return result
    except LeadScoringError as exc:
        if result.outcome == Outcome.OK:
            result.outcome, result.message = Outcome.FAILED, str(exc)
        raise
    except Exception as exc:
        result.outcome, result.message = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result.seconds = time.perf_counter() - t0
        progress(1.0, f"Push {result.outcome}")
        record_sync(wh, result, actor, started)


def dry_run_bytes(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> tuple[SyncResult, bytes]:
    """The dry-run file as bytes (for a download button), recorded like any dry run."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "salesforce_dry_run.csv"
        result = push_scores(wh, settings, actor=actor, dry_run=path)
        result.message = result.message.replace(f"wrote {path}.", "the file is ready to download.")  # no server path
        return result, path.read_bytes()
