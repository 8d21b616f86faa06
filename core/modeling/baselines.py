"""Baselines every model is compared with on the same test leads: the spec's SQL heuristic (§10.1), a
regularised logistic regression, and an untuned gradient-boosting default."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from core.modeling.boosting import SEED


def heuristic_rule(X: pd.DataFrame) -> np.ndarray:
    """The spec's CASE on AUM and 1-year growth (missing values fall through, as in SQL)."""
    aum = X["TotalAssetsInMillions"].to_numpy(dtype=float)
    g1 = X["AUM_Growth_Rate_1Year"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return np.select([(aum > 500) & (g1 > 10), (aum > 100) & (g1 > 5), aum > 50], [0.25, 0.15, 0.10], 0.05)


class LogisticBaseline:
    """Median imputation + standardisation + L2 logistic regression (C=0.1), all fitted on training rows."""

    def __init__(self, C: float = 0.1):
        self.C = C

    def fit(self, X: pd.DataFrame, y) -> "LogisticBaseline":
        self.features_ = list(X.columns)
        usable = [c for c in X.columns if X[c].notna().any()]
        self.usable_ = usable
        self.pipeline_ = Pipeline([
            ("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
            ("model", LogisticRegression(C=self.C, max_iter=3000, random_state=SEED)),
        ]).fit(X[usable], np.asarray(y).astype(int))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.predict_proba(X[self.usable_])[:, 1]

    def to_dict(self) -> dict:
        imp, sc, lr = (self.pipeline_.named_steps[k] for k in ("impute", "scale", "model"))
        return {"features": self.usable_, "medians": imp.statistics_.tolist(), "mean": sc.mean_.tolist(),
                "scale": sc.scale_.tolist(), "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}


def logistic_from_dict(d: dict):
    """Scoring function for a stored logistic model (no pickles)."""
    med, mean, scale = (np.asarray(d[k]) for k in ("medians", "mean", "scale"))
    coef, intercept = np.asarray(d["coef"]), d["intercept"]

    def predict(X: pd.DataFrame) -> np.ndarray:
        Z = X[d["features"]].to_numpy(dtype=float)
        Z = np.where(np.isnan(Z), med, Z)
        return 1 / (1 + np.exp(-(((Z - mean) / scale) @ coef + intercept)))
    return predict


def logistic_contributions(d: dict, X: pd.DataFrame) -> np.ndarray:
    """Exact per-feature contributions of a stored logistic model: coefficient x standardised value
    (median-imputed), columns in ``d["features"]`` order."""
    Z = X[d["features"]].to_numpy(dtype=float)
    Z = np.where(np.isnan(Z), np.asarray(d["medians"]), Z)
    return (Z - np.asarray(d["mean"])) / np.asarray(d["scale"]) * np.asarray(d["coef"])


def untuned_boosting(X: pd.DataFrame, y) -> xgb.XGBClassifier:
    return xgb.XGBClassifier(random_state=SEED, n_jobs=2, tree_method="hist", verbosity=0).fit(X, np.asarray(y).astype(int))
