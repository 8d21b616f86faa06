"""Population stability index against *frozen* bins. A profile holds the bins fitted once on reference rows
(quantile edges plus a missing bin for numbers; top levels plus "other" plus missing for categories) and
the reference counts. Current values are counted in those same bins — never in bins re-fitted on them."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import chi2

PSI_FLOOR = 1e-4  # share given to an empty bin so the log stays finite (the usual convention)
N_BINS = 10
TOP_LEVELS = 20
OTHER, MISSING = "(other)", "(missing)"


def psi_terms(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Each bin's (c − r) · ln(c / r), shares floored at PSI_FLOOR; zeros when either side is empty."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.sum() == 0 or c.sum() == 0:
        return np.zeros(len(r))
    r = np.maximum(r / r.sum(), PSI_FLOOR)
    c = np.maximum(c / c.sum(), PSI_FLOOR)
    return (c - r) * np.log(c / r)


def psi_from_counts(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI = Σ (c − r) · ln(c / r) over bins (:func:`psi_terms`). 0 when either side is empty."""
    return float(np.sum(psi_terms(reference, current)))


def noise_level(n_reference: int, n_current: int, bins: int, q: float = 0.999) -> float:
    """The PSI that sampling noise alone exceeds with probability 1 − q when nothing moved: under no change
    PSI ≈ χ²(bins − 1) · (1/n_ref + 1/n_cur). A PSI below it is not evidence of drift, whatever its size."""
    if n_current <= 0 or n_reference <= 0 or bins < 2:
        return float("inf")
    return _chi2(q, bins - 1) * (1 / n_reference + 1 / n_current)


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def profile(values: pd.Series, n_bins: int = N_BINS, top: int = TOP_LEVELS) -> dict:
    """Bins and counts of the reference rows for one column."""
    if _is_numeric(values):
        v = pd.to_numeric(values, errors="coerce").astype(float)
        present = v.dropna().to_numpy()
        edges = (np.unique(np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])) if len(present) else np.array([]))
        prof = {"kind": "numeric", "edges": [float(e) for e in edges]}
    else:
        s = values.astype(object).where(values.notna(), None)
        return categorical_profile(s.dropna().astype(str).value_counts(), int(s.isna().sum()), top)
    prof["counts"] = counts_in(prof, values).tolist()
    prof["n"] = int(len(values))
    return prof


def categorical_profile(level_counts: pd.Series, missing: int, top: int = TOP_LEVELS) -> dict:
    """A categorical profile from counts per level (index: level text) and the count of missing values: what
    :func:`profile` builds from the values, so a warehouse can count the levels itself (``GROUP BY``) instead
    of sending every value. The top levels are the most frequent, ties broken by the level's text."""
    counts = level_counts[level_counts > 0]
    counts = pd.Series(counts.to_numpy(), index=counts.index.astype(str)).groupby(level=0).sum()
    order = sorted(counts.index, key=lambda lv: (-counts[lv], lv))
    levels = order[:top]
    return {"kind": "categorical", "levels": levels, "all_levels": sorted(order)[:5000],
            "counts": [float(counts[lv]) for lv in levels] + [float(counts[order[top:]].sum()), float(missing)],
            "n": int(counts.sum() + missing)}


def bin_index(prof: dict, values: pd.Series) -> np.ndarray:
    """Each value's bin in the profile's own bins (0 … k − 1; k = missing)."""
    if prof["kind"] == "numeric":
        v = values.to_numpy(dtype=float) if isinstance(values, pd.Series) and pd.api.types.is_float_dtype(values.dtype) \
            else pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
        edges = np.asarray(prof["edges"], dtype=float)
        idx = np.searchsorted(edges, v, side="right") if len(edges) else np.zeros(len(v), dtype=int)
        return np.where(np.isnan(v), len(edges) + 1, idx)
    levels = prof["levels"]
    pos = {lv: i for i, lv in enumerate(levels)}
    # Each distinct value's bin once (its text, as the reference counted it), then a lookup per row; a missing
    # value (code -1) takes the last entry: the missing bin.
    codes, uniques = pd.factorize(pd.Series(values).astype(object))
    lut = np.array([pos.get(str(u), len(levels)) for u in uniques] + [len(levels) + 1], dtype=int)
    return lut[codes]


