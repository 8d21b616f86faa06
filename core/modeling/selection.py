"""Feature pre-filters (spec §6.2): information value < 0.02 and variance inflation > 10 are removed,
except business-critical discovery metrics, which are kept by rule and reported as such."""

from __future__ import annotations

import numpy as np
import pandas as pd

IV_MIN = 0.02
VIF_MAX = 10.0
BUSINESS_CRITICAL = (  # spec §6.2 "always include key discovery metrics (AUM, Growth, HNW ratio)"
    "TotalAssetsInMillions", "AUM_Growth_Rate_1Year", "AUM_Growth_Rate_5Year", "HNW_Client_Ratio",
)


def information_value(x: pd.Series, y: np.ndarray, bins: int = 10) -> float:
    """IV with quantile bins (missing values as their own bin) and 0.5 smoothing of empty cells."""
    x = pd.to_numeric(x, errors="coerce")
    y = np.asarray(y).astype(int)
    pos, neg = y.sum(), len(y) - y.sum()
    if pos == 0 or neg == 0:
        return 0.0
    codes = pd.Series(-1, index=x.index)
    present = x.notna()
    if present.any():
        uniq = x[present].nunique()
        if uniq <= bins:
            codes[present] = pd.factorize(x[present], sort=True)[0]
        else:
            codes[present] = pd.qcut(x[present], bins, labels=False, duplicates="drop")
    table = pd.crosstab(codes, y).reindex(columns=[0, 1], fill_value=0)
    dist_pos = (table[1] + 0.5) / (pos + 0.5 * len(table))
    dist_neg = (table[0] + 0.5) / (neg + 0.5 * len(table))
    return float(((dist_pos - dist_neg) * np.log(dist_pos / dist_neg)).sum())


def vif_table(X: pd.DataFrame) -> pd.Series:
    """VIF of every column: the diagonal of the inverse correlation matrix (median-imputed data). This
    equals 1 / (1 - R²) of each column regressed on the others, as statsmodels computes it."""
    Z = X.fillna(X.median()).astype(float)
    Z = Z.loc[:, Z.std() > 0]
    corr = np.corrcoef(Z.to_numpy(dtype=float), rowvar=False)
    try:
        diag = np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:  # exact collinearity: those columns have infinite VIF
        diag = np.diag(np.linalg.pinv(corr)).copy()
        dup = (np.abs(corr - np.eye(len(corr))) > 1 - 1e-9).any(axis=0)
        diag[dup] = np.inf
    return pd.Series(np.where(diag < 0, np.inf, diag), index=Z.columns)


def select_features(X: pd.DataFrame, y: np.ndarray, keep: tuple[str, ...] = BUSINESS_CRITICAL) -> dict:
    """Return {selected, removed: [{feature, reason, value}], kept_by_rule: [...], iv: {...}}."""
    removed, kept_by_rule = [], []
    iv = {c: information_value(X[c], y) for c in X.columns}
    candidates = []
    for c in X.columns:
        if X[c].nunique(dropna=True) <= 1:
            removed.append({"feature": c, "reason": "constant", "value": None})
        elif iv[c] < IV_MIN:
            if c in keep:
                kept_by_rule.append({"feature": c, "reason": f"IV {iv[c]:.4f} < {IV_MIN}", "value": iv[c]})
                candidates.append(c)
            else:
                removed.append({"feature": c, "reason": f"IV < {IV_MIN}", "value": round(iv[c], 5)})
        else:
            candidates.append(c)
    continuous = [c for c in candidates if X[c].nunique(dropna=True) > 2]
    while len(continuous) > 1:
        vifs = vif_table(X[continuous])
        vifs = vifs.drop([c for c in keep if c in vifs.index], errors="ignore")
        if vifs.empty or vifs.max() <= VIF_MAX:
            break
        worst = vifs.idxmax()
        removed.append({"feature": worst, "reason": f"VIF > {VIF_MAX:g}", "value": round(float(vifs.max()), 2)})
        continuous.remove(worst)
        candidates.remove(worst)
    for c in keep:
        if c in continuous and c in X.columns:
            v = vif_table(X[continuous]).get(c)
            if v is not None and v > VIF_MAX:
                kept_by_rule.append({"feature": c, "reason": f"VIF {v:.1f} > {VIF_MAX:g}", "value": float(v)})
    return {"selected": candidates, "removed": removed, "kept_by_rule": kept_by_rule,
            "iv": {k: round(v, 5) for k, v in iv.items()}}


def permutation_pruning(X: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], fit, keep: tuple[str, ...] = BUSINESS_CRITICAL,
                        n_repeats: int = 3, progress=None) -> dict:
    """Which features a model actually uses on rows it did not train on.

    In each time-ordered fold ``fit(X_train, y_train)`` is fitted and every feature is shuffled in turn on the
    fold's validation block (scikit-learn's ``permutation_importance``; the drop in log-loss is the
    importance). A feature is kept when its mean importance across folds exceeds its standard error (t > 1),
    or when it is business-critical (kept by rule, and said so).

    ``kept_before[i]`` is the same rule applied to the folds before ``i`` only (all features for the first
    fold, which has no earlier evidence): the feature list that scores fold ``i`` during model choice was
    chosen from rows older than fold ``i``, as if pruning had run back then, so it cannot flatter the pruned
    model on the rows that judge it.
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import log_loss

    progress = progress or (lambda f, m: None)

    def neg_log_loss(est, Xv, yv):
        return -log_loss(yv, est.predict_proba(Xv)[:, 1], labels=[0, 1])

    imps = []
    for i, (tr, va) in enumerate(folds):
        model = fit(X.iloc[tr], y[tr])
        r = permutation_importance(model, X.iloc[va], y[va], scoring=neg_log_loss, n_repeats=n_repeats,
                                   random_state=42, n_jobs=1)
        imps.append(r.importances_mean)
        progress((i + 1) / len(folds), f"Permutation importance, fold {i + 1} of {len(folds)}")
    table = pd.DataFrame(np.array(imps).T, index=list(X.columns))

    def mean_se(cols) -> tuple[pd.Series, pd.Series]:
        sub = table[cols]
        se = sub.std(axis=1, ddof=1) / np.sqrt(len(cols)) if len(cols) > 1 else pd.Series(0.0, index=sub.index)
        return sub.mean(axis=1), se

    def rule(cols) -> list[str]:
        mean, se = mean_se(cols)
        return [c for c in X.columns if mean[c] > se[c] or c in keep]

    k = len(folds)
    kept = rule(list(range(k)))
    mean, se = mean_se(list(range(k)))
    rows = [{"feature": c, "mean_importance": float(mean[c]), "se": float(se[c]), "kept": c in kept,
             "by_rule": c in keep and not mean[c] > se[c]} for c in X.columns]
    rows.sort(key=lambda r: -r["mean_importance"])
    return {"kept": kept, "kept_before": [list(X.columns) if i == 0 else rule(list(range(i))) for i in range(k)],
            "table": rows, "n_repeats": n_repeats, "folds": k}
