"""`run-daily` in small steps: leads (and call activity, when pulled) → features → scores and tiers → experiment
assignment → monitoring → Salesforce write-back. Each step is timed into one :class:`DailyRun`, which is recorded
in ``ops.runs`` and the audit log however the run ends.

On failure the previous scores stay in place (they are only replaced by a complete run), the failure is
recorded, monitoring raises its CRITICAL pipeline alert straight away, and the error is raised for the caller
to show. The steps import what they call when they run (a failing step can be injected in tests, and a
headless command does not load what it never uses)."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.warehouse import Warehouse

Progress = Callable[[float, str], None]


@dataclass
class DailyRun:
    """One daily run: what it counted, how long each step took, how it ended."""

    run_id: str
    started: datetime
    actor: Actor
    counts: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    as_of: pd.Timestamp | None = None
    outcome: str = "ok"  # ok | failed | write_back_failed
    error: str | None = None

    @classmethod
    def start(cls, actor: Actor) -> DailyRun:
        return cls(uuid.uuid4().hex[:12], datetime.now(timezone.utc), actor)

    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = round(time.perf_counter() - t0, 2)

    def failed(self, exc: BaseException, outcome: str = "failed") -> None:
        if self.outcome == "ok":  # the first failure is the one that counts
            self.outcome, self.error = outcome, f"{type(exc).__name__}: {exc}"

    def to_json(self) -> dict:
        """`run-daily`'s output (cli.md): run id, counts, timings, as_of."""
        return {"run_id": self.run_id, "counts": self.counts, "timings": self.timings, "as_of": str(self.as_of)}

    def summary(self) -> str:
        """One line for people: how many leads, scored how, how long, and how the write-back ended."""
        from core.scoring.score import fallback_words

        c = self.counts
        tasks = f"; call activity {c['tasks_pull']}" if "tasks_pull" in c else ""
        return (f"Scored {c.get('scored', 0):,} leads with {fallback_words(c.get('fallback_level', ''))} in "
                f"{self.timings.get('total', 0):.1f} s; Salesforce write-back: {write_back_words(c)}{tasks}")


def write_back_words(counts: dict) -> str:
    """How a daily run's write-back ended, from its counts: 'done (1,204 landed)', 'nothing to send', 'not configured'."""
    from core.salesforce.result import sync_words

    words = sync_words(counts.get("write_back", "not configured"))
    return f"{words} ({counts['push_succeeded']:,} landed)" if "push_succeeded" in counts else words


def read_leads(run: DailyRun, wh: Warehouse, settings: Settings, leads_file: str | None, pull: bool) -> None:
    """A Lead export when one is given, else a Salesforce pull when the org is configured for it."""
    if leads_file:
        from core.ingest.leads import load_lead_file

        with run.timed("load_leads"):
            run.counts["leads_rows_read"] = load_lead_file(wh, settings, leads_file, actor=run.actor).rows_read
    elif pull:
        from core.salesforce.pull import pull_leads

        with run.timed("pull_leads"):
            run.counts["leads_rows_read"] = pull_leads(wh, settings, actor=run.actor,
                                                     incremental=True).rows_read


def read_activities(run: DailyRun, wh: Warehouse, settings: Settings) -> None:
    """Call activity (Tasks) after a Lead pull: experiments count dials per lead from it, and without a daily pull
    their readouts went stale while the scores stayed fresh. Scoring does not read it, so a Task pull that cannot
    be made (no Task access, none on a Lead, the org's request limit) is said in the run's counts, the Tasks loaded
    before stay, and the run goes on."""
    from core.errors import LeadScoringError
    from core.salesforce.pull import pull_activities

    with run.timed("pull_tasks"):
        try:
            # incremental: the Tasks changed since the last pull, merged with those loaded (a full pull each week)
            run.counts["tasks_rows_read"] = pull_activities(wh, settings, actor=run.actor, incremental=True).rows_read
        except LeadScoringError as exc:
            run.counts["tasks_pull"] = (f"not pulled: {exc} (An org that logs no calls as Tasks can turn the daily "
                                        "Task pull off: salesforce.daily_pull_tasks = false.)")


def build(run: DailyRun, wh: Warehouse, settings: Settings) -> None:
    from core.features.build import build_features
    from core.modeling.registry import champion_levels

    with run.timed("features"):
        # with the champion's category levels: scoring reuses this build (with learned levels that differ from the
        # champion's — a new metro, a new list — scoring had to build the features a second time)
        run.as_of = build_features(wh, settings, levels=champion_levels(wh), actor=run.actor).as_of


def score(run: DailyRun, wh: Warehouse, settings: Settings) -> None:
    from core.scoring.score import score_leads

    with run.timed("score"):
        scoring, _ = score_leads(wh, settings, actor=run.actor)
    run.timings.update({f"score.{k}": v for k, v in scoring.timings.items()})
    run.counts.update(scored=scoring.n_scored, fallback_level=scoring.fallback_level,
                      model_version=scoring.model_version,
                      **{f"tier_{k}": int(v) for k, v in scoring.tier_counts.items()})


