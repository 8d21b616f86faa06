"""SMOTE vs scale_pos_weight under blocked time-series CV (spec §5.6) and the weighted decision of
§5.6.5: AUC-PR 40%, calibration error 25%, precision@10% 20%, stability across folds 15%."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.modeling import metrics
from core.modeling.boosting import IMBALANCE_CONFIGS, Imbalance, fit_booster
from core.modeling.data import Frame

WEIGHTS = {"auc_pr": 0.40, "calibration": 0.25, "precision_at_10pct": 0.20, "stability": 0.15}


def compare(frame: Frame, folds, configs: tuple[Imbalance, ...] = IMBALANCE_CONFIGS, progress=None) -> pd.DataFrame:
    rows = []
    for i, cfg in enumerate(configs):
        if progress:
            progress(i / len(configs), f"Imbalance comparison: {cfg.name}")
        per_fold = []
        for train_idx, val_idx in folds:
            tr, va = frame.rows(np.isin(np.arange(len(frame)), train_idx)), frame.rows(np.isin(np.arange(len(frame)), val_idx))
            fitted = fit_booster(tr.X, tr.y, {}, cfg)
            p = fitted.predict(va.X)
            at10 = metrics.top_k(va.y, p, share=0.10)
            per_fold.append({"auc_pr": metrics.auc_pr(va.y, p), "auc_roc": metrics.auc_roc(va.y, p),
                             "precision_at_10pct": at10["precision"], "recall_at_10pct": at10["recall"],
                             "ece": metrics.ece(va.y, p), "training_samples": fitted.training_samples,
                             "original_samples": len(tr), "seconds": fitted.seconds,
                             "n_val": len(va), "positives_val": va.positives})
        f = pd.DataFrame(per_fold)
        aps = f.auc_pr.dropna()
        rows.append({
            "config": cfg.name, "method": "SMOTE" if cfg.method == "smote" else "Pos_Weight", "setting": cfg.describe(),
            "auc_pr": aps.mean(), "auc_roc": f.auc_roc.mean(), "precision_at_10pct": f.precision_at_10pct.mean(),
            "recall_at_10pct": f.recall_at_10pct.mean(), "calibration_error": f.ece.mean(),
            "auc_pr_cov": float(aps.std(ddof=0) / aps.mean()) if len(aps) and aps.mean() else None,
            "training_samples": int(f.training_samples.mean()),
            "synthetic_samples": int((f.training_samples - f.original_samples).mean()),
            "train_seconds": round(float(f.seconds.sum()), 2), "folds": len(f),
            "n_val": int(f.n_val.sum()), "positives_val": int(f.positives_val.sum()),
        })
    return decide(pd.DataFrame(rows))


def _norm(s: pd.Series, higher_is_better: bool) -> pd.Series:
    s = s.astype(float)
    span = s.max() - s.min()
    if not span > 0:
        return pd.Series(1.0, index=s.index)  # a tie earns every config the full weight
    out = (s - s.min()) / span
    return out if higher_is_better else 1 - out


def decide(table: pd.DataFrame) -> pd.DataFrame:
    """Add the §5.6.5 weighted score (min-max normalised across configs) and mark the winner."""
    t = table.copy()
    t["score"] = (WEIGHTS["auc_pr"] * _norm(t.auc_pr, True)
                  + WEIGHTS["calibration"] * _norm(t.calibration_error, False)
                  + WEIGHTS["precision_at_10pct"] * _norm(t.precision_at_10pct, True)
                  + WEIGHTS["stability"] * _norm(t.auc_pr_cov.fillna(t.auc_pr_cov.max()), False))
    t["chosen"] = False
    t.loc[t.score.idxmax(), "chosen"] = True
    return t.sort_values("score", ascending=False).reset_index(drop=True)


def chosen(table: pd.DataFrame) -> Imbalance:
    name = table.loc[table.chosen, "config"].iloc[0]
    return next(c for c in IMBALANCE_CONFIGS if c.name == name)
