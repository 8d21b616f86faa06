"""`monitor`: one run reads the champion's frozen reference and the warehouse, measures drift, matured and
estimated cohorts, calibration, attribution drift, feed health and retrain triggers, turns them into tiered
alerts (spec §9.3) and stores everything with history. An alert is data, never a failed run."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.errors import LeadScoringError
from core.features.catalog import PLAUSIBLE_RANGES
from core.modeling.data import aum_segment, model_inputs
from core.modeling.registry import champion_row, load_model
from core.monitoring import measures as M
from core.monitoring.psi import psi_against
from core.monitoring.reference import load_reference, snapshot_columns
from core.warehouse import Warehouse

LEVELS = ("ok", "warn", "alert", "critical")
PLAYBOOK = {
    "feature_drift": "1. Check the vendor data feed status; 2. validate the feature pipeline for the named features.",
    "snapshot_drift": "1. Check the vendor data feed status (units, blank columns) before the month is used for scoring.",
    "score_drift": "2. Validate the feature pipeline; 3. recompute calibration with the last 30 days if it persists.",
    "coverage": "1. Check the vendor feed; 4. if discovery features are degraded, leads fall back to the MarketPro-only model.",
    "feed_range": "1. Check the vendor data feed: a unit or mapping fault in the export. Reload the corrected month.",
    "feed_late": "1. Check the vendor data feed status: download and load the missing monthly export.",
    "calibration": "3. Recompute calibration with the last 30 days (retrain with calibration refresh).",
    "precision": "5. Sustained degradation: trigger an emergency retrain; meanwhile check the feed (step 1).",
    "pipeline_failed": "2. Validate the pipeline: read the failed run's error on the home page and re-run it.",
    "attribution": "2. Validate the feature pipeline for the named feature; 5. retrain if the shift is real.",
    "retrain_due": "5. Retrain (spec §9.4): train, compare in shadow for 7 days, promote through the gate.",
    "schema_change": "5. The vendor changed its schema: map the column, then retrain (spec §9.4).",
    "source_conflict": "1. Check the vendor feed and the CRD mapping: Salesforce and MarketPro disagree on where the advisor is.",
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
    shadow: dict | None = None
    reference_contacted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    frames: dict = field(default_factory=dict, repr=False)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("frames")
        return out


def _alert(level, kind, subject, value, threshold, message) -> dict:
    return {"level": level, "kind": kind, "subject": subject, "value": None if value is None else round(float(value), 4),
            "threshold": threshold, "message": message, "playbook": PLAYBOOK[kind]}


# ----------------------------------------------------------------------------------------------- reading


def _read(wh: Warehouse):
    with wh.reader() as s:
        feats = s.query("select * from ml.lead_features") if s.table_exists("ml.lead_features") else pd.DataFrame()
        labels = s.query("select lead_id, mql_at from ml.lead_labels") if s.table_exists("ml.lead_labels") else pd.DataFrame()
        first = pd.DataFrame()
        if s.table_exists("ml.score_history"):
            cols = {c.lower() for c in s.query("select * from ml.score_history limit 0").columns}
            bf = "backfilled" if "backfilled" in cols else "false as backfilled"
            first = s.query(
                f"select lead_id, score_date, prob_mql_30d as prob, tier, model_version, {bf} from ml.score_history "
                "qualify row_number() over (partition by lead_id order by score_date, scored_at) = 1")
            tiers = s.query("select score_date, tier, count(*) as leads from ml.score_history group by score_date, tier")
        else:
            tiers = pd.DataFrame(columns=["score_date", "tier", "leads"])
        runs = s.query("select outcome, started_at, error from ops.runs order by started_at desc limit 1") \
            if s.table_exists("ops.runs") else pd.DataFrame()
        months = s.query("select snapshot_month, max(load_id) as load_id from raw.file_loads where kind = 'territory' "
                         "group by snapshot_month order by snapshot_month") \
            if s.table_exists("raw.file_loads") else pd.DataFrame()
    return feats, labels, first, tiers, runs, months


def _snapshot_frame(wh: Warehouse, months: list[str], columns: list[str]) -> pd.DataFrame:
    if not months:
        return pd.DataFrame()
    cols = ", ".join(["snapshot_month", *columns])
    in_list = ", ".join(f"'{m}'" for m in months)
    return wh.read(f"select {cols} from marts.dim_rep_snapshots where snapshot_month in ({in_list})")


def _snapshot_drift(wh: Warehouse, reference: dict, months: pd.DataFrame, model_id: str) -> pd.DataFrame:
    """Per territory month, PSI of each MarketPro column against the month the champion was trained on.
    Months already measured for this model and load are read back, not recomputed."""
    snap = reference.get("snapshot")
    if not snap or months.empty:
        return pd.DataFrame(columns=["period", "feature", "group", "psi", "noise", "n", "load_id"])
    cached = pd.DataFrame()
    with wh.reader() as s:
        if s.table_exists("ml.monitor_snapshot_psi"):
            cached = s.query(f"select * from ml.monitor_snapshot_psi where model_id = '{model_id}'")
    done = set(zip(cached.period, cached.load_id)) if not cached.empty else set()
    todo = months[[(m, l) not in done for m, l in zip(months.snapshot_month, months.load_id)]]
    fresh = pd.DataFrame()
    if not todo.empty:
        cols = [c for c in snap["columns"] if c in snapshot_columns()]
        drift, ranges, null_parts = [], [], []
        for month in todo.snapshot_month:  # one month in memory at a time (a full month is ~460k reps)
            frame = _snapshot_frame(wh, [month], cols)
            drift.append(M.drift_by_period(frame, frame.snapshot_month.astype(str), snap, cols))
            ranges.append(M.implausible(frame, PLAUSIBLE_RANGES))
            null_parts.append(frame.drop(columns="snapshot_month").isna().mean().rename(str(month)))
            del frame
        fresh = pd.concat(drift, ignore_index=True)
        fresh["load_id"] = fresh.period.map(dict(zip(todo.snapshot_month, todo.load_id)))
        fresh["model_id"] = model_id
        implaus = pd.concat(ranges, ignore_index=True)
        nulls = pd.DataFrame(null_parts)
        with wh.writer("monitoring: territory month drift") as s:
            if not cached.empty:
                keep = cached[~cached.period.isin(todo.snapshot_month)]
                s.load("ml.monitor_snapshot_psi", pd.concat([keep, fresh], ignore_index=True))
            else:
                s.load("ml.monitor_snapshot_psi", fresh)
            s.load("ml.monitor_feed_ranges", implaus.assign(model_id=model_id), mode="append") if not implaus.empty else None
            long = nulls.stack().rename("null_rate").reset_index()
            long.columns = ["period", "column", "null_rate"]
            s.load("ml.monitor_null_rates", long.assign(model_id=model_id), mode="append")
        cached = pd.concat([cached[~cached.period.isin(todo.snapshot_month)] if not cached.empty else cached, fresh],
                           ignore_index=True)
    return cached


def _feed_tables(wh: Warehouse, model_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    with wh.reader() as s:
        ranges = s.query(f"select * from ml.monitor_feed_ranges where model_id = '{model_id}'") \
            if s.table_exists("ml.monitor_feed_ranges") else pd.DataFrame(columns=["period", "column", "count", "rows", "example"])
        nulls = s.query(f"select * from ml.monitor_null_rates where model_id = '{model_id}'") \
            if s.table_exists("ml.monitor_null_rates") else pd.DataFrame(columns=["period", "column", "null_rate"])
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
    d = drift[(drift.n >= th.min_rows) & (drift.psi >= drift.noise)]
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
        p = binomtest(int(r.positives), int(r.leads), min(max(r.predicted, 1e-6), 1 - 1e-6)).pvalue
        if off > th.calibration_alert and p < th.significance:
            out.append(_alert("alert", "calibration", f"{r.segment} · {r.period}", off, th.calibration_alert,
                              f"AUM segment {r.segment} in {r.period}: predicted {r.predicted:.1%}, observed "
                              f"{r.observed:.1%} ({r.positives} of {r.leads:,}); off by {off:.0%} (binomial p = {p:.3g})."))
    return out


def _precision_alert(matured: pd.DataFrame, scored: pd.DataFrame, baseline: float | None, th: Thresholds) -> list[dict]:
    """CRITICAL when the last four matured weeks' Tier A precision is significantly below half the baseline."""
    if baseline is None or matured.empty:
        return []
    weeks = matured.cohort_start.tail(4)
    a = scored[(scored.tier == "A") & scored.label.notna() & M.week_start(scored.contacted_at).dt.date.astype(str).isin(weeks)]
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