def assign(run: DailyRun, wh: Warehouse, settings: Settings) -> None:
    from core.experiments.assign import assign_new_leads

    with run.timed("experiments"):
        run.counts["experiment_assignments"] = assign_new_leads(wh, settings, actor=run.actor)


def monitor(run: DailyRun, wh: Warehouse, settings: Settings) -> None:
    """An alert is data, not a failure: a run whose monitoring cannot measure (e.g. a champion trained before
    references existed) still stands, and says why."""
    from core.errors import LeadScoringError
    from core.monitoring.monitor import run_monitor

    with run.timed("monitor"):
        try:
            run.counts["alert_level"] = run_monitor(wh, settings, actor=run.actor).alert_level
        except LeadScoringError as exc:
            run.counts["alert_level"] = f"not measured: {exc}"


def write_back(run: DailyRun, wh: Warehouse, settings: Settings, configured: bool, enabled: bool) -> None:
    if not (configured and enabled):
        run.counts["write_back"] = "not configured" if not configured else "disabled (salesforce.daily_push)"
        return
    from core.salesforce.push import push_scores

    with run.timed("push_scores"):
        try:
            push = push_scores(wh, settings, actor=run.actor)
        except Exception as exc:  # scores are fresh and in place; only the write-back failed (its sync row says why)
            run.failed(exc, "write_back_failed")
            run.counts["write_back"] = "failed"
            raise
    run.counts["write_back"] = push.outcome
    run.counts.update({f"push_{k}": getattr(push, k) for k in ("sync_id", "intended", "succeeded", "failed", "deferred")})


def record(run: DailyRun, wh: Warehouse) -> None:
    """One ops.runs row and one audit entry, whatever happened (a recording failure never hides the run's own)."""
    from core import audit

    with contextlib.suppress(Exception), wh.writer("record run") as s:
        s.load("ops.runs", pd.DataFrame([{
            "run_id": run.run_id, "kind": "run-daily", "started_at": run.started,
            "finished_at": datetime.now(timezone.utc), "actor": run.actor.username, "outcome": run.outcome,
            "as_of": run.as_of, "counts_json": json.dumps(run.counts, default=str),
            "timings_json": json.dumps(run.timings), "error": run.error,
        }]).astype({"as_of": "datetime64[us, UTC]"}), mode="append")
        audit.record(s, run.actor, "run_daily", run.run_id, run.outcome, {"counts": run.counts, "error": run.error})


def run_daily(wh: Warehouse, settings: Settings, leads_file: str | None = None, actor: Actor | None = None,
              progress: Progress | None = None) -> DailyRun:
    """Leads (a file when given, else a Salesforce pull when configured, then its Tasks) → features → scores and
    tiers → experiment assignment → monitoring → Salesforce write-back when configured; one ops.runs row."""
    from core.monitoring.monitor import run_monitor
    from core.salesforce.config import salesforce_config

    sf = salesforce_config(settings)
    actor = actor or cli_actor()
    authorize(actor, "run_pipeline")
    progress = progress or (lambda f, m: None)
    run, t0 = DailyRun.start(actor), time.perf_counter()
    try:
        pull = sf.configured and sf.daily_pull
        if leads_file or pull:
            progress(0.05, "Loading the Lead export" if leads_file else "Pulling contacted Leads from Salesforce")
        read_leads(run, wh, settings, leads_file, pull)
        if pull and not leads_file and sf.daily_pull_tasks:
            progress(0.2, "Pulling call activity (Tasks) from Salesforce")
            read_activities(run, wh, settings)
        progress(0.3, "Building point-in-time features")
        build(run, wh, settings)
        progress(0.55, "Scoring, drivers and tiers")
        score(run, wh, settings)
        assign(run, wh, settings)
        progress(0.7, "Monitoring: drift, matured cohorts, feed health, alerts")
        monitor(run, wh, settings)
        if sf.configured and sf.daily_push:
            progress(0.8, "Writing changed scores to Salesforce")
        write_back(run, wh, settings, sf.configured, sf.daily_push)
        progress(1.0, f"Scored {run.counts['scored']:,} leads ({run.counts['fallback_level']})")
    except Exception as exc:
        run.failed(exc)
        raise
    finally:
        run.timings["total"] = round(time.perf_counter() - t0, 2)
        record(run, wh)
        if run.outcome != "ok":  # a failed run is itself a CRITICAL alert: monitoring records it straight away
            with contextlib.suppress(Exception):
                run_monitor(wh, settings, actor=actor)
        from core.notify import notify_run

        run.counts["notify"] = notify_run(wh, settings, actor, run.outcome, run.error, run.started)
    return run
