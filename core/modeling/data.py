"""The training data in time order: temporal train/test split with a gap, and blocked time-series CV."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.features.build import META_COLUMNS
from core.features.catalog import is_categorical

GAP = pd.Timedelta(days=30)

AUM_SEGMENTS = ("<$100M", "$100–500M", ">$500M", "unknown")


def aum_segment(aum: pd.Series) -> np.ndarray:
    a = pd.to_numeric(aum, errors="coerce")
    return np.select([a < 100, a <= 500, a > 500], AUM_SEGMENTS[:3], AUM_SEGMENTS[3])


@dataclass
class Frame:
    X: pd.DataFrame
    y: np.ndarray
    t: pd.Series  # contacted_at
    ids: pd.Series

    def rows(self, mask) -> "Frame":
        mask = np.asarray(mask)
        return Frame(self.X[mask].reset_index(drop=True), self.y[mask], self.t[mask].reset_index(drop=True),
                     self.ids[mask].reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(self.y.sum())


def model_inputs(df: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Feature columns as models take them: numbers as float32, raw categories (``cat_*``) as text with
    None for missing (a column the frame lacks is all missing)."""
    out = {}
    for c in features:
        col = df[c] if c in df else pd.Series(None, index=df.index, dtype=object)
        if is_categorical(c):
            v = col.astype(object)
            out[c] = v.where(v.notna(), None)
        elif col.dtype.kind in "fiub" and not isinstance(col.dtype, pd.api.extensions.ExtensionDtype):
            # a numpy number column converts directly (to_numeric and astype cost ~100 µs a column: half the
            # time of a 2,000-row batch of ~140 features)
            out[c] = col.to_numpy(dtype=np.float32)
        else:
            # np.float32, not "float32": a dtype given as text is looked up in pandas' extension registry on
            # every call (~80 µs; 0.06 s over a few hundred columns on each explained batch)
            out[c] = pd.to_numeric(col, errors="coerce").astype(np.float32)
    return pd.DataFrame(out, index=df.index)


def frame_from(df: pd.DataFrame, features: list[str] | None = None) -> Frame:
    df = df.sort_values(["contacted_at", "lead_id"]).reset_index(drop=True)
    features = features or [c for c in df.columns if c not in META_COLUMNS]
    X = model_inputs(df, features)
    y = df["label"].astype(int).to_numpy() if "label" in df else np.zeros(len(df), dtype=int)
    return Frame(X, y, pd.to_datetime(df["contacted_at"], utc=True), df["lead_id"])


def time_split(frame: Frame, share: float, gap: pd.Timedelta = GAP) -> tuple[Frame, Frame]:
    """Older rows -> first part, the newest ``share`` -> second part; rows in the gap before it are dropped."""
    cut = frame.t.iloc[int(len(frame) * (1 - share))] if len(frame) else None
    if cut is None:
        return frame, frame.rows(np.zeros(0, dtype=bool))
    return frame.rows(frame.t < cut - gap), frame.rows(frame.t >= cut)


def blocked_folds(t: pd.Series, k: int = 5, gap: pd.Timedelta = GAP, val_share: float = 0.5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds: the newest ``val_share`` of the period is cut into k time blocks; fold i
    validates on block i and trains on every row that ends more than ``gap`` before the block starts.
    No validation row precedes a training row, and every fold trains on at least half the history."""
    n = len(t)
    first = int(n * (1 - val_share))
    bounds = np.linspace(first, n, k + 1).astype(int)
    folds = []
    for i in range(k):
        val = np.arange(bounds[i], bounds[i + 1])
        if len(val) == 0:
            continue
        start = t.iloc[bounds[i]]
        train = np.where((np.arange(n) < bounds[i]) & (t < start - gap).to_numpy())[0]
        if len(train):
            folds.append((train, val))
    return folds
