"""Benchmark-only measures that need each lead's true probability — the demo truth file, which the engine
never reads (tests/test_demo.py guards core/ against it)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score


def _ok(y) -> bool:
    y = np.asarray(y)
    return len(y) > 0 and 0 < y.sum() < len(y)


def expected_auc_pr(true_prob, scores: dict, draws: int = 500, seed: int = 42) -> dict:
    """Mean AUC-PR of each ranking in ``scores`` over outcomes redrawn from ``true_prob`` (Bernoulli per row).

    Only for simulated data, where each lead's true probability is known: one realised set of labels on a few
    hundred positives moves AUC-PR by several points, which hides differences between rankings. Averaging
    over ``draws`` fresh outcomes of the same leads measures the ranking itself, not the luck of one draw.
    Every ranking sees the same draws (paired). Returns name -> mean AUC-PR.
    """
    q = np.asarray(true_prob, dtype=float)
    rng = np.random.default_rng(seed)
    totals = {name: 0.0 for name in scores}
    used = 0
    for _ in range(draws):
        y = rng.random(len(q)) < q
        if not _ok(y):
            continue
        used += 1
        for name, p in scores.items():
            totals[name] += average_precision_score(y, p)
    return {name: (total / used if used else None) for name, total in totals.items()}


def paired_bootstrap_ratio(y, p, q, resamples: int = 1000, seed: int = 42) -> tuple[float, float, float]:
    """Median and 90% interval of AUC-PR(p) / AUC-PR(q) over bootstrap resamples of the same rows."""
    y, p, q = np.asarray(y).astype(int), np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        if _ok(y[i]):
            ratios.append(average_precision_score(y[i], p[i]) / average_precision_score(y[i], q[i]))
    lo, mid, hi = np.percentile(ratios, [5, 50, 95])
    return float(mid), float(lo), float(hi)
