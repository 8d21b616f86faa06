"""What monitoring measures, each a small function over frames already read from the warehouse: drift by
month against the frozen reference, matured and estimated cohorts, calibration by AUM segment, attribution
drift, feed health and retrain triggers. No function here reads or writes the warehouse."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from core.modeling import metrics
from core.modeling.data import aum_segment
from core.monitoring.periods import month_text, week_starts, week_text
from core.monitoring.psi import bin_index, n_bins, psi_by_group, psi_of_counts
from core.scoring.tiers import boost_rules

WEEK = pd.Timedelta(days=7)


def drift_by_period(rows: pd.DataFrame, periods: pd.Series, reference: dict, columns: list[str] | None = None) -> pd.DataFrame:
    """PSI of each profiled column per period against the reference's frozen bins (one pass per column).
    Returns period, feature, group, sources, psi, noise, n."""
    profiles = reference["features"] if "features" in reference else reference["columns"]
    cols = [c for c in (columns or list(profiles)) if c in rows.columns]
    codes, names = pd.factorize(pd.Series(periods).astype(str).to_numpy(), sort=True)
    return drift_frame([drift_part(names, c, profiles[c], *psi_by_group(profiles[c], rows[c], codes, len(names)))
                        for c in cols])


def drift_with_recent(rows: pd.DataFrame, periods: pd.Series, measured: np.ndarray, recent: np.ndarray,
                      reference: dict) -> tuple[pd.DataFrame, dict]:
    """:func:`drift_by_period` over the ``measured`` rows and, from the same bins (each feature's values are binned
    once), every feature's (PSI, noise level, rows) over the ``recent`` rows — two views of one read: a daily run's
    newest month and its last 30 days are mostly the same leads."""
    profiles = reference["features"]
    cols = [c for c in profiles if c in rows.columns]
    codes, names = pd.factorize(pd.Series(periods[measured]).astype(str).to_numpy(), sort=True)
    parts, last = [], {}
    for c in cols:
        prof, k = profiles[c], n_bins(profiles[c])
        idx = bin_index(prof, rows[c])
        if measured.any():
            cur = np.bincount(codes * k + idx[measured], minlength=len(names) * k).reshape(len(names), k).astype(float)
            parts.append(drift_part(names, c, prof, *psi_of_counts(prof, cur)))
        psi, noise, n = psi_of_counts(prof, np.bincount(idx[recent], minlength=k).astype(float)[None, :])
        last[c] = (float(psi[0]), float(noise[0]), int(n[0]))
    return drift_frame(parts), last


DRIFT_COLUMNS = ["period", "feature", "group", "sources", "psi", "noise", "n"]


def drift_part(periods, column: str, prof: dict, psi, noise, n) -> dict:
    """One column's drift rows (one per period) from its PSI, noise levels and row counts, as columns for
    :func:`drift_frame` (one frame for all columns: a frame per column cost more than its PSI)."""
    k = len(periods)
    return {"period": list(periods), "feature": [column] * k, "group": [prof.get("group", "MarketPro")] * k,
            "sources": [", ".join(prof.get("sources", [column]))] * k, "psi": np.round(psi, 4),
            "noise": np.round(noise, 4), "n": np.asarray(n).astype(int)}


def drift_frame(parts: list[dict]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=DRIFT_COLUMNS)
    out = pd.DataFrame({c: (np.concatenate([p[c] for p in parts]) if c in ("psi", "noise", "n")
                            else [v for p in parts for v in p[c]]) for c in DRIFT_COLUMNS})
    return out[out.n > 0].sort_values(["period", "feature"], kind="mergesort").reset_index(drop=True)


def independent(sources: list[str]) -> bool:
    """True when at least two of these features share no source column (several signals, not one seen twice)."""
    sets = [set(s.split(", ")) for s in sources]
    return any(not (a & b) for i, a in enumerate(sets) for b in sets[i + 1:])


def group_psi(drift: pd.DataFrame) -> pd.DataFrame:
    """Spec §9.2 groups: the mean PSI of a group's features per period (and its worst feature)."""
    if drift.empty:
        return pd.DataFrame(columns=["period", "group", "psi", "worst_feature", "worst_psi"])
    g = drift.sort_values("psi", ascending=False).groupby(["period", "group"], sort=True)
    return pd.DataFrame({"psi": g.psi.mean().round(4), "worst_feature": g.feature.first(), "worst_psi": g.psi.max()}).reset_index()


