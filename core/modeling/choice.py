"""Choosing a model with its noise in view.

With ~1,000 positives, the difference in AUC-PR between two reasonable contenders on rows neither trained
on is often smaller than what a different draw of those same rows would produce. Picking the highest
number then picks noise, and the noise favours whichever contender can fit more shapes. The rule here is
the one-standard-error rule (Breiman et al., *Classification and Regression Trees*, 1984; Hastie,
Tibshirani & Friedman, *ESL* §7.10): contenders are listed from simplest to most complex; the paired
bootstrap of the pooled unseen rows gives, for each contender, the standard error of its difference to the
best; the simplest contender whose AUC-PR is within one standard error of the best is chosen.
"""

from __future__ import annotations

import numpy as np

from core.modeling.metrics import auc_pr, bootstrap_auc_pr


def one_se_choice(y, scores: dict[str, np.ndarray], complexity: dict[str, int], resamples: int = 200,
                  seed: int = 42) -> dict:
    """``scores``: contender → scores of the same unseen rows ``y``. ``complexity``: lower is simpler.

    Returns {"chosen", "best", "rows": [{model, auc_pr, diff_to_best, se_diff, within_one_se, complexity}]}
    with rows in complexity order.
    """
    names = sorted(scores, key=lambda n: (complexity[n], n))
    y = np.asarray(y).astype(int)
    point = {n: auc_pr(y, scores[n]) or 0.0 for n in names}
    best = max(names, key=lambda n: (point[n], -complexity[n]))
    boot = bootstrap_auc_pr(y, *[scores[n] for n in names], resamples=resamples, seed=seed)
    b = names.index(best)
    rows = []
    for j, n in enumerate(names):
        diff = boot[:, j] - boot[:, b] if len(boot) > 1 else np.zeros(1)
        se = float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
        rows.append({"model": n, "auc_pr": round(point[n], 4), "diff_to_best": round(point[n] - point[best], 4),
                     "se_diff": round(se, 4), "within_one_se": bool(point[n] >= point[best] - se),
                     "complexity": complexity[n]})
    chosen = next(r["model"] for r in rows if r["within_one_se"])
    return {"chosen": chosen, "best": best, "rows": rows, "resamples": int(len(boot))}
