"""The pipeline's state for the home page and `status`, and first-start demo bootstrap."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from core.auth import Actor, cli_actor
from core.config import Settings
from core.warehouse import Warehouse


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records", date_format="iso")) if not df.empty else []


def pipeline_state(wh: Warehouse) -> dict:
    """Everything the home page shows, from the warehouse alone."""
    with wh.reader() as s:
        territory = s.query(
            "select load_id, max(loaded_at) as loaded_at, max(snapshot_month) as snapshot_month, "
            "string_agg(file_name, ', ') as files, sum(rows_read) as rows_read, sum(rows_loaded) as rows_loaded, "
            "sum(rows_quarantined) as rows_quarantined, max(loaded_by) as loaded_by "
            "from raw.file_loads where kind = 'territory' group by load_id order by loaded_at desc limit 5"
        )
        leads = s.query(
            "select load_id, loaded_at, file_name, export_at, rows_read, rows_loaded, rows_quarantined, loaded_by "
            "from raw.file_loads where kind = 'leads' order by loaded_at desc limit 5"
        )
        months = (
            s.query("select snapshot_month, count(*) as reps from marts.dim_rep_snapshots "
                    "group by snapshot_month order by snapshot_month")
            if s.table_exists("marts.dim_rep_snapshots") else pd.DataFrame()
        )
        reps = (int(s.scalar("select count(*) from marts.dim_reps_current"))
                if s.table_exists("marts.dim_reps_current") else 0)
        contacted = (int(s.scalar("select countif(Stage_Entered_Contacting__c is not null) from marts.dim_leads"))
                     if s.table_exists("marts.dim_leads") else 0)
        report = s.query(
            "select report_json from marts.reconciliation_reports order by created_at desc limit 1"
        )
        models = (
            s.query("select * from ml.models where is_champion order by created_at desc limit 1")
            if s.table_exists("ml.models") else pd.DataFrame()
        )
    rec = json.loads(report.iat[0, 0]) if not report.empty else None
    return {
        "territory_loads": _records(territory),
        "lead_loads": _records(leads),
        "snapshot_months": _records(months),
        "unique_reps": reps,
        "contacted_leads": contacted,
        "current_month": None if months.empty else str(months.snapshot_month.iloc[-1]),
        "reconciliation": None if rec is None else {
            k: rec.get(k) for k in ("created_at", "match_rate", "match_rate_by_territory", "unique_reps",
                                    "contacted_leads", "salesforce_leads", "alerts")
        },
        "champion_model": _records(models)[0] if not models.empty else None,
        "alerts": (rec or {}).get("alerts", []),
    }


def has_data(wh: Warehouse) -> bool:
    with wh.reader() as s:
        return bool(s.scalar("select count(*) from raw.file_loads"))


def bootstrap_demo(wh: Warehouse, settings: Settings, progress=None, actor: Actor | None = None) -> dict:
    """First start on an empty warehouse: generate the small demo data, load it and reconcile."""
    from core.demo import generate
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_files
    from core.quality.reconcile import reconcile

    progress = progress or (lambda f, m: None)
    actor = actor or Actor("system:bootstrap", "system")
    outdir = Path(settings.data_dir) / "demo"
    progress(0.05, "Generating small demo exports")
    summary = generate(outdir, "small", 42)
    files = sorted(outdir.glob("discovery_t*_*.csv"))
    progress(0.35, f"Loading {len(files)} territory files")
    load_territory_files(wh, settings, files, actor=actor)
    progress(0.65, "Loading the Salesforce Lead export")
    load_lead_file(wh, settings, outdir / "salesforce_leads.csv", actor=actor)
    progress(0.8, "Reconciling")
    reconcile(wh, settings, actor)
    progress(0.9, "Building labels and point-in-time features")
    from core.features.build import build_features

    build_features(wh, settings, actor=actor)
    progress(1.0, "Demo data ready")
    return summary
