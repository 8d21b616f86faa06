"""Recalibration, spec §9.3 playbook step 3 ("recompute calibration with the last 30 days"): when a calibration
ALERT says the champion's probabilities no longer match what happens, but its ranking still holds, refit only its
per-AUM-segment calibrators (:class:`~core.modeling.calibration.SegmentCalibrator`) on the newest matured leads and
register the result as a new version of the same model — booster or logistic model, features, category levels and
CRM-only fallback unchanged — for the usual path: shadow it, or promote it (its training gates are the champion's).

Honest by construction: the matured leads of the window (contacted at most ``as_of − 30 days``, so every label is
known) are split in time order; calibrators fitted on the older half are judged on the newer half against the
champion's current calibration (Brier score, the proper scoring rule; ECE and predicted vs observed rates shown).
Only a calibration that beats the champion's on the held-out half is registered, refitted then on the whole window.
The new version's monitoring reference keeps the champion's feature profiles; its score profile is recounted on the
training period's leads with the new calibration, so score drift is not the recalibration itself."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS, latest_feature_set
from core.modeling import metrics
from core.modeling.calibration import SegmentCalibrator
from core.modeling.data import aum_segment, model_inputs
from core.modeling.registry import champion_row, load_model, read_meta, save_model
from core.monitoring.periods import ts_literal
from core.monitoring.reference import load_reference, save_reference, score_reference
from core.operation import audited
from core.scoring.score import discovery_missing_share
from core.warehouse import Warehouse

RECALIBRATION_DAYS = 30  # spec §9.3: "recompute calibration with last 30 days"
MIN_POSITIVES = 30  # fewer MQLs than this in the window: a refitted curve is mostly noise


@dataclass(frozen=True)
class Fit:
    """How well one calibration matches the held-out newer half of the window."""
    brier: float
    ece: float
    predicted: float  # mean predicted probability
    observed: float  # MQL rate


@dataclass(frozen=True)
class Recalibration:
    parent_id: str
    model_id: str | None  # the registered version; None when the champion's calibration held
    days: int
    contacted_from: str
    contacted_to: str
    leads: int
    positives: int
    held_out: int
    held_out_positives: int
    before: Fit  # the champion's calibration on the held-out half
    after: Fit  # calibrators fitted on the older half, on the held-out half
    by_segment: pd.DataFrame = field(repr=False)  # AUM segment: leads, MQLs, observed, predicted before and after
    seconds: float = 0.0

    @property
    def improved(self) -> bool:
        return self.after.brier < self.before.brier

    def sentence(self) -> str:
        window = (f"the {self.leads:,} matured leads contacted {self.contacted_from} to {self.contacted_to} "
                  f"({self.positives} MQLs)")
        judged = (f"On the newer half, held out ({self.held_out:,} leads, {self.held_out_positives} MQLs), the champion "
                  f"predicted {self.before.predicted:.1%} against {self.before.observed:.1%} observed; calibrators "
                  f"fitted on the older half predicted {self.after.predicted:.1%} (Brier {self.before.brier:.4f} → "
                  f"{self.after.brier:.4f}).")
        if self.model_id is None:
            return (f"The champion's calibration holds on {window}: {judged} Nothing was registered; retrain if the "
                    "ranking itself has degraded.")
        return (f"Recalibrated on {window}. {judged} Registered as {self.model_id}: shadow it beside the champion "
                f"(Monitoring → Shadow challenger) or promote it (`python -m core models promote {self.model_id}`, or "
                "Train & compare).")

    def to_json(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "by_segment"}
        out["improved"] = self.improved
        out["sentence"] = self.sentence()
        out["by_segment"] = json.loads(self.by_segment.to_json(orient="records"))
        return out

    def markdown(self) -> str:
        rows = ["| AUM segment | held-out leads | MQLs | observed | champion predicted | recalibrated predicted |",
                "|---|---:|---:|---:|---:|---:|"]
        rows += [f"| {r.segment} | {r.leads:,} | {r.mqls} | {r.observed:.1%} | {r.predicted_before:.1%} | "
                 f"{r.predicted_after:.1%} |" for r in self.by_segment.itertuples()]
        return self.sentence() + "\n\n" + "\n".join(rows)


def _fit(y: np.ndarray, p: np.ndarray) -> Fit:
    return Fit(round(float(metrics.brier(y, p)), 5), round(float(metrics.ece(y, p)), 5), round(float(p.mean()), 5),
               round(float(y.mean()), 5))


def _window_rows(wh: Warehouse, settings: Settings | None, days: int,
                 as_of: pd.Timestamp | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The window's matured leads, and its end: ``as_of`` or the live build's as-of less the label window."""
    if as_of is None:
        built = latest_feature_set(wh)
        if built is None:
            raise LeadScoringError("No features built yet: run `python -m core build-features` (or the daily pipeline).")
        as_of = pd.Timestamp(built.as_of)
        as_of = (as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of) - pd.Timedelta(days=settings.label_window_days)
    with wh.reader() as s:
        rows = s.query_model_plain("monitoring/recent_matured_leads.sql", days=int(days),
                                   as_of=ts_literal(as_of))
    return rows, as_of


