"""Salesforce Lead load: a full export (file, or a live pull) replaces the lead tables atomically.

Rows with no Lead Id are quarantined; repeated Ids keep the newest ``LastModifiedDate``; a CRD on several
Leads keeps the contacted Lead, else the newest; every dropped duplicate is listed with its reason.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.contract import salesforce_columns
from core.ingest.accounting import LoadResult
from core.ingest.loader import Progress, SalesforceExport, load_salesforce_export, no_progress
from core.salesforce.ids import migrate_stored_ids
from core.warehouse import Session, Warehouse


def _finish(s: Session, frags: dict) -> dict:
    s.run_model("marts/dim_leads.sql", **frags)
    migrated = migrate_stored_ids(s)  # a warehouse from before Ids were normalised: once
    row = s.query(
        "select count(*) as leads, countif(Stage_Entered_Contacting__c is not null) as contacted, "
        "countif(Stage_Entered_Contacting__c is not null and Stage_Entered_Call_Scheduled__c is not null) as mqls, "
        "(select count(*) from staging.lead_duplicates) as duplicates from marts.dim_leads").iloc[0]
    summary = {"salesforce_leads": int(row.leads), "duplicates_resolved": int(row.duplicates),
               "contacted_leads": int(row.contacted)}
    if migrated:
        summary["stored_ids_migrated_to_18_chars"] = migrated
    warnings = empty_stage_sentences(int(row.leads), int(row.contacted), int(row.mqls)) + mass_stamp_sentences(s)
    if warnings:
        summary["warnings"] = warnings
    return summary


MASS_STAMP_LEADS = 100  # SGAs do not start outreach to 100 Leads in one second; a mass update or a migration does
MASS_STAMP_SHARE = 0.02


def mass_stamp_sentences(s: Session) -> list[str]:
    """A stage stamp many Leads share to the second: a data migration or a mass update backfilled the field (a flow
    added after the fact, a Data Loader job), so those Leads' contact or MQL time is the day of the job, not of the
    outreach: their labels, the territory month they read and their day-of-contact features are those of that day."""
    out = []
    for column, what in (("Stage_Entered_Contacting__c", "contact"), ("Stage_Entered_Call_Scheduled__c", "MQL")):
        top = s.query(f"select {column} as at, count(*) as n, sum(count(*)) over () as stamped from marts.dim_leads "
                      f"where {column} is not null group by {column} order by n desc, at limit 3")
        if top.empty:
            continue
        big = top[top.n >= MASS_STAMP_LEADS]
        stamped = int(top.stamped.iloc[0])
        if big.empty or big.n.sum() < MASS_STAMP_SHARE * stamped:
            continue
        times = ", ".join(f"{pd.Timestamp(r.at):%d %b %Y %H:%M:%S} UTC ({int(r.n):,} Leads)" for r in big.itertuples())
        out.append(f"{int(big.n.sum()):,} of the {stamped:,} Leads with a {column} share it to the second ({times}): a "
                   f"mass update or a data migration stamped them, not outreach. Their {what} time is the job's, so "
                   "their labels, the territory month they read and their day-of-contact features are that day's. Fix "
                   f"the field in Salesforce (the time the {what} really happened), or filter those Leads out of the "
                   "export, and load it again.")
    return out


MQL_STAMP_MIN_CONTACTED = 200  # at a ~4% MQL rate, 200 contacted Leads without one MQL stamp is not chance (p < 0.001)


def empty_stage_sentences(leads: int, contacted: int, mqls: int) -> list[str]:
    """The stage stamps define the population and the label: a column present but empty in every row (a field the
    export user cannot read comes out empty, or another field holds the stage) leaves nothing to learn from."""
    if leads and not contacted:
        return [f"None of the {leads:,} Leads has a Stage_Entered_Contacting__c time: contacted Leads are the "
                "population, so nothing can be labelled, trained or scored. Check that the field is filled in your "
                "org and readable by the user who exported it (without field access it exports empty)."]
    if contacted >= MQL_STAMP_MIN_CONTACTED and not mqls:
        return [f"None of the {contacted:,} contacted Leads has a Stage_Entered_Call_Scheduled__c time: every label "
                "would be negative (no MQL). Check that the field is filled in your org and readable by the user who "
                "exported it."]
    return []


LEADS = SalesforceExport(
    kind="leads", label="Salesforce Lead", columns=salesforce_columns, raw_table="raw.salesforce_leads",
    staged_table="leads_keys",
    staged_model="staging/stg_salesforce_leads.sql", extra_quarantine=(), audit_action="load_leads",
    dedup_step="Resolving duplicate Leads", finish=_finish, checkpoint="lead_load.after_staging",
    live_pull="load-leads --from-salesforce", export_table="marts.dim_leads",
    fewer_guard=True,
    export_all_advice="Export Leads with 'Export' (not 'Export All') in Data Loader, or pull them live "
                      "(`load-leads --from-salesforce`), to read only live records.",
)


def load_lead_file(wh: Warehouse, settings: Settings, path: str | Path, actor: Actor | None = None,
                   progress: Progress = no_progress, allow_older: bool = False,
                   allow_fewer: bool = False, notes: tuple[str, ...] = ()) -> LoadResult:
    """A Lead export file; one older than the export loaded is refused unless ``allow_older`` (a live pull is
    the org as it is now, and passes it), and one lacking many of the contacted Leads loaded unless
    ``allow_fewer`` (a filtered export, or a pull by a user who cannot see every Lead)."""
    return load_salesforce_export(wh, settings, path, LEADS, actor, progress, allow_older, allow_fewer, notes)
