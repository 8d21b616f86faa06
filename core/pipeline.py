"""The pipeline's state for the home page and `status`, and first-start demo bootstrap."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from core.auth import DEMO_LOADER, Actor
from core.config import Settings
from core.warehouse import Warehouse
from core.warehouse.sql import literal
from core.words import load_source, model_words, month_label, when

if TYPE_CHECKING:
    from core.monitoring.backfill import Backfill


def _records(df: pd.DataFrame) -> list[dict]:
    return json.loads(df.to_json(orient="records", date_format="iso")) if not df.empty else []


def _load_caption(load: dict) -> str:
    return (f"{int(load['rows_read']):,} rows read · {int(load['rows_loaded']):,} loaded · "
            f"{int(load['rows_quarantined']):,} quarantined · by {load['loaded_by']}, {when(load['loaded_at'])}")


def _export_load_words(loads: list[dict]) -> tuple[str, str] | None:
    """The newest load of a Salesforce export (Leads or Tasks): (what, caption), or None before the first."""
    if not loads:
        return None
    t = loads[0]
    return f"**{load_source(t['file_name'])}** · exported {when(t['export_at'])}", _load_caption(t)


@dataclass(frozen=True)
class PipelineState:
    """Everything the home page shows, read from the warehouse alone; ``to_json()`` is `status`'s output."""

    monitoring: dict  # level, open_alerts, open_by_level (level -> count), worst
    territory_loads: list[dict]
    lead_loads: list[dict]
    snapshot_months: list[dict]
    unique_reps: int
    contacted_leads: int
    current_month: str | None
    reconciliation: dict | None
    champion_model: dict | None
    last_run: dict | None
    alerts: list[str]
    salesforce_last: dict[str, dict]
    # the newest loads of call activity (Salesforce Tasks: the experiments' dials), newest first
    activity_loads: list[dict] = field(default_factory=list)
    # the newest successful load of each kind ("territory", "leads", "activities") → its warnings, as the load said
    # them (a partial or shrunk territory month, deleted records): kept in sight after a load run from cron
    load_warnings: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def headline(self) -> list[tuple[str, str]]:
        """The four figures at the top of the home page: (label, value)."""
        rate = (self.reconciliation or {}).get("match_rate")
        return [("Territory snapshot", month_label(self.current_month) if self.current_month else "none loaded"),
                ("Unique reps", f"{self.unique_reps:,}"), ("Contacted leads", f"{self.contacted_leads:,}"),
                ("CRD match rate", f"{rate:.1%}" if rate is not None else "n/a")]

    def monitoring_banner(self) -> tuple[str, str] | None:
        """(level, text) when monitoring has open WARN or worse, else None."""
        level, n = self.monitoring["level"], self.monitoring["open_alerts"]
        if level not in ("warn", "alert", "critical"):
            return None
        counts = self.monitoring.get("open_by_level") or {}
        each = ", ".join(f"{counts[k]:,} {k.upper()}" for k in ("critical", "alert", "warn") if counts.get(k))
        return level, (f"Monitoring: **{level.upper()}** — {n:,} open alert{'' if n == 1 else 's'}"
                       + (f" ({each})" if each else "") + ". See Analyst → Monitoring.")

    def territory_load_words(self) -> tuple[str, str] | None:
        """The newest territory load: (what, caption), or None before the first."""
        if not self.territory_loads:
            return None
        t = self.territory_loads[0]
        return f"**{month_label(t['snapshot_month'])}** · {t['files']}", _load_caption(t)

    def lead_load_words(self) -> tuple[str, str] | None:
        return _export_load_words(self.lead_loads)

    def activity_load_words(self) -> tuple[str, str] | None:
        """The newest call-activity (Task) load: (what, caption), or None before the first."""
        return _export_load_words(self.activity_loads)

    def champion_words(self) -> str:
        m = self.champion_model
        if not m:
            return "No champion: scoring falls back to the heuristic rule."
        gates = "passed its gates" if m["gates_passed"] else "promoted past its gates"
        return f"{model_words(m['kind'], m['created_at'])}, {gates} · id {m['model_id']}"

    def last_run_words(self) -> tuple[str, str] | None:
        """How the last daily run ended: (ok | warning | error, text), or None before the first."""
        run = self.last_run
        if not run:
            return None
        from core.daily import write_back_words
        from core.scoring.score import fallback_words

        counts, at = json.loads(run["counts_json"] or "{}"), when(run["started_at"])
        if run["outcome"] == "ok":
            return "ok", (f"Last run {at}: ok — {counts.get('scored', 0):,} scored with "
                          f"{fallback_words(counts.get('fallback_level'))}; Salesforce write-back: "
                          f"{write_back_words(counts)}")
        if run["outcome"] == "write_back_failed":
            return "warning", (f"Last run {at}: scores are fresh, but the Salesforce write-back failed — {run['error']}. "
                               "See Salesforce sync.")
        return "error", f"Last run {at}: {run['outcome']} — {run['error']} (previous scores kept)"

    def sync_lines(self) -> list[str]:
        """The last Salesforce pull and push, one line each."""
        from core.salesforce.result import sync_words

        names = {"pull": "pull", "pull_tasks": "pull of call activity (Tasks)", "push": "push"}
        return [f"Last Salesforce {names[kind]} {when(s['started_at'])} by {s['actor']}: {sync_words(s['outcome'])} — "
                f"{s['rows_succeeded']:,} of {s['rows_intended']:,} "
                f"{'rows landed' if kind == 'push' else 'rows loaded'}, {s['rows_failed']:,} failed, "
                f"{s['rows_deferred']:,} deferred"
                for kind in names if (s := self.salesforce_last.get(kind))]


