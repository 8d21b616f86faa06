"""Model registry: every trained model is a version with its artifacts on disk (XGBoost's own JSON
format for the booster, JSON for calibrators and metadata — no pickles) and a row in ``ml.models``.
Promotion needs the gates (or ``force`` with a reason, which is logged); scoring uses the champion."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.modeling.baselines import logistic_contributions, logistic_from_dict
from core.modeling.calibration import SegmentCalibrator
from core.modeling.data import aum_segment
from core.modeling.encoding import CategoryEncoder
from core.modeling.treeshap import TreeTables, exact_contributions
from core.operation import audited
from core.warehouse import Warehouse
from core.warehouse.sql import literal
from core.words import model_words

DIRECT_SHAP_ROWS = 4096  # below it, pred_contribs beats building the per-pattern tables (see contributions)


@dataclass
class LoadedModel:
    model_id: str
    meta: dict
    predict_raw: callable
    contributions: callable  # X -> (rows x features) additive contributions on the log-odds scale
    prepare: callable = None  # X -> the numeric matrix the booster scores (None for the logistic model)
    booster: object = None  # the xgboost.XGBClassifier (None for the logistic model)

    @property
    def features(self) -> list[str]:
        return self.meta["features"]

    @property
    def levels(self) -> dict:
        return self.meta["levels"]

    @property
    def fallback(self) -> dict | None:
        return self.meta.get("crm_fallback")

    def predict_fallback(self, X: pd.DataFrame) -> np.ndarray:
        """The CRM-only degraded model (for leads missing most discovery data), calibrated."""
        fb = self.fallback
        raw = logistic_from_dict(fb["model"])(X)
        return SegmentCalibrator.from_dict(fb["calibration"]).transform(raw, np.array(["all"] * len(X)))

    def fallback_contributions(self, X: pd.DataFrame) -> np.ndarray:
        return logistic_contributions(self.fallback["model"], X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability; X must hold every model feature (and TotalAssetsInMillions)."""
        raw = self.predict_raw(X)
        cal = SegmentCalibrator.from_dict(self.meta["calibration"])
        return cal.transform(raw, aum_segment(X["TotalAssetsInMillions"]))