def n_bins(prof: dict) -> int:
    return (len(prof["edges"]) + 2) if prof["kind"] == "numeric" else (len(prof["levels"]) + 2)


def counts_in(prof: dict, values: pd.Series) -> np.ndarray:
    """Counts of ``values`` in the profile's own bins (last bin: missing)."""
    return np.bincount(bin_index(prof, values), minlength=n_bins(prof)).astype(float)


@lru_cache(maxsize=256)
def _chi2(q: float, dof: int) -> float:
    return float(chi2.ppf(q, dof))


def counts_of_levels(prof: dict, level_counts: pd.Series, missing: int) -> np.ndarray:
    """Counts in a categorical profile's bins from counts per level (index: level text) and the missing count:
    what :func:`counts_in` gives from the values themselves."""
    pos = {lv: i for i, lv in enumerate(prof["levels"])}
    out = np.zeros(n_bins(prof))
    for level, n in level_counts.items():
        out[pos.get(str(level), len(pos))] += n
    out[-1] += missing
    return out


def psi_by_group(prof: dict, values: pd.Series, codes: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSI, noise level and row count of each group (``codes`` 0 … groups − 1) in one pass over the values."""
    k = n_bins(prof)
    cur = np.bincount(codes * k + bin_index(prof, values), minlength=groups * k).reshape(groups, k).astype(float)
    return psi_of_counts(prof, cur)


def psi_of_counts(prof: dict, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSI, noise level and row count of each row of ``cur`` (groups × the profile's bins)."""
    ref = np.asarray(prof["counts"], dtype=float)
    n = cur.sum(axis=1)
    r = np.maximum(ref / max(ref.sum(), 1), PSI_FLOOR)
    c = np.maximum(cur / np.maximum(n, 1)[:, None], PSI_FLOOR)
    psi = np.where((n > 0) & (ref.sum() > 0), ((c - r) * np.log(c / r)).sum(axis=1), 0.0)
    used = ((ref > 0)[None, :] | (cur > 0)).sum(axis=1)
    noise = np.array([_chi2(0.999, int(u) - 1) * (1 / ref.sum() + 1 / m) if m > 0 and u >= 2 and ref.sum() > 0
                      else np.inf for u, m in zip(used, n)])
    spread = prof.get("spread") or {}
    if spread.get("mean") is not None:
        noise = np.maximum(noise, spread["mean"] + 3 * spread["sd"])
    return psi, noise, n


def bin_labels(prof: dict) -> list[str]:
    if prof["kind"] == "numeric":
        e = prof["edges"]
        if not e:
            return ["all values", MISSING]
        lab = [f"≤ {e[0]:,.4g}"] + [f"{a:,.4g} – {b:,.4g}" for a, b in zip(e[:-1], e[1:])] + [f"> {e[-1]:,.4g}"]
        return lab + [MISSING]
    return list(prof["levels"]) + [OTHER, MISSING]


def psi_against(prof: dict, values: pd.Series) -> tuple[float, float]:
    """(PSI of ``values`` against the frozen profile, the level noise alone reaches): the larger of the χ²
    bound for these sample sizes and, when the reference has monthly chunks, their mean PSI + 3 sd."""
    cur = counts_in(prof, values)
    ref = np.asarray(prof["counts"], dtype=float)
    used = int(((ref > 0) | (cur > 0)).sum())
    noise = noise_level(int(ref.sum()), int(cur.sum()), used)
    spread = prof.get("spread") or {}
    if spread.get("mean") is not None:
        noise = max(noise, spread["mean"] + 3 * spread["sd"])
    return psi_from_counts(ref, cur), noise