def run_monitor(wh: Warehouse, settings: Settings, as_of=None, actor: Actor | None = None, progress=None) -> MonitorResult:
    actor = actor or cli_actor()
    authorize(actor, "monitor")
    progress = progress or (lambda f, m: None)
    th = Thresholds.from_settings(settings)
    row = champion_row(wh)
    if row is None:
        raise LeadScoringError("No champion model yet, so there is nothing to monitor: train and promote one "
                               "(`python -m core train --promote`, or the Train & compare page).")
    model = load_model(row["artifact_dir"])
    reference = load_reference(row["artifact_dir"], model.model_id)
    progress(0.05, "Reading scored leads and the frozen reference")
    feats, labels, first, tier_mix, runs, months = _read(wh)
    if feats.empty:
        raise LeadScoringError("No features built yet: run `python -m core build-features` (or the daily pipeline).")
    feats["contacted_at"] = pd.to_datetime(feats.contacted_at, utc=True)
    as_of_ts = pd.Timestamp(as_of, tz="UTC") if as_of is not None and pd.Timestamp(as_of).tzinfo is None else \
        pd.Timestamp(as_of) if as_of is not None else feats.contacted_at.max()
    notes, alerts = [], []
    ref_to = pd.Timestamp(reference["contacted_to"])
    ref_month = ref_to.strftime("%Y-%m")

    # Schema: a feature in the reference but not in today's features.
    missing = sorted(set(reference["features"]) - set(feats.columns))
    for f in missing:
        alerts.append(_alert("warn", "schema_change", f, None, None,
                             f"{f} is in the champion's reference but not in today's features (schema change)."))

    progress(0.15, "Feature drift by contact month against the frozen reference")
    feats = feats[feats.contacted_at <= as_of_ts].reset_index(drop=True)
    month = feats.contacted_at.dt.strftime("%Y-%m")
    drift = M.drift_by_period(feats, month, reference)
    groups = M.group_psi(drift)
    recent = feats[feats.contacted_at > as_of_ts - pd.Timedelta(days=th.recent_days)]
    feature_psi, recent_rows = {}, []
    for f, prof in reference["features"].items():
        if f in recent:
            v, noise = psi_against(prof, recent[f])
            feature_psi[f] = round(v, 4)
            recent_rows.append({"period": f"last {th.recent_days} days", "feature": f, "group": prof.get("group"),
                                "psi": round(v, 4), "noise": round(noise, 4), "n": len(recent)})
    alerts += drift_alerts(drift, th, "feature_drift", after=ref_month)

    progress(0.35, "Scores, tiers and matured cohorts")
    scored = pd.DataFrame()
    if not first.empty:
        base = feats[["lead_id", "contacted_at", "label", "label_status", "TotalAssetsInMillions"]].rename(
            columns={"TotalAssetsInMillions": "aum"})
        scored = first.merge(base, on="lead_id", how="inner")
        # Cohorts judge what SGAs saw for *new* leads: the first score within 8 days of contact (a lead first
        # scored months after its contact — e.g. when scoring started — says nothing about its week).
        lag = pd.to_datetime(scored.score_date, utc=True) - scored.contacted_at.dt.normalize()
        scored = scored[scored.label_status.isin(["positive", "negative", "censored"]) & (lag <= pd.Timedelta(days=8))]
        scored = scored.reset_index(drop=True)
        scored["label"] = pd.to_numeric(scored.label, errors="coerce")
    score_drift = pd.DataFrame()
    score_psi = None
    if not scored.empty:
        smonth = scored.contacted_at.dt.strftime("%Y-%m")
        score_drift = M.drift_by_period(scored.assign(score=scored.prob), smonth, {"features": {"score": reference["score"]}})
        rs = scored[scored.contacted_at > as_of_ts - pd.Timedelta(days=th.recent_days)]
        score_psi = round(psi_against(reference["score"], rs.prob)[0], 4) if len(rs) else None
        alerts += drift_alerts(score_drift.assign(feature="score distribution"), th, "score_drift", after=ref_month,
                               min_features=1)
    cohorts = M.cohorts(scored, as_of_ts, settings.label_window_days) if not scored.empty else pd.DataFrame()
    by_segment = M.cohorts_by_segment(scored, as_of_ts, settings.label_window_days) if not scored.empty else pd.DataFrame()
    matured = cohorts[cohorts.matured] if not cohorts.empty else pd.DataFrame(columns=["cohort_start"])
    estimated = cohorts[~cohorts.matured] if not cohorts.empty else pd.DataFrame()
    calibration = M.calibration_by_segment(scored, scored.contacted_at.dt.strftime("%Y-%m")) if not scored.empty \
        else pd.DataFrame()
    if not calibration.empty:
        alerts += _calibration_alerts(calibration[calibration.period > ref_month], th)
    alerts += _precision_alert(matured, scored, reference.get("tier_a_precision"), th) if not scored.empty else []
    if scored.empty:
        notes.append("No scored leads yet: run the daily pipeline; cohorts appear as leads are scored and mature.")

    progress(0.55, "Attribution drift (mean |SHAP| by month)")
    attribution, changes = pd.DataFrame(), pd.DataFrame()
    since = feats[feats.contacted_at > as_of_ts - pd.Timedelta(days=183)]
    if len(since) and all(f in feats.columns for f in model.features):
        sample = since.groupby(month[since.index], group_keys=False).apply(
            lambda g: g.sample(min(len(g), 2000), random_state=0))
        X = model_inputs(sample, [c for c in sample.columns if c not in ("lead_id", "contacted_at", "label", "label_status",
                                                                        "snapshot_month", "snapshot_at_risk")])
        contrib = model.contributions(X)
        attribution = M.attribution_ranks(contrib, model.features, month[sample.index].to_numpy())
        counts = month[sample.index].value_counts()
        changes = M.attribution_changes(attribution)
        big = changes[(changes.change.abs() > th.attribution_change) & changes.period.map(counts).ge(th.min_rows)
                      & changes.previous.map(counts).ge(th.min_rows)] if not changes.empty else changes
        for r in big.itertuples():
            alerts.append(_alert("warn", "attribution", f"{r.feature} · {r.period}", r.change, th.attribution_change,
                                 f"Mean |SHAP| of {r.feature} changed {r.change:+.0%} from {r.previous} to {r.period}."))

    progress(0.7, "Territory months: drift against the training month, feed health")
    snap_drift = _snapshot_drift(wh, reference, months, model.model_id)
    snapshot_psi = {}
    newest = str(months.snapshot_month.iloc[-1]) if not months.empty else None
    if newest and not snap_drift.empty:
        latest = snap_drift[snap_drift.period == newest]
        snapshot_psi = {r.feature: float(r.psi) for r in latest.itertuples()}
    ref_snap_month = (reference.get("snapshot") or {}).get("month")
    alerts += drift_alerts(snap_drift, th, "snapshot_drift", after=ref_snap_month)
    ranges, nulls = _feed_tables(wh, model.model_id)
    for r in ranges.itertuples():
        alerts.append(_alert("warn", "feed_range", f"{r.column} · {r.period}", r.count, None,
                             f"{r.period}: {r.count:,} of {r.rows:,} values of {r.column} are outside the plausible range "
                             f"{PLAUSIBLE_RANGES[r.column][0]:,.0f}–{PLAUSIBLE_RANGES[r.column][1]:,.0f} "
                             f"(e.g. {r.example:,.0f}): a unit or mapping fault in the export?"))
    coverage = feats.assign(month=month).groupby("month").Has_Discovery_Data.mean() if "Has_Discovery_Data" in feats else pd.Series(dtype=float)
    month_n = month.value_counts()
    for m_, c in coverage.items():
        if c < th.coverage_warn and month_n.get(m_, 0) >= th.min_rows:
            alerts.append(_alert("warn", "coverage", f"discovery coverage · {m_}", c, th.coverage_warn,
                                 f"Only {c:.0%} of leads contacted in {m_} matched a MarketPro rep (< {th.coverage_warn:.0%})."))
    loaded = list(months.snapshot_month.astype(str)) if not months.empty else []
    late = []
    if loaded:
        expected = pd.period_range(loaded[0], as_of_ts.strftime("%Y-%m"), freq="M").astype(str)
        gap = [m_ for m_ in expected if m_ not in loaded]
        if as_of_ts.day <= 5 and gap and gap[-1] == as_of_ts.strftime("%Y-%m"):
            gap = gap[:-1]  # this month's export is not due before the 5th
        late = gap
        for m_ in gap:
            alerts.append(_alert("warn", "feed_late", f"territory export · {m_}", None, None,
                                 f"No territory export loaded for {m_}: leads contacted then use an older month."))
    conflicts = wh.read_model("quality/source_conflicts.sql")
    conflicts["conflicts"] = conflicts.conflicts.fillna(0).astype(int)
    conflicts["share"] = conflicts.conflicts / conflicts.matched.clip(lower=1)
    for r in conflicts[(conflicts.matched >= th.min_rows) & (conflicts.share > th.conflict_warn)].itertuples():
        alerts.append(_alert("warn", "source_conflict", f"state conflicts · {r.period}", r.share, th.conflict_warn,
                             f"{r.share:.0%} of leads contacted in {r.period} and matched to a MarketPro rep have a "
                             f"Salesforce State different from the rep's branch state ({r.conflicts:,} of {r.matched:,})."))
    recent_cov = float(recent.Has_Discovery_Data.mean()) if len(recent) and "Has_Discovery_Data" in recent else None

    progress(0.8, "Retrain triggers")
    retrain = []
    age = (datetime.now(timezone.utc) - pd.Timestamp(row["created_at"]).to_pydatetime()).days
    data_age = (as_of_ts - pd.Timestamp(reference["trained_as_of"])).days
    if max(age, data_age) >= th.retrain_days:
        retrain.append({"trigger": "scheduled", "detail": f"{max(age, data_age)} days since the training data's as-of "
                        f"({reference['trained_as_of'][:10]}); the spec retrains every {th.retrain_days} days."})
    if not scored.empty:
        rec = scored[scored.label.notna() & (scored.contacted_at > as_of_ts - pd.Timedelta(days=120))]
        seg = aum_segment(rec.aum)
        for s_, ref in reference["base_rate_by_aum_segment"].items():
            part = rec[seg == s_]
            if ref["rate"] and len(part) >= th.min_rows and part.label.sum() + ref["rate"] * len(part) >= th.min_positives:
                shift = part.label.mean() / ref["rate"] - 1
                p = binomtest(int(part.label.sum()), len(part), ref["rate"]).pvalue
                if abs(shift) > th.base_rate_shift and p < th.significance:
                    retrain.append({"trigger": "base rate shift", "detail": f"AUM segment {s_}: {part.label.mean():.1%} "
                                    f"now vs {ref['rate']:.1%} at training ({shift:+.0%})."})
    metro_prof = reference["features"].get("cat_Metro")
    if metro_prof and "cat_Metro" in recent:
        known = set(metro_prof.get("all_levels", metro_prof["levels"]))
        new = recent.cat_Metro.dropna().astype(str)
        new = new[~new.isin(known)].value_counts()
        new = new[new >= 5]
        if len(new):
            retrain.append({"trigger": "new metros", "detail": ", ".join(f"{k} ({v})" for k, v in new.head(5).items())})
    if missing:
        retrain.append({"trigger": "schema change", "detail": ", ".join(missing)})
    for r in retrain:
        alerts.append(_alert("warn", "retrain_due", r["trigger"], None, None, f"Retrain suggested: {r['detail']}"))

    if not runs.empty and runs.outcome.iloc[0] != "ok":
        alerts.append(_alert("critical", "pipeline_failed", "daily pipeline", None, None,
                             f"The last daily run ({pd.Timestamp(runs.started_at.iloc[0]):%d %b %Y %H:%M} UTC) ended "
                             f"'{runs.outcome.iloc[0]}': {runs.error.iloc[0]}"))

    progress(0.9, "Storing the run and its alerts")
    from core.monitoring.shadow import shadow_summary
    shadow = shadow_summary(wh, settings, as_of_ts)
    run_id = uuid.uuid4().hex[:12]
    level = max((a["level"] for a in alerts), key=LEVELS.index, default="ok")
    feed = {"recent_discovery_coverage": recent_cov, "months_loaded": loaded, "missing_months": late,
            "state_conflict_share": float(conflicts.conflicts.sum() / max(conflicts.matched.sum(), 1)),
            "implausible": ranges.to_dict(orient="records")}
    result = MonitorResult(
        run_id, str(as_of_ts), model.model_id, str(reference["created_at"]), level, alerts, feature_psi, snapshot_psi,
        score_psi, _records(matured), _records(estimated), feed, retrain, shadow,
        [str(reference["contacted_from"]), str(reference["contacted_to"])], notes,
        frames={"drift": drift, "groups": groups, "recent": pd.DataFrame(recent_rows), "score_drift": score_drift,
                "cohorts": cohorts, "by_segment": by_segment, "calibration": calibration, "attribution": attribution,
                "attribution_changes": changes, "snapshot_drift": snap_drift, "nulls": nulls, "ranges": ranges,
                "score_quantiles": M.score_quantiles(scored), "shadow_models": pd.DataFrame(),
                "coverage": coverage.rename("coverage").reset_index(), "tier_mix": tier_mix, "conflicts": conflicts},
    )
    from core.monitoring.store import store_run
    result.alert_level = store_run(wh, actor, result)
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
        p = c.get("tier_a_precision")
        lines.append(f"  week of {c['cohort_start']}: {c['leads']} leads, {int(c['positives'])} MQLs, Tier A "
                     f"{'—' if p is None else f'{p:.0%}'} of {c['tier_a_leads']}")
    if r.score_psi is not None:
        lines.append(f"Score PSI (last 30 days vs reference): {r.score_psi:.3f}")
    cov = r.feed.get("recent_discovery_coverage")
    lines.append(f"Feed: {len(r.feed['months_loaded'])} territory months loaded; missing {r.feed['missing_months'] or 'none'}; "
                 f"discovery coverage (last 30 days) {'n/a' if cov is None else f'{cov:.0%}'}.")
    for t in r.retrain:
        lines.append(f"Retrain trigger — {t['trigger']}: {t['detail']}")
    lines += r.notes
    return "\n".join(lines)