# The audit actions of the three loads, and the kind each is shown as
LOAD_ACTIONS = {"load_territories": "territory", "load_leads": "leads", "load_activities": "activities"}


def _warnings(detail) -> list[str]:
    """A load's warnings from its audit detail (a list of sentences; none in an older or unreadable detail)."""
    try:
        value = json.loads(detail) if isinstance(detail, str) else None
    except ValueError:
        return []
    warnings = value.get("warnings") if isinstance(value, dict) else None
    return [str(w) for w in warnings] if isinstance(warnings, list) else []


def pipeline_state(wh: Warehouse) -> PipelineState:
    """Everything the home page shows, from the warehouse alone."""
    with wh.reader() as s:
        territory = s.query(
            "select load_id, max(loaded_at) as loaded_at, max(snapshot_month) as snapshot_month, "
            # counts stay whole numbers in `status`'s JSON (DuckDB sums integers as HUGEINT, read as floats)
            "string_agg(file_name, ', ') as files, cast(sum(rows_read) as int64) as rows_read, "
            "cast(sum(rows_loaded) as int64) as rows_loaded, cast(sum(rows_quarantined) as int64) as rows_quarantined, "
            "max(loaded_by) as loaded_by "
            "from raw.file_loads where kind = 'territory' group by load_id order by loaded_at desc limit 5"
        )
        leads, activities = (s.query(
            "select load_id, loaded_at, file_name, export_at, rows_read, rows_loaded, rows_quarantined, loaded_by "
            f"from raw.file_loads where kind = '{kind}' order by loaded_at desc limit 5") for kind in ("leads", "activities"))
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
        syncs = pd.DataFrame()
        if s.table_exists("ops.sf_syncs"):  # a Task pull is its own line ("pull_tasks"), not the Leads' last pull
            kind = ("case when kind = 'pull' and sf_object = 'Task' then 'pull_tasks' else kind end"
                    if "sf_object" in s.columns("ops.sf_syncs") else "kind")
            syncs = s.query(f"select {kind} as kind, started_at, actor, outcome, rows_intended, rows_succeeded, "
                            "rows_failed, rows_deferred from ops.sf_syncs "
                            f"qualify row_number() over (partition by {kind} order by started_at desc) = 1")
        models = (
            s.query("select * from ml.models where is_champion order by created_at desc limit 1")
            if s.table_exists("ml.models") else pd.DataFrame()
        )
        loads = (
            s.query("select action, detail from ops.audit_log where outcome = 'ok' and action in "
                    f"({', '.join(literal(a) for a in LOAD_ACTIONS)}) "
                    "qualify row_number() over (partition by action order by at desc) = 1")
            if s.table_exists("ops.audit_log") else pd.DataFrame(columns=["action", "detail"])
        )
    rec = json.loads(report.iat[0, 0]) if not report.empty else None
    from core.monitoring.store import current_level, read_alerts

    alerts = read_alerts(wh)
    live = alerts[alerts.active.astype(bool) & alerts.acknowledged_by.isna()] if not alerts.empty else alerts
    return PipelineState(
        monitoring={"level": current_level(alerts), "open_alerts": int(len(live)),
                    "open_by_level": {str(k): int(v) for k, v in live.level.value_counts().items()} if len(live) else {},
                    "worst": live.sort_values("last_seen").message.iloc[-1] if len(live) else None},
        territory_loads=_records(territory),
        lead_loads=_records(leads),
        activity_loads=_records(activities),
        snapshot_months=_records(months),
        unique_reps=reps,
        contacted_leads=contacted,
        current_month=None if months.empty else str(months.snapshot_month.iloc[-1]),
        reconciliation=None if rec is None else {
            k: rec.get(k) for k in ("created_at", "match_rate", "match_rate_by_territory", "unique_reps",
                                    "contacted_leads", "salesforce_leads", "alerts")
        },
        champion_model=_records(models)[0] if not models.empty else None,
        last_run=_records(runs)[0] if not runs.empty else None,
        alerts=(rec or {}).get("alerts", []),
        salesforce_last={r["kind"]: r for r in _records(syncs)},
        load_warnings={LOAD_ACTIONS[r.action]: w for r in loads.itertuples() if (w := _warnings(r.detail))},
    )


