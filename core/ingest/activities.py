"""Salesforce Task load (call activity): a full export, or a live pull, replaces the activity tables atomically.

The same path as every other file: the raw file is archived with a checksum, every row is either loaded or
quarantined with a reason (no Task Id, no WhoId, an unparseable cell), repeated Task Ids keep the newest
``LastModifiedDate``. A *dial* is a Task with ``TaskSubtype = Call`` (or ``Type = Call`` when the subtype is
blank); dials per lead inside the outcome window are computed at readout time (``sql/marts/lead_dials.sql``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.contract import task_columns
from core.errors import LeadScoringError
from core.ingest.accounting import LoadResult
from core.ingest.loader import Progress, SalesforceExport, load_salesforce_export, no_progress
from core.warehouse import Session, Warehouse


def _finish(s: Session, frags: dict) -> dict:
    s.run_model("marts/fact_tasks.sql", **frags)
    return activity_summary(s)


TASKS = SalesforceExport(
    kind="activities", label="Salesforce Task", columns=task_columns, raw_table="raw.salesforce_tasks",
    staged_table="activities_keys",
    staged_model="staging/stg_salesforce_tasks.sql", extra_quarantine=("staging/task_quarantine.sql",),
    audit_action="load_activities", dedup_step="Resolving duplicate Tasks", finish=_finish, row_keys=("WhoId",),
    live_pull="load-activities --from-salesforce",
    export_all_advice="Nothing to change: 'Export All' is the right Task export, as it also carries the calls "
                      "Salesforce archived a year after their date (which 'Export' leaves out).",
)


def load_activity_file(wh: Warehouse, settings: Settings, path: str | Path, actor: Actor | None = None,
                       progress: Progress = no_progress, notes: tuple[str, ...] = ()) -> LoadResult:
    """A Task export file (or a pull's rows); ``notes``: what the caller knows of (a pull: Task fields the org hides)."""
    return load_salesforce_export(wh, settings, path, TASKS, actor, progress, notes=notes)


def activity_summary(s: Session) -> dict:
    on_leads = ("countif(is_dial and lead_id in (select Id from marts.dim_leads))"
                if s.table_exists("marts.dim_leads") else "0")
    row = s.query(  # one pass over the Tasks
        f"select count(*) as tasks, countif(is_dial) as dials, {on_leads} as on_leads, "
        "count(distinct case when is_dial then lead_id end) as leads_dialled, "
        "countif(not is_dial and lower(task_type) = 'call') as typed_calls, "
        f"countif(is_dial and date(created_at) > date_add(activity_date, interval {LATE_DAYS} day)) as late, "
        "min(case when is_dial and date(created_at) > "
        f"date_add(activity_date, interval {LATE_DAYS} day) then date(created_at) end) as late_from, "
        "(select count(*) from staging.task_duplicates) as duplicates from marts.fact_tasks"
    ).iloc[0]
    summary = {
        "tasks": int(row.tasks), "dials": int(row.dials), "leads_dialled": int(row.leads_dialled),
        "dials_on_loaded_leads": int(row.on_leads), "duplicates_resolved": int(row.duplicates),
    }
    warnings = dial_sentences(int(row.tasks), int(row.dials), int(row.typed_calls)) + \
        late_dial_sentences(int(row.dials), int(row.late), row.late_from) + archived_dial_sentences(s)
    if warnings:
        summary["warnings"] = warnings
    return summary


ARCHIVE_DAYS = 365  # Salesforce archives a closed Task this long after its date
ARCHIVED_MIN_LEADS = 50
ARCHIVED_RATE = 0.1  # dials per older lead under a tenth of the newer leads' rate: the archived calls are missing


def archived_dial_sentences(s: Session) -> list[str]:
    """Salesforce archives a closed Task a year after its date; Data Loader's 'Export' (and a report) leave archived
    Tasks out, 'Export All' keeps them. A file whose Leads contacted more than a year before it have next to no
    dials, while the newer ones have theirs, lost them: their experiments' dials and first-dialler checks read 0."""
    if not s.table_exists("marts.dim_leads"):
        return []
    row = s.query(
        f"with edge as (select timestamp_sub(max(created_at), interval {ARCHIVE_DAYS} day) as at from marts.fact_tasks), "
        "leads as (select Id, Stage_Entered_Contacting__c < (select at from edge) as old from marts.dim_leads "
        "where Stage_Entered_Contacting__c is not null), "
        "dials as (select t.lead_id, count(*) as n from marts.fact_tasks as t where t.is_dial group by t.lead_id) "
        "select countif(l.old) as old_leads, countif(not l.old) as new_leads, "
        "coalesce(sum(case when l.old then d.n end), 0) as old_dials, "
        "coalesce(sum(case when not l.old then d.n end), 0) as new_dials, (select at from edge) as edge "
        "from leads as l left join dials as d on d.lead_id = l.Id").iloc[0]
    old_leads, new_leads = int(row.old_leads), int(row.new_leads)
    if old_leads < ARCHIVED_MIN_LEADS or not new_leads or not int(row.new_dials):
        return []
    old_rate, new_rate = int(row.old_dials) / old_leads, int(row.new_dials) / new_leads
    if old_rate >= ARCHIVED_RATE * new_rate:
        return []
    return [f"The {old_leads:,} Leads contacted before {pd.Timestamp(row.edge):%d %b %Y} (a year before the newest "
            f"Task) have {old_rate:.2f} dials each, those contacted since {new_rate:.2f}: Salesforce archives a closed "
            "Task a year after its date, and Data Loader's 'Export' (or a report) leaves archived Tasks out. Export "
            "the Tasks with 'Export All' (or `load-activities --from-salesforce`) to keep those leads' dials."]


LATE_DAYS = 7
LATE_SHARE = 0.05


def late_dial_sentences(dials: int, late: int, late_from) -> list[str]:
    """Dials created in Salesforce long after their ActivityDate: a dialer or sync tool installed later added the
    history at once (the API cannot set CreatedDate), so the dials count in the outcome windows of the leads
    contacted around the import, not around the calls."""
    if not dials or late < LATE_SHARE * dials:
        return []
    return [f"{late:,} of the {dials:,} dials were created in Salesforce more than {LATE_DAYS} days after their "
            f"ActivityDate (the first on {pd.Timestamp(late_from):%d %b %Y}): a dialer or sync tool added them "
            "later. Dials are counted by CreatedDate, so these count in the outcome windows of the leads contacted "
            "around the import, not around the calls: read MQLs per 100 dials from before that day with care."]


TYPED_CALLS_MIN = 10


def dial_sentences(tasks: int, dials: int, typed_calls: int) -> list[str]:
    """A dial is a Task with TaskSubtype = Call (the contract), and Salesforce sets TaskSubtype only when a Task is
    created: a dialer or sync tool that logs calls through the API without it gets TaskSubtype = Task, with Type =
    Call. Those calls are not dials here, so MQLs per 100 dials reads high (or falls back to MQLs per lead)."""
    out = []
    if tasks and not dials:
        out.append(f"None of the {tasks:,} Tasks is a dial (TaskSubtype = Call, or Type = Call with TaskSubtype "
                   "blank): experiment readouts use the MQL rate per lead instead of MQLs per 100 dials.")
    if typed_calls >= TYPED_CALLS_MIN:
        out.append(f"{typed_calls:,} Tasks have Type = Call but a TaskSubtype other than Call (a dialer or sync tool "
                   "logging calls through the API gets TaskSubtype = Task): they are not counted as dials, so MQLs "
                   "per 100 dials reads high if they are your SGAs' calls. Have the tool set TaskSubtype = Call when "
                   "it creates the Task (Salesforce cannot change it afterwards).")
    return out


def has_activities(s: Session) -> bool:
    return s.table_exists("marts.fact_tasks") and bool(s.scalar("select count(*) > 0 from marts.fact_tasks where is_dial"))


def lead_dials(s: Session, window_days: int) -> pd.DataFrame:
    """lead_id, dials, connected_dials, sgas for every contacted lead (0 dials when none were logged)."""
    if not s.table_exists("ml.lead_labels"):
        raise LeadScoringError("No labels yet: run build-features (or the daily run) before reading dials.")
    if not s.table_exists("marts.fact_tasks"):
        return pd.DataFrame(columns=["lead_id", "dials", "connected_dials", "sgas"])
    return s.query_model("marts/lead_dials.sql", window_days=int(window_days))
