"""Categorical signal without a top-k cut: smoothed target encoding of every raw category column
(``cat_*`` in the feature matrix), fitted inside each training set.

scikit-learn's ``TargetEncoder`` does the fitting: on the rows a model trains on, each row's value is
cross-fitted (its level's rate learned from the *other* internal folds, shrunk towards the overall rate by
an empirical-Bayes weight), so a level seen only with its own positive labels cannot teach the model a
perfect feature; rows the model never trained on get the encoding learned from all training rows. A missing
value is a level of its own; a level not seen in training gets the overall training rate. The encoder is stored as plain
JSON (levels → values), never a pickle, and the same mapping scores every later lead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from core.features.catalog import is_categorical

MISSING = "__missing__"  # a missing category is a level of its own while fitting (rare levels share its fate)
SEED = 42


def categorical_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if is_categorical(c)]


def _text(col: pd.Series) -> np.ndarray:
    v = col.astype(object).to_numpy()
    return np.where(pd.isna(v), MISSING, v).astype(str)


class CategoryEncoder:
    """Target encoding of the ``cat_*`` columns of a feature frame; other columns pass through."""

    def __init__(self, columns: list[str] | None = None):
        self.columns = list(columns or [])
        self.mapping: dict[str, dict[str, float]] = {}
        self.default: float = 0.0

    def fit_transform(self, X: pd.DataFrame, y) -> pd.DataFrame:
        """Encode the training rows with cross-fitting (each row's level rate from other internal folds) and
        learn the full-data mapping used by :meth:`transform`."""
        self.columns = categorical_columns(X)
        if not self.columns:
            return X
        y = np.asarray(y).astype(int)
        codes, uniques = [], []
        for c in self.columns:
            k, u = pd.factorize(pd.Series(_text(X[c])))  # integer codes: sklearn's unique/sort on ints is fast
            codes.append(k)
            uniques.append(np.asarray(u, dtype=object))
        enc = TargetEncoder(target_type="binary", smooth="auto",
                            cv=StratifiedKFold(5, shuffle=True, random_state=SEED) if y.sum() >= 5 else 2)
        crossfit = enc.fit_transform(np.column_stack(codes), y)
        self.default = float(enc.target_mean_)
        self.mapping = {c: dict(zip(map(str, u[np.asarray(cats, dtype=int)]), map(float, vals)))
                        for c, u, cats, vals in zip(self.columns, uniques, enc.categories_, enc.encodings_)}
        out = X.copy()
        for j, c in enumerate(self.columns):
            out[c] = crossfit[:, j].astype(np.float32)
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.columns:
            return X
        out = X.copy()
        for c in self.columns:
            m = self.mapping[c]
            keys = _text(X[c]) if c in X else np.full(len(X), MISSING)
            lookup = np.append(np.fromiter(m.values(), dtype="float32", count=len(m)), np.float32(self.default))
            idx = pd.Index(list(m)).get_indexer(keys)  # -1 for a level not seen in training
            out[c] = lookup[np.where(idx < 0, len(m), idx)]
        return out

    def to_dict(self) -> dict:
        return {"columns": self.columns, "mapping": self.mapping, "default": self.default}

    @classmethod
    def from_dict(cls, d: dict | None) -> "CategoryEncoder":
        enc = cls()
        if d:
            enc.columns, enc.mapping, enc.default = list(d["columns"]), d["mapping"], float(d["default"])
        return enc


def numeric_view(X: pd.DataFrame) -> pd.DataFrame:
    """The numeric columns only (for models and statistics that take no categories)."""
    return X[[c for c in X.columns if not is_categorical(c)]]