def cohorts(scored: pd.DataFrame, as_of: pd.Timestamp, window_days: int = 30, by: np.ndarray | None = None) -> pd.DataFrame:
    """Weekly contact cohorts of first-scored leads. ``scored``: lead_id, contacted_at, prob, tier, label
    (NaN until known), label_status, aum. A cohort is *matured* when its last possible contact plus the
    label window is at or before ``as_of`` (every label in it is known); before that its Tier A precision is
    *estimated* from the calibrated probabilities, with a 95% interval. With ``by`` (a key per lead, e.g. its AUM
    segment), cohorts per key and week, ordered by key then week, the key in a ``segment`` column."""
    if scored.empty:
        return pd.DataFrame()
    starts = week_starts(scored.contacted_at)
    as_naive = pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None)
    # One stable sort by (key and) week, then plain array slices per cohort (a pandas sub-frame per week cost more
    # than the measures themselves).
    if by is None:
        order = np.argsort(starts, kind="stable")
        keys = np.zeros(len(order), dtype=int)
        names = [None]
    else:
        keys, names = pd.factorize(np.asarray(by), sort=True)
        order = np.lexsort((starts, keys))
        keys = keys[order]
    starts = starts[order]
    prob = scored.prob.to_numpy(dtype=float)[order]
    label = pd.to_numeric(scored.label, errors="coerce").to_numpy(dtype=float)[order]
    is_a = (scored.tier == "A").to_numpy()[order]
    backfilled = scored["backfilled"].to_numpy()[order] if "backfilled" in scored else np.zeros(len(order), dtype=bool)
    bounds = np.flatnonzero(np.r_[True, (starts[1:] != starts[:-1]) | (keys[1:] != keys[:-1]), True])
    rows = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        start = pd.Timestamp(starts[lo])
        matured = start + WEEK + pd.Timedelta(days=window_days) <= as_naive
        g_prob, g_label, g_a = prob[lo:hi], label[lo:hi], is_a[lo:hi]
        row = {"cohort_start": start.date().isoformat(), "matured": bool(matured), "leads": int(hi - lo),
               "tier_a_leads": int(g_a.sum()), "predicted_rate": float(g_prob.mean()),
               "backfilled_share": float(np.mean(backfilled[lo:hi]))}
        if matured:
            known = ~np.isnan(g_label)
            y, ya = g_label[known].astype(int), g_label[known & g_a].astype(int)
            row.update(positives=int(y.sum()), observed_rate=float(y.mean()) if len(y) else None,
                       tier_a_precision=float(ya.mean()) if len(ya) else None,
                       tier_a_recall=float(ya.sum() / y.sum()) if y.sum() else None,
                       auc_pr=metrics.auc_pr(y, g_prob[known]) if 0 < y.sum() < len(y) else None,
                       estimated=False)
        else:
            p = g_prob[g_a]
            est = float(p.mean()) if len(p) else None
            half = 1.96 * float(np.sqrt((p * (1 - p)).sum())) / len(p) if len(p) else None
            row.update(positives=None, observed_rate=None, tier_a_precision=est, tier_a_recall=None, auc_pr=None,
                       estimated=True, tier_a_low=None if est is None else max(0.0, est - half),
                       tier_a_high=None if est is None else min(1.0, est + half))
        rows.append(row)
    out = pd.DataFrame(rows)
    if by is not None:
        out["segment"] = [names[k] for k in keys[bounds[:-1]]]
    return out


def cohorts_by_segment(scored: pd.DataFrame, as_of: pd.Timestamp, window_days: int = 30) -> pd.DataFrame:
    """Matured weekly Tier A precision per AUM segment (the page's segment view)."""
    if scored.empty:
        return pd.DataFrame()
    return cohorts(scored, as_of, window_days, by=aum_segment(scored.aum))


def calibration_by_segment(scored: pd.DataFrame, period: pd.Series) -> pd.DataFrame:
    """Matured leads only: predicted vs observed MQL rate per period and AUM segment; ``rescored``: how many of the
    leads were scored by monitoring (no first score near contact, see monitor.unscored_matured)."""
    known = scored[scored.label.notna()]
    if known.empty:
        return pd.DataFrame(columns=["period", "segment", "leads", "positives", "predicted", "observed", "rescored"])
    rescored = known["rescored"].fillna(False).astype(bool) if "rescored" in known else pd.Series(False, index=known.index)
    g = known.assign(period=period[known.index].to_numpy(), segment=aum_segment(known.aum),
                     rescored=rescored.astype(int)).groupby(["period", "segment"])
    return pd.DataFrame({"leads": g.size(), "positives": g.label.sum().astype(int), "predicted": g.prob.mean(),
                         "observed": g.label.mean(), "rescored": g.rescored.sum()}).reset_index()