def _wider(wh: Warehouse, model, as_of: pd.Timestamp) -> str:
    """What to try instead: the shortest window (in tens of days, up to a year) holding MIN_POSITIVES MQLs of leads
    the full model scores, or waiting when even a year holds too few."""
    rows, _ = _window_rows(wh, None, 365, as_of)
    if len(rows):
        _, full = _inputs(model, rows)
        t = pd.to_datetime(rows.contacted_at, utc=True)[full & (rows.label.astype(int).to_numpy() == 1)]
        if len(t) >= MIN_POSITIVES:
            # the window holds leads contacted after as_of − days: it must reach past the 30th newest MQL
            gap = (as_of - t.sort_values().iloc[-MIN_POSITIVES]) / pd.Timedelta(days=1)
            days = min(365, int(gap // 10) * 10 + 10)
            return (f"Widen the window to {days} days (the slider, or `--days {days}`): it holds {MIN_POSITIVES} MQLs. "
                    "Or wait for more leads to mature.")
    return f"Even the last 365 days hold fewer than {MIN_POSITIVES}: wait for more leads to mature."


def _model_inputs(model, rows: pd.DataFrame) -> pd.DataFrame | None:
    """The model's inputs from feature rows; None when the rows lack some of its features (built without its
    category levels)."""
    if not all(f in rows.columns for f in model.features):
        return None
    return model_inputs(rows, [c for c in rows.columns if c not in META_COLUMNS])


def _inputs(model, rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The model's inputs and which rows the full model scores (the others go to the CRM-only fallback, whose
    calibration is its own)."""
    X = _model_inputs(model, rows)
    if X is None:
        raise LeadScoringError("Today's features lack some of the champion's: they were built without its category "
                               "levels. Run the daily pipeline (it rebuilds them), then recalibrate.")
    full = ~(discovery_missing_share(X, model.features) > 0.5) if model.fallback else np.ones(len(X), dtype=bool)
    return X, np.asarray(full, dtype=bool)


def _by_segment(y, seg, before, after) -> pd.DataFrame:
    df = pd.DataFrame({"segment": seg, "y": y, "before": before, "after": after})
    g = df.groupby("segment", sort=True)
    return pd.DataFrame({"leads": g.y.size(), "mqls": g.y.sum().astype(int), "observed": g.y.mean(),
                         "predicted_before": g.before.mean(), "predicted_after": g.after.mean()}
                        ).reset_index().round({"observed": 5, "predicted_before": 5, "predicted_after": 5})


@audited("train_promote", "recalibrate_model")
def recalibrate(wh: Warehouse, settings: Settings, days: int = RECALIBRATION_DAYS,
                actor: Actor | None = None) -> Recalibration:
    """Refit the champion's calibrators on the matured leads of the last ``days`` days (see the module); register
    the recalibrated version when it beats the champion's calibration on the held-out newer half."""
    started = time.perf_counter()
    if not 7 <= int(days) <= 365:
        raise LeadScoringError(f"Recalibration window of {days} days: choose 7 to 365 days.")
    row = champion_row(wh)
    if row is None:
        raise LeadScoringError("No champion model yet, so there is nothing to recalibrate: train and promote one "
                               "(`python -m core train --promote`, or the Train & compare page).")
    model = load_model(row["artifact_dir"])
    rows, as_of = _window_rows(wh, settings, days)
    X, full = _inputs(model, rows)
    y = rows.label.astype(int).to_numpy()[full]
    if y.sum() < MIN_POSITIVES:
        raise LeadScoringError(
            f"Only {int(y.sum())} MQLs among the {len(y):,} matured leads contacted in the {days} days up to "
            f"{as_of:%d %b %Y}: a calibration refitted on fewer than {MIN_POSITIVES} would mostly fit noise. "
            + _wider(wh, model, as_of))
    contacted = pd.to_datetime(rows.contacted_at, utc=True)[full]
    Xf = X[full]
    raw, seg = model.predict_raw(Xf), np.asarray(aum_segment(Xf["TotalAssetsInMillions"]))
    current = model.predict(Xf)
    older, newer = np.arange(len(y)) < len(y) // 2, np.arange(len(y)) >= len(y) // 2
    trial = SegmentCalibrator().fit(raw[older], y[older], seg[older])
    after = trial.transform(raw[newer], seg[newer])
    out = Recalibration(row["model_id"], None, int(days), f"{contacted.min():%d %b %Y}", f"{contacted.max():%d %b %Y}",
                        int(len(y)), int(y.sum()), int(newer.sum()), int(y[newer].sum()),
                        _fit(y[newer], current[newer]), _fit(y[newer], after),
                        _by_segment(y[newer], seg[newer], current[newer], after))
    if out.improved:
        out = _register(wh, settings, model, row, SegmentCalibrator().fit(raw, y, seg), out, actor)
    out = replace(out, seconds=round(time.perf_counter() - started, 2))
    audit.record_now(wh, actor, "recalibrate_model", row["model_id"], "ok",
                     {k: v for k, v in out.to_json().items() if k not in ("by_segment", "sentence")})
    return out


def _register(wh: Warehouse, settings: Settings, model, row: dict, calibrator: SegmentCalibrator,
              trial: Recalibration, actor: Actor) -> Recalibration:
    """The recalibrated version: the champion's artifact and meta with the new calibrators, a gate saying what the
    hold-out showed, a report and the monitoring reference with its score profile recounted. Returns ``trial``
    naming it."""
    parent_dir = Path(row["artifact_dir"])
    meta = read_meta(parent_dir)
    model_id = time.strftime("m%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
    trial = replace(trial, model_id=model_id)  # the report tells what was registered
    summary = {k: v for k, v in trial.to_json().items() if k not in ("model_id", "sentence", "by_segment")}
    gate = {"gate": f"recalibration: Brier on the newest matured leads (held out) below the champion's "
                    f"({trial.before.brier:.4f})", "value": trial.after.brier, "passed": True, "n": trial.held_out}
    meta.update(model_id=model_id, calibration=calibrator.to_dict(), recalibrated_from=row["model_id"],
                recalibration=summary, gates=[*meta["gates"], gate], timings={},
                notes=f"Recalibrated from {row['model_id']} on the matured leads contacted {trial.contacted_from} to "
                      f"{trial.contacted_to}. " + (meta.get("notes") or ""))
    meta["metrics"] = {**meta["metrics"], "recalibration": summary}
    artifact = model.booster if meta["kind"] == "xgboost" else json.loads((parent_dir / "logistic.json").read_text())
    report = (f"# Model {model_id}: {row['model_id']} recalibrated\n\n{trial.markdown()}\n\nThe booster, features, "
              f"category levels and CRM-only fallback are {row['model_id']}'s; its training report follows.\n\n---\n\n"
              + ((parent_dir / "report.md").read_text(encoding="utf-8") if (parent_dir / "report.md").exists() else ""))
    folder = save_model(wh, settings, model_id, meta["kind"], artifact, meta, report, actor)
    _recount_reference(wh, model, parent_dir, folder, calibrator, row["model_id"])
    return trial


def _recount_reference(wh: Warehouse, model, parent_dir: Path, folder: Path, calibrator: SegmentCalibrator,
                       parent_id: str) -> None:
    """The champion's frozen reference, its score profile recounted on its training period's leads with the new
    calibrators (feature profiles, tier shares and the Tier A baseline kept). None to copy: monitoring then asks
    for a retrain, as it would for the champion."""
    try:
        reference = load_reference(parent_dir, parent_id)
    except LeadScoringError:
        return
    with wh.reader() as s:
        rows = s.query_plain(
            "select * from ml.lead_features where label_status in ('positive', 'negative') and contacted_at between "
            f"{ts_literal(reference['contacted_from'])} and {ts_literal(reference['contacted_to'])}")
    X = _model_inputs(model, rows) if len(rows) else None
    if X is not None:
        prob = calibrator.transform(model.predict_raw(X), aum_segment(X["TotalAssetsInMillions"]))
        reference = {**reference, "score": score_reference(prob), "recalibrated_from": parent_id}
    save_reference(folder, reference)
