"""Ranking and calibration metrics, each reported with the sample it was measured on."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def _ok(y) -> bool:
    y = np.asarray(y)
    return len(y) > 0 and 0 < y.sum() < len(y)


def auc_pr(y, p) -> float | None:
    return average_precision(y, p) if _ok(y) else None


def average_precision(y, p) -> float:
    """scikit-learn's ``average_precision_score`` for 0/1 labels, the same operations in the same order (equal to
    the bit; tests/test_modeling.py), without its input validation — which cost more than the measure itself in
    the bootstraps and the weekly cohorts. Scores with NaN go to scikit-learn (which refuses them)."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    if len(y) != len(p) or np.isnan(p).any() or not np.isin(y, (0, 1)).all():
        return float(average_precision_score(y, p))
    order = np.argsort(p, kind="mergesort")[::-1]  # sklearn's _binary_clf_curve
    p, y = p[order], (y[order] == 1)
    ends = np.r_[np.where(np.diff(p))[0], y.size - 1]
    tps = np.cumsum(y * 1.0, dtype=np.float64)[ends]
    fps = 1 + ends - tps
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=(ps != 0))
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    precision, recall = np.hstack((precision[::-1], 1)), np.hstack((recall[::-1], 0))
    return float(-np.sum(np.diff(recall) * np.array(precision)[:-1]))


def auc_roc(y, p) -> float | None:
    return float(roc_auc_score(y, p)) if _ok(y) else None


def top_k(y, p, share: float | None = None, k: int | None = None) -> dict:
    """Precision and recall among the top ``k`` (or top ``share``) by score; ties broken by order."""
    y, p = np.asarray(y), np.asarray(p)
    n = len(y)
    k = int(k if k is not None else max(1, round(n * share)))
    k = max(1, min(k, n))
    order = np.argsort(-p, kind="stable")[:k]
    hits = int(y[order].sum())
    return {"k": k, "precision": hits / k, "recall": hits / y.sum() if y.sum() else None, "hits": hits}


def lift_by_decile(y, p) -> list[dict]:
    y, p = np.asarray(y), np.asarray(p)
    base = y.mean() if len(y) else 0
    order = np.argsort(-p, kind="stable")
    out = []
    for d, idx in enumerate(np.array_split(order, 10), start=1):
        rate = float(y[idx].mean()) if len(idx) else 0.0
        out.append({"decile": d, "n": int(len(idx)), "positives": int(y[idx].sum()), "rate": rate,
                    "lift": rate / base if base else None})
    return out


def ece(y, p, bins: int = 10) -> float | None:
    """Expected calibration error with equal-count bins (robust at a 4% base rate)."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0:
        return None
    order = np.argsort(p, kind="stable")
    total = 0.0
    for idx in np.array_split(order, min(bins, len(y))):
        if len(idx):
            total += len(idx) * abs(p[idx].mean() - y[idx].mean())
    return float(total / len(y))


def reliability(y, p, bins: int = 10) -> list[dict]:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    return [{"bin": i + 1, "n": int(len(idx)), "mean_predicted": float(p[idx].mean()), "observed_rate": float(y[idx].mean())}
            for i, idx in enumerate(np.array_split(order, min(bins, max(len(y), 1)))) if len(idx)]


def brier(y, p) -> float | None:
    return float(brier_score_loss(y, p)) if len(y) else None


def summary(y, p, capacity: int | None = None) -> dict:
    """Every headline metric, with n and positives."""
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    at10 = top_k(y, p, share=0.10)
    deciles = lift_by_decile(y, p)
    out = {
        "n": int(len(y)), "positives": int(y.sum()), "base_rate": float(y.mean()) if len(y) else None,
        "auc_pr": auc_pr(y, p), "auc_roc": auc_roc(y, p),
        "precision_at_10pct": at10["precision"], "recall_at_10pct": at10["recall"],
        "top_decile_lift": deciles[0]["lift"] if deciles else None,
        "brier": brier(y, p), "ece": ece(y, p), "lift_by_decile": deciles,
    }
    if capacity:
        at_cap = top_k(y, p, k=capacity)
        out.update(capacity=at_cap["k"], precision_at_capacity=at_cap["precision"], recall_at_capacity=at_cap["recall"])
    return out



def bootstrap_auc_pr(y, *scores, resamples: int = 200, seed: int = 42,
                     rng: np.random.Generator | None = None) -> np.ndarray:
    """AUC-PR of each ranking in ``scores`` on the same bootstrap resamples of the rows (paired); one row
    per resample that has both classes, one column per ranking. ``rng`` (else one seeded by ``seed``)."""
    y = np.asarray(y).astype(int)
    scores = [np.asarray(p, dtype=float) for p in scores]
    rng = rng if rng is not None else np.random.default_rng(seed)
    out = []
    for _ in range(resamples):
        i = rng.integers(0, len(y), len(y))
        if _ok(y[i]):
            out.append([average_precision(y[i], p[i]) for p in scores])
    return np.array(out).reshape(-1, len(scores))


def sampling_cov(folds: list[tuple[np.ndarray, np.ndarray]], resamples: int = 200, seed: int = 42) -> float | None:
    """The coefficient of variation of fold AUC-PRs that sampling noise alone would produce.

    ``folds`` holds each CV fold's (labels, scores). Each fold's validation rows are bootstrapped to get the
    standard deviation of its AUC-PR; sqrt(mean variance) / mean AUC-PR is the CoV a model of perfectly
    stable quality would still show with this many positives per fold. Next to the observed CoV it tells
    whether a failed stability gate is evidence of instability or the size of the folds.
    """
    rng = np.random.default_rng(seed)
    aps, variances = [], []
    for y, p in folds:
        if (ap := auc_pr(y, p)) is None:
            continue
        aps.append(ap)
        draws = bootstrap_auc_pr(y, p, resamples=resamples, rng=rng)[:, 0]
        variances.append(np.var(draws, ddof=1) if len(draws) > 1 else 0.0)
    if len(aps) < 2 or not np.mean(aps):
        return None
    return float(np.sqrt(np.mean(variances)) / np.mean(aps))