def save_model(wh: Warehouse, settings: Settings, model_id: str, kind: str, artifact, meta: dict, report_md: str,
               actor: Actor) -> Path:
    folder = settings.models_dir / model_id
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "xgboost":
        artifact.save_model(folder / "booster.json")
    else:
        (folder / "logistic.json").write_text(json.dumps(artifact))
    (folder / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    (folder / "report.md").write_text(report_md, encoding="utf-8")
    with wh.writer("register model") as s:
        s.load("ml.models", pd.DataFrame([{
            "model_id": model_id, "created_at": datetime.now(timezone.utc), "created_by": actor.username, "kind": kind,
            "training_fingerprint": meta["training_fingerprint"], "feature_set_fingerprint": meta.get("feature_set_fingerprint"),
            "features_json": json.dumps(meta["features"]), "params_json": json.dumps(meta["params"], default=str),
            "metrics_json": json.dumps(meta["metrics"], default=str), "gates_json": json.dumps(meta["gates"]),
            "gates_passed": bool(meta["gates_passed"]), "is_champion": False, "artifact_dir": str(folder),
            "notes": meta.get("notes", ""),
        }]), mode="append")
        audit.record(s, actor, "train_model", model_id, "ok", {"kind": kind, "gates_passed": meta["gates_passed"]})
    return folder


def read_meta(folder: str | Path) -> dict:
    """A model's meta.json (what :func:`save_model` wrote beside its artifact); the caller words a failure."""
    return json.loads((Path(folder) / "meta.json").read_text())


def load_model(folder: str | Path) -> LoadedModel:
    folder = Path(folder)
    try:
        meta = read_meta(folder)
        if meta["kind"] == "xgboost":
            booster = xgb.XGBClassifier()
            booster.load_model(folder / "booster.json")
            medians = meta.get("medians")
            encoder = CategoryEncoder.from_dict(meta.get("category_encoding"))

            def prepare(X: pd.DataFrame) -> pd.DataFrame:
                """Model inputs as the booster saw them: categories target-encoded, SMOTE's medians filled."""
                Z = encoder.transform(X[meta["features"]]).astype(np.float32)
                return Z.fillna(medians) if medians else Z

            def predict_raw(X: pd.DataFrame) -> np.ndarray:
                return booster.predict_proba(prepare(X))[:, 1]

            tables: list = []  # built on first use, once per loaded model

            def contributions(X: pd.DataFrame) -> np.ndarray:
                # Exact TreeSHAP from XGBoost itself, per split pattern for shallow trees (core/modeling/treeshap.py).
                # Building the tables costs ~0.1 s (600 trees); XGBoost's pred_contribs ~22 us a row: a few
                # thousand rows (a week's attributions, a page's sample) are explained directly unless built.
                if not tables and len(X) < DIRECT_SHAP_ROWS:
                    return exact_contributions(booster.get_booster(), prepare(X), None)
                if not tables:
                    tables.append(TreeTables.build(booster.get_booster()))
                return exact_contributions(booster.get_booster(), prepare(X), tables[0])
        else:
            params = json.loads((folder / "logistic.json").read_text())
            predict_raw = logistic_from_dict(params)

            def contributions(X: pd.DataFrame) -> np.ndarray:
                # Exact for a linear model, laid out in the model's feature order.
                contrib = logistic_contributions(params, X)
                full = np.zeros((len(X), len(meta["features"])))
                index = {c: i for i, c in enumerate(meta["features"])}
                for j, c in enumerate(params["features"]):
                    full[:, index[c]] = contrib[:, j]
                return full
    except (OSError, ValueError, KeyError, xgb.core.XGBoostError) as exc:
        raise LeadScoringError(f"Model artifacts in {folder} cannot be loaded ({type(exc).__name__}: {exc}). "
                               "Roll back (`models rollback`) or retrain.") from exc
    if meta["kind"] == "xgboost":
        return LoadedModel(meta["model_id"], meta, predict_raw, contributions, prepare, booster)
    return LoadedModel(meta["model_id"], meta, predict_raw, contributions)


def list_models(wh: Warehouse) -> pd.DataFrame:
    """The registry, newest first, with each model's test AUC-PR read out of its metrics (None where unknown) and
    its label in words ("Gradient boosting, trained 3 Dec 2026, 10:02 UTC · champion")."""
    df = wh.read("select model_id, created_at, created_by, kind, gates_passed, is_champion, metrics_json, "
                 "gates_json, artifact_dir, notes from ml.models order by created_at desc")
    df["test_auc_pr"] = [json.loads(m or "{}").get("test", {}).get("auc_pr") for m in df.metrics_json]
    df["label"] = [model_words(k, c) + (" · champion" if ch else "")
                   for k, c, ch in zip(df.kind, df.created_at, df.is_champion)]
    return df


def label_of(wh: Warehouse, model_id: str) -> str:
    """A registered model in words ("Gradient boosting, trained 3 Dec 2026, 10:02 UTC"); anything else (a
    fallback rule's version) as it is."""
    with wh.reader() as s:
        df = s.query(f"select kind, created_at from ml.models where model_id = {literal(str(model_id))}") \
            if s.table_exists("ml.models") else pd.DataFrame()
    return str(model_id) if df.empty else model_words(df.kind.iloc[0], df.created_at.iloc[0])


def champion_row(wh: Warehouse) -> dict | None:
    df = wh.read("select * from ml.models where is_champion order by created_at desc limit 1")
    return None if df.empty else df.iloc[0].to_dict()


def champion_levels(wh: Warehouse) -> dict | None:
    """The category levels the champion's one-hot features were built with (its meta.json alone, no model loaded);
    None without a champion or a readable meta.json. A feature build with these levels is one scoring reuses."""
    row = champion_row(wh)
    if row is None:
        return None
    try:
        return read_meta(row["artifact_dir"])["levels"]
    except (OSError, ValueError, KeyError):
        return None


def load_champion(wh: Warehouse) -> LoadedModel:
    row = champion_row(wh)
    if row is None:
        raise LeadScoringError("No champion model yet: run `python -m core train --promote` (or promote a trained model).")
    return load_model(row["artifact_dir"])


def _set_champion(wh: Warehouse, model_id: str, actor: Actor, action: str, reason: str) -> str | None:
    with wh.writer(f"{action} model") as s:
        previous = s.scalar("select model_id from ml.models where is_champion limit 1")
        # One statement that rewrites the (small) registry table: atomic on both backends, and plain SQL the
        # BigQuery emulator runs (it has no UPDATE), so promotion is part of the end-to-end emulator test.
        s.execute("create or replace table ml.models as "
                  f"select * replace (model_id = {literal(model_id)} as is_champion) from ml.models")
        s.load("ml.model_events", pd.DataFrame([{
            "at": datetime.now(timezone.utc), "actor": actor.username, "action": action, "model_id": model_id,
            "previous_champion": previous, "reason": reason,
        }]), mode="append")
        audit.record(s, actor, f"{action}_model", model_id, "ok", {"previous": previous, "reason": reason})
    return previous


@audited("train_promote", "promote_model", target=lambda a: a["model_id"])
def promote(wh: Warehouse, model_id: str, actor: Actor | None = None, force: bool = False, reason: str = "") -> str | None:
    df = wh.read(f"select gates_passed, gates_json from ml.models where model_id = {literal(model_id)}")
    if df.empty:
        raise LeadScoringError(f"No model {model_id}: see `python -m core models list`.")
    if not bool(df.gates_passed.iloc[0]):
        failed = [g["gate"] for g in json.loads(df.gates_json.iloc[0]) if not g["passed"]]
        if not force:
            raise LeadScoringError(f"Model {model_id} fails the gates ({', '.join(failed)}); it cannot be promoted. "
                                   "Use --force --reason '...' to override (the reason is logged).")
        if not reason.strip():
            raise LeadScoringError("--force needs --reason: say why a model that fails its gates should score leads.")
    return _set_champion(wh, model_id, actor, "force_promote" if force and not bool(df.gates_passed.iloc[0]) else "promote",
                         reason)


@audited("train_promote", "rollback_model")
def rollback(wh: Warehouse, actor: Actor | None = None) -> str:
    """Make the champion before the current one champion again."""
    events = wh.read("select model_id, previous_champion from ml.model_events "
                     "where action in ('promote', 'force_promote', 'rollback') order by at desc limit 1")
    if events.empty or events.previous_champion.isna().iloc[0]:
        raise LeadScoringError("Nothing to roll back to: there was no champion before the current one.")
    target = str(events.previous_champion.iloc[0])
    _set_champion(wh, target, actor, "rollback", f"rollback from {events.model_id.iloc[0]}")
    return target


def remove_artifacts(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def model_folder(wh: Warehouse, model_id: str) -> str:
    df = wh.read(f"select artifact_dir from ml.models where model_id = {literal(model_id)}")
    if df.empty:
        raise LeadScoringError(f"No model {model_id}: see `python -m core models list`.")
    return str(df.artifact_dir.iloc[0])
