"""Fitting XGBoost under either imbalance strategy: SMOTE (imbalanced-learn, after median imputation
fitted on the training rows only) or ``scale_pos_weight`` (XGBoost's native missing-value handling)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb
from imblearn.over_sampling import SMOTE

from core.modeling.encoding import CategoryEncoder

SEED = 42
BASE_PARAMS = {"n_estimators": 200, "learning_rate": 0.1, "max_depth": 6, "tree_method": "hist",
               "n_jobs": 2, "random_state": SEED, "eval_metric": "aucpr", "verbosity": 0}


@dataclass(frozen=True)
class Imbalance:
    name: str
    method: str  # "smote" | "pos_weight"
    sampling_strategy: float | str = "auto"
    k_neighbors: int = 5
    pos_weight: float | None = None  # None = calculated: min(neg / pos, 10)

    def describe(self) -> str:
        if self.method == "smote":
            return f"SMOTE(sampling_strategy={self.sampling_strategy}, k_neighbors={self.k_neighbors})"
        return f"scale_pos_weight={'min(neg/pos, 10)' if self.pos_weight is None else self.pos_weight}"


IMBALANCE_CONFIGS = (  # spec §5.6.1 / §5.6.2
    Imbalance("smote_default", "smote"),
    Imbalance("smote_balanced", "smote", sampling_strategy=0.1),
    Imbalance("smote_conservative", "smote", sampling_strategy=0.05),
    Imbalance("smote_k_neighbors", "smote", k_neighbors=3),
    Imbalance("pos_weight_calculated", "pos_weight"),
    Imbalance("pos_weight_conservative", "pos_weight", pos_weight=3.0),
    Imbalance("pos_weight_moderate", "pos_weight", pos_weight=5.0),
    Imbalance("pos_weight_aggressive", "pos_weight", pos_weight=8.0),
)


def calculated_pos_weight(y) -> float:
    pos = max(int(np.sum(y)), 1)
    return float(min((len(y) - pos) / pos, 10.0))


@dataclass
class FittedBooster:
    model: xgb.XGBClassifier
    imbalance: Imbalance
    medians: dict[str, float] | None  # SMOTE only: imputation learned on the training rows
    training_samples: int
    seconds: float
    features: list[str] = field(default_factory=list)
    encoder: CategoryEncoder = field(default_factory=CategoryEncoder)

    @property
    def best_iteration(self) -> int:
        best = getattr(self.model, "best_iteration", None)
        return int(best) + 1 if best is not None else int(self.model.get_params()["n_estimators"])

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        X = self.encoder.transform(X[self.features])
        return X.fillna(self.medians) if self.medians is not None else X

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self.prepare(X))[:, 1]


ES_SHARE = "early_stop_share"  # a params key: pick the number of trees by early stopping on the newest rows


def fit_booster(X: pd.DataFrame, y, params: dict, imbalance: Imbalance,
                eval_set: tuple[pd.DataFrame, np.ndarray] | None = None, early_stopping: int = 20) -> FittedBooster:
    """Fit one booster. Raw categories (``cat_*``) are target-encoded on these rows first (cross-fitted,
    see core/modeling/encoding.py). With ``params["early_stop_share"] = s`` the number of trees is found by
    early stopping (patience 50) on the newest share ``s`` of the rows (rows arrive in time order), then the
    booster is refitted on every row with that many trees scaled by 1 / (1 - s)."""
    if params.get(ES_SHARE):
        share = float(params[ES_SHARE])
        rest = {k: v for k, v in params.items() if k != ES_SHARE}
        cut = int(len(X) * (1 - share))
        y_arr = np.asarray(y).astype(int)
        if 0 < y_arr[:cut].sum() and 0 < y_arr[cut:].sum():
            probe = fit_booster(X.iloc[:cut], y_arr[:cut], rest, imbalance, eval_set=(X.iloc[cut:], y_arr[cut:]),
                                early_stopping=50)
            rest["n_estimators"] = max(int(round(probe.best_iteration / (1 - share))), 10)
        return fit_booster(X, y, rest, imbalance)
    started = time.perf_counter()
    y = np.asarray(y).astype(int)
    p = {**BASE_PARAMS, **params}
    medians = None
    encoder = CategoryEncoder()
    X = encoder.fit_transform(X, y)
    Xf, yf = X, y
    if imbalance.method == "smote":
        medians = {c: float(v) if pd.notna(v) else 0.0 for c, v in X.median().items()}
        Xf = X.fillna(medians)
        ratio = y.sum() / max(len(y) - y.sum(), 1)
        target = imbalance.sampling_strategy
        if y.sum() > imbalance.k_neighbors and (target == "auto" or ratio < float(target)):
            smote = SMOTE(random_state=SEED, sampling_strategy=target, k_neighbors=imbalance.k_neighbors)
            Xf, yf = smote.fit_resample(Xf, y)
    else:
        p["scale_pos_weight"] = imbalance.pos_weight if imbalance.pos_weight is not None else calculated_pos_weight(y)
    fit_kwargs = {"verbose": False}
    if eval_set is not None:
        Xe, ye = eval_set
        p["early_stopping_rounds"] = early_stopping
        Xe = encoder.transform(Xe[list(X.columns)])
        fit_kwargs["eval_set"] = [(Xe.fillna(medians) if medians is not None else Xe, np.asarray(ye).astype(int))]
    model = xgb.XGBClassifier(**p)
    model.fit(Xf, yf, **fit_kwargs)
    return FittedBooster(model, imbalance, medians, int(len(yf)), time.perf_counter() - started, list(X.columns),
                         encoder)
