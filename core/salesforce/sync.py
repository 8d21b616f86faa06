"""Salesforce both ways: pull contacted Leads through the file ingestion path, push scores back safely.

Push guarantees (each tested against the HTTPS stand-in):

- changed-only and idempotent: a ledger keeps, per lead, the hash of the values that last landed; only rows
  whose hash differs are sent, so a second run sends nothing;
- nothing lost: every intended row ends the run landed (ledger), failed (failure ledger, with Salesforce's
  error) or deferred (failure ledger, with why); ``UNABLE_TO_LOCK_ROW`` and unprocessed rows are retried in a
  new job with bounded exponential backoff;
- nothing twice: a job whose results could not be read is kept in ``ops.sf_jobs`` and reconciled by the next
  push before anything is sent again;
- gentle: ``REQUEST_LIMIT_EXCEEDED`` stops the push and leaves the rest for the next run; a circuit breaker
  stops a push whose failure rate passes ``breaker_threshold``;
- honest: nothing is pushed while the scores in place are yesterday's (the last daily run failed).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import time
import uuid
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from simple_salesforce.exceptions import SalesforceResourceNotFound

from core import audit
from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.contract import salesforce_columns
from core.errors import LeadScoringError
from core.features.build import as_utc
from core.ingest.loader import no_progress
from core.salesforce.client import RequestLimitExceeded, SalesforceClient, TransientFailure
from core.salesforce.config import salesforce_config
from core.salesforce.payload import changed_rows, cleared_rows, payload_csv, writeback_rows
from core.warehouse import Warehouse
from core.warehouse.sql import literal

RETRYABLE = ("UNABLE_TO_LOCK_ROW",)


@dataclass
class SyncResult:
    sync_id: str
    kind: str  # push | dry_run | pull
    outcome: str = "ok"  # ok | partial | stopped_request_limit | stopped_transient | circuit_open | failed | refused | nothing_to_send
    intended: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    deferred: int = 0
    retries: int = 0
    job_ids: list = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    reconciled_jobs: int = 0
    cleared: int = 0  # leads whose score was cleared because they left the scored population

    def markdown(self) -> str:
        head = {"push": "Push", "dry_run": "Dry run", "pull": "Pull"}[self.kind]
        lines = [f"{head} {self.sync_id}: **{self.outcome}** in {self.seconds:.1f} s."]
        if self.kind == "pull":
            lines.append(f"{self.succeeded:,} Lead rows pulled and loaded. {self.message}")
        else:
            lines.append(f"Intended {self.intended:,} · sent {self.sent:,} · landed {self.succeeded:,} · failed "
                         f"{self.failed:,} · deferred {self.deferred:,} · HTTP retries {self.retries} · jobs "
                         f"{len(self.job_ids)}" + (f" · reconciled {self.reconciled_jobs} earlier job(s)"
                                                   if self.reconciled_jobs else "")
                         + (f" · cleared {self.cleared:,} lead(s) that left scoring" if self.cleared else ""))
            if self.message:
                lines.append(self.message)
        return "\n".join(lines)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _record(wh: Warehouse, result: SyncResult, actor: Actor, started: datetime) -> None:
    row = {
        "sync_id": result.sync_id, "kind": result.kind, "actor": actor.username, "started_at": started,
        "finished_at": _now(), "outcome": result.outcome, "rows_intended": result.intended,
        "rows_sent": result.sent, "rows_succeeded": result.succeeded, "rows_failed": result.failed,
        "rows_deferred": result.deferred, "retries": result.retries, "job_ids": ",".join(result.job_ids),
        "message": result.message, "seconds": round(result.seconds, 2),
    }
    with wh.writer(f"record Salesforce {result.kind}") as s:
        s.load("ops.sf_syncs", pd.DataFrame([row]), mode="append")
        detail = {k: v for k, v in asdict(result).items() if k not in ("sync_id", "kind")}
        audit.record(s, actor, f"salesforce_{result.kind}", result.sync_id, result.outcome, detail)


# --- pull -------------------------------------------------------------------------------------------
def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # compound Address
        parts = [value.get(k) for k in ("street", "city", "state", "postalCode", "country")]
        return ", ".join(str(p) for p in parts if p)
    return str(value)


def _field(record: dict, name: str):
    if "." in name:  # relationship, e.g. Owner.Name
        head, tail = name.split(".", 1)
        sub = record.get(head)
        return None if sub is None else _field(sub, tail)
    return record.get(name)


def pull_leads(wh: Warehouse, settings: Settings, actor: Actor | None = None, progress=no_progress,
               client: SalesforceClient | None = None):
    """Fetch the contract's Lead fields for contacted leads (SOQL, every page) and load them exactly as a
    Lead export file is loaded: the pulled rows are written as a contract CSV, archived with a checksum,
    parsed, deduplicated and accounted for by :func:`core.ingest.leads.load_lead_file`."""
    from core.ingest.leads import load_lead_file

    names = [c.name for c in salesforce_columns()]
    soql = f"SELECT {', '.join(names)} FROM {salesforce_config(settings).object_name} WHERE Stage_Entered_Contacting__c != null"
    return _pull(wh, settings, actor, progress, client, soql, names, "Leads", "salesforce_pull", load_lead_file,
                 "Check the user's access to Lead and Stage_Entered_Contacting__c.")


def pull_activities(wh: Warehouse, settings: Settings, actor: Actor | None = None, progress=no_progress,
                    client: SalesforceClient | None = None):
    """Fetch the contract's Task fields (call activity) for Tasks on a record (SOQL, every page) and load
    them exactly as a Task export file: :func:`core.ingest.activities.load_activity_file`."""
    from core.contract import task_columns
    from core.ingest.activities import load_activity_file

    names = [c.name for c in task_columns()]
    soql = f"SELECT {', '.join(names)} FROM Task WHERE WhoId != null"
    return _pull(wh, settings, actor, progress, client, soql, names, "Tasks", "salesforce_tasks_pull",
                 load_activity_file, "Check the user's access to Task (Activities) and its WhoId field.")


def _pull(wh, settings, actor, progress, client, soql: str, names: list[str], what: str, prefix: str, load,
          access_hint: str):
    actor = actor or cli_actor()
    authorize(actor, "replace_data")
    cfg = salesforce_config(settings).require()
    started, t0 = _now(), time.perf_counter()
    result = SyncResult(uuid.uuid4().hex[:12], "pull")
    out_dir = Path(settings.data_dir) / "pulls"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{prefix}_{started:%Y%m%dT%H%M%S}_{result.sync_id}.csv"
    pages = rows = 0
    try:
        client = client or SalesforceClient(cfg)
        progress(0.02, f"Querying {what} at {cfg.login_url if not cfg.session_id else cfg.instance_url}")
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            for records, total in client.query_pages(soql):
                pages += 1
                rows += len(records)
                writer.writerows([_cell(_field(r, n)) for n in names] for r in records)
                progress(0.05 + 0.45 * rows / max(total, 1), f"Page {pages}: {rows:,} of {total:,} {what}")
        if rows == 0:
            raise LeadScoringError(f"Salesforce returned no {what} ({soql.split(' FROM ')[1]}); nothing was "
                                   f"replaced. {access_hint}")
        loaded = load(wh, settings, path, actor=actor, progress=lambda f, m: progress(0.5 + 0.5 * f, m))
        result.succeeded, result.intended = loaded.rows_loaded, rows
        result.message = (f"{what}: {pages} page(s), {rows:,} rows read, {loaded.rows_loaded:,} loaded, "
                          f"{loaded.rows_quarantined:,} quarantined (load {loaded.load_id}).")
        return loaded
    except (RequestLimitExceeded, TransientFailure) as exc:
        result.outcome, result.message = "failed", f"{exc}; stopped after {rows:,} rows, the loaded {what} are unchanged."
        raise LeadScoringError(f"Salesforce pull {result.message} Retry later.") from None
    except Exception as exc:
        result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        path.unlink(missing_ok=True)  # the loader archived its own copy with a checksum
        result.seconds = time.perf_counter() - t0
        _record(wh, result, actor, started)


# --- push -------------------------------------------------------------------------------------------
def _writeback_scores(wh: Warehouse) -> pd.DataFrame:
    """The current scores with each lead's experiment arm (``NAME:ARM``) and whether its arm hides scores."""
    from core.experiments.assign import with_challenger_scores, writeback_arms
    from core.scoring.score import current_scores

    scores = current_scores(wh)
    arms = writeback_arms(wh)
    if arms.empty:
        return scores
    return with_challenger_scores(wh, scores.merge(arms, on="lead_id", how="left"))


