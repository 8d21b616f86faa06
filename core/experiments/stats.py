"""The statistics of a readout, as pure functions on arrays (no warehouse, no pandas in the hot path).

- Ratio metrics (MQLs per 100 dials) use the delta method: for per-lead numerators ``y`` and denominators
  ``x`` the ratio ``R = ȳ / x̄`` has variance ``(s²_y − 2R·s_xy + R²·s²_x) / (n·x̄²)``.
- The relative lift ``R_t / R_c − 1`` has delta-method variance ``V_t / R_c² + R_t²·V_c / R_c⁴``
  (as GrowthBook's frequentist engine computes it).
- Regression adjustment (CUPED-style) on a pre-assignment covariate: each lead's linearised ratio
  ``L = R + (y − R·x) / x̄`` is adjusted by ``θ·(s − s̄)`` with ``θ`` pooled over arms; the adjusted arm
  means and variances go through the same lift formula.
- Sequential looks: Lan–DeMets alpha spending with the O'Brien–Fleming-type function, per side
  ``a(t) = 2 − 2Φ(z_{1−a/2} / √t)`` with ``a = α/2`` (gsDesign's ``sfLDOF``); boundaries solved with the
  multivariate normal of the look statistics (correlation ``√(t_i / t_j)``). Two equally spaced looks at
  α = 0.05 give 2.963 and 1.969, the published values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class ArmRatio:
    n: int
    ratio: float  # R = sum(y) / sum(x)
    var: float  # variance of R (delta method)


def ratio(y: np.ndarray, x: np.ndarray) -> ArmRatio:
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float)
    n = len(y)
    if n < 2 or x.sum() <= 0:
        return ArmRatio(n, float("nan"), float("nan"))
    mx, my = x.mean(), y.mean()
    r = my / mx
    vy, vx = y.var(ddof=1), x.var(ddof=1)
    cxy = np.cov(y, x, ddof=1)[0, 1] if n > 1 else 0.0
    var = (vy - 2 * r * cxy + r * r * vx) / (n * mx * mx)
    return ArmRatio(n, float(r), float(max(var, 0.0)))


@dataclass(frozen=True)
class Lift:
    effect: float  # relative lift, treatment over control
    se: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float


def relative_lift(t: ArmRatio, c: ArmRatio, alpha: float = 0.05) -> Lift:
    if not (c.ratio > 0) or not np.isfinite(t.ratio):
        return Lift(float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    effect = t.ratio / c.ratio - 1
    var = t.var / c.ratio ** 2 + t.ratio ** 2 * c.var / c.ratio ** 4
    se = float(np.sqrt(var))
    zc = stats.norm.ppf(1 - alpha / 2)
    z = effect / se if se > 0 else float("nan")
    p = float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")
    # A rate cannot fall below zero, so a lift cannot fall below -100%: the delta method's symmetric interval
    # (GrowthBook's) reached -658% on a stratum with 1 control MQL. Cut at -100%, the interval still covers the
    # truth as often (the truth is never below it) and reads as a lift.
    low = max(float(effect - zc * se), -1.0)
    return Lift(float(effect), se, low, float(effect + zc * se), float(z), p)


def adjusted_arms(y_t, x_t, s_t, y_c, x_c, s_c) -> tuple[ArmRatio, ArmRatio, float]:
    """Arm ratios after regression adjustment on the pre-assignment covariate ``s`` (θ pooled over arms).
    Returns (treatment, control, variance reduction = 1 − adjusted var / unadjusted var, pooled)."""
    parts = []
    for y, x, s in ((y_t, x_t, s_t), (y_c, x_c, s_c)):
        y, x, s = (np.asarray(a, dtype=float) for a in (y, x, s))
        r = y.sum() / x.sum()
        lin = r + (y - r * x) / x.mean()
        parts.append((lin, s, r))
    s_all = np.concatenate([p[1] for p in parts])
    centred_l = np.concatenate([p[0] - p[0].mean() for p in parts])
    centred_s = np.concatenate([p[1] - p[1].mean() for p in parts])
    vs = float((centred_s ** 2).sum())
    theta = float((centred_l * centred_s).sum() / vs) if vs > 0 else 0.0
    out, before, after = [], 0.0, 0.0
    for lin, s, r in parts:
        adj = lin - theta * (s - s_all.mean())
        n = len(lin)
        out.append(ArmRatio(n, float(adj.mean()), float(adj.var(ddof=1) / n)))
        before += lin.var(ddof=1) / n
        after += adj.var(ddof=1) / n
    return out[0], out[1], float(1 - after / before) if before > 0 else 0.0


def srm_p(counts: list[int], shares: list[float]) -> float:
    """Chi-squared test of the assignment counts against the designed split."""
    counts = np.asarray(counts, dtype=float)
    if counts.sum() == 0:
        return float("nan")
    expected = np.asarray(shares, dtype=float) / np.sum(shares) * counts.sum()
    return float(stats.chisquare(counts, expected).pvalue)


def smd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Standardised mean differences, column by column, ignoring missing values."""
    ma, mb = np.nanmean(a, axis=0), np.nanmean(b, axis=0)
    va, vb = np.nanvar(a, axis=0, ddof=1), np.nanvar(b, axis=0, ddof=1)
    pooled = np.sqrt((va + vb) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pooled > 0, (ma - mb) / pooled, 0.0)


def obf_spent(t: float, alpha: float = 0.05) -> float:
    """Lan–DeMets O'Brien–Fleming-type alpha spent by information fraction ``t``, two-sided and symmetric:
    each side spends ``2 − 2Φ(Φ⁻¹(1 − a/2) / √t)`` of its ``a = α/2`` (gsDesign's ``sfLDOF``, test.type 2)."""
    if t <= 0:
        return 0.0
    t = min(t, 1.0)
    side = alpha / 2
    return float(2 * (2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - side / 2) / np.sqrt(t))))


@lru_cache(maxsize=256)
def boundaries(fractions: tuple[float, ...], alpha: float = 0.05) -> tuple[float, ...]:
    """Two-sided z boundaries at the given information fractions (increasing, last normally 1.0)."""
    out: list[float] = []
    spent_before = 0.0
    for k, t in enumerate(fractions):
        spend = obf_spent(t, alpha) - spent_before
        spent_before = obf_spent(t, alpha)
        if k == 0:
            out.append(float(stats.norm.ppf(1 - spend / 2)))
            continue
        ts = np.asarray(fractions[: k + 1])
        cov = np.sqrt(np.minimum.outer(ts, ts) / np.maximum.outer(ts, ts))
        mvn_prev = stats.multivariate_normal(mean=np.zeros(k), cov=cov[:k, :k])
        mvn = stats.multivariate_normal(mean=np.zeros(k + 1), cov=cov)
        prev = np.asarray(out)
        stay_before = mvn_prev.cdf(prev, lower_limit=-prev)

        def excess(c: float) -> float:
            lim = np.r_[prev, c]
            # P(not crossed before, |Z_k| >= c) = P(inside before) − P(inside before and |Z_k| < c)
            return (stay_before - mvn.cdf(lim, lower_limit=-lim)) - spend

        out.append(float(optimize.brentq(excess, 0.5, 8.0, xtol=1e-6)))
    return tuple(out)
