"""What the Monitoring page shows, shaped in one call (:class:`MonitoringView`): the newest run, its frames, active
alerts with readable labels, matured cohorts as a table, and the challengers that could go into shadow."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pandas as pd

from core.config import Settings
from core.features.owners import owner_labels, owner_names, owners_in_words
from core.modeling.registry import list_models
from core.monitoring.charts import KIND_LABELS, LEVEL_LABELS
from core.monitoring.measures import conversion_pooled
from core.monitoring.shadow import Shadow, ShadowComparison, active_shadow
from core.monitoring.store import LEVELS, latest_run, read_alerts
from core.warehouse import Warehouse
from core.words import model_words, month_label, when


def model_label(row) -> str:
    ap = json.loads(row.metrics_json or "{}").get("test", {}).get("auc_pr")
    return model_words(row.kind, row.created_at) + (f" (test AUC-PR {ap:.3f})" if ap else "")


_MONTH = re.compile(r"(?<![\d-])(\d{4})-(0[1-9]|1[0-2])(?![\d-])")


def months_in_words(text) -> str:
    """'moved in 2025-06' → 'moved in Jun 2025' (a full date such as 2025-06-02 stays as it is)."""
    return _MONTH.sub(lambda m: month_label(m.group(0)), str(text))


def incident_groups(alerts: pd.DataFrame):
    """The alerts grouped as incidents, one per kind and period (the subject's part after " · "): (the kind in
    words, the period, the worst level, the group's rows), in the alerts' order."""
    period = alerts.subject.str.rpartition(" · ")[2]
    for (kind, p), g in alerts.groupby([alerts.kind, period], sort=False):
        yield KIND_LABELS.get(kind, kind), p, max(g.level, key=LEVELS.index), g


def incidents(alerts: pd.DataFrame, owners: dict[str, str] | None = None) -> pd.DataFrame:
    """The open (unacknowledged) alerts as incidents to acknowledge at once: one per kind and period (a drifting
    month's features are one incident), worst first; an owner feature named by its owner (``owners``: OwnerId →
    name). Columns: label, alert_keys, level, alerts."""
    open_ = alerts[alerts.acknowledged_by.isna()] if not alerts.empty else alerts
    if open_.empty:
        return pd.DataFrame(columns=["label", "alert_keys", "level", "alerts"])
    rows = []
    for what, p, level, g in incident_groups(open_):
        head = g.subject.iloc[0].rpartition(" · ")[0]
        label = f"{what} · {months_in_words(p)}: {len(g)} alerts" if len(g) > 1 else \
            f"{what}: {head} · {months_in_words(p)}" if head else f"{what}: {g.subject.iloc[0]}"
        rows.append({"label": f"{owners_in_words(label, owners or {})} ({LEVEL_LABELS[level]})",
                     "alert_keys": list(g.alert_key), "level": level, "alerts": len(g), "order": LEVELS.index(level)})
    return pd.DataFrame(rows).sort_values("order", ascending=False, kind="stable").drop(columns="order") \
        .reset_index(drop=True)


@dataclass(frozen=True)
class MonitoringView:
    """The newest monitoring run as the page shows it. ``run`` is the stored run (``MonitorResult.to_json``);
    ``frames`` its measures over time; the tables are ready to show."""

    run: dict
    frames: dict[str, pd.DataFrame]
    alerts: pd.DataFrame  # active alerts, worst and newest first, with Level / What / Subject in words
    incidents: pd.DataFrame  # open alerts grouped to acknowledge at once
    cohorts: pd.DataFrame  # matured weekly cohorts, newest first
    ranges: pd.DataFrame  # implausible MarketPro values by month and column
    conversion_pooled: pd.DataFrame
    conversion: pd.DataFrame
    model_label: str
    reference_span: str
    shadow: ShadowComparison | None  # the comparison the latest run made of the challenger shadowed now
    active_shadow: Shadow | None  # the challenger scoring in shadow now (started or stopped since the run, too)
    challengers: pd.DataFrame
    labels: dict[str, str]
    # features as a reader knows them where the name alone would not do ("Owner: <name>" for Owner_<OwnerId>); the
    # frames keep the names (the look inside a month reads a feature by its name)
    feature_labels: dict[str, str] = field(default_factory=dict)

    def headline(self) -> list[tuple[str, str]]:
        """The four figures at the top of the page: (label, value)."""
        run, cov = self.run, self.run["feed"].get("recent_discovery_coverage")
        return [("Alert level", LEVEL_LABELS[run["alert_level"]]),
                ("Matured weekly cohorts", f"{len(run['matured_cohorts']):,}"),
                ("Score PSI, last 30 days", "n/a" if run["score_psi"] is None else f"{run['score_psi']:.3f}"),
                ("Discovery coverage, last 30 days", "n/a" if cov is None else f"{cov:.0%}")]

    def caption(self) -> str:
        run = self.run
        span = f" from leads contacted {self.reference_span}" if self.reference_span else ""
        return (f"Champion **{self.model_label}** · reference frozen {when(run['reference_date'])}{span} · data as of "
                f"{when(run['as_of'])} · last run {when(run['created_at'])}")

    def feed_summary(self) -> str:
        """Which territory months are loaded and missing, and how often Salesforce's State disagrees with MarketPro."""
        feed = self.run["feed"]
        months = feed["months_loaded"]
        span = f"{month_label(months[0])} to {month_label(months[-1])}" if months else "— to —"
        partial = "".join(f"; {month_label(m)} without {', '.join(t)}"
                          for m, t in (feed.get("missing_territories") or {}).items())  # runs before this release: none
        return (f"Territory months loaded: **{len(months)}** ({span}); missing: "
                f"{', '.join(map(month_label, feed['missing_months'])) or 'none'}{partial}. Salesforce State differs from the "
                f"MarketPro branch state for {feed.get('state_conflict_share', 0):.1%} of matched leads.")


def monitoring_view(wh: Warehouse, settings: Settings) -> MonitoringView | None:
    """None before the first monitoring run."""
    latest = latest_run(wh)
    if latest is None:
        return None
    run, frames = latest
    shadowed = active_shadow(wh)
    models = list_models(wh)
    labels = {r.model_id: model_label(r) for r in models.itertuples()}
    alerts = read_alerts(wh)
    alerts = alerts[alerts.active.astype(bool)].copy()
    with wh.reader() as s:
        owners = owner_names(s)
    named = {f for k in ("drift", "attribution") for f in frames.get(k, pd.DataFrame()).get("feature", [])}
    if not alerts.empty:
        alerts["order"] = alerts.level.map(LEVELS.index)
        alerts = alerts.sort_values(["order", "last_seen"], ascending=[False, False])
        alerts["Level"] = alerts.level.map(LEVEL_LABELS)
        alerts["What"] = alerts.kind.map(KIND_LABELS).fillna(alerts.kind)
        alerts["Subject"] = alerts.subject.map(lambda t: owners_in_words(months_in_words(t), owners))
        alerts["message"] = alerts.message.map(lambda t: owners_in_words(months_in_words(t), owners))
    cohorts = pd.DataFrame(run["matured_cohorts"])
    if not cohorts.empty:
        # reindexed: a run of an earlier release has no mqls_before_a_list
        cohorts = cohorts.assign(week=pd.to_datetime(cohorts.cohort_start).dt.strftime("%d %b %Y")).reindex(columns=[
            "week", "leads", "positives", "observed_rate", "tier_a_leads", "tier_a_precision", "tier_a_recall", "auc_pr",
            "predicted_rate", "backfilled_share", "mqls_before_a_list"]).iloc[::-1].astype(
            {"positives": "Int64", "mqls_before_a_list": "Int64"})
    ranges = frames.get("ranges", pd.DataFrame())
    if not ranges.empty:
        ranges = ranges.assign(month=ranges.period.map(month_label))[["month", "column", "count", "rows", "example", "low", "high"]]
    # a run of an earlier release has no conversion frame: the tab says so instead of failing
    pooled = conversion_pooled(frames.get("conversion", pd.DataFrame()))
    conversion = pooled.assign(tier="Tier " + pooled.tier, discovery=pooled.discovery.replace({"all": "all leads"}))[
        ["tier", "discovery", "leads", "mqls", "rate", "low", "high"]] if not pooled.empty else pooled
    return MonitoringView(
        run=run, frames=frames, alerts=alerts, incidents=incidents(alerts, owners), cohorts=cohorts, ranges=ranges,
        conversion_pooled=pooled, conversion=conversion, model_label=labels.get(run["model_id"], run["model_id"]),
        reference_span=" to ".join(f"{pd.Timestamp(t).day} {pd.Timestamp(t):%b %Y}" for t in run.get("reference_contacted") or []),
        shadow=ShadowComparison.from_json(run["shadow"]) if run.get("shadow") and shadowed and
        run["shadow"]["challenger"] == shadowed.model_id else None, active_shadow=shadowed,
        challengers=models[~models.is_champion.astype(bool)], labels=labels,
        feature_labels=owner_labels(sorted(named), owners))


def boost_warnings(wh: Warehouse, scores: pd.DataFrame) -> list[str]:
    """For the Tier lists: each active, unacknowledged priority-boost alert (a rule met by far more — or fewer —
    of a month's leads than in training) whose month holds Tier A leads boosted by that rule, in words. Those
    leads may owe their place to a feed fault rather than to the advisor."""
    alerts = read_alerts(wh)
    if alerts.empty or scores.empty or "boost_reasons" not in scores:
        return []
    live = alerts[(alerts.kind == "boost_share") & alerts.active.astype(bool) & alerts.acknowledged_by.isna()]
    tier_a = scores[scores.tier == "A"]
    month = pd.to_datetime(tier_a.contacted_at, utc=True).dt.strftime("%Y-%m")
    out = []
    for a in live.itertuples():
        rule, _, period = a.subject.rpartition(" · ")
        n = int(((month == period) & tier_a.boost_reasons.fillna("").str.contains(rule, regex=False)).sum())
        if n:
            out.append(f"{n:,} Tier A lead{'s' * (n != 1)} contacted in {month_label(period)} "
                       f"{'are' if n != 1 else 'is'} boosted by the priority rule '{rule}', which monitoring finds met "
                       f"by {a.value:.0%} of that month's leads"
                       + (f" (it warns past {a.threshold:.0%}, set from the training rows' share)"
                          if pd.notna(a.threshold) else "")
                       + ". A feed fault (e.g. AUM in thousands) may have put them there: see Monitoring before "
                       "calling them.")
    return out