def stale_scores_reason(wh: Warehouse) -> str | None:
    """Why the scores in place must not be pushed (the last daily run failed after them), or None."""
    with wh.reader() as s:
        if not s.table_exists("ops.runs") or not s.table_exists("ml.lead_scores"):
            return None
        last = s.query("select run_id, started_at, outcome, error from ops.runs where kind = 'run-daily' "
                       "order by started_at desc limit 1")
        scored = s.scalar("select max(scored_at) from ml.lead_scores")
    if last.empty or last.outcome.iloc[0] != "failed":
        return None
    started, scored_ts = as_utc(last.started_at.iloc[0]), as_utc(scored)
    if scored_ts is None or scored_ts > started:
        return None
    return (f"the last daily run ({last.run_id.iloc[0]}, {started:%Y-%m-%d %H:%M} UTC) failed "
            f"({last.error.iloc[0]}), so the scores in place are from {scored_ts:%Y-%m-%d %H:%M} UTC. Fix the run and "
            "re-run `run-daily`; nothing is pushed until scoring succeeds.")


def _ledger(wh: Warehouse) -> pd.DataFrame:
    return wh.read("select lead_id, values_hash from ops.sf_writeback_ledger")


CLEAR_REASONS = {
    "mql": "booked a discovery call (MQL)", "closed": "closed or disqualified in Salesforce",
    "converted": "converted", "gone": "no longer in the Salesforce Lead export",
}