def has_data(wh: Warehouse) -> bool:
    with wh.reader() as s:
        return bool(s.scalar("select count(*) from raw.file_loads"))


FIRST_START_BUDGET_MINUTES = 1.5
MONITORING_WINDOW_DAYS = 180  # first start: the champion learns from leads contacted before the last 180 days


@dataclass(frozen=True)
class DemoStart:
    """What the first start did: the generator's summary, the champion it trained and the backfill it wrote;
    ``to_json()`` is `demo-start --json`'s output."""

    generated: dict  # core.demo.generate's summary (scale, seed, rows written, the drawn positive rate)
    champion: str
    train_seconds: float
    backfill: "Backfill"

    def to_json(self) -> dict:
        return {**self.generated, "champion": self.champion, "train_seconds": self.train_seconds,
                "backfill": asdict(self.backfill)}


def bootstrap_demo(wh: Warehouse, settings: Settings, progress=None, actor: Actor | None = None) -> DemoStart:
    """First start on an empty warehouse: generate the small demo data with its monthly territory history,
    load it, reconcile, train a champion with the quick recipe on leads contacted before the monitoring window
    (promoted with a logged reason: demo data has too few test positives for the gates to mean much), backfill
    the score history over the window as a backtest would (rows marked backfilled), then run the daily
    pipeline — scores, tiers and monitoring — so the first screens show the product itself."""
    from core.demo import generate, territory_files
    from core.features.build import build_features, default_as_of, drop_build
    from core.ingest.activities import load_activity_file
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_months
    from core.modeling.registry import promote
    from core.modeling.train import train
    from core.monitoring.backfill import backfill_scores
    from core.quality.reconcile import reconcile

    progress = progress or (lambda f, m: None)
    actor = actor or Actor(DEMO_LOADER, "system")
    outdir = Path(settings.data_dir) / "demo"
    progress(0.02, "Generating small demo exports (19 monthly territory snapshots)")
    generated = generate(outdir, "small", 42, progress=lambda f, m: progress(0.02 + 0.13 * f, m))
    load_territory_months(wh, settings, territory_files(outdir), actor=actor,
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
    progress(0.82, "Backfilling the score history since then (weekly, as a backtest would)")
    build_features(wh, settings, levels=model_levels(wh), actor=actor)
    backfill = backfill_scores(wh, settings, since=cutoff, actor=actor)
    progress(0.88, "Creating the demo's engine experiment (its leads are assigned by the daily run)")
    from core.demo_activity import ENGINE
    from core.experiments.design import create_experiment

    create_experiment(wh, settings, ENGINE["name"], ENGINE["start"].strftime("%Y-%m-%d"), split=ENGINE["split"],
                      strata=ENGINE["strata"], seed=ENGINE["seed"], end=ENGINE["end"].strftime("%Y-%m-%d"), actor=actor)
    progress(0.9, "Running the daily pipeline (features, scores, tiers, monitoring)")
    from core.daily import run_daily

    run_daily(wh, settings, actor=actor)
    progress(1.0, "Demo data ready")
    return DemoStart(generated, model.model_id, round(model.seconds, 1), backfill)


def model_levels(wh: Warehouse) -> dict:
    from core.modeling.registry import load_champion

    return load_champion(wh).levels


def last_runs(wh: Warehouse, limit: int = 10) -> pd.DataFrame:
    with wh.reader() as s:
        if not s.table_exists("ops.runs"):
            return pd.DataFrame()
        return s.query(f"select * from ops.runs order by started_at desc limit {int(limit)}")
