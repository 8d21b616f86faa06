"""Benchmark-only measures that need each lead's true probability — the demo truth file, which the engine
never reads (tests/test_demo.py guards core/ against it)."""

from __future__ import annotations

import numpy as np

from core.modeling.metrics import auc_pr, bootstrap_auc_pr


def expected_auc_pr(true_prob, scores: dict, draws: int = 500, seed: int = 42) -> dict:
    """Mean AUC-PR of each ranking in ``scores`` over outcomes redrawn from ``true_prob`` (Bernoulli per row).

    Only for simulated data, where each lead's true probability is known: one realised set of labels on a few
    hundred positives moves AUC-PR by several points, which hides differences between rankings. Averaging
    over ``draws`` fresh outcomes of the same leads measures the ranking itself, not the luck of one draw.
    Every ranking sees the same draws (paired). Returns name -> mean AUC-PR.
    """
    q = np.asarray(true_prob, dtype=float)
    rng = np.random.default_rng(seed)
    totals = {name: [] for name in scores}
    for _ in range(draws):
        y = rng.random(len(q)) < q
        for name, p in scores.items():
            if (ap := auc_pr(y, p)) is not None:
                totals[name].append(ap)
    return {name: (float(np.mean(v)) if v else None) for name, v in totals.items()}


def paired_bootstrap_ratio(y, p, q, resamples: int = 1000, seed: int = 42) -> tuple[float, float, float]:
    """Median and 90% interval of AUC-PR(p) / AUC-PR(q) over bootstrap resamples of the same rows."""
    both = bootstrap_auc_pr(y, p, q, resamples=resamples, seed=seed)
    lo, mid, hi = np.percentile(both[:, 0] / both[:, 1], [5, 50, 95])
    return float(mid), float(lo), float(hi)