def _clear_reasons(wh: Warehouse, ids: list[str], settings: Settings) -> dict:
    if not ids:
        return {}
    with wh.reader() as s:
        leads = s.query("select Id, Stage_Entered_Call_Scheduled__c as mql_at, Status, IsConverted from marts.dim_leads")
    leads = leads[leads.Id.isin(set(ids))].set_index("Id")
    out = {}
    for lead_id in ids:
        if lead_id not in leads.index:
            out[lead_id] = CLEAR_REASONS["gone"]
            continue
        r = leads.loc[lead_id]
        if bool(r.IsConverted) if pd.notna(r.IsConverted) else False:
            out[lead_id] = CLEAR_REASONS["converted"]
        elif pd.notna(r.mql_at):
            out[lead_id] = CLEAR_REASONS["mql"]
        elif str(r.Status or "") in settings.closed_statuses:
            out[lead_id] = CLEAR_REASONS["closed"] + f" ({r.Status})"
        else:
            out[lead_id] = "left the scored population"
    return out


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
        floor = _api_floor_reason(client, cfg, len(pending))
    except (RequestLimitExceeded, TransientFailure) as exc:
        limit = isinstance(exc, RequestLimitExceeded)
        result.outcome = "stopped_request_limit" if limit else "stopped_transient"
        push.defer(pending, "REQUEST_LIMIT_EXCEEDED" if limit else "TRANSIENT_ERROR",
                   f"not sent: the org could not be checked first ({exc})")
        result.message = f"The org's fields and limits could not be read ({exc}); nothing was sent."
        return False
    if floor:
        result.outcome = "deferred_api_floor"
        push.defer(pending, "API_FLOOR", floor)
        result.message = f"{floor} Nothing was sent; the {len(pending):,} rows wait in the ledger for the next push."
        return False
    return True


