"""`monitor`: one run reads the champion's frozen reference and the warehouse, measures drift, matured and
estimated cohorts, calibration, attribution drift, feed health and retrain triggers, turns them into tiered
alerts (spec §9.3) and stores everything with history. An alert is data, never a failed run."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS, as_utc, latest_feature_set, refuse_as_of_after
from core.features.catalog import PLAUSIBLE_RANGES
from core.ingest.territories import missing_territories, month_territories
from core.modeling.data import aum_segment, model_inputs
from core.modeling.registry import champion_row, load_model
from core.monitoring import measures as M
from core.monitoring import periods as P
from core.monitoring.psi import psi_against, psi_of_counts
from core.monitoring.reference import NEAR_CONTACT_DAYS, load_reference, month_counts, score_profile, snapshot_columns
from core.monitoring.shadow import ShadowComparison, shadow_summary
from core.monitoring.store import LEVELS
from core.notify import OFF, notify_run
from core.operation import audited
from core.scoring.score import FIRST_SCORES, champion_prob, first_scores_sql, refresh_first_scores
from core.scoring.tiers import BOOST_COLUMNS, stored_prob
from core.warehouse import Warehouse
from core.warehouse.sql import literal

PLAYBOOK = {
    "feature_drift": "1. Check the vendor data feed status; 2. validate the feature pipeline for the named features.",
    "snapshot_drift": "1. Check the vendor data feed status (units, blank columns) before the month is used for scoring.",
    "score_drift": "2. Validate the feature pipeline; 3. recompute calibration with the last 30 days if it persists.",
    "coverage": "1. Check the vendor feed; 4. if discovery features are degraded, leads fall back to the MarketPro-only model.",
    "feed_range": "1. Check the vendor data feed: a unit or mapping fault in the export. Reload the corrected month.",
    "feed_late": "1. Check the vendor data feed status: download and load the missing monthly export.",
    "calibration": "3. Recompute calibration with the last 30 days: Monitoring → Calibration → Recalibrate (`python -m "
                   "core models recalibrate`), then shadow or promote the new version.",
    "precision": "5. Sustained degradation: trigger an emergency retrain; meanwhile check the feed (step 1).",
    "pipeline_failed": "2. Validate the pipeline: read the failed run's error on the home page and re-run it.",
    "attribution": "2. Validate the feature pipeline for the named feature; 5. retrain if the shift is real.",
    "retrain_due": "5. Retrain (spec §9.4): train, compare in shadow for 7 days, promote through the gate.",
    "schema_change": "5. The vendor changed its schema: map the column, then retrain (spec §9.4).",
    "source_conflict": "1. Check the vendor feed and the CRD mapping: Salesforce and MarketPro disagree on where the advisor is.",
    "boost_share": "1. Check the vendor data feed (a unit fault in AUM or client counts meets the priority rules): reload "
                   "the corrected month; until then boosted leads crowd Tier A.",
}


@dataclass(frozen=True)
class Thresholds:
    """Spec §9.3 and §9.4, overridable in the config file's [monitoring] table."""
    psi_warn: float = 0.2
    psi_alert: float = 0.3
    psi_alert_features: int = 2  # "multiple features"
    coverage_warn: float = 0.60
    calibration_alert: float = 0.40
    precision_critical: float = 0.50
    attribution_change: float = 0.50
    retrain_days: int = 45
    base_rate_shift: float = 0.50
    conflict_warn: float = 0.10  # share of matched leads whose Salesforce State differs from MarketPro's
    min_rows: int = 100  # a period with fewer scored leads is shown, never alerted on
    min_positives: int = 10
    recent_days: int = 30
    significance: float = 0.01
    boost_share_change: float = 1.0  # a priority rule's share of new leads doubling (or halving) against training

    @classmethod
    def from_settings(cls, settings: Settings) -> "Thresholds":
        extra = settings.extra.get("monitoring", {}) if settings.extra else {}
        unknown = set(extra) - set(cls.__dataclass_fields__)
        if unknown:
            raise LeadScoringError(f"Config [monitoring] has unknown keys {sorted(unknown)}; known: "
                                   f"{', '.join(cls.__dataclass_fields__)}.")
        return cls(**extra)


@dataclass
class MonitorResult:
    run_id: str
    as_of: str
    model_id: str
    reference_date: str
    alert_level: str
    alerts: list[dict]
    feature_psi: dict
    snapshot_psi: dict
    score_psi: float | None
    matured_cohorts: list[dict]
    estimated_cohorts: list[dict]
    feed: dict
    retrain: list[dict]
    shadow: ShadowComparison | None = None
    reference_contacted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the champion's Tier A precision on its held-out period, tiered as daily scoring tiers (the CRITICAL alert
    # fires below half of it); None for a champion trained before it was measured
    tier_a_baseline: float | None = None
    tier_a_critical_below: float | None = None  # the baseline × the [monitoring] precision_critical share
    frames: dict = field(default_factory=dict, repr=False)
    # what this run measured, for the per-run history tables (ml.monitor_feature_psi: the months measured this run
    # and the last days; ml.monitor_cohorts): a month read back from the drift cache was stored by the run that
    # measured it, and storing it again with every run only grew the table (~2.6k rows a run)
    measured: dict = field(default_factory=dict, repr=False)
    # False for a view as of a day before the newest contact (`monitor --as-of` a past day): stored in the run
    # history, but neither the current alerts nor the Monitoring page's run change (a look at March must not close
    # today's alerts)
    live: bool = True
    # what the chat webhook was told, for a run asked to tell (`monitor`, the page's button; the daily run tells
    # once, at its end): core.notify's words ("sent to …", "nothing new", "off (no webhook)", "not sent: …")
    notify: str | None = None

    def headline(self) -> str:
        """The run in one line, as the Monitoring page's button reports it."""
        told = "" if self.notify in (None, OFF) else f" · notifications: {self.notify}"
        return f"Monitoring done: level {self.alert_level.upper()}, {len(self.alerts)} alert(s) raised{told}"

    def to_json(self) -> dict:
        # not dataclasses.asdict: it deep-copies every field, the page's frames too, before they could be dropped
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)
               if f.name not in ("frames", "measured", "shadow")}
        return out | {"shadow": self.shadow.to_json() if self.shadow else None}


def _alert(level, kind, subject, value, threshold, message) -> dict:
    return {"level": level, "kind": kind, "subject": subject, "value": None if value is None else round(float(value), 4),
            "threshold": threshold, "message": message, "playbook": PLAYBOOK[kind]}


# ----------------------------------------------------------------------------------------------- reading


