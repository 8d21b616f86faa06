"""What the write-back owes and what landed: the rows a push would send (changed since the ledger's hash, and
clears for leads that left scoring), the ledger of landed values, the failure ledger and jobs in flight.
Every write here is one short transaction, called by a push that already authorised."""

from __future__ import annotations

import json

import pandas as pd

from core.config import Settings
from core.features.build import as_utc
from core.salesforce.config import salesforce_config
from core.salesforce.payload import changed_rows, cleared_rows, writeback_rows
from core.salesforce.result import SyncResult, now
from core.warehouse import Warehouse
from core.warehouse.sql import literal


def writeback_scores(wh: Warehouse) -> pd.DataFrame:
    """The current scores with each lead's experiment arm (``NAME:ARM``) and whether its arm hides scores."""
    from core.experiments.assign import with_challenger_scores, writeback_arms
    from core.scoring.score import current_scores

    scores = current_scores(wh)
    arms = writeback_arms(wh)
    if arms.empty:
        return scores
    return with_challenger_scores(wh, scores.merge(arms, on="lead_id", how="left"))


def stale_scores_reason(wh: Warehouse) -> str | None:
    """Why the scores in place must not be pushed, or None: they are as of a day before the loaded Lead export
    (`score --as-of` a past day, or a newer export loaded and not yet scored: pushed, SGAs would call from an old
    list and leads contacted since would be cleared), or the last daily run failed after them."""
    from core.scoring.score import scores_behind_export

    with wh.reader() as s:
        if not s.table_exists("ml.lead_scores"):
            return None
        behind = scores_behind_export(s)
        if behind:
            return f"{behind} first; nothing is pushed from an older list."
        if not s.table_exists("ops.runs"):
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


def landed_hashes(wh: Warehouse) -> pd.DataFrame:
    """Per lead, the hash of the values that last landed in Salesforce."""
    return wh.read("select lead_id, values_hash from ops.sf_writeback_ledger")


CLEAR_REASONS = {
    "mql": "booked a discovery call (MQL)", "closed": "closed or disqualified in Salesforce",
    "converted": "converted", "gone": "no longer in the Salesforce Lead export",
}


def clear_reasons(wh: Warehouse, ids: list[str], settings: Settings) -> dict:
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


def record_cleared(wh: Warehouse, pending: pd.DataFrame, result: SyncResult) -> None:
    """Which cleared leads landed, and why they were cleared (ops.sf_cleared; counted on the sync)."""
    if "reason" not in pending or pending["reason"].isna().all():
        return
    cleared = pending[pending["reason"].notna()]
    landed = landed_hashes(wh)
    ok = cleared.merge(landed, left_on=["Id", "values_hash"], right_on=["lead_id", "values_hash"])
    if ok.empty:
        return
    result.cleared = len(ok)
    with wh.writer("Salesforce cleared scores") as s:
        s.load("ops.sf_cleared", pd.DataFrame({"lead_id": ok["Id"], "reason": ok["reason"],
                                               "sync_id": result.sync_id, "cleared_at": now()}), mode="append")


def outgoing_rows(wh: Warehouse, settings: Settings) -> pd.DataFrame:
    """Every row the write-back would send if nothing had landed yet: one per scored lead, plus one clearing
    each lead whose score is still in Salesforce but which left the scored population (with ``reason``)."""
    cfg = salesforce_config(settings)
    rows = writeback_rows(writeback_scores(wh), cfg.field_map)
    landed = wh.read("select lead_id, values_json from ops.sf_writeback_ledger")
    gone = sorted(set(landed.lead_id) - set(rows.Id))
    reasons = clear_reasons(wh, gone, settings)
    # A converted Lead keeps the score it had: Salesforce refuses updates to it (CANNOT_UPDATE_CONVERTED_LEAD)
    # unless the user may "View and Edit Converted Leads", and a clear failing every day would fill the failure
    # ledger and could trip the circuit breaker.
    gone = [i for i in gone if reasons.get(i) != CLEAR_REASONS["converted"]]
    cleared = cleared_rows(landed[landed.lead_id.isin(gone)], set(rows.Id), cfg.field_map, now(), reasons)
    return pd.concat([rows.assign(reason=None), cleared], ignore_index=True) if len(cleared) else rows