def _api_floor_reason(client: SalesforceClient, cfg, rows: int) -> str | None:
    remaining, maximum = client.api_requests()
    needed = JOB_REQUESTS * -(-rows // cfg.batch_size) + 5
    if remaining - needed < cfg.api_request_floor:
        return (f"The org has {remaining:,} of {maximum:,} daily API requests left; this push needs about {needed:,} "
                f"and salesforce.api_request_floor keeps {cfg.api_request_floor:,} for other integrations.")
    return None


def org_checks(settings: Settings) -> dict:
    """What the sync page shows: each mapped field's presence and updateability, and the API allowance."""
    cfg = salesforce_config(settings).require()
    client = SalesforceClient(cfg)
    described = client.describe_fields()
    remaining, maximum = client.api_requests()
    rows = [{"Write-back field": c, "API name": a, "exists": a in described,
             "updateable": bool(described.get(a, {}).get("updateable"))} for c, a in cfg.field_map.items()]
    return {"fields": rows, "api_remaining": remaining, "api_max": maximum, "api_floor": cfg.api_request_floor}


def _record_cleared(wh: Warehouse, pending: pd.DataFrame, result: SyncResult) -> None:
    """Which cleared leads landed, and why they were cleared (ops.sf_cleared; counted on the sync)."""
    if "reason" not in pending or pending["reason"].isna().all():
        return
    cleared = pending[pending["reason"].notna()]
    landed = wh.read("select lead_id, values_hash from ops.sf_writeback_ledger")
    ok = cleared.merge(landed, left_on=["Id", "values_hash"], right_on=["lead_id", "values_hash"])
    if ok.empty:
        return
    result.cleared = len(ok)
    with wh.writer("Salesforce cleared scores") as s:
        s.load("ops.sf_cleared", pd.DataFrame({"lead_id": ok["Id"], "reason": ok["reason"],
                                               "sync_id": result.sync_id, "cleared_at": _now()}), mode="append")


def outgoing_rows(wh: Warehouse, settings: Settings) -> pd.DataFrame:
    """Every row the write-back would send if nothing had landed yet: one per scored lead, plus one clearing
    each lead whose score is still in Salesforce but which left the scored population (with ``reason``)."""
    cfg = salesforce_config(settings)
    rows = writeback_rows(_writeback_scores(wh), cfg.field_map)
    ledger = wh.read("select lead_id, values_json from ops.sf_writeback_ledger")
    gone = sorted(set(ledger.lead_id) - set(rows.Id))
    cleared = cleared_rows(ledger[ledger.lead_id.isin(gone)], set(rows.Id), cfg.field_map, _now(),
                           _clear_reasons(wh, gone, settings))
    return pd.concat([rows.assign(reason=None), cleared], ignore_index=True) if len(cleared) else rows


def _pending(wh: Warehouse, rows: pd.DataFrame, retry_failed: bool = False) -> pd.DataFrame:
    """Rows whose values differ from the ledger; with ``retry_failed``, only those in the open failure ledger."""
    pending = changed_rows(rows, _ledger(wh))
    return pending[pending.Id.isin(set(open_failures(wh).lead_id))] if retry_failed else pending


def open_failures(wh: Warehouse) -> pd.DataFrame:
    return wh.read(
        "select sync_id, lead_id, job_id, kind, error_code, error_message, attempts, recorded_at "
        "from ops.sf_push_failures where resolved_at is null order by recorded_at desc")


def pending_changes(wh: Warehouse, settings: Settings) -> pd.DataFrame:
    """The rows a push would send now (with ``change``: new or changed), without contacting Salesforce."""
    return _pending(wh, outgoing_rows(wh, settings))


def recent_syncs(wh: Warehouse, limit: int = 20) -> pd.DataFrame:
    return wh.read(f"select * from ops.sf_syncs order by started_at desc limit {int(limit)}")


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

    def write(self, job_id: str | None, landed: pd.DataFrame | None = None, failures: list[dict] = (),
              reconciled: bool = True, sync_id: str | None = None) -> None:
        now = _now()
        sync_id = sync_id or self.result.sync_id
        with self.wh.writer("Salesforce write-back ledger") as s:
            if landed is not None and not landed.empty:
                batch = pd.DataFrame({"lead_id": landed.Id.to_numpy(), "values_hash": landed.values_hash.to_numpy(),
                                      "values_json": landed.values_json.to_numpy(), "sent_at": now,
                                      "job_id": job_id, "sync_id": sync_id})
                s.stage("staging.sf_landed", batch)
                s.execute(
                    "delete from ops.sf_writeback_ledger where lead_id in (select lead_id from staging.sf_landed);\n"
                    "insert into ops.sf_writeback_ledger select lead_id, values_hash, values_json, sent_at, job_id, "
                    "sync_id from staging.sf_landed;\n"
                    f"update ops.sf_push_failures set resolved_at = {literal(now.isoformat())} "
                    "where resolved_at is null and lead_id in (select lead_id from staging.sf_landed);")
                s.unstage("staging.sf_landed")
            if failures:
                frame = pd.DataFrame([{"sync_id": sync_id, "job_id": job_id, "recorded_at": now, **f} for f in failures])
                frame["resolved_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
                s.load("ops.sf_push_failures", frame.astype({"attempts": "int64"}), mode="append")
            if job_id and reconciled:
                s.execute(f"update ops.sf_jobs set reconciled = true where job_id = {literal(job_id)}")

    def register_job(self, job_id: str, chunk: pd.DataFrame) -> None:
        with self.wh.writer("Salesforce job in flight") as s:
            s.load("ops.sf_jobs", pd.DataFrame([{
                "job_id": job_id, "sync_id": self.result.sync_id, "created_at": _now(), "row_count": len(chunk),
                "rows_json": json.dumps(chunk[["Id", "values_hash"]].values.tolist()), "reconciled": False}]),
                mode="append")

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
        jobs = self.wh.read("select job_id, sync_id, rows_json from ops.sf_jobs where not reconciled")
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
        cfg, result = self.cfg, self.result
        by_id = pending.set_index("Id", drop=False)
        queue = deque(pending.iloc[i: i + cfg.batch_size] for i in range(0, len(pending), cfg.batch_size))
        done = 0
        for _ in range(len(queue) * (cfg.max_attempts + 1) + 10):  # bounded: each row is retried at most max_attempts
            if not queue:
                break
            chunk = queue.popleft()
            for i in chunk.Id:
                self.attempts[i] = self.attempts.get(i, 0) + 1
            job_id, uploaded = None, False
            try:
                job_id = self.client.create_update_job()
                result.job_ids.append(job_id)
                self.register_job(job_id, chunk)
                self.client.upload(job_id, payload_csv(chunk))
                uploaded = True
                self.client.close(job_id)
                result.sent += len(chunk)
                info = self.client.wait(job_id)
                res = self.client.results(job_id, info)
            except (RequestLimitExceeded, TransientFailure) as exc:
                limit = isinstance(exc, RequestLimitExceeded)
                code = "REQUEST_LIMIT_EXCEEDED" if limit else "TRANSIENT_ERROR"
                result.outcome = "stopped_request_limit" if limit else "stopped_transient"
                if job_id and uploaded:
                    self.defer(chunk, "RESULTS_PENDING", f"{exc}; job {job_id} was submitted and its results could "
                                                         "not be read: the next push reconciles it before sending")
                else:  # no job, or aborted before any data: the rows are simply not sent yet
                    if job_id:
                        self.client.abort_quietly(job_id)
                        self.write(job_id)
                    self.defer(chunk, code, f"{exc}; not sent, the next push sends it")
                self.defer(_rest(queue, pending), code, "not sent: the push stopped early; the next push sends it")
                result.message = (("Salesforce's API request limit is used up" if limit else str(exc))
                                  + f": stopped cleanly; {result.deferred:,} row(s) left for the next push.")
                return
            landed, failures, retry = self.outcome_rows(res, by_id.values_hash.to_dict())
            self.write(job_id, landed, failures)
            result.succeeded += len(landed)
            result.failed += len(failures)
            self.permanent += len(failures)
            done += len(landed) + len(failures)
            progress(min(0.1 + 0.85 * done / max(len(pending), 1), 0.95),
                     f"Job {job_id}: {len(landed):,} landed, {len(failures):,} failed, {len(retry):,} to retry")
            if res.rejected:
                result.outcome = "failed"
                self.defer(_rest(queue, pending), "JOB_REJECTED", f"not sent: Salesforce rejected job {job_id} ({res.error})")
                result.message = (f"Salesforce rejected the job: {res.error}. Check salesforce.field_map against the "
                                  "Lead fields in the org.")
                return
            processed = result.succeeded + self.permanent
            if processed >= cfg.breaker_min_rows and self.permanent / processed > cfg.breaker_threshold:
                result.outcome = "circuit_open"
                if retry:
                    queue.appendleft(by_id.loc[retry])
                self.defer(_rest(queue, pending), "CIRCUIT_BREAKER", f"not sent: {self.permanent:,} of {processed:,} rows failed "
                                                    f"(> {cfg.breaker_threshold:.0%}); push stopped")
                result.message = (f"Circuit breaker: {self.permanent / processed:.0%} of processed rows failed "
                                  f"(threshold {cfg.breaker_threshold:.0%}); the push stopped. Read the failures, fix "
                                  "the cause, then retry.")
                return
            if retry:
                wait = min(cfg.backoff_seconds * 2 ** (max(self.attempts[i] for i in retry) - 1), cfg.backoff_max_seconds)
                self.sleep(wait)
                queue.append(by_id.loc[retry])
        # Reached only if the loop bound ran out (it should not): every row is still accounted for.
        self.defer(_rest(queue, pending), "RETRY_BUDGET", "not sent: retry budget exhausted")
        if result.failed and result.outcome == "ok":
            result.outcome = "partial"
            result.message = f"{result.failed:,} row(s) failed; see the failure ledger (retry with --retry-failed)."


@contextmanager
def push_lock(settings: Settings):
    """One push at a time per installation: two concurrent pushes would both send the same changed rows."""
    path = Path(settings.data_dir) / "salesforce_push.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise LeadScoringError(f"Another Salesforce push is running ({holder}). Wait for it to finish; "
                                   "its results will be on the Salesforce sync page.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {_now():%Y-%m-%d %H:%M:%S} UTC".encode(), 0)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def push_scores(wh: Warehouse, settings: Settings, actor: Actor | None = None, dry_run: str | Path | None = None,
                retry_failed: bool = False, progress=no_progress, client: SalesforceClient | None = None,
                sleep=time.sleep) -> SyncResult:
    """Write changed scores to Salesforce with Bulk API 2.0 (or, with ``dry_run``, the exact CSV it would send)."""
    actor = actor or cli_actor()
    authorize(actor, "push_scores")
    started, t0 = _now(), time.perf_counter()
    result = SyncResult(uuid.uuid4().hex[:12], "dry_run" if dry_run else "push")
    cfg = salesforce_config(settings)
    try:
        stale = stale_scores_reason(wh)
        if stale:
            result.outcome, result.message = "refused", f"Nothing pushed: {stale}"
            raise LeadScoringError(result.message)
        rows = outgoing_rows(wh, settings)
        pending = _pending(wh, rows, retry_failed)
        result.intended = len(pending)
        if dry_run:
            Path(dry_run).parent.mkdir(parents=True, exist_ok=True)
            Path(dry_run).write_text(payload_csv(pending), encoding="utf-8")
            clears = int(pending["reason"].notna().sum()) if "reason" in pending else 0
            result.message = (f"{len(pending) - clears:,} of {len(rows) - clears:,} scored leads would be sent"
                              + (f", and {clears:,} lead(s) that left scoring would be cleared" if clears else "")
                              + f"; wrote {dry_run}.")
            return result
        cfg.require()
        with push_lock(settings):
            # The ledger is read again under the lock: a push that just finished may have landed rows.
            pending = _pending(wh, rows, retry_failed)
            result.intended = len(pending)
            progress(0.02, "Connecting to Salesforce")
            client = client or SalesforceClient(cfg, sleep=sleep)
            push = _Push(wh, cfg, client, result, sleep)
            try:
                result.reconciled_jobs = push.reconcile_open_jobs()
            except (RequestLimitExceeded, TransientFailure) as exc:
                limit = isinstance(exc, RequestLimitExceeded)
                result.outcome = "stopped_request_limit" if limit else "stopped_transient"
                push.defer(pending, "REQUEST_LIMIT_EXCEEDED" if limit else "TRANSIENT_ERROR",
                           "not sent: an earlier job could not be reconciled first")
                result.message = (f"An earlier job could not be reconciled ({exc}); nothing was sent so that no row "
                                  "lands twice. The next push tries again.")
                return result
            if result.reconciled_jobs:  # what landed meanwhile is no longer pending
                pending = _pending(wh, rows, retry_failed)
                result.intended = len(pending)
            if pending.empty:
                result.outcome = "nothing_to_send"
                result.message = f"All {len(rows):,} scores are already in Salesforce."
                return result
            if not _org_allows(push, client, cfg, pending):
                return result
            progress(0.1, f"Sending {len(pending):,} changed rows in jobs of {cfg.batch_size:,}")
            push.run(pending, progress)
            result.retries = client.retries
            _record_cleared(wh, pending, result)
            return result
    except LeadScoringError as exc:
        if result.outcome == "ok":
            result.outcome, result.message = "failed", str(exc)
        raise
    except Exception as exc:
        result.outcome, result.message = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result.seconds = time.perf_counter() - t0
        progress(1.0, f"Push {result.outcome}")
        _record(wh, result, actor, started)


def connection_status(settings: Settings) -> dict:
    """Configured? Reachable? How many contacted Leads? Never includes a secret."""
    cfg = salesforce_config(settings)
    status = {"configured": cfg.configured, "auth_method": cfg.auth_method, "missing": cfg.missing(),
              "settings": cfg.public()}
    if not cfg.configured:
        return status
    t0 = time.perf_counter()
    client = SalesforceClient(cfg)
    status.update(reachable=True, instance=client.sf.sf_instance,
                  contacted_leads=client.count(f"FROM {cfg.object_name} WHERE Stage_Entered_Contacting__c != null"),
                  seconds=round(time.perf_counter() - t0, 2))
    return status


def sync_overview(wh: Warehouse, settings: Settings) -> dict:
    """Everything the Salesforce sync page shows before any button is pressed; reads the warehouse only."""
    cfg = salesforce_config(settings)
    pending, pending_error = pd.DataFrame(), None
    try:
        pending = pending_changes(wh, settings)
    except LeadScoringError as exc:
        pending_error = str(exc)
    return {
        "configured": cfg.configured, "missing": cfg.missing(), "auth_method": cfg.auth_method,
        "settings": cfg.public(), "pending": pending, "pending_error": pending_error,
        "stale": stale_scores_reason(wh), "recent": recent_syncs(wh), "failures": open_failures(wh),
        "ledger_rows": int(wh.read("select count(*) as n from ops.sf_writeback_ledger").n.iloc[0]),
    }


def dry_run_bytes(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> tuple[SyncResult, bytes]:
    """The dry-run file as bytes (for a download button), recorded like any dry run."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "salesforce_dry_run.csv"
        result = push_scores(wh, settings, actor=actor, dry_run=path)
        result.message = result.message.replace(f"wrote {path}.", "the file is ready to download.")  # no server path
        return result, path.read_bytes()
