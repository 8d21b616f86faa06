"""The pipeline's state for the home page and `status`, and first-start demo bootstrap."""

from __future__ import annotations

import contextlib
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
        runs = (
            s.query("select * from ops.runs order by started_at desc limit 1")
            if s.table_exists("ops.runs") else pd.DataFrame()
        )
        syncs = (
            s.query("select kind, started_at, actor, outcome, rows_intended, rows_succeeded, rows_failed, rows_deferred "
                    "from ops.sf_syncs qualify row_number() over (partition by kind order by started_at desc) = 1")
            if s.table_exists("ops.sf_syncs") else pd.DataFrame()
        )
        models = (
            s.query("select * from ml.models where is_champion order by created_at desc limit 1")
            if s.table_exists("ml.models") else pd.DataFrame()
        )
    rec = json.loads(report.iat[0, 0]) if not report.empty else None
    from core.monitoring.store import current_level, read_alerts

    alerts = read_alerts(wh)
    live = alerts[alerts.active.astype(bool) & alerts.acknowledged_by.isna()] if not alerts.empty else alerts
    return {
        "monitoring": {"level": current_level(alerts), "open_alerts": int(len(live)),
                       "worst": live.sort_values("last_seen").message.iloc[-1] if len(live) else None},
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
        "last_run": _records(runs)[0] if not runs.empty else None,
        "alerts": (rec or {}).get("alerts", []),
        "salesforce_last": {r["kind"]: r for r in _records(syncs)},
    }


def has_data(wh: Warehouse) -> bool:
    with wh.reader() as s:
        return bool(s.scalar("select count(*) from raw.file_loads"))


FIRST_START_BUDGET_MINUTES = 1.5
MONITORING_WINDOW_DAYS = 180  # first start: the champion learns from leads contacted before the last 180 days


def bootstrap_demo(wh: Warehouse, settings: Settings, progress=None, actor: Actor | None = None) -> dict:
    """First start on an empty warehouse: generate the small demo data with its monthly territory history,
    load it, reconcile, train a champion with the quick recipe on leads contacted before the monitoring window
    (promoted with a logged reason: demo data has too few test positives for the gates to mean much), backfill
    the score history over the window as a backtest would (rows marked backfilled), then run the daily
    pipeline — scores, tiers and monitoring — so the first screens show the product itself."""
    from core.demo import generate
    from core.features.build import build_features, default_as_of, drop_build
    from core.ingest.activities import load_activity_file
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_history
    from core.modeling.registry import promote
    from core.modeling.train import train
    from core.monitoring.backfill import backfill_scores
    from core.quality.reconcile import reconcile

    progress = progress or (lambda f, m: None)
    actor = actor or Actor("system:bootstrap", "system")
    outdir = Path(settings.data_dir) / "demo"
    progress(0.02, "Generating small demo exports (19 monthly territory snapshots)")
    summary = generate(outdir, "small", 42, progress=lambda f, m: progress(0.02 + 0.13 * f, m))
    files = sorted(outdir.glob("history/discovery_t*_*.csv")) + sorted(outdir.glob("discovery_t*_*.csv"))
    load_territory_history(wh, settings, files, actor=actor,
                           progress=lambda f, m: progress(0.15 + 0.25 * f, f"Loading territory exports: {m}"))
    progress(0.4, "Loading the Salesforce Lead export")
    load_lead_file(wh, settings, outdir / "salesforce_leads.csv", actor=actor)
    progress(0.43, "Loading the call activity (Salesforce Tasks)")
    load_activity_file(wh, settings, outdir / "salesforce_tasks.csv", actor=actor)
    progress(0.45, "Reconciling")
    reconcile(wh, settings, actor)
    with wh.reader() as s:
        cutoff = (default_as_of(s) - pd.Timedelta(days=MONITORING_WINDOW_DAYS)).normalize()
    progress(0.5, f"Training a first champion on leads contacted before {cutoff:%d %b %Y} (quick recipe)")
    past = build_features(wh, settings, as_of=cutoff, actor=actor, into="first_champion")  # beside the live build
    try:
        model = train(wh, settings, FIRST_START_BUDGET_MINUTES, actor=actor, quick=True, features=past,
                      progress=lambda f, m: progress(0.5 + 0.3 * f, f"Training a first champion: {m}"))
    finally:
        drop_build(wh, past.name)
    promote(wh, model.model_id, actor, force=not model.gates_passed,
            reason="" if model.gates_passed else "first start on demo data: the quick champion is promoted so the panel "
            "shows a real model; its gates are shown as measured. Retrain on your own data.")
    summary["champion"] = model.model_id
    summary["train_seconds"] = round(model.seconds, 1)
    progress(0.82, "Backfilling the score history since then (weekly, as a backtest would)")
    build_features(wh, settings, levels=model_levels(wh), actor=actor)
    summary["backfill"] = backfill_scores(wh, settings, since=cutoff, actor=actor)
    progress(0.88, "Creating the demo's engine experiment (its leads are assigned by the daily run)")
    from core.demo_activity import ENGINE
    from core.experiments.design import create_experiment

    create_experiment(wh, settings, ENGINE["name"], ENGINE["start"].strftime("%Y-%m-%d"), split=ENGINE["split"],
                      strata=ENGINE["strata"], seed=ENGINE["seed"], end=ENGINE["end"].strftime("%Y-%m-%d"), actor=actor)
    progress(0.9, "Running the daily pipeline (features, scores, tiers, monitoring)")
    run_daily(wh, settings, actor=actor)
    progress(1.0, "Demo data ready")
    return summary


