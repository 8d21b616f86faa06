"""Hyper-parameter search over the spec's grid (§6.4) by successive halving within a time budget.

Candidates are drawn from the grid with a fixed seed. Rung 0 scores every candidate on the newest fold,
rung 1 the best third on the 3 newest folds, rung 2 the best two on all folds. Each fit early-stops on
AUC-PR (patience 20) against the newest 15% of its own training rows, never against the fold it is
scored on. When the budget runs out the search stops and says where.
"""

from __future__ import annotations

import itertools
import random
import time

import numpy as np
import pandas as pd

from core.modeling import metrics
from core.modeling.boosting import SEED, Imbalance, fit_booster
from core.modeling.data import Frame, time_split

GRID = {  # spec §6.4 (scale_pos_weight comes from the imbalance decision)
    "max_depth": [4, 6, 8, 10],
    "learning_rate": [0.01, 0.03, 0.05],
    "min_child_weight": [1, 5, 10],
    "subsample": [0.6, 0.7, 0.8],
    "colsample_bytree": [0.4, 0.6, 0.8],
    "reg_alpha": [0, 0.1, 1.0],
    "reg_lambda": [1, 2, 5],
}
MAX_TREES = 400


def candidates(n: int, seed: int = SEED) -> list[dict]:
    keys = list(GRID)
    combos = list(itertools.product(*(GRID[k] for k in keys)))
    picked = random.Random(seed).sample(combos, min(n, len(combos)))
    return [dict(zip(keys, c)) for c in picked]


def score_on_folds(frame: Frame, folds, params: dict, imbalance: Imbalance) -> dict:
    aps, iters = [], []
    for train_idx, val_idx in folds:
        tr, va = frame.rows(np.isin(np.arange(len(frame)), train_idx)), frame.rows(np.isin(np.arange(len(frame)), val_idx))
        inner, stop = time_split(tr, 0.15, gap=pd.Timedelta(0))
        fitted = fit_booster(inner.X, inner.y, {**params, "n_estimators": MAX_TREES}, imbalance, eval_set=(stop.X, stop.y))
        aps.append(metrics.auc_pr(va.y, fitted.predict(va.X)) or 0.0)
        iters.append(fitted.best_iteration)
    return {"auc_pr": float(np.mean(aps)), "fold_auc_pr": aps, "best_iterations": iters}


def successive_halving(frame: Frame, folds, imbalance: Imbalance, budget_seconds: float, n_candidates: int = 24,
                       progress=None) -> dict:
    started = time.perf_counter()
    pool = candidates(n_candidates)
    rungs = [(folds[-1:], max(4, len(pool) // 3)), (folds[-3:], 2), (folds, 1)]
    history, stopped = [], None
    best = None
    for r, (rung_folds, keep) in enumerate(rungs):
        results = []
        for i, params in enumerate(pool):
            if time.perf_counter() - started > budget_seconds:
                stopped = f"budget of {budget_seconds:.0f} s reached in rung {r} after {i} of {len(pool)} candidates"
                break
            if progress:
                progress(i / max(len(pool), 1), f"Tuning rung {r + 1}/3: candidate {i + 1}/{len(pool)}")
            res = score_on_folds(frame, rung_folds, params, imbalance)
            results.append((res["auc_pr"], params, res))
            history.append({"rung": r, "folds": len(rung_folds), **params, "auc_pr": round(res["auc_pr"], 4),
                            "best_iterations": res["best_iterations"]})
        if results:
            results.sort(key=lambda x: -x[0])
            best = results[0]
            pool = [p for _, p, _ in results[:keep]]
        if stopped:
            break
    if best is None:  # not even one candidate fitted in the budget: fall back to the middle of the grid
        params = {"max_depth": 6, "learning_rate": 0.05, "min_child_weight": 5, "subsample": 0.8,
                  "colsample_bytree": 0.6, "reg_alpha": 0.1, "reg_lambda": 2}
        best = (None, params, {"best_iterations": [200]})
    n_trees = int(np.median(best[2]["best_iterations"]))
    return {"best_params": {**best[1], "n_estimators": max(n_trees, 20)}, "best_cv_auc_pr": best[0],
            "history": history, "candidates_drawn": n_candidates, "grid_size": int(np.prod([len(v) for v in GRID.values()])),
            "stopped": stopped, "seconds": round(time.perf_counter() - started, 1)}