def with_unscored_mqls(cohorts: pd.DataFrame, unscored: pd.DataFrame) -> pd.DataFrame:
    """Matured cohorts with ``mqls_before_a_list``: the week's MQLs that no call list held (booked before the
    lead's first score; see monitor.unscored_matured). Tier A precision and recall judge the lists SGAs saw, so
    these are not in them; the column says how many there were. None for weeks not yet matured."""
    if cohorts.empty:
        return cohorts
    mqls = unscored[pd.to_numeric(unscored.label, errors="coerce") == 1] if len(unscored) else unscored
    per_week = pd.Series(week_text(mqls.contacted_at)).value_counts() if len(mqls) else pd.Series(dtype=int)
    counts = cohorts.cohort_start.map(per_week).fillna(0).astype("Int64")
    return cohorts.assign(mqls_before_a_list=counts.where(cohorts.matured.to_numpy(dtype=bool), pd.NA))


TIERS = ("A", "B", "C")
DISCOVERY = ("with discovery data", "no discovery data")


def conversion_by_tier(scored: pd.DataFrame, period: pd.Series) -> pd.DataFrame:
    """Spec §9.1 (business impact): the observed MQL rate of matured leads per contact month and first-score
    tier, over all leads (``discovery`` = "all") and split by whether the lead matched a MarketPro rep; each with
    its 95% Wilson interval. ``scored``: tier, label (NaN until known) and ``discovery`` (1/0, None unknown)."""
    columns = ["period", "tier", "discovery", "leads", "mqls", "rate", "low", "high"]
    known = scored.label.notna().to_numpy() & scored.tier.isin(TIERS).to_numpy()
    if not known.any():
        return pd.DataFrame(columns=columns)
    d = pd.DataFrame({"period": period.to_numpy()[known], "tier": scored.tier.to_numpy()[known],
                      "label": scored.label.to_numpy(dtype=float)[known]})
    has = pd.to_numeric(scored["discovery"], errors="coerce").to_numpy(dtype=float)[known] \
        if "discovery" in scored else np.full(known.sum(), np.nan)
    d["discovery"] = np.where(np.isnan(has), None, np.where(has > 0, DISCOVERY[0], DISCOVERY[1]))
    parts = [d.assign(discovery="all"), d[d.discovery.notna()]]
    g = pd.concat(parts, ignore_index=True).groupby(["period", "tier", "discovery"], sort=True).label
    out = pd.DataFrame({"leads": g.size(), "mqls": g.sum().astype(int)}).reset_index()
    return _with_rates(out)[columns]


def _with_rates(counts: pd.DataFrame) -> pd.DataFrame:
    counts = counts.assign(rate=counts.mqls / counts.leads)
    counts["low"], counts["high"] = proportion_confint(counts.mqls, counts.leads, alpha=0.05, method="wilson")
    return counts


def conversion_pooled(conversion: pd.DataFrame, months: int = 6) -> pd.DataFrame:
    """:func:`conversion_by_tier` pooled over its last ``months`` contact months (one rate per tier and
    discovery split, with its Wilson interval): the page's bar view."""
    columns = ["tier", "discovery", "leads", "mqls", "rate", "low", "high", "first_month", "last_month"]
    if conversion.empty:
        return pd.DataFrame(columns=columns)
    last = sorted(conversion.period.unique())[-months:]
    c = conversion[conversion.period.isin(last)]
    g = c.groupby(["tier", "discovery"], sort=True)[["leads", "mqls"]].sum().reset_index()
    return _with_rates(g).assign(first_month=last[0], last_month=last[-1])[columns]


def attribution_ranks(contrib: np.ndarray, features: list[str], periods: np.ndarray, top: int = 20) -> pd.DataFrame:
    """Mean |contribution| per feature and period, with its rank (1 = most important)."""
    return ranks_of_means(attribution_means(contrib, features, periods))


def attribution_means(contrib: np.ndarray, features: list[str], periods: np.ndarray) -> pd.DataFrame:
    """Mean |contribution| per period (rows, sorted) and feature (columns, in the model's order)."""
    return pd.DataFrame(np.abs(contrib), columns=features).assign(period=periods).groupby("period").mean()