LEAD_COLUMNS = ("lead_id", "contacted_at", "label", "label_status", "Has_Discovery_Data", *BOOST_COLUMNS)


def _read(wh: Warehouse):
    """What every run reads whole: a few columns of every lead (cohorts, coverage), each lead's first score (with
    its lead's contact time, label and AUM), the tier mix, the last pipeline run and the territory months. Feature
    values are read per changed period (:func:`_context`)."""
    with wh.reader() as s:
        leads = pd.DataFrame()
        if s.table_exists("ml.lead_features"):
            have = s.columns("ml.lead_features")
            cols = [c for c in LEAD_COLUMNS if c.lower() in have]
            leads = s.query_plain(f"select {', '.join(cols)} from ml.lead_features")
        first = pd.DataFrame()
        if s.table_exists("ml.score_history"):
            # Each lead's first score, kept by every write to the history; aggregated from it (and kept from then
            # on, see _run_monitor) where a warehouse predates the table. Joined to the leads' contact time and
            # label in the warehouse (a pandas merge of the two cost ~4x the query).
            firsts = FIRST_SCORES if s.table_exists(FIRST_SCORES) else f"({first_scores_sql(s)})"
            if leads.empty:
                first = s.query_plain(f"select * from {firsts} as s")
            else:
                aum = "f.TotalAssetsInMillions" if "totalassetsinmillions" in have else "cast(null as float64)"
                discovery = "f.Has_Discovery_Data" if "has_discovery_data" in have else "cast(null as int64)"
                first = s.query_model_plain("monitoring/first_scored_leads.sql", first_scores=firsts, aum=aum,
                                            discovery=discovery, near_contact_days=NEAR_CONTACT_DAYS)
            tiers = s.query_plain("select score_date, tier, count(*) as leads from ml.score_history "
                                  "group by score_date, tier order by score_date, tier")
        else:
            tiers = pd.DataFrame(columns=["score_date", "tier", "leads"])
        runs = s.query("select outcome, started_at, error from ops.runs order by started_at desc limit 1") \
            if s.table_exists("ops.runs") else pd.DataFrame()
        # a month whose files loaded no row (every row quarantined) is not loaded: feed health says it is missing
        months = s.query("select snapshot_month, max(load_id) as load_id from raw.file_loads where kind = 'territory' "
                         "and rows_loaded > 0 group by snapshot_month order by snapshot_month") \
            if s.table_exists("raw.file_loads") else pd.DataFrame()
    return leads, first, tiers, runs, months


def _replace_periods(table: str, model_id: str, periods, rows: pd.DataFrame) -> Callable:
    """A write for the run's one writer: ``rows`` replace ``table``'s rows of these periods under this model."""
    def write(s) -> None:
        if s.table_exists(table):
            s.execute(f"delete from {table} where model_id = {literal(model_id)} and period in "
                      f"({', '.join(literal(str(p)) for p in periods)})")
        s.load(table, rows, mode="append")
    return write


