"""Segment-aware calibration (spec §7.2): Platt and isotonic per AUM segment, fitted on rows the booster
never trained on, chosen per segment by two-way hold-out Brier score against the pooled calibrator (a
segment's own curve only when it wins by more than one standard error), then refitted on all of the
segment's rows. Segments too small to calibrate alone use the pooled calibrator. Serialisable to JSON."""

from __future__ import annotations

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

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


FITTERS = {"platt": _fit_platt, "isotonic": _fit_isotonic}


def _two_way_errors(raw, y, halves) -> dict[str, np.ndarray]:
    """Per-row squared error of each calibrator kind, every row in ``halves`` scored by a calibrator fitted on
    the other half (NaN outside the halves)."""
    err = {k: np.full(len(y), np.nan) for k in FITTERS}
    for a, b in ((halves[0], halves[1]), (halves[1], halves[0])):
        for kind, fit in FITTERS.items():
            err[kind][b] = (y[b] - apply(fit(raw[a], y[a]), raw[b])) ** 2
    return err


def _splittable(y, halves, min_rows: int = 20) -> bool:
    """Each half has enough rows and both outcomes, so a calibrator can be fitted on it and scored on the other."""
    return all(h.sum() >= min_rows and 0 < y[h].sum() < h.sum() for h in halves)


def _clearly_better(challenger: np.ndarray, incumbent: np.ndarray) -> bool:
    """One-standard-error rule on paired per-row squared errors: the more flexible calibrator must win by
    more than its own sampling error, not by a hair."""
    d = challenger - incumbent
    return len(d) > 1 and d.mean() + d.std(ddof=1) / np.sqrt(len(d)) < 0


class SegmentCalibrator:
    """fit(raw, y, segments) -> self; transform(raw, segments) -> calibrated. Learned state ends in _.

    A pooled calibrator (Platt, or isotonic when it wins clearly) is fitted on every row. Each AUM segment
    with enough rows then chooses, by two-way hold-out Brier score, from the simplest up: the pooled
    calibrator; its own Platt curve, if clearly better; its own isotonic steps, if clearly better again.
    Each half of the rows (in time order) is scored by calibrators fitted on the other half, so every row
    counts once. With ~100 positives a segment's own curve often only adds noise — it reorders leads across
    segments and flattens ranking inside isotonic steps — so it has to earn its place.
    """

    def __init__(self, min_rows: int = 150, min_positives: int = 8):
        self.min_rows = min_rows
        self.min_positives = min_positives

    def fit(self, raw, y, segments) -> "SegmentCalibrator":
        raw, y, segments = np.asarray(raw, dtype=float), np.asarray(y).astype(int), np.asarray(segments)
        self.calibrators_, self.report_ = {}, []
        n = len(y)
        if len(set(y)) < 2:  # nothing to calibrate against: keep the scores as they are, and say so
            self.calibrators_["all"] = {"kind": "identity"}
            self.report_.append({"segment": "all", "n": n, "positives": int(y.sum()), "chosen": "identity",
                                 "brier_platt_holdout": None, "brier_isotonic_holdout": None})
            return self
        half = n // 2
        halves = [(np.arange(n) < half), (np.arange(n) >= half)]
        # Out-of-half predictions of each candidate: pooled Platt / isotonic, and per segment.
        usable = _splittable(y, halves)
        err = _two_way_errors(raw, y, halves) if usable else {k: np.full(n, np.nan) for k in FITTERS}
        pooled_kind = "isotonic" if usable and _clearly_better(err["isotonic"], err["platt"]) else "platt"
        self.calibrators_["all"] = FITTERS[pooled_kind](raw, y)
        self.report_.append({"segment": "all", "n": n, "positives": int(y.sum()), "chosen": pooled_kind,
                             "brier_pooled_holdout": float(err[pooled_kind].mean()) if usable else None,
                             "brier_platt_holdout": float(err["platt"].mean()) if usable else None,
                             "brier_isotonic_holdout": float(err["isotonic"].mean()) if usable else None})
        for seg in AUM_SEGMENTS:
            m = segments == seg
            nm, pos = int(m.sum()), int(y[m].sum())
            row = {"segment": seg, "n": nm, "positives": pos, "brier_pooled_holdout": None,
                   "brier_platt_holdout": None, "brier_isotonic_holdout": None}
            if nm < self.min_rows or pos < self.min_positives:
                self.report_.append({**row, "chosen": "pooled (too few rows)"})
                continue
            seg_halves = [m & h for h in halves]
            if not usable or not _splittable(y, seg_halves):
                self.report_.append({**row, "chosen": "pooled (too few rows in a hold-out half)"})
                continue
            own = _two_way_errors(raw, y, seg_halves)
            e_pool, e_platt, e_iso = err[pooled_kind][m], own["platt"][m], own["isotonic"][m]
            chosen, best = "pooled", e_pool
            if _clearly_better(e_platt, best):
                chosen, best = "platt", e_platt
            if _clearly_better(e_iso, best):
                chosen = "isotonic"
            if chosen != "pooled":
                self.calibrators_[seg] = FITTERS[chosen](raw[m], y[m])
            self.report_.append({**row, "chosen": chosen, "brier_pooled_holdout": float(e_pool.mean()),
                                 "brier_platt_holdout": float(e_platt.mean()), "brier_isotonic_holdout": float(e_iso.mean())})
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
