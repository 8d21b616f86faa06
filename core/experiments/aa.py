"""Proof that the statistics are honest (issue #15 item 5).

``aa_test``: past matured leads, contacted in a window, are split at random many times — blocked within
strata exactly as the engine assigns — and every split goes through the readout's statistics with its two
sequential looks (interim on the first 14 days' leads, final on all). With no true difference, the share of
splits that stop (for efficacy or harm) is the false-positive rate; it should be close to alpha.

``power_simulation``: the same splits with a planted lift in the treatment arm (each treated lead's MQL
probability, taken as its score, raised by the lift); the detection rate should match the design's power.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.power import NormalIndPower

from core.config import Settings
from core.errors import LeadScoringError
from core.experiments import units as U
from core.experiments.design import INTERIM_DAYS
from core.experiments.readout import ALPHA, SRM_ALPHA, decide, look_stats
from core.experiments.stats import boundaries
from core.experiments.assign import block_pattern
from core.warehouse import Warehouse


@dataclass
class SimResult:
    sims: int
    alpha: float
    leads: int
    mqls: int
    primary_metric: str
    false_positive_rate: float
    interim_stops: int
    final_rejections: int
    srm_false_alarm_rate: float
    cmh_false_positive_rate: float
    seconds: float
    planted_lift: float = 0.0
    design_power: float | None = None
    detection_rate: float | None = None

    def as_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Pool:
    y: np.ndarray
    x: np.ndarray
    score: np.ndarray | None
    stratum: np.ndarray
    block_key: np.ndarray  # stratum × block, in contact order
    interim: np.ndarray  # contacted in the first 14 days
    t1: float
    has_dials: bool


def pool(wh: Warehouse, settings: Settings, date_from: str, date_to: str) -> Pool:
    try:
        lo, hi = pd.Timestamp(date_from, tz="UTC"), pd.Timestamp(date_to, tz="UTC")
    except (ValueError, TypeError):
        raise LeadScoringError(f"--from {date_from!r} / --to {date_to!r}: give dates such as 2025-03-01.") from None
    if hi <= lo:
        raise LeadScoringError(f"--to {date_to} must be after --from {date_from}.")
    with wh.reader() as s:
        m, has_dials, _ = U.matured_units(s, settings.label_window_days, U.labels_as_of(s))
    c = pd.to_datetime(m["contacted_at"], utc=True)
    m = m[(c >= lo) & (c < hi)]
    if len(m) < 100 or m["mql"].sum() < 5:
        raise LeadScoringError(f"Only {len(m)} matured leads ({int(m['mql'].sum())} MQLs) were contacted between "
                               f"{date_from} and {date_to}: choose a longer window of matured leads.")
    m = m.sort_values("contacted_at").reset_index(drop=True)
    stratum = U.stratum_label(m, U.STRATA).to_numpy()
    codes = pd.factorize(stratum)[0]
    pos = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    b = len(block_pattern(0.5))
    sc = m["first_score"].to_numpy(float)
    score = np.where(np.isfinite(sc), sc, np.nanmean(sc)) if np.isfinite(sc).mean() >= 0.8 else None
    days = max((hi - lo).total_seconds() / 86400, INTERIM_DAYS + 1)
    return Pool(y=m["mql"].to_numpy(float), x=m["dials"].to_numpy(float), score=score, stratum=stratum,
                block_key=codes.astype(np.int64) * 1_000_000 + pos // b,
                interim=(pd.to_datetime(m["contacted_at"], utc=True) < lo + pd.Timedelta(days=INTERIM_DAYS)).to_numpy(),
                t1=min(INTERIM_DAYS / days, 0.99), has_dials=bool(has_dials and m["dials"].sum() > 0))


def blocked_split(rng, block_key: np.ndarray, split: float = 0.5) -> np.ndarray:
    """One random blocked assignment (1 = treatment): within every block, a random ``split`` share."""
    pattern = block_pattern(split)
    order = np.lexsort((rng.random(len(block_key)), block_key))
    keys = block_key[order]
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    rank = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    treat = np.empty(len(keys), dtype=int)
    treat[order] = (rank < pattern.sum()).astype(int)
    return treat


def simulate(p: Pool, sims: int, seed: int, lift: float = 0.0) -> SimResult:
    if not 1 <= sims <= 100_000:
        raise LeadScoringError(f"--sims {sims}: choose between 1 and 100,000 simulations.")
    rng = np.random.default_rng(seed)
    b1, b2 = boundaries((round(p.t1, 4), 1.0), ALPHA)
    started = time.perf_counter()
    stops = interim_stops = final_rej = srm_alarms = cmh_fp = 0
    flip = planted_flip(p, lift)
    for _ in range(sims):
        treat = blocked_split(rng, p.block_key)
        y = p.y
        if lift:
            extra = (treat == 1) & (y == 0) & (rng.random(len(y)) < flip)
            y = np.where(extra, 1.0, y)
        shares = np.full(len(y), 0.5)
        i = p.interim
        first = look_stats(y[i], p.x[i], None if p.score is None else p.score[i], treat[i], p.stratum[i], shares[i],
                           p.has_dials, ("control", "treatment"), with_cmh=False)
        z1 = first.decision_lift.z
        crossed = z1 if np.isfinite(z1) and abs(z1) >= b1 else None
        final = look_stats(y, p.x, p.score, treat, p.stratum, shares, p.has_dials, ("control", "treatment"))
        d = decide(2, final.decision_lift.z, b2, 1.0, crossed)
        srm_alarms += final.srm_p < SRM_ALPHA
        cmh_fp += (final.cmh.get("p_value") or 1.0) < ALPHA
        if crossed is not None:
            interim_stops += 1
        elif d != "no effect":
            final_rej += 1
        stops += d in ("stop for efficacy", "stop for harm") if not lift else d == "stop for efficacy"
    res = SimResult(sims, ALPHA, len(p.y), int(p.y.sum()), "mqls_per_100_dials" if p.has_dials else "mql_rate",
                    stops / sims, interim_stops, final_rej, srm_alarms / sims, cmh_fp / sims,
                    time.perf_counter() - started, planted_lift=lift)
    if lift:
        res.detection_rate = stops / sims
        res.false_positive_rate = float("nan")
        res.design_power = design_power(p, lift)
    return res


def planted_flip(p: Pool, lift: float) -> np.ndarray:
    """Per lead, the chance a treated non-MQL becomes an MQL: proportional to its score (better leads
    gain more, as calling in model order would), scaled so treated MQLs rise by ``lift`` in expectation."""
    base = np.clip(p.score if p.score is not None else np.full(len(p.y), p.y.mean()), 1e-4, 0.9)
    k = lift * p.y.sum() / max(float(((1 - p.y) * base).sum()), 1e-9)
    return np.clip(k * base, 0.0, 1.0)


def design_power(p: Pool, lift: float) -> float:
    """The power the design formula promises for this pool and lift (two-sided, blocked, score-adjusted
    variance as the decision statistic uses), for comparison with the simulated detection rate."""
    from core.experiments.design import linearised, relative_effect_size, variance_shares

    x = p.x if p.has_dials else np.ones(len(p.y))
    lin = linearised(p.y, x)
    share_b, share_a = variance_shares(lin, pd.Series(p.stratum),
                                       pd.Series(p.score if p.score is not None else np.full(len(p.y), np.nan)))
    r = p.y.sum() / x.sum()
    planted = float(((1 - p.y) * planted_flip(p, lift)).sum() / p.y.sum())  # MQL lift in expectation
    d = relative_effect_size(planted, r, lin.std(ddof=1), share_a if p.score is not None else share_b)
    return float(NormalIndPower().power(effect_size=d, nobs1=len(p.y) / 2, alpha=ALPHA, ratio=1.0))


def aa_test(wh: Warehouse, settings: Settings, date_from: str, date_to: str, sims: int = 1000, seed: int = 0) -> SimResult:
    return simulate(pool(wh, settings, date_from, date_to), sims, seed)


def power_simulation(wh: Warehouse, settings: Settings, date_from: str, date_to: str, lift: float,
                     sims: int = 500, seed: int = 0) -> SimResult:
    return simulate(pool(wh, settings, date_from, date_to), sims, seed, lift=lift)