def _snapshot_drift(wh: Warehouse, reference: dict, months: pd.DataFrame, model_id: str,
                    pending: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per territory month, PSI of each MarketPro column against the month the champion was trained on, and the
    newly measured months' implausible values and null rates. Months already measured for this model and load
    are read back, not recomputed; new measures are stored by the run's writer (``pending``)."""
    snap = reference.get("snapshot")
    none = pd.DataFrame()
    if not snap or months.empty:
        return pd.DataFrame(columns=["period", "feature", "group", "psi", "noise", "n", "load_id"]), none, none
    cached = pd.DataFrame()
    with wh.reader() as s:
        if s.table_exists("ml.monitor_snapshot_psi"):
            cached = s.query(f"select * from ml.monitor_snapshot_psi where model_id = {literal(model_id)}")
    done = set(zip(cached.period, cached.load_id)) if not cached.empty else set()
    todo = months[[(m, l) not in done for m, l in zip(months.snapshot_month, months.load_id)]]
    fresh, implaus, long = pd.DataFrame(), none, none
    if not todo.empty:
        periods = [str(m) for m in todo.snapshot_month]
        profiles = {c: p for c, p in snap["columns"].items() if c in snapshot_columns()}
        # Every month of a column counted in its frozen bins by the warehouse in one query (a month is ~460k reps,
        # 4.6M at 10x): no month's values reach Python, and every measure is per column and month.
        with wh.reader() as s:
            counts, implaus = month_counts(s, periods, profiles, PLAUSIBLE_RANGES)
        drift, nulls = [], {}
        for c, cur in counts.items():
            psi, noise, n = psi_of_counts(profiles[c], cur)
            drift.append(M.drift_part(periods, c, profiles[c], psi, noise, n))
            nulls[c] = np.where(n > 0, cur[:, -1] / np.maximum(n, 1), np.nan)
        fresh = M.drift_frame(drift)
        fresh["load_id"] = fresh.period.map(dict(zip(periods, todo.load_id)))
        fresh["model_id"] = model_id
        implaus = implaus.assign(model_id=model_id)
        long = pd.DataFrame(nulls, index=periods).stack().rename("null_rate").reset_index()
        long.columns = ["period", "column", "null_rate"]
        long = long.assign(model_id=model_id)
        pending.append(_replace_periods("ml.monitor_snapshot_psi", model_id, periods, fresh))
        pending.append(lambda s: s.load("ml.monitor_feed_ranges", implaus, mode="append") if not implaus.empty else None)
        pending.append(lambda s: s.load("ml.monitor_null_rates", long, mode="append"))
        cached = pd.concat([cached[~cached.period.isin(todo.snapshot_month)] if not cached.empty else cached, fresh],
                           ignore_index=True)
    if not cached.empty:  # the months given only: a month cached by a run as of a later day is not shown
        cached = cached[cached.period.astype(str).isin(months.snapshot_month.astype(str))].reset_index(drop=True)
    return cached, implaus, long


def _feed_tables(wh: Warehouse, model_id: str, new_ranges: pd.DataFrame,
                 new_nulls: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Implausible values and null rates per territory month: those stored, then this run's (the newest wins)."""
    with wh.reader() as s:
        ranges = s.query(f"select * from ml.monitor_feed_ranges where model_id = {literal(model_id)}") \
            if s.table_exists("ml.monitor_feed_ranges") else pd.DataFrame(columns=["period", "column", "count", "rows", "example"])
        nulls = s.query(f"select * from ml.monitor_null_rates where model_id = {literal(model_id)}") \
            if s.table_exists("ml.monitor_null_rates") else pd.DataFrame(columns=["period", "column", "null_rate"])
    ranges = pd.concat([ranges, new_ranges], ignore_index=True) if not new_ranges.empty else ranges
    nulls = pd.concat([nulls, new_nulls], ignore_index=True) if not new_nulls.empty else nulls
    return ranges.drop_duplicates(["period", "column"], keep="last"), nulls.drop_duplicates(["period", "column"], keep="last")


# ------------------------------------------------------------------------------------------------- alerts


def drift_alerts(drift: pd.DataFrame, th: Thresholds, kind: str, after: str | None = None,
                 min_features: int | None = None) -> list[dict]:
    """Per period: every feature whose PSI clears both the threshold and its noise level. Several at ≥ psi_alert
    computed from independent source columns make an ALERT on each of them (a column and its logarithm moving
    together are one signal); otherwise a feature at ≥ psi_warn is a WARN."""
    out = []
    if drift.empty:
        return out
    # only a feature at or above a threshold can raise anything: the periods without one are not grouped at all
    d = drift[(drift.n >= th.min_rows) & (drift.psi >= drift.noise) & (drift.psi >= min(th.psi_warn, th.psi_alert))]
    if after:
        d = d[d.period > after]
    for period, g in d.groupby("period", sort=True):
        strong = g[g.psi >= th.psi_alert]
        need = th.psi_alert_features if min_features is None else min_features
        if len(strong) >= need and (need < 2 or M.independent(list(strong.sources))):
            for r in strong.itertuples():
                others = f", with {len(strong) - 1} other feature(s) ≥ {th.psi_alert}" if len(strong) > 1 else ""
                out.append(_alert("alert", kind, f"{r.feature} · {period}", r.psi, th.psi_alert,
                                  f"{r.feature} moved (PSI {r.psi:.2f} ≥ {th.psi_alert}) in {period}{others}; "
                                  f"{r.n:,} rows."))
        else:
            for r in g[g.psi >= th.psi_warn].itertuples():
                out.append(_alert("warn", kind, f"{r.feature} · {period}", r.psi, th.psi_warn,
                                  f"{r.feature} moved (PSI {r.psi:.2f} ≥ {th.psi_warn}) in {period}; {r.n:,} rows."))
    return out


def _calibration_alerts(cal: pd.DataFrame, th: Thresholds) -> list[dict]:
    out = []
    for r in cal.itertuples():
        if r.positives < th.min_positives or r.leads < th.min_rows:
            continue
        off = abs(r.predicted - r.observed) / r.observed if r.observed else 0.0
        if off <= th.calibration_alert:  # the test only for a gap that could alert (~0.3 ms a segment-month)
            continue
        p = binomtest(int(r.positives), int(r.leads), min(max(r.predicted, 1e-6), 1 - 1e-6)).pvalue
        if p < th.significance:
            out.append(_alert("alert", "calibration", f"{r.segment} · {r.period}", off, th.calibration_alert,
                              f"AUM segment {r.segment} in {r.period}: predicted {r.predicted:.1%}, observed "
                              f"{r.observed:.1%} ({r.positives} of {r.leads:,}); off by {off:.0%} (binomial p = {p:.3g})."))
    return out


def _precision_alert(matured: pd.DataFrame, scored: pd.DataFrame, baseline: float | None, th: Thresholds) -> list[dict]:
    """CRITICAL when the last four matured weeks' Tier A precision is significantly below half the baseline."""
    if baseline is None or matured.empty:
        return []
    weeks = matured.cohort_start.tail(4)
    a = scored[(scored.tier == "A") & scored.label.notna() & np.isin(P.week_text(scored.contacted_at), list(weeks))]
    if len(a) < 20:
        return []
    k, n, floor = int(a.label.sum()), len(a), th.precision_critical * baseline
    p = binomtest(k, n, floor, alternative="less").pvalue
    if p < 0.05:
        return [_alert("critical", "precision", f"Tier A · weeks from {weeks.iloc[0]}", k / n, floor,
                       f"Tier A precision {k / n:.1%} ({k} of {n}) over the last {len(weeks)} matured weeks is below half "
                       f"the champion's baseline {baseline:.1%} (one-sided binomial p = {p:.3g}).")]
    return []


# -------------------------------------------------------------------------------------------------- run


@dataclass
class Context:
    """What every monitoring step reads: thresholds, the champion and its frozen reference, a few columns of every
    lead, and the feature values of the leads to measure this run — those of the last days and of the contact
    months and attribution periods whose fingerprints changed (:mod:`core.monitoring.periods`); the other
    periods' measures are read back (``drift_cached``, ``attr_cached``)."""
    wh: Warehouse
    settings: Settings
    th: Thresholds
    row: dict
    model: object
    reference: dict
    leads: pd.DataFrame
    lead_month: pd.Series
    rows: pd.DataFrame
    month: pd.Series
    recent: np.ndarray  # which of ``rows`` were contacted in the last days (a mask: a copy of 140 columns cost more)
    as_of: pd.Timestamp
    ref_month: str
    since: pd.Timestamp
    month_keys: dict
    fresh_months: list
    drift_cached: pd.DataFrame
    attr_kind: str
    attr_keys: dict
    attr_rows: pd.Series
    attr_fresh: list
    attr_cached: pd.DataFrame
    pending: list = field(default_factory=list)  # writes of newly measured periods, done by the run's one writer
    live: bool = True  # False: a view as of a day before the newest contact (see MonitorResult.live)


@dataclass
class Step:
    """One step's contribution to the run: alerts, frames for the page, and JSON parts."""
    alerts: list = field(default_factory=list)
    frames: dict = field(default_factory=dict)
    out: dict = field(default_factory=dict)


DRIFT_CACHE = "ml.monitor_month_drift"
ATTRIBUTION_CACHE = "ml.monitor_attribution"
ATTRIBUTION_DAYS = 183  # attribution drift looks at the last six months


def _context(wh: Warehouse, settings: Settings, as_of, leads: pd.DataFrame) -> Context:
    th = Thresholds.from_settings(settings)
    row = champion_row(wh)
    if row is None:
        raise LeadScoringError("No champion model yet, so there is nothing to monitor: train and promote one "
                               "(`python -m core train --promote`, or the Train & compare page).")
    model = load_model(row["artifact_dir"])
    reference = load_reference(row["artifact_dir"], model.model_id)
    if leads.empty:
        raise LeadScoringError("No features built yet: run `python -m core build-features` (or the daily pipeline).")
    leads["contacted_at"] = pd.to_datetime(leads.contacted_at, utc=True)
    as_of_ts = pd.Timestamp(as_of, tz="UTC") if as_of is not None and pd.Timestamp(as_of).tzinfo is None else \
        pd.Timestamp(as_of) if as_of is not None else leads.contacted_at.max()
    if as_of is not None:  # later weeks would read as matured with no MQLs
        built = latest_feature_set(wh)
        refuse_as_of_after(as_of_ts, as_utc(built.as_of) if built else None, "the live features' as-of")
    live = as_of is None or as_of_ts >= leads.contacted_at.max()
    leads = leads[leads.contacted_at <= as_of_ts].reset_index(drop=True)
    since = as_of_ts - pd.Timedelta(days=ATTRIBUTION_DAYS)
    recent_from = as_of_ts - pd.Timedelta(days=th.recent_days)
    with wh.reader() as s:
        periods = P.feature_periods(s, as_of_ts, since)
        drift_cache = s.query(f"select * from {DRIFT_CACHE} where model_id = {literal(model.model_id)}") \
            if s.table_exists(DRIFT_CACHE) else pd.DataFrame(columns=["period", "month_key"])
        attr_cache = s.query(f"select period, fingerprint, feature, mean_abs from {ATTRIBUTION_CACHE} "
                             f"where model_id = {literal(model.model_id)}") \
            if s.table_exists(ATTRIBUTION_CACHE) else pd.DataFrame(columns=["period", "fingerprint"])
        month_keys = P.keys(periods, "month")
        drift_cached = drift_cache[drift_cache.period.map(month_keys) == drift_cache.month_key]
        fresh_months = sorted(set(month_keys) - set(drift_cached.period))
        # Spec §9.2 compares attribution week over week; weeks when a typical week holds enough leads, months otherwise.
        window = periods[periods.in_window]
        weekly = not window.empty and window.groupby("week").n.sum().median() >= th.min_rows
        attr_kind = "week" if weekly else "month"
        attr_keys = P.keys(window, attr_kind)
        attr_rows = window.groupby(attr_kind).n.sum()
        attr_cached = attr_cache[attr_cache.period.map(attr_keys) == attr_cache.fingerprint]
        attr_fresh = sorted(set(attr_keys) - set(attr_cached.period))
        ranges = [P.month_range(m) for m in fresh_months] + \
            [(P.week_range if weekly else P.month_range)(p) for p in attr_fresh]
        rows = s.query_plain(f"select * from ml.lead_features where {P.rows_where(ranges, recent_from, as_of_ts)}")
    rows["contacted_at"] = pd.to_datetime(rows.contacted_at, utc=True)
    recent = (rows.contacted_at > recent_from).to_numpy()
    return Context(wh, settings, th, row, model, reference, leads,
                   pd.Series(P.month_text(leads.contacted_at), index=leads.index), rows,
                   pd.Series(P.month_text(rows.contacted_at), index=rows.index), recent, as_of_ts,
                   pd.Timestamp(reference["contacted_to"]).strftime("%Y-%m"), since, month_keys, fresh_months,
                   drift_cached, attr_kind, attr_keys, attr_rows, attr_fresh, attr_cached, live=live)


def feature_drift_step(c: Context) -> Step:
    """Feature PSI by contact month and for the last days, group PSI; a reference feature missing today."""
    s = Step()
    missing = sorted(set(c.reference["features"]) - set(c.rows.columns))
    for f in missing:
        s.alerts.append(_alert("warn", "schema_change", f, None, None,
                               f"{f} is in the champion's reference but not in today's features (schema change)."))
    measured = c.month.isin(c.fresh_months).to_numpy()
    fresh, last = M.drift_with_recent(c.rows, c.month, measured, c.recent, c.reference)
    if not fresh.empty:
        c.pending.append(_replace_periods(DRIFT_CACHE, c.model.model_id, fresh.period.unique(), fresh.assign(
            model_id=c.model.model_id, month_key=fresh.period.map(c.month_keys))))
    parts = [p for p in (c.drift_cached.reindex(columns=M.DRIFT_COLUMNS), fresh) if not p.empty]
    drift = pd.concat(parts, ignore_index=True) if parts else fresh
    drift = drift.sort_values(["period", "feature"], kind="mergesort").reset_index(drop=True)
    feature_psi, recent_rows = {}, []
    for f, (v, noise, n) in last.items():
        feature_psi[f] = round(v, 4)
        recent_rows.append({"period": f"last {c.th.recent_days} days", "feature": f,
                            "group": c.reference["features"][f].get("group"), "psi": round(v, 4),
                            "noise": round(noise, 4), "n": int(c.recent.sum())})
    s.alerts += drift_alerts(drift, c.th, "feature_drift", after=c.ref_month)
    s.frames = {"drift": drift, "groups": M.group_psi(drift), "recent": pd.DataFrame(recent_rows)}
    s.out = {"feature_psi": feature_psi, "missing": missing, "measured": fresh}
    return s


def scored_leads(c: Context, first: pd.DataFrame) -> pd.DataFrame:
    """First scores of new leads with their labels. Cohorts judge what SGAs saw for *new* leads: the first score
    within 8 days of contact (a lead first scored months after contact says nothing about its week)."""
    if first.empty or "near_contact" not in first:
        return pd.DataFrame()
    first = first.assign(contacted_at=pd.to_datetime(first.contacted_at, utc=True))
    keep = first.label_status.isin(["positive", "negative", "censored"]).to_numpy() & \
        first.near_contact.fillna(False).to_numpy(dtype=bool) & (first.contacted_at <= c.as_of).to_numpy()
    # in lead order: sums over a cohort then do not depend on the order the warehouse returned the rows in
    scored = first[keep].drop(columns="near_contact").sort_values("lead_id", kind="stable").reset_index(drop=True)
    scored["label"] = pd.to_numeric(scored.label, errors="coerce")
    return scored


UNSCORED_COLUMNS = ["lead_id", "contacted_at", "prob", "tier", "label", "label_status", "aum", "discovery", "rescored"]


def unscored_matured(c: Context, scored: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Matured leads contacted since scoring began that no call list judged — no first score within
    NEAR_CONTACT_DAYS of contact, mostly leads that booked their MQL before the first scoring run after contact —
    scored now by the champion from their point-in-time features (``rescored``; no tier). The model predicts for
    every contacted lead, so its calibration is judged on all of them: on the scored leads alone the MQLs booked
    before the first score were missing while every negative stayed (on the full-scale demo's weekly backfill, 42%
    of the MQLs; ~1 in 10 when runs are daily). Also returns why they could not be scored, if so."""
    empty = pd.DataFrame(columns=UNSCORED_COLUMNS)
    if scored.empty:
        return empty, None
    with c.wh.reader() as s:
        firsts = FIRST_SCORES if s.table_exists(FIRST_SCORES) else f"({first_scores_sql(s)})"
        rows = s.query_model_plain("monitoring/unscored_matured_leads.sql", first_scores=firsts,
                                   near_contact_days=NEAR_CONTACT_DAYS, since=P.ts_literal(scored.contacted_at.min()),
                                   as_of=P.ts_literal(c.as_of))
    if rows.empty:
        return empty, None
    if not all(f in rows.columns for f in c.model.features):
        return empty, ("Calibration judges only leads that were scored this time: today's features were built "
                       "without the champion's category levels (the next scoring run rebuilds them), so the leads "
                       "that booked an MQL before their first score could not be scored as of contact.")
    X = model_inputs(rows, [col for col in rows.columns if col not in META_COLUMNS])
    prob, _ = champion_prob(c.model, X)
    aum = rows["TotalAssetsInMillions"] if "TotalAssetsInMillions" in rows else np.nan
    discovery = rows["Has_Discovery_Data"] if "Has_Discovery_Data" in rows else np.nan
    return pd.DataFrame({"lead_id": rows.lead_id, "contacted_at": pd.to_datetime(rows.contacted_at, utc=True),
                         "prob": stored_prob(prob), "tier": None, "label": pd.to_numeric(rows.label, errors="coerce"),
                         "label_status": rows.label_status, "aum": aum, "discovery": discovery, "rescored": True}), None


def performance_step(c: Context, scored: pd.DataFrame) -> Step:
    """Score drift, matured and estimated cohorts, calibration by AUM segment, the Tier A precision check."""
    s = Step(out={"score_psi": None, "matured": pd.DataFrame(), "estimated": pd.DataFrame(), "notes": []})
    if scored.empty:
        s.out["notes"].append("No scored leads yet: run the daily pipeline; cohorts appear as leads are scored and mature.")
        s.frames = {k: pd.DataFrame() for k in ("score_drift", "cohorts", "by_segment", "calibration", "conversion")}
        s.frames["score_quantiles"] = M.score_quantiles(scored)
        return s
    smonth = pd.Series(P.month_text(scored.contacted_at), index=scored.index)
    ref_score = score_profile(c.reference)
    # The score distribution is the champion's own: first scores another model gave (before this champion was
    # promoted, or recalibrated) are not its output, and against its reference they read as drift in every month.
    own = scored.model_version.eq(c.model.model_id).to_numpy()
    mine = scored[own]
    score_drift = M.drift_by_period(mine.assign(score=mine.prob), smonth[own], {"features": {"score": ref_score}})
    rs = mine[mine.contacted_at > c.as_of - pd.Timedelta(days=c.th.recent_days)]
    s.out["score_psi"] = round(psi_against(ref_score, rs.prob)[0], 4) if len(rs) >= c.th.min_rows else None
    if len(rs) < c.th.min_rows and (~own).any():
        s.out["notes"].append(f"Score drift reads only the scores this champion gave: {len(rs)} new leads in the last "
                              f"{c.th.recent_days} days so far (the score PSI needs {c.th.min_rows}); earlier leads' "
                              "first scores came from the model before it.")
    s.alerts += drift_alerts(score_drift.assign(feature="score distribution"), c.th, "score_drift", after=c.ref_month,
                             min_features=1)
    window = c.settings.label_window_days
    unscored, why = unscored_matured(c, scored)
    s.out["notes"] += [why] if why else []
    cohorts = M.with_unscored_mqls(M.cohorts(scored, c.as_of, window), unscored)
    matured = cohorts[cohorts.matured] if not cohorts.empty else pd.DataFrame(columns=["cohort_start"])
    judged = pd.concat([scored.assign(rescored=False), unscored], ignore_index=True) if len(unscored) else scored
    calibration = M.calibration_by_segment(judged, pd.Series(P.month_text(judged.contacted_at), index=judged.index))
    if not calibration.empty:
        s.alerts += _calibration_alerts(calibration[calibration.period > c.ref_month], c.th)
    s.alerts += _precision_alert(matured, scored, c.reference.get("tier_a_precision"), c.th)
    s.out.update(matured=matured, estimated=cohorts[~cohorts.matured] if not cohorts.empty else pd.DataFrame())
    s.frames = {"score_drift": score_drift, "cohorts": cohorts, "by_segment": M.cohorts_by_segment(scored, c.as_of, window),
                "calibration": calibration, "score_quantiles": M.score_quantiles(scored),
                "conversion": M.conversion_by_tier(scored, smonth)}
    return s


def attribution_step(c: Context) -> Step:
    """Mean |SHAP| rank per contact week (per month when weeks are too small) over the last six months, on at most
    2,000 leads a period; a top-20 feature whose mean |SHAP| changes > 50% from one period to the next warns.
    A period whose sampled rows are those of an earlier run under the same model is read back
    (``ml.monitor_attribution``), so a daily run explains only the weeks whose leads changed."""
    s = Step(frames={"attribution": pd.DataFrame(), "attribution_changes": pd.DataFrame()})
    if not c.attr_keys or not all(f in c.rows.columns for f in c.model.features):
        return s
    # positions of the rows contacted in the window whose period changed, then one copy of the sampled rows
    pos = np.flatnonzero((c.rows.contacted_at > c.since).to_numpy())
    period = P.week_text(c.rows.contacted_at.iloc[pos]) if c.attr_kind == "week" else c.month.to_numpy()[pos]
    changed = np.isin(period, c.attr_fresh)
    pos, period = pos[changed], period[changed]
    rows = _sample_per_period(period, 2000)
    means = _attribution_means(c, c.rows.iloc[pos[rows]], period[rows])
    attribution = M.ranks_of_means(means)
    counts = c.attr_rows.clip(upper=2000)  # the sampled rows per period
    changes = M.attribution_changes(attribution)
    big = changes[(changes.change.abs() > c.th.attribution_change) & changes.period.map(counts).ge(c.th.min_rows)
                  & changes.previous.map(counts).ge(c.th.min_rows)] if not changes.empty else changes
    for r in big.itertuples():
        s.alerts.append(_alert("warn", "attribution", f"{r.feature} · {r.period}", r.change, c.th.attribution_change,
                               f"Mean |SHAP| of {r.feature} changed {r.change:+.0%} from {r.previous} to {r.period}."))
    s.frames = {"attribution": attribution, "attribution_changes": changes}
    return s


def _sample_per_period(period: np.ndarray, size: int) -> np.ndarray:
    """Row positions of at most ``size`` rows per period, periods in order: the rows
    ``DataFrame.groupby(period).apply(lambda g: g.sample(min(len(g), size), random_state=0))`` picks, without a
    sub-frame per period."""
    codes, _ = pd.factorize(period, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1], True])
    parts = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        pos = order[lo:hi]
        parts.append(pos[np.random.RandomState(0).choice(len(pos), size=min(len(pos), size), replace=False)])
    return np.concatenate(parts) if parts else np.array([], dtype=int)


def _attribution_means(c: Context, sample: pd.DataFrame, period: np.ndarray) -> pd.DataFrame:
    """Mean |SHAP| per period and feature: periods whose rows have the fingerprint they had when explained are
    read back (``c.attr_cached``); ``sample`` holds the sampled rows of the others, which are explained (exact
    TreeSHAP) and cached under the champion's id and their periods' fingerprints."""
    features = list(c.model.features)
    hits = c.attr_cached
    old = hits.pivot(index="period", columns="feature", values="mean_abs") if not hits.empty else pd.DataFrame()
    fresh = pd.DataFrame()
    if len(sample):
        X = model_inputs(sample, [col for col in sample.columns if col not in ("lead_id", "contacted_at", "label",
                                                                               "label_status", "snapshot_month",
                                                                               "snapshot_at_risk")])
        fresh = M.attribution_means(c.model.contributions(X), features, period)
    if not fresh.empty:
        long = fresh.stack().rename("mean_abs").reset_index()
        long.columns = ["period", "feature", "mean_abs"]
        long = long.assign(model_id=c.model.model_id, fingerprint=long.period.map(c.attr_keys),
                           created_at=datetime.now(timezone.utc))
        c.pending.append(_replace_periods(ATTRIBUTION_CACHE, c.model.model_id, fresh.index, long[
            ["model_id", "period", "fingerprint", "feature", "mean_abs", "created_at"]]))
    means = pd.concat([old.reindex(columns=features), fresh.reindex(columns=features)]).sort_index()
    means.index.name = "period"
    return means


def feed_step(c: Context, months: pd.DataFrame) -> Step:
    """Territory months against the training month, implausible values, coverage, missing months, conflicts."""
    s = Step()
    th = c.th
    if not months.empty:  # a territory month loaded after the as-of was not known then
        months = months[months.snapshot_month.astype(str) <= c.as_of.strftime("%Y-%m")].reset_index(drop=True)
    snap_drift, new_ranges, new_nulls = _snapshot_drift(c.wh, c.reference, months, c.model.model_id, c.pending)
    newest = str(months.snapshot_month.iloc[-1]) if not months.empty else None
    latest = snap_drift[snap_drift.period == newest] if newest and not snap_drift.empty else snap_drift.iloc[:0]
    s.alerts += drift_alerts(snap_drift, th, "snapshot_drift", after=(c.reference.get("snapshot") or {}).get("month"))
    ranges, nulls = _feed_tables(c.wh, c.model.model_id, new_ranges, new_nulls)
    known = set(months.snapshot_month.astype(str)) if not months.empty else set()
    ranges, nulls = (f[f.period.astype(str).isin(known)].reset_index(drop=True) for f in (ranges, nulls))
    for r in ranges.itertuples():
        s.alerts.append(_alert("warn", "feed_range", f"{r.column} · {r.period}", r.count, None,
                               f"{r.period}: {r.count:,} of {r.rows:,} values of {r.column} are outside the plausible "
                               f"range {PLAUSIBLE_RANGES[r.column][0]:,.0f}–{PLAUSIBLE_RANGES[r.column][1]:,.0f} "
                               f"(e.g. {r.example:,.0f}): a unit or mapping fault in the export?"))
    coverage = c.leads.assign(month=c.lead_month).groupby("month").Has_Discovery_Data.mean() \
        if "Has_Discovery_Data" in c.leads else pd.Series(dtype=float)
    month_n = c.lead_month.value_counts()
    for m_, cov in coverage.items():
        if cov < th.coverage_warn and month_n.get(m_, 0) >= th.min_rows:
            s.alerts.append(_alert("warn", "coverage", f"discovery coverage · {m_}", cov, th.coverage_warn,
                                   f"Only {cov:.0%} of leads contacted in {m_} matched a MarketPro rep "
                                   f"(< {th.coverage_warn:.0%})."))
    loaded = list(months.snapshot_month.astype(str)) if not months.empty else []
    late = []
    # this month's export is due 4 days after the day it exists from (territory_known_day: the 5th by default)
    not_due = c.as_of.day <= int(c.settings.territory_known_day) + 4
    if loaded:
        expected = pd.period_range(loaded[0], c.as_of.strftime("%Y-%m"), freq="M").astype(str)
        late = [m_ for m_ in expected if m_ not in loaded]
        if not_due and late and late[-1] == c.as_of.strftime("%Y-%m"):
            late = late[:-1]
        for m_ in late:
            s.alerts.append(_alert("warn", "feed_late", f"territory export · {m_}", None, None,
                                   f"No territory export loaded for {m_}: leads contacted then use an older month."))
    with c.wh.reader() as r:  # a month some of whose territories' files are not loaded (not read by the features)
        held = {m_: t for m_, t in month_territories(r).items() if m_ in set(loaded)}
    partial = {m_: gaps for m_ in loaded if (gaps := missing_territories(held, m_))
               and not (not_due and m_ == c.as_of.strftime("%Y-%m"))}
    for m_, gaps in partial.items():
        s.alerts.append(_alert("warn", "feed_late", f"territory export · {m_} · {', '.join(gaps)}", None, None,
                               f"{m_} holds {', '.join(sorted(held.get(m_, ())))} only: {', '.join(gaps)} not loaded, so "
                               f"leads contacted from {m_} read an older month with every territory."))
    with c.wh.reader() as r:
        checked = r.table_exists("ml.lead_source_checks")
        conflicts = r.query_model("quality/source_conflicts.sql") if checked else \
            pd.DataFrame({"period": pd.Series(dtype=str), "matched": pd.Series(dtype=int), "conflicts": pd.Series(dtype=int)})
    notes = [] if checked else ["Salesforce-vs-MarketPro conflicts appear after the next feature build "
                                "(`python -m core build-features`, or the daily run)."]
    conflicts["conflicts"] = conflicts.conflicts.fillna(0).astype(int)
    conflicts["share"] = conflicts.conflicts / conflicts.matched.clip(lower=1)
    for r in conflicts[(conflicts.matched >= th.min_rows) & (conflicts.share > th.conflict_warn)].itertuples():
        s.alerts.append(_alert("warn", "source_conflict", f"state conflicts · {r.period}", r.share, th.conflict_warn,
                               f"{r.share:.0%} of leads contacted in {r.period} and matched to a MarketPro rep have a "
                               f"Salesforce State different from the rep's branch state ({r.conflicts:,} of "
                               f"{r.matched:,})."))
    recent_cov = float(c.rows.Has_Discovery_Data[c.recent].mean()) \
        if c.recent.any() and "Has_Discovery_Data" in c.rows else None
    s.frames = {"snapshot_drift": snap_drift, "nulls": nulls, "ranges": ranges, "conflicts": conflicts,
                "coverage": coverage.rename("coverage").reset_index()}
    s.out = {"notes": notes, "snapshot_psi": {r.feature: float(r.psi) for r in latest.itertuples()},
             "feed": {"recent_discovery_coverage": recent_cov, "months_loaded": loaded, "missing_months": late,
                      "missing_territories": partial,
                      "state_conflict_share": float(conflicts.conflicts.sum() / max(conflicts.matched.sum(), 1)),
                      "implausible": ranges.to_dict(orient="records")}}
    return s


def boost_step(c: Context) -> Step:
    """Spec §5.8's priority boosts per contact month: the share of leads meeting each rule against the training
    rows' share frozen in the reference. A rule's share that doubles or halves (``boost_share_change``) beyond
    chance warns: at a 4% base rate a boost outranks the model, so a vendor fault that inflates AUM fills Tier A
    with boosted leads before any outcome can show it."""
    s = Step(frames={"boosts": pd.DataFrame(columns=M.BOOST_SHARE_COLUMNS)}, out={"boosts": {}, "notes": []})
    ref = c.reference.get("boosts")
    if c.settings.priority_boost <= 0:
        return s
    if ref is None:
        s.out["notes"].append("The champion's reference predates priority-boost shares: retrain to watch them.")
        return s
    shares = M.boost_shares(c.leads, c.lead_month, ref)
    factor = 1 + c.th.boost_share_change
    hit = shares[(shares.rule != M.ANY_RULE) & (shares.period > c.ref_month) & (shares.leads >= c.th.min_rows)
                 & ((shares.ratio >= factor) | (shares.ratio <= 1 / factor))]
    hit = hit[[M.binomial_p(r.boosted, r.leads, r.reference) < c.th.significance for r in hit.itertuples()]]
    for r in hit.itertuples():  # the threshold: the share past which the rule warns (twice or half the training share)
        line = r.reference * factor if r.ratio >= factor else r.reference / factor
        s.alerts.append(_alert("warn", "boost_share", f"{r.rule} · {r.period}", r.share, round(float(line), 4),
                               f"{r.share:.0%} of leads contacted in {r.period} meet the priority rule '{r.rule}' "
                               f"({r.boosted:,} of {r.leads:,}) against {r.reference:.0%} of the training rows: "
                               + ("boosted leads rank above the model's picks. A unit fault in the export?"
                                  if r.ratio >= factor else "the rule boosts far fewer leads. Blank or rescaled "
                                  "columns in the export?")))
    newest = shares[shares.period == shares.period.max()] if len(shares) else shares
    s.frames = {"boosts": shares}
    s.out["boosts"] = {r.rule: {"period": r.period, "share": round(float(r.share), 4),
                                "reference": None if r.reference != r.reference else round(float(r.reference), 4)}
                       for r in newest.itertuples()}
    return s


def retrain_step(c: Context, missing: list[str]) -> Step:
    """Spec §9.4 triggers: 45 days, a base-rate shift > 50% in an AUM segment, new metros, a schema change."""
    th, ref_ = c.th, c.reference
    retrain = []
    age = (datetime.now(timezone.utc) - pd.Timestamp(c.row["created_at"]).to_pydatetime()).days
    data_age = (c.as_of - pd.Timestamp(ref_["trained_as_of"])).days
    if max(age, data_age) >= th.retrain_days:
        retrain.append({"trigger": "scheduled", "detail": f"{max(age, data_age)} days since the training data's as-of "
                        f"({ref_['trained_as_of'][:10]}); the spec retrains every {th.retrain_days} days."})
    if "label" in c.leads:  # every matured lead, as the reference's base rates count the training rows
        leads = c.leads.assign(label=pd.to_numeric(c.leads.label, errors="coerce"))
        rec = leads[leads.label.notna() & (leads.contacted_at > c.as_of - pd.Timedelta(days=120))]
        seg = aum_segment(rec.TotalAssetsInMillions if "TotalAssetsInMillions" in rec else pd.Series(np.nan, index=rec.index))
        for s_, ref in ref_["base_rate_by_aum_segment"].items():
            part = rec[seg == s_]
            if ref["rate"] and len(part) >= th.min_rows and part.label.sum() + ref["rate"] * len(part) >= th.min_positives:
                shift = part.label.mean() / ref["rate"] - 1
                if abs(shift) > th.base_rate_shift and \
                        binomtest(int(part.label.sum()), len(part), ref["rate"]).pvalue < th.significance:
                    retrain.append({"trigger": "base rate shift", "detail": f"AUM segment {s_}: {part.label.mean():.1%} "
                                    f"now vs {ref['rate']:.1%} at training ({shift:+.0%})."})
    metro_prof = ref_["features"].get("cat_Metro")
    if metro_prof and "cat_Metro" in c.rows:
        known = set(metro_prof.get("all_levels", metro_prof["levels"]))
        new = c.rows.cat_Metro[c.recent].dropna().astype(str)
        new = new[~new.isin(known)].value_counts()
        new = new[new >= 5]
        if len(new):
            retrain.append({"trigger": "new metros", "detail": ", ".join(f"{k} ({v})" for k, v in new.head(5).items())})
    if missing:
        retrain.append({"trigger": "schema change", "detail": ", ".join(missing)})
    return Step(alerts=[_alert("warn", "retrain_due", r["trigger"], None, None, f"Retrain suggested: {r['detail']}")
                        for r in retrain], out={"retrain": retrain})


def pipeline_step(runs: pd.DataFrame) -> Step:
    if runs.empty or runs.outcome.iloc[0] == "ok":
        return Step()
    return Step(alerts=[_alert("critical", "pipeline_failed", "daily pipeline", None, None,
                               f"The last daily run ({pd.Timestamp(runs.started_at.iloc[0]):%d %b %Y %H:%M} UTC) ended "
                               f"'{runs.outcome.iloc[0]}': {runs.error.iloc[0]}")])


@audited("monitor", "monitor")
def run_monitor(wh: Warehouse, settings: Settings, as_of=None, actor: Actor | None = None, progress=None,
                notify: bool = False) -> MonitorResult:
    """One monitoring run in small steps over one read of the warehouse; stored with its alerts. With ``notify``
    (a run of its own, not the daily run's step), a live run posts the alerts it opened to the chat webhook."""
    progress = progress or (lambda f, m: None)
    with wh.reading():  # the steps' reads share one connection (writes close it first)
        result = _run_monitor(wh, settings, as_of, actor, progress)
    if notify and result.live:
        progress(1.0, f"Monitoring done: {result.alert_level.upper()}; telling the chat webhook what is new")
        result.notify = notify_run(wh, settings, actor, "ok", None, datetime.now(timezone.utc), "monitoring run")
    return result


def _run_monitor(wh: Warehouse, settings: Settings, as_of, actor: Actor, progress) -> MonitorResult:
    from core.monitoring.store import store_run

    progress(0.05, "Reading scored leads and the frozen reference")
    leads, first, tier_mix, runs, months = _read(wh)
    c = _context(wh, settings, as_of, leads)
    with wh.reader() as s:
        if s.table_exists("ml.score_history") and not s.table_exists(FIRST_SCORES):
            c.pending.append(lambda w: refresh_first_scores(w, None))
    progress(0.15, "Feature drift by contact month against the frozen reference")
    drift = feature_drift_step(c)
    progress(0.35, "Scores, tiers and matured cohorts")
    scored = scored_leads(c, first)
    perf = performance_step(c, scored)
    progress(0.55, "Attribution drift (mean |SHAP| by month)")
    attribution = attribution_step(c)
    progress(0.7, "Territory months: drift against the training month, feed health")
    feed = feed_step(c, months)
    boost = boost_step(c)
    progress(0.8, "Retrain triggers")
    retrain = retrain_step(c, drift.out["missing"])
    steps = [drift, perf, attribution, feed, boost, retrain, pipeline_step(runs)]
    progress(0.9, "Storing the run and its alerts")
    alerts = [a for s in steps for a in s.alerts]
    frames = {k: v for s in steps for k, v in s.frames.items()} | {"tier_mix": tier_mix}
    result = MonitorResult(
        uuid.uuid4().hex[:12], str(c.as_of), c.model.model_id, str(c.reference["created_at"]),
        max((a["level"] for a in alerts), key=LEVELS.index, default="ok"), alerts, drift.out["feature_psi"],
        feed.out["snapshot_psi"], perf.out["score_psi"], _records(perf.out["matured"]), _records(perf.out["estimated"]),
        feed.out["feed"] | {"priority_boosts": boost.out["boosts"]}, retrain.out["retrain"], shadow_summary(wh, settings),
        [str(c.reference["contacted_from"]), str(c.reference["contacted_to"])],
        perf.out["notes"] + feed.out["notes"] + boost.out["notes"],
        c.reference.get("tier_a_precision"),
        None if c.reference.get("tier_a_precision") is None else c.th.precision_critical * c.reference["tier_a_precision"],
        frames=frames, measured={"ml.monitor_feature_psi": pd.concat([drift.out["measured"], frames["recent"]],
                                                                     ignore_index=True).reindex(columns=M.DRIFT_COLUMNS),
                                 "ml.monitor_cohorts": frames["cohorts"]}, live=c.live)
    if not c.live:
        result.notes.append(f"A view as of {c.as_of:%d %b %Y}, before the newest contact: kept in the run history; "
                            "the current alerts and the Monitoring page's run are unchanged.")
    result.alert_level = store_run(wh, actor, result, c.pending)
    progress(1.0, f"Monitoring done: {result.alert_level.upper()}")
    return result


def _records(df: pd.DataFrame) -> list[dict]:
    return [] if df.empty else json.loads(df.to_json(orient="records"))


def summary_markdown(r: MonitorResult) -> str:
    """The terminal view of a run: level, alerts (worst first), matured cohorts and feed health."""
    lines = [f"Monitoring {r.model_id} as of {r.as_of[:16]} — level {r.alert_level.upper()} "
             f"({len(r.alerts)} alert(s) raised this run; reference frozen {r.reference_date[:10]})."]
    for a in sorted(r.alerts, key=lambda a: -LEVELS.index(a["level"])):
        lines.append(f"  {a['level'].upper():8} {a['kind']}|{a['subject']}: {a['message']}")
    m = [c for c in r.matured_cohorts if c.get("tier_a_precision") is not None]
    lines.append(f"Matured weekly cohorts: {len(r.matured_cohorts)} ({len(m)} with Tier A leads); "
                 f"not yet matured: {len(r.estimated_cohorts)} (Tier A precision estimated).")
    for c in r.matured_cohorts[-8:]:
        p, early = c.get("tier_a_precision"), c.get("mqls_before_a_list")
        lines.append(f"  week of {c['cohort_start']}: {c['leads']} leads, {int(c['positives'])} MQLs"
                     + (f" (+{early} booked before a first score)" if early else "")
                     + f", Tier A {'—' if p is None else f'{p:.0%}'} of {c['tier_a_leads']}")
    if r.score_psi is not None:
        lines.append(f"Score PSI (last 30 days vs reference): {r.score_psi:.3f}")
    cov = r.feed.get("recent_discovery_coverage")
    partial = "".join(f"; {m} without {', '.join(t)}" for m, t in (r.feed.get("missing_territories") or {}).items())
    lines.append(f"Feed: {len(r.feed['months_loaded'])} territory months loaded; missing {r.feed['missing_months'] or 'none'}{partial}; "
                 f"discovery coverage (last 30 days) {'n/a' if cov is None else f'{cov:.0%}'}.")
    boosts = r.feed.get("priority_boosts") or {}
    if boosts:
        month = next(iter(boosts.values()))["period"]
        lines.append(f"Priority rules met by leads contacted in {month} (training rows): " + "; ".join(
            f"{rule} {b['share']:.0%} ({'—' if b['reference'] is None else format(b['reference'], '.0%')})"
            for rule, b in boosts.items()) + ".")
    for t in r.retrain:
        lines.append(f"Retrain trigger — {t['trigger']}: {t['detail']}")
    lines += r.notes
    if r.notify:
        lines.append(f"Notifications: {r.notify}.")
    return "\n".join(lines)