def ranks_of_means(mean: pd.DataFrame) -> pd.DataFrame:
    """Long form of :func:`attribution_means` with each feature's rank in its period (1 = most important)."""
    ranks = mean.rank(axis=1, ascending=False, method="first")
    out = mean.stack().rename("mean_abs").to_frame().join(ranks.stack().rename("rank")).reset_index()
    out.columns = ["period", "feature", "mean_abs", "rank"]
    out["rank"] = out["rank"].astype(int)
    return out


def attribution_changes(ranks: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """Period over period, each top-``top`` feature's relative change in mean |SHAP| (spec §9.2: > 50%)."""
    columns = ["period", "previous", "feature", "before", "after", "change"]
    periods = sorted(ranks.period.unique()) if not ranks.empty else []
    if len(periods) < 2:
        return pd.DataFrame(columns=columns)
    following = dict(zip(periods[:-1], periods[1:]))
    head = ranks[ranks.period.isin(list(following)) & (ranks["rank"] <= top)]
    head = head.iloc[np.argsort(head.period.map(periods.index).to_numpy(), kind="stable")]
    nxt = head.period.map(following).to_numpy()
    after = pd.Series(ranks.mean_abs.to_numpy(), index=pd.MultiIndex.from_arrays([ranks.period, ranks.feature]))
    after = after[~after.index.duplicated()].reindex(pd.MultiIndex.from_arrays([nxt, head.feature])).fillna(0.0).to_numpy()
    before = head.mean_abs.to_numpy(dtype=float)
    change = np.divide(after - before, before, out=np.zeros(len(before)), where=before > 0)
    return pd.DataFrame({"period": nxt, "previous": head.period.to_numpy(), "feature": head.feature.to_numpy(),
                         "before": before, "after": after, "change": change}, columns=columns)


def score_quantiles(scored: pd.DataFrame) -> pd.DataFrame:
    """Per contact month: the 10th, 50th and 90th percentile and mean of first scores (score distribution over time)."""
    if scored.empty:
        return pd.DataFrame(columns=["period", "p10", "p50", "p90", "mean", "leads"])
    g = scored.prob.groupby(month_text(scored.contacted_at))
    return pd.DataFrame({"p10": g.quantile(0.1), "p50": g.quantile(0.5), "p90": g.quantile(0.9), "mean": g.mean(),
                         "leads": g.size()}).reset_index(names="period")


ANY_RULE = "Any priority rule"
BOOST_SHARE_COLUMNS = ["period", "rule", "leads", "boosted", "share", "reference", "ratio"]


def boost_reference(features: pd.DataFrame) -> dict:
    """The training rows' share meeting each priority rule (spec §5.8) and any rule: frozen in the reference."""
    rules = boost_rules(features)
    n = len(features)
    shares = {label: float(m.mean()) if n else None for label, m in rules}
    anyone = np.logical_or.reduce([m for _, m in rules]) if rules and n else np.zeros(n, dtype=bool)
    return {"rows": n, "rules": shares | {ANY_RULE: float(anyone.mean()) if n else None}}


def boost_shares(features: pd.DataFrame, period: pd.Series, reference: dict) -> pd.DataFrame:
    """Per period (contact month) and priority rule: leads, leads meeting the rule, the share, the training
    rows' share and their ratio (:func:`binomial_p` tells chance from change where the ratio is large). A vendor fault that
    inflates AUM or client counts shows here before any outcome does: boosted leads rank above the model's picks."""
    rules = boost_rules(features)
    if not len(features) or not rules:
        return pd.DataFrame(columns=BOOST_SHARE_COLUMNS)
    met = pd.DataFrame({label: m for label, m in rules}, index=features.index)
    met[ANY_RULE] = met.any(axis=1)
    g = met.groupby(period.to_numpy(), sort=True)
    n = g.size()
    long = g.sum().stack().rename("boosted").reset_index()
    long.columns = ["period", "rule", "boosted"]
    long["leads"] = long.period.map(n).astype(int)
    long["boosted"] = long.boosted.astype(int)
    long["share"] = long.boosted / long.leads
    long["reference"] = long.rule.map(reference.get("rules", {})).astype(float)
    long["ratio"] = long.share / long.reference.where(long.reference > 0)
    return long[BOOST_SHARE_COLUMNS]


def binomial_p(boosted: int, leads: int, share: float) -> float:
    """Two-sided exact binomial p-value of ``boosted`` of ``leads`` against ``share`` (NaN when undefined)."""
    return binomtest(int(boosted), int(leads), share).pvalue if share == share and 0 < share < 1 else np.nan