def pending_rows(wh: Warehouse, rows: pd.DataFrame, retry_failed: bool = False) -> pd.DataFrame:
    """Rows whose values differ from the ledger; with ``retry_failed``, only those in the open failure ledger."""
    pending = changed_rows(rows, landed_hashes(wh))
    return pending[pending.Id.isin(set(open_failures(wh).lead_id))] if retry_failed else pending


def open_failures(wh: Warehouse) -> pd.DataFrame:
    return wh.read(
        "select sync_id, lead_id, job_id, kind, error_code, error_message, attempts, recorded_at "
        "from ops.sf_push_failures where resolved_at is null order by recorded_at desc")


def pending_changes(wh: Warehouse, settings: Settings) -> pd.DataFrame:
    """The rows a push would send now (with ``change``: new or changed), without contacting Salesforce."""
    return pending_rows(wh, outgoing_rows(wh, settings))


def recent_syncs(wh: Warehouse, limit: int = 20) -> pd.DataFrame:
    return wh.read(f"select * from ops.sf_syncs order by started_at desc limit {int(limit)}")


def record_job(wh: Warehouse, sync_id: str, job_id: str | None, landed: pd.DataFrame | None = None,
               failures: list[dict] = (), reconciled: bool = True) -> None:
    """One job's end, in one transaction: landed rows replace their ledger entries (and resolve their open
    failures), failed or deferred rows join the failure ledger, and the job is marked reconciled."""
    at = now()
    with wh.writer("Salesforce write-back ledger") as s:
        if landed is not None and not landed.empty:
            batch = pd.DataFrame({"lead_id": landed.Id.to_numpy(), "values_hash": landed.values_hash.to_numpy(),
                                  "values_json": landed.values_json.to_numpy(), "sent_at": at,
                                  "job_id": job_id, "sync_id": sync_id})
            s.stage("staging.sf_landed", batch)
            s.execute(
                "delete from ops.sf_writeback_ledger where lead_id in (select lead_id from staging.sf_landed);\n"
                "insert into ops.sf_writeback_ledger select lead_id, values_hash, values_json, sent_at, job_id, "
                "sync_id from staging.sf_landed;\n"
                f"update ops.sf_push_failures set resolved_at = {literal(at.isoformat())} "
                "where resolved_at is null and lead_id in (select lead_id from staging.sf_landed);")
            s.unstage("staging.sf_landed")
        if failures:
            frame = pd.DataFrame([{"sync_id": sync_id, "job_id": job_id, "recorded_at": at, **f} for f in failures])
            frame["resolved_at"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
            s.load("ops.sf_push_failures", frame.astype({"attempts": "int64"}), mode="append")
        if job_id and reconciled:
            s.execute(f"update ops.sf_jobs set reconciled = true where job_id = {literal(job_id)}")


def register_job(wh: Warehouse, sync_id: str, job_id: str, chunk: pd.DataFrame) -> None:
    """A job about to receive data: kept until its results are read, so a crash mid-job is reconciled, not resent."""
    with wh.writer("Salesforce job in flight") as s:
        s.load("ops.sf_jobs", pd.DataFrame([{
            "job_id": job_id, "sync_id": sync_id, "created_at": now(), "row_count": len(chunk),
            "rows_json": json.dumps(chunk[["Id", "values_hash"]].values.tolist()), "reconciled": False}]),
            mode="append")


def open_jobs(wh: Warehouse) -> pd.DataFrame:
    """Jobs whose results an earlier push could not read."""
    return wh.read("select job_id, sync_id, rows_json from ops.sf_jobs where not reconciled")
