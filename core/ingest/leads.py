"""Salesforce Lead load: a full export (file, or later a live pull) replaces the lead tables atomically.

Rows with no Lead Id are quarantined; repeated Ids keep the newest ``LastModifiedDate``; a CRD on several
Leads keeps the newest Lead; every dropped duplicate is listed with its reason.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path

from core import audit
from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.contract import salesforce_columns
from core.faults import checkpoint
from core.ingest.accounting import LoadResult
from core.salesforce.ids import migrate_stored_ids
from core.ingest.loader import Progress, load_quarantine, no_progress, quarantine_invalid_rows, read_files, write_accounts
from core.warehouse import Warehouse
from core.warehouse.parsing import model_fragments
from core.warehouse.sql import literal


def load_lead_file(
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
    cols = salesforce_columns()
    accounts, raw, invalid, extra_names = read_files(
        [path], settings, "leads", cols, lambda p: {"load_id": load_id, "file_name": p.name},
        "Salesforce Lead", progress,
    )
    frags = model_fragments(cols, "Id", extra_names)
    progress(0.5, "Parsing and checking every cell")
    try:
        with wh.writer("lead load") as s:
            s.stage("raw.salesforce_leads", raw)
            s.run_model("staging/lead_typed.sql", **frags)
            s.run_model("staging/stg_salesforce_leads.sql", **frags)
            s.run_model("staging/lead_quarantine.sql", load_id=literal(load_id), **frags)
            quarantine_invalid_rows(s, load_id, invalid)
            checkpoint("lead_load.after_staging")
            progress(0.75, "Resolving duplicate Leads")
            s.run_model("marts/dim_leads.sql")
            migrated = migrate_stored_ids(s)  # a warehouse from before Ids were normalised: once
            export_at = s.scalar(
                "select greatest(max(CreatedDate), max(LastModifiedDate)) from staging.stg_salesforce_leads"
            )
            write_accounts(s, load_id, "leads", accounts, "staging.stg_salesforce_leads", actor, export_at)
            quarantine = load_quarantine(s, load_id)
            summary = {
                "salesforce_leads": int(s.scalar("select count(*) from marts.dim_leads")),
                "duplicates_resolved": int(s.scalar("select count(*) from staging.lead_duplicates")),
                "contacted_leads": int(s.scalar(
                    "select count(*) from marts.dim_leads where Stage_Entered_Contacting__c is not null")),
                "export_at (as_of)": str(export_at),
            }
            if migrated:
                summary["stored_ids_migrated_to_18_chars"] = migrated
            s.execute("drop view if exists staging.lead_typed")
            s.unstage("raw.salesforce_leads")
            result = LoadResult(load_id, "leads", accounts, quarantine, time.perf_counter() - started, summary)
            audit.record(s, actor, "load_leads", path.name, "ok", {
                "load_id": load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined, **{k: str(v) for k, v in summary.items()},
            })
    except Exception as exc:
        with contextlib.suppress(Exception):
            audit.record_now(wh, actor, "load_leads", path.name, "failed",
                             {"load_id": load_id, "error": f"{type(exc).__name__}: {exc}"})
        raise
    result.seconds = time.perf_counter() - started
    progress(1.0, "Done")
    return result