def model_levels(wh: Warehouse) -> dict:
    from core.modeling.registry import load_champion

    return load_champion(wh).levels


def run_daily(wh: Warehouse, settings: Settings, leads_file: str | None = None, actor: Actor | None = None,
              progress=None) -> dict:
    """Leads (a file when given, else a Salesforce pull when configured) -> features -> score -> tiers ->
    Salesforce write-back when configured; one ops.runs row with counts and timings.

    On failure the previous scores stay in place (they are only replaced by a complete run), the failure is
    recorded in ops.runs and the audit log, and the error is raised for the caller to show.
    """
    import time
    import uuid
    from datetime import datetime, timezone

    from core import audit
    from core.auth import authorize
    from core.features.build import build_features
    from core.ingest.leads import load_lead_file
    from core.salesforce.config import salesforce_config
    from core.salesforce.pull import pull_leads
    from core.salesforce.push import push_scores
    from core.errors import LeadScoringError
    from core.monitoring.monitor import run_monitor
    from core.scoring.score import score_leads

    sf = salesforce_config(settings)
    actor = actor or cli_actor()
    authorize(actor, "run_pipeline")
    progress = progress or (lambda f, m: None)
    run_id, started = uuid.uuid4().hex[:12], datetime.now(timezone.utc)
    timings, counts, t0 = {}, {}, time.perf_counter()
    outcome, error, as_of = "ok", None, None
    try:
        if leads_file:
            progress(0.05, "Loading the Lead export")
            counts["leads_rows_read"] = load_lead_file(wh, settings, leads_file, actor=actor).rows_read
            timings["load_leads"] = round(time.perf_counter() - t0, 2)
        elif sf.configured and sf.daily_pull:
            progress(0.05, "Pulling contacted Leads from Salesforce")
            counts["leads_rows_read"] = pull_leads(wh, settings, actor=actor).rows_read
            timings["pull_leads"] = round(time.perf_counter() - t0, 2)
        progress(0.3, "Building point-in-time features")
        t1 = time.perf_counter()
        build = build_features(wh, settings, actor=actor)
        as_of = build.as_of
        timings["features"] = round(time.perf_counter() - t1, 2)
        progress(0.55, "Scoring, drivers and tiers")
        t1 = time.perf_counter()
        run, scores = score_leads(wh, settings, actor=actor)
        timings["score"] = round(time.perf_counter() - t1, 2)
        from core.experiments.assign import assign_new_leads

        t1 = time.perf_counter()
        counts["experiment_assignments"] = assign_new_leads(wh, settings, actor=actor)
        timings["experiments"] = round(time.perf_counter() - t1, 2)
        timings.update({f"score.{k}": v for k, v in run.timings.items()})
        counts.update(scored=run.n_scored, fallback_level=run.fallback_level, model_version=run.model_version,
                      **{f"tier_{k}": int(v) for k, v in run.tier_counts.items()})
        progress(0.7, "Monitoring: drift, matured cohorts, feed health, alerts")
        t1 = time.perf_counter()
        try:
            mon = run_monitor(wh, settings, actor=actor)
            counts["alert_level"] = mon.alert_level
        except LeadScoringError as exc:  # e.g. a champion trained before references existed: scores still stand
            counts["alert_level"] = f"not measured: {exc}"
        timings["monitor"] = round(time.perf_counter() - t1, 2)
        if sf.configured and sf.daily_push:
            progress(0.8, "Writing changed scores to Salesforce")
            t1 = time.perf_counter()
            try:
                push = push_scores(wh, settings, actor=actor)
            except Exception as exc:
                # Scores are fresh and in place; only the write-back failed (its sync row says why).
                outcome, error = "write_back_failed", f"{type(exc).__name__}: {exc}"
                counts["write_back"] = "failed"
                raise
            finally:
                timings["push_scores"] = round(time.perf_counter() - t1, 2)
            counts["write_back"] = push.outcome
            counts.update({f"push_{k}": getattr(push, k) for k in ("sync_id", "intended", "succeeded", "failed",
                                                                   "deferred")})
        else:
            counts["write_back"] = "not configured" if not sf.configured else "disabled (salesforce.daily_push)"
        progress(1.0, f"Scored {run.n_scored:,} leads ({run.fallback_level})")
    except Exception as exc:
        if outcome == "ok":
            outcome, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        timings["total"] = round(time.perf_counter() - t0, 2)
        with contextlib.suppress(Exception):
            with wh.writer("record run") as s:
                s.load("ops.runs", pd.DataFrame([{
                    "run_id": run_id, "kind": "run-daily", "started_at": started,
                    "finished_at": datetime.now(timezone.utc), "actor": actor.username, "outcome": outcome,
                    "as_of": as_of, "counts_json": json.dumps(counts, default=str),
                    "timings_json": json.dumps(timings), "error": error,
                }]).astype({"as_of": "datetime64[us, UTC]"}), mode="append")
                audit.record(s, actor, "run_daily", run_id, outcome, {"counts": counts, "error": error})
        if outcome != "ok":  # a failed run is itself a CRITICAL alert: monitoring records it straight away
            with contextlib.suppress(Exception):
                run_monitor(wh, settings, actor=actor)
    return {"run_id": run_id, "counts": counts, "timings": timings, "as_of": str(as_of)}


def last_runs(wh: Warehouse, limit: int = 10) -> pd.DataFrame:
    with wh.reader() as s:
        if not s.table_exists("ops.runs"):
            return pd.DataFrame()
        return s.query(f"select * from ops.runs order by started_at desc limit {int(limit)}")
