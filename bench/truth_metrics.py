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


def learning_curve(fit, X, y, X_test, true_prob, fractions=(0.25, 0.5, 0.75, 1.0), repeats: int = 3,
                   draws: int = 300, seed: int = 42) -> list[dict]:
    """How close a model gets to the truth ranking as its training rows grow.

    For each fraction, ``fit(X_sub, y_sub)`` (returning an object with ``predict``) is trained on ``repeats``
    random subsets of that share of the rows (one, the full set, at 1.0) and each fitted ranking of
    ``X_test`` is scored against the truth ranking on the same ``draws`` outcomes redrawn from ``true_prob``.
    Returns, per fraction: rows, mean positives, the mean ratio to the ceiling and each repeat's ratio.
    """
    y = np.asarray(y)
    q = np.asarray(true_prob, dtype=float)
    ceiling = expected_auc_pr(q, {"c": q}, draws=draws, seed=seed)["c"]
    out = []
    for f in fractions:
        ratios, positives = [], []
        for r in range(repeats if f < 1 else 1):
            n = int(round(f * len(y)))
            idx = np.sort(np.random.default_rng(seed + r).choice(len(y), n, replace=False))
            p = fit(X.iloc[idx], y[idx]).predict(X_test)
            positives.append(int(y[idx].sum()))
            ratios.append(expected_auc_pr(q, {"m": p}, draws=draws, seed=seed)["m"] / ceiling)
        out.append({"fraction": f, "rows": n, "positives": float(np.mean(positives)), "ratio": float(np.mean(ratios)),
                    "ratios": [round(v, 4) for v in ratios]})
    return out


def positives_for(curve: list[dict], target: float) -> float | None:
    """Training positives at which a power law ``1 - ratio = a * positives^-b``, fitted to the curve, reaches
    ``target``; None when the gap does not shrink with more history."""
    x = np.log([c["positives"] for c in curve])
    g = np.log([max(1 - c["ratio"], 1e-6) for c in curve])
    slope, intercept = np.polyfit(x, g, 1)
    return float(np.exp((np.log(1 - target) - intercept) / slope)) if slope < 0 else None
