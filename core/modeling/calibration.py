"""Segment-aware calibration (spec §7.2): Platt and isotonic per AUM segment, fitted on rows the booster
never trained on, chosen per segment by Brier score on a held-out later half, then refitted on all of the
segment's rows. Segments too small to calibrate alone use the pooled calibrator. Serialisable to JSON."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from core.modeling import metrics
from core.modeling.data import AUM_SEGMENTS

EPS = 1e-6


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _fit_platt(p, y) -> dict:
    lr = LogisticRegression(C=1e4, max_iter=1000, random_state=42).fit(_logit(p).reshape(-1, 1), y)
    return {"kind": "platt", "coef": float(lr.coef_[0, 0]), "intercept": float(lr.intercept_[0])}


def _fit_isotonic(p, y) -> dict:
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
    return {"kind": "isotonic", "x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def apply(cal: dict, p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if cal["kind"] == "platt":
        return 1 / (1 + np.exp(-(cal["coef"] * _logit(p) + cal["intercept"])))
    if cal["kind"] == "isotonic":
        return np.interp(p, cal["x"], cal["y"])
    return p


class SegmentCalibrator:
    """fit(raw, y, segments) -> self; transform(raw, segments) -> calibrated. Learned state ends in _."""

    def __init__(self, min_rows: int = 150, min_positives: int = 8):
        self.min_rows = min_rows
        self.min_positives = min_positives

    def _choose(self, p, y) -> tuple[dict, dict]:
        if len(set(y)) < 2:  # nothing to calibrate against: keep the scores as they are, and say so
            return {"kind": "identity"}, {"brier_platt_holdout": None, "brier_isotonic_holdout": None}
        half = len(p) // 2
        scores = {}
        if half >= 20 and 0 < y[:half].sum() < half and y[half:].sum() > 0:
            for fit in (_fit_platt, _fit_isotonic):
                cal = fit(p[:half], y[:half])
                scores[cal["kind"]] = metrics.brier(y[half:], apply(cal, p[half:]))
        kind = min(scores, key=scores.get) if scores else "platt"
        final = (_fit_isotonic if kind == "isotonic" else _fit_platt)(p, y)
        return final, {"brier_platt_holdout": scores.get("platt"), "brier_isotonic_holdout": scores.get("isotonic")}

    def fit(self, raw, y, segments) -> "SegmentCalibrator":
        raw, y, segments = np.asarray(raw, dtype=float), np.asarray(y).astype(int), np.asarray(segments)
        self.calibrators_, self.report_ = {}, []
        pooled, info = self._choose(raw, y)
        self.calibrators_["all"] = pooled
        self.report_.append({"segment": "all", "n": len(y), "positives": int(y.sum()), "chosen": pooled["kind"], **info})
        for seg in AUM_SEGMENTS:
            m = segments == seg
            n, pos = int(m.sum()), int(y[m].sum())
            if n >= self.min_rows and pos >= self.min_positives:
                cal, info = self._choose(raw[m], y[m])
                self.calibrators_[seg] = cal
                self.report_.append({"segment": seg, "n": n, "positives": pos, "chosen": cal["kind"], **info})
            else:
                self.report_.append({"segment": seg, "n": n, "positives": pos, "chosen": "pooled (too few rows)",
                                     "brier_platt_holdout": None, "brier_isotonic_holdout": None})
        return self

    def transform(self, raw, segments) -> np.ndarray:
        raw, segments = np.asarray(raw, dtype=float), np.asarray(segments)
        out = apply(self.calibrators_["all"], raw)
        for seg, cal in self.calibrators_.items():
            if seg != "all":
                m = segments == seg
                out[m] = apply(cal, raw[m])
        return np.clip(out, 0.0, 1.0)

    def to_dict(self) -> dict:
        return {"calibrators": self.calibrators_, "report": self.report_}

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentCalibrator":
        obj = cls()
        obj.calibrators_, obj.report_ = d["calibrators"], d.get("report", [])
        return obj
