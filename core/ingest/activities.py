"""Salesforce Task load (call activity): a full export, or a live pull, replaces the activity tables atomically.

The same path as every other file: the raw file is archived with a checksum, every row is either loaded or
quarantined with a reason (no Task Id, no WhoId, an unparseable cell), repeated Task Ids keep the newest
``LastModifiedDate``. A *dial* is a Task with ``TaskSubtype = Call`` (or ``Type = Call`` when the subtype is
blank); dials per lead inside the outcome window are computed at readout time (``sql/marts/lead_dials.sql``).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

import pandas as pd

from core import audit
from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.contract import task_columns
from core.errors import LeadScoringError
from core.ingest.accounting import LoadResult
from core.ingest.loader import Progress, load_quarantine, no_progress, quarantine_invalid_rows, read_files, write_accounts
from core.warehouse import Session, Warehouse
from core.warehouse.parsing import model_fragments
from core.warehouse.sql import literal


def load_activity_file(
    wh: Warehouse,
    settings: Settings,
    path: str | Path,
    actor: Actor | None = None,
    progress: Progress = no_progress,
) -> LoadResult:
    actor = actor or cli_actor()
    authorize(actor, "replace_data")
    started = time.perf_counter()
    path = Path(path)
    load_id = uuid.uuid4().hex[:12]
    cols = task_columns()
    accounts, raw, invalid, extra_names = read_files(
        [path], settings, "activities", cols, lambda p: {"load_id": load_id, "file_name": p.name},
        "Salesforce Task", progress,
    )
    frags = model_fragments(cols, "Id", extra_names)
    progress(0.5, "Parsing and checking every cell")
    try:
        with wh.writer("activity load") as s:
            s.stage("raw.salesforce_tasks", raw)
            s.run_model("staging/task_typed.sql", **frags)
            s.run_model("staging/stg_salesforce_tasks.sql", **frags)
            s.run_model("staging/task_quarantine.sql", load_id=literal(load_id), **frags)
            quarantine_invalid_rows(s, load_id, invalid)
            progress(0.75, "Resolving duplicate Tasks")
            s.run_model("marts/fact_tasks.sql")
            export_at = s.scalar(
                "select greatest(max(CreatedDate), max(LastModifiedDate)) from staging.stg_salesforce_tasks")
            write_accounts(s, load_id, "activities", accounts, "staging.stg_salesforce_tasks", actor, export_at)
            quarantine = load_quarantine(s, load_id)
            summary = activity_summary(s)
            summary["export_at (as_of)"] = str(export_at)
            s.execute("drop view if exists staging.task_typed")
            s.unstage("raw.salesforce_tasks")
            result = LoadResult(load_id, "activities", accounts, quarantine, time.perf_counter() - started, summary)
            audit.record(s, actor, "load_activities", path.name, "ok", {
                "load_id": load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined, **{k: str(v) for k, v in summary.items()},
            })
    except Exception as exc:
        with contextlib.suppress(Exception):
            audit.record_now(wh, actor, "load_activities", path.name, "failed",
                             {"load_id": load_id, "error": f"{type(exc).__name__}: {exc}"})
        raise
    result.seconds = time.perf_counter() - started
    progress(1.0, "Done")
    return result


def activity_summary(s: Session) -> dict:
    row = s.query(
        "select count(*) as tasks, countif(is_dial) as dials, "
        "count(distinct case when is_dial then lead_id end) as leads_dialled from marts.fact_tasks"
    ).iloc[0]
    on_leads = 0
    if s.table_exists("marts.dim_leads"):
        on_leads = int(s.scalar(
            "select count(*) from marts.fact_tasks where is_dial and lead_id in (select Id from marts.dim_leads)"))
    return {
        "tasks": int(row.tasks), "dials": int(row.dials), "leads_dialled": int(row.leads_dialled),
        "dials_on_loaded_leads": on_leads,
        "duplicates_resolved": int(s.scalar("select count(*) from staging.task_duplicates")),
    }


def has_activities(s: Session) -> bool:
    return s.table_exists("marts.fact_tasks") and bool(s.scalar("select count(*) > 0 from marts.fact_tasks where is_dial"))


def lead_dials(s: Session, window_days: int) -> pd.DataFrame:
    """lead_id, dials, connected_dials, sgas for every contacted lead (0 dials when none were logged)."""
    if not s.table_exists("ml.lead_labels"):
        raise LeadScoringError("No labels yet: run build-features (or the daily run) before reading dials.")
    if not s.table_exists("marts.fact_tasks"):
        return pd.DataFrame(columns=["lead_id", "dials", "connected_dials", "sgas"])
    return s.query_model("marts/lead_dials.sql", window_days=int(window_days))
