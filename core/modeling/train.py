"""`train`: temporal split → blocked CV → IV/VIF pre-filters → SMOTE vs pos-weight → successive-halving
tuning → segment calibration → evaluation with baselines and gates → registry (→ promotion).

Honesty rules: every split is in time order with a gap as long as the label window (30 days by default); the calibrators never see rows the
booster trained on; the test set is touched once, at the end; every metric carries its sample size; with
too few positives the run says so and the regularised logistic baseline is what gets registered.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

import numpy as np
import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import FeatureBuild, FeatureSet, build_features, feature_matrix, is_current, latest_feature_set
from core.modeling import imbalance as imb
from core.modeling import metrics
from core.modeling.baselines import LogisticBaseline, analyst_default, heuristic_rule
from core.modeling.boosting import ES_SHARE, Imbalance, fit_booster
from core.modeling.choice import one_se_choice
from core.modeling.encoding import categorical_columns, numeric_view
from core.modeling.calibration import SegmentCalibrator
from core.modeling.data import AUM_SEGMENTS, GAP, Frame, aum_segment, blocked_folds, frame_from, time_split
from core.monitoring.reference import build_reference, replayed_tier_a, save_reference, with_mql_times
from core.operation import audited
from core.scoring.capacity import get_capacity
from core.scoring.tiers import boost_effect, boosts, stored_prob
from core.modeling.registry import promote, save_model
from core.modeling.selection import permutation_pruning, select_features
from core.modeling.tuning import successive_halving
from core.warehouse import Warehouse

MIN_TRAIN_POSITIVES = 120
# The quick recipe has no tuning or SMOTE to overfit with, and its choice falls back to the logistic model unless
# a booster is better by more than the noise: it needs fewer positives to be worth running.
MIN_TRAIN_POSITIVES_QUICK = 50
MIN_TEST_POSITIVES = 30
# Outside the §6.4 grid on purpose: depth-2 trees (pairwise interactions at most) with a slow learning rate.
# With ~1,000 positives the deeper grid points overfit; on the full demo this contender beat the logistic
# baseline in 4 of 5 CV folds and on the calibration period (README, Training).
SHALLOW = {"max_depth": 2, "learning_rate": 0.01, "min_child_weight": 10, "subsample": 0.7,
           "colsample_bytree": 0.6, "reg_alpha": 0, "reg_lambda": 5, "n_estimators": 1500}
# Depth-1 trees (stumps): every tree splits one feature, so the model is additive — a generalised additive
# model learned by boosting, the shape of a credit scorecard. A missing value takes its own learned branch,
# so "not matched to the territory file" is a term of its own. Fewer degrees of freedom than depth 2: it wins
# when the signal is a sum of per-feature effects and the positives are few; the choice below decides.
ADDITIVE = {**SHALLOW, "max_depth": 1, "learning_rate": 0.05, "n_estimators": 600}
# The regime AutoML systems (FLAML, AutoGluon) settle on for a few thousand positives in tens of thousands of
# rows: few leaves, many trees at a small learning rate, strong L2, column subsampling, and the number of
# trees found by early stopping on the newest 15% of the rows the booster trains on.
SMALL_LEAVES = {"grow_policy": "lossguide", "max_depth": 0, "max_leaves": 8, "learning_rate": 0.02,
                "min_child_weight": 5, "subsample": 0.8, "colsample_bytree": 0.5, "reg_alpha": 0, "reg_lambda": 10,
                "n_estimators": 3000, "eval_metric": "logloss", ES_SHARE: 0.15}
# scikit-learn's HistGradientBoosting defaults, in xgboost: 31 leaves, learning rate 0.1, early stopping.
WIDE = {"grow_policy": "lossguide", "max_depth": 0, "max_leaves": 31, "learning_rate": 0.1, "min_child_weight": 1,
        "subsample": 1.0, "colsample_bytree": 1.0, "reg_alpha": 0, "reg_lambda": 1, "n_estimators": 1000,
        "eval_metric": "logloss", ES_SHARE: 0.15}
# Model selection (SMOTE comparison, tuning, pruning, every contender's CV) runs on at most this many fit-period
# rows, drawn uniformly (base rate and time order kept): 150,000 rows hold ~6,000 positives, more than the full
# demo has. Every final fit, the calibration and the evaluation use all rows. Config: train_selection_rows.
SELECTION_ROWS = 150_000
GATES = {"auc_pr": 0.20, "calibration_error": 0.05, "train_validation_gap": 0.10, "cv_cov": 0.15}


@dataclass
class Fitted:
    """What the pipeline learned from one training frame (used by train and backtest)."""
    kind: str
    predict_raw: callable
    artifact: object
    features: list[str]
    params: dict
    calibrator: SegmentCalibrator
    selection: dict
    imbalance_table: pd.DataFrame | None
    tuning: dict | None
    cv: dict
    medians: dict | None
    insufficient: str | None
    timings: dict = field(default_factory=dict)
    fit_frame: Frame | None = None
    calib_frame: Frame | None = None
    train_frame: Frame | None = None  # the rows the registered model trained on (fit + gap + calibration periods)
    folds: list = field(default_factory=list)
    fallback: dict | None = None  # the CRM-only degraded model
    encoder: object = None  # the registered booster's category encoding (CategoryEncoder), None for logistic
    recipe: callable = None  # (X, y) -> a fresh fit of the chosen model: same features, settings, re-weighting
    gap: pd.Timedelta = GAP  # between a period's last contact and the next period's first: the label window

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.calibrator.transform(self.predict_raw(X), aum_segment(X["TotalAssetsInMillions"]))


class Contender(NamedTuple):
    """A model the guarded choice compares: its columns, booster settings (None: the L2 logistic baseline),
    re-weighting, and the columns per CV fold when they differ by fold."""
    cols: list[str]
    params: dict | None = None
    imbalance: Imbalance | None = None
    per_fold_cols: list[list[str]] | None = None

    def fit(self, X: pd.DataFrame, y):
        if self.params is None:
            return LogisticBaseline().fit(X, y)
        return fit_booster(X, y, self.params, self.imbalance)


def _fold_auc_pr(preds) -> list[float]:
    return [metrics.auc_pr(y, p) or 0.0 for y, p in preds]


def _rank01(p) -> np.ndarray:
    """Scores as within-block percentiles, so blocks scored by different fits pool on one scale."""
    return pd.Series(p).rank(pct=True).to_numpy()


def _stage(timings: dict, name: str, started: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - started, 2)
    return now


def label_gap(settings: Settings) -> pd.Timedelta:
    """The gap between time-ordered periods: a lead contacted at the end of one period has its outcome only a
    label window later, so the next period starts no sooner."""
    return pd.Timedelta(days=int(settings.label_window_days))


def configured_selection_rows(settings: Settings) -> int:
    return int(settings.extra.get("train_selection_rows", SELECTION_ROWS))


def selection_sample(fit: Frame, rows: int | None) -> Frame:
    """The fit-period rows model selection runs on: all of them up to ``rows``, else a uniform draw (seed 42)
    in time order — the same base rate and months, fewer leads per month."""
    if not rows or len(fit) <= rows:
        return fit
    keep = np.zeros(len(fit), dtype=bool)
    keep[np.random.default_rng(42).choice(len(fit), size=int(rows), replace=False)] = True
    return fit.rows(keep)


@dataclass
class Choice:
    """The model a training run settled on, before calibration and the refit on every pre-test row."""
    kind: str  # "xgboost" | "logistic"
    artifact: object
    predict_raw: callable
    params: dict
    medians: dict | None
    features: list[str]
    recipe: callable  # (X, y) -> a fresh fit: same features, settings, re-weighting
    cv: dict


@dataclass
class Tuned:
    """The full recipe's extra stages (skipped by ``quick``): imbalance comparison, tuning, pruning."""
    table: pd.DataFrame | None = None
    chosen: Imbalance | None = None
    tuning: dict | None = None
    booster: object = None
    pruning: dict | None = None


def _logistic_only(fit: Frame, sel: Frame, folds, features: list[str]) -> Choice:
    """Too little data for the guarded choice: the regularised logistic baseline, with its CV for the report."""
    if len(set(fit.y)) < 2:
        raise LeadScoringError(
            f"The fit period ({len(fit):,} leads contacted up to {fit.t.iloc[-1]:%Y-%m-%d}) has no "
            f"{'positive' if fit.positives == 0 else 'negative'} labels: nothing to learn yet. Load a longer "
            "Lead history (more months of contacted leads) and train again.")
    model = LogisticBaseline().fit(fit.X[features], fit.y)
    cv_preds = []
    for tr_idx, va_idx in folds:
        if len(set(sel.y[tr_idx])) < 2:
            continue
        m = LogisticBaseline().fit(sel.X[features].iloc[tr_idx], sel.y[tr_idx])
        cv_preds.append((sel.y[va_idx], m.predict(sel.X[features].iloc[va_idx])))
    cv = {"fold_auc_pr": _fold_auc_pr(cv_preds), "sampling_cov": metrics.sampling_cov(cv_preds)}
    return Choice("logistic", model.to_dict(), model.predict, {"C": model.C}, None, features,
                  Contender(features).fit, cv)


def _tune(fit: Frame, sel: Frame, folds, features: list[str], selection: dict, budget_left: float, progress,
          timings: dict) -> Tuned:
    """SMOTE vs scale_pos_weight, successive-halving tuning, the tuned booster, and permutation pruning."""
    t0 = time.perf_counter()
    sub = Frame(sel.X[features], sel.y, sel.t, sel.ids)
    progress(0.15, "SMOTE vs scale_pos_weight under blocked CV")
    table = imb.compare(sub, folds, progress=lambda f, m: progress(0.15 + 0.25 * f, m))
    chosen = imb.chosen(table)
    t0 = _stage(timings, "imbalance_comparison", t0)
    progress(0.4, "Tuning (successive halving)")
    tuning = successive_halving(sub, folds, chosen, max(budget_left(), 30) * 0.8,
                                progress=lambda f, m: progress(0.4 + 0.35 * f, m))
    t0 = _stage(timings, "tuning", t0)
    progress(0.85, "Fitting the final booster")
    booster = fit_booster(fit.X[features], fit.y, tuning["best_params"], chosen)
    t0 = _stage(timings, "final_fit", t0)
    # Guard against a tuning win that does not generalise: every contender is scored on rows it never
    # trained on, and the simplest one within one standard error of the best is registered (choice.py).
    progress(0.86, "Permutation importance of the shallow booster (which features it uses on unseen rows)")
    conservative = Imbalance("none", "pos_weight", pos_weight=1.0)
    pruning = permutation_pruning(numeric_view(sel.X), sel.y, folds,
                                  lambda X, y: fit_booster(X, y, SHALLOW, conservative).model,
                                  progress=lambda f, m: progress(0.86 + 0.02 * f, m))
    cats = categorical_columns(fit.X)
    pruning["kept_before"] = [k + cats for k in pruning["kept_before"]]
    selection["pruning"] = pruning
    _stage(timings, "permutation_pruning", t0)
    return Tuned(table, chosen, tuning, booster, pruning)


TUNED = "tuned booster (spec §6.4 grid)"


def contenders_for(fit: Frame, features: list[str], tuned: Tuned, quick: bool) -> dict[str, Contender]:
    """The models the guarded choice compares, simplest first (the order is the complexity the 1-SE rule uses).
    Fold i of the pruned contender is scored with the features chosen from earlier folds only."""
    conservative = Imbalance("none", "pos_weight", pos_weight=1.0)
    all_cols, cats, pruning = list(fit.X.columns), categorical_columns(fit.X), tuned.pruning
    return {
        "logistic regression (L2)": Contender(features),
        "additive booster (depth-1 trees)": Contender(all_cols, ADDITIVE, conservative),
        **({"shallow booster, permutation-pruned features": Contender(
            pruning["kept"] + cats, SHALLOW, conservative, pruning["kept_before"])} if pruning else {}),
        "shallow booster (depth-2 trees)": Contender(all_cols, SHALLOW, conservative),
        "small-leaf booster (8 leaves, slow rate, strong L2)": Contender(all_cols, SMALL_LEAVES, conservative),
        **({"wide booster (31 leaves, early-stopped)": Contender(all_cols, WIDE, conservative),
            TUNED: Contender(features, tuned.tuning["best_params"], tuned.chosen)} if not quick else {}),
    }


def choose_model(contenders: dict[str, Contender], fit: Frame, sel: Frame, calib: Frame, folds, tuned: Tuned,
                 selection: dict, progress) -> Choice:
    """Each contender is scored on every row it did not train on: the CV folds' validation blocks (refitted per
    fold) pooled with the calibration period. Pooling ~650 positives instead of one fold's ~90 keeps sampling
    noise from picking the winner; the simplest within one standard error of the best wins."""
    complexity = {name: i for i, name in enumerate(contenders)}
    fitted_all = {name: (tuned.booster if name == TUNED else c.fit(fit.X[c.cols], fit.y))
                  for name, c in contenders.items()}
    choice, fold_preds, pooled = [], {}, {}
    for k, (name, c) in enumerate(contenders.items()):
        progress(0.88 + 0.02 * k / len(contenders), f"Scoring {name} on unseen months")
        preds = []
        for i, (tr_idx, va_idx) in enumerate(folds):
            fcols = c.per_fold_cols[i] if c.per_fold_cols else c.cols
            m = c.fit(sel.X[fcols].iloc[tr_idx], sel.y[tr_idx])
            preds.append((sel.y[va_idx], m.predict(sel.X[fcols].iloc[va_idx])))
        pc = fitted_all[name].predict(calib.X)
        fold_preds[name] = preds
        ys = [y for y, _ in preds] + [calib.y]
        pooled[name] = np.concatenate([_rank01(p) for _, p in preds] + [_rank01(pc)])
        choice.append({"model": name, "features": len(c.cols),
                       "calibration_period_auc_pr": round(metrics.auc_pr(calib.y, pc) or 0.0, 4),
                       "cv_mean_auc_pr": round(float(np.mean(_fold_auc_pr(preds))), 4),
                       "n": int(sum(len(y) for y in ys)), "positives": int(sum(int(y.sum()) for y in ys))})
    y_pooled = np.concatenate([y for y, _ in fold_preds[next(iter(contenders))]] + [calib.y])
    decision = one_se_choice(y_pooled, pooled, complexity)
    by_name = {r["model"]: r for r in decision["rows"]}
    for row in choice:
        r = by_name[row["model"]]
        row.update({"pooled_unseen_auc_pr": r["auc_pr"], "diff_to_best": r["diff_to_best"],
                    "se_diff": r["se_diff"], "within_one_se": r["within_one_se"], "complexity": r["complexity"]})
    winner = decision["chosen"]
    selection.update({"model_choice": choice, "model_chosen": winner, "model_choice_rule": {
        "best": decision["best"], "chosen": decision["chosen"], "resamples": decision["resamples"]}})
    cv = {"fold_auc_pr": _fold_auc_pr(fold_preds[winner]), "sampling_cov": metrics.sampling_cov(fold_preds[winner])}
    c = contenders[winner]
    if winner == TUNED:
        b = tuned.booster
        params = {**tuned.tuning["best_params"], "imbalance": tuned.chosen.name, "imbalance_setting": tuned.chosen.describe()}
        return Choice("xgboost", b.model, b.predict, params, b.medians, c.cols, c.fit, cv)
    model = fitted_all[winner]
    if c.params is None:
        return Choice("logistic", model.to_dict(), model.predict, {"C": model.C}, None, c.cols, c.fit, cv)
    params = {**c.params, "imbalance": "none (scale_pos_weight 1)", "features": winner}
    return Choice("xgboost", model.model, model.predict, params, None, c.cols, c.fit, cv)


def fit_pipeline(train_all: Frame, budget_seconds: float, progress=None, quick: bool = False,
                 selection_rows: int | None = SELECTION_ROWS, gap: pd.Timedelta = GAP) -> Fitted:
    """Split off the calibration period → select features → (full recipe: imbalance comparison, tuning, pruning)
    → the guarded choice among contenders → per-segment calibration → refit on every pre-test row → the CRM-only
    fallback. ``quick``: the first-start recipe — no SMOTE comparison, tuning or pruning; the noise-aware choice
    among the logistic, additive, shallow and small-leaf contenders only (the report says so). ``selection_rows``:
    the most fit-period rows model selection uses (see SELECTION_ROWS). ``gap``: dropped between the fit and
    calibration periods and between CV blocks — the label window, so no fit row's outcome falls in a later period."""
    progress = progress or (lambda f, m: None)
    timings: dict = {}
    start = t0 = time.perf_counter()
    fit, calib = time_split(train_all, 0.15, gap)
    sel = selection_sample(fit, selection_rows)
    folds = blocked_folds(sel.t, gap=gap)
    insufficient = None
    needed = MIN_TRAIN_POSITIVES_QUICK if quick else MIN_TRAIN_POSITIVES
    if train_all.positives < needed:
        insufficient = (f"only {train_all.positives} positives in training (need ≥ {needed}): "
                        "the regularised logistic baseline is used instead of a tuned booster")
    progress(0.05, "Feature selection (IV, VIF)")
    selection = select_features(numeric_view(fit.X), fit.y)
    cats = categorical_columns(fit.X)
    features = selection["selected"] + cats
    selection["kept_by_rule"] += [{"feature": c, "reason": "raw category (target-encoded inside each training fold)",
                                   "value": None} for c in cats]
    selection["selection_sample"] = {"rows": len(sel), "positives": sel.positives, "of_rows": len(fit),
                                      "of_positives": fit.positives}
    t0 = _stage(timings, "selection", t0)
    tuned = Tuned()
    if insufficient or len(folds) < 2 or calib.positives == 0:
        insufficient = insufficient or "too little data for time-ordered CV and calibration"
        chosen = _logistic_only(fit, sel, folds, features)
    else:
        if not quick:
            tuned = _tune(fit, sel, folds, features, selection, lambda: budget_seconds - (time.perf_counter() - start),
                          progress, timings)
            t0 = time.perf_counter()
        progress(0.88, "Scoring every contender on months it never trained on")
        selection["quick"] = quick
        chosen = choose_model(contenders_for(fit, features, tuned, quick), fit, sel, calib, folds, tuned, selection,
                              progress)
        t0 = _stage(timings, "model_choice", t0)
    progress(0.9, "Calibrating per AUM segment")
    calibrator = SegmentCalibrator().fit(chosen.predict_raw(calib.X), calib.y,
                                         aum_segment(calib.X["TotalAssetsInMillions"]))
    t0 = _stage(timings, "calibration", t0)
    # The calibrators learned how the chosen model's scores map to outcomes on months it never saw. The model
    # is then refitted, same features and settings, on every row before the test period (fit + gap +
    # calibration: the newest months included) and keeps those calibrators — scikit-learn's
    # CalibratedClassifierCV(ensemble=False) design. Selection, tuning and model choice are unaffected.
    progress(0.92, "Refitting the chosen model on every row before the test period")
    final = chosen.recipe(train_all.X[chosen.features], train_all.y)
    if chosen.kind == "logistic":
        artifact, medians, encoder = final.to_dict(), chosen.medians, None
    else:
        artifact, medians, encoder = final.model, final.medians, final.encoder
    params = {**chosen.params, "refit_rows": len(train_all), "refit_positives": train_all.positives}
    t0 = _stage(timings, "refit", t0)
    fallback = fit_crm_fallback(fit, calib, train_all)
    _stage(timings, "crm_fallback_model", t0)
    return Fitted(chosen.kind, final.predict, artifact, chosen.features, params, calibrator, selection, tuned.table,
                  tuned.tuning, chosen.cv, medians, insufficient, timings, fit_frame=fit, calib_frame=calib,
                  train_frame=train_all, folds=folds, fallback=fallback, encoder=encoder, recipe=chosen.recipe, gap=gap)


def crm_only_features(columns) -> list[str]:
    """Features that do not come from the rep's territory record (CRM fields, contact time, coverage)."""
    from core.features.catalog import is_discovery

    return [c for c in columns if not is_discovery(c)]


def fit_crm_fallback(fit: Frame, calib: Frame, train_all: Frame | None = None) -> dict | None:
    """The degraded model (spec §10.3) for leads missing most discovery data: L2 logistic on CRM-side
    features only, Platt-calibrated on the calibration period, then — like the main model — refitted on
    every pre-test row (``train_all``) keeping that calibrator. None when it cannot be fitted."""
    cols = crm_only_features(fit.X.columns)
    if not cols or len(set(fit.y)) < 2:
        return None
    model = LogisticBaseline().fit(fit.X[cols], fit.y)
    cal = SegmentCalibrator().fit(model.predict(calib.X), calib.y, np.array(["all"] * len(calib)))
    calib_auc_pr = metrics.auc_pr(calib.y, model.predict(calib.X))
    rows = fit
    if train_all is not None and len(set(train_all.y)) == 2:
        rows = train_all
        model = LogisticBaseline().fit(rows.X[cols], rows.y)
    return {"model": model.to_dict(), "calibration": cal.to_dict(), "features": cols,
            "calibration_period_auc_pr": calib_auc_pr, "refit_rows": len(rows)}


def evaluate(fitted: Fitted, test: Frame, capacity: int) -> dict:
    p = fitted.predict(test.X)
    seg = aum_segment(test.X["TotalAssetsInMillions"])
    out = {"test": metrics.summary(test.y, p, capacity), "by_aum_tier": []}
    for s in AUM_SEGMENTS:
        m = seg == s
        out["by_aum_tier"].append({"segment": s, "n": int(m.sum()), "positives": int(test.y[m].sum()),
                                   "brier": metrics.brier(test.y[m], p[m]), "ece": metrics.ece(test.y[m], p[m]),
                                   "auc_pr": metrics.auc_pr(test.y[m], p[m])})
    out["reliability_test"] = metrics.reliability(test.y, p)
    fit = fitted.train_frame
    train_p = fitted.predict_raw(fit.X)
    folds_ap = [a for a in fitted.cv.get("fold_auc_pr", []) if a is not None]
    out["train_auc_roc"] = metrics.auc_roc(fit.y, train_p)
    out["train_auc_pr"] = metrics.auc_pr(fit.y, train_p)
    out["cv_fold_auc_pr"] = folds_ap
    out["cv_mean_auc_pr"] = float(np.mean(folds_ap)) if folds_ap else None
    out["cv_cov"] = float(np.std(folds_ap) / np.mean(folds_ap)) if folds_ap and np.mean(folds_ap) else None
    out["cv_sampling_cov"] = fitted.cv.get("sampling_cov")
    # Train-validation gap: in-sample AUC-ROC minus out-of-time (test) AUC-ROC, in AUC points.
    out["train_validation_gap"] = (out["train_auc_roc"] - out["test"]["auc_roc"]
                                   if out["train_auc_roc"] is not None and out["test"]["auc_roc"] is not None else None)
    return out


def gates(ev: dict, insufficient: str | None, train_positives: int | None = None) -> list[dict]:
    t = ev["test"]
    rows = [
        ("AUC-PR > 0.20 (test)", t["auc_pr"], lambda v: v > GATES["auc_pr"], t["n"]),
        ("calibration error (ECE) < 0.05 (test)", t["ece"], lambda v: v < GATES["calibration_error"], t["n"]),
        ("train–validation gap < 0.10 AUC points", ev["train_validation_gap"], lambda v: v < GATES["train_validation_gap"], t["n"]),
        ("CV coefficient of variation < 15%", ev["cv_cov"], lambda v: v < GATES["cv_cov"], len(ev["cv_fold_auc_pr"])),
    ]
    out = [{"gate": name, "value": None if v is None else round(float(v), 4), "passed": v is not None and bool(ok(v)),
            "n": n} for name, v, ok, n in rows]
    if insufficient:
        # the reason, not an empty value: "only 48 positives in training (need ≥ 50)"; its sample is the positives
        # the shortfall counts (the training rows', unless the test period is what lacks them)
        n = t["positives"] if "test period" in insufficient or train_positives is None else train_positives
        out.append({"gate": f"enough positives to train and test — {insufficient.split(':')[0]}", "value": None,
                    "passed": False, "n": n})
    return out


def baselines(fitted: Fitted, test: Frame, capacity: int) -> list[dict]:
    fit = fitted.train_frame  # the baselines train on the same rows as the registered model
    rows = []
    for name, scorer in [
        ("heuristic rule (spec §10.1 SQL)", lambda X: heuristic_rule(X)),
        ("logistic regression (L2, C=0.1)", LogisticBaseline().fit(fit.X, fit.y).predict),
        ("scikit-learn HistGradientBoosting, defaults", analyst_default(fit.X, fit.y).predict),
    ]:
        raw = scorer(test.X)
        raw = raw[:, 1] if raw.ndim == 2 else raw
        s = metrics.summary(test.y, raw, capacity)
        rows.append({"model": name, **{k: s[k] for k in ("n", "positives", "auc_pr", "auc_roc", "precision_at_10pct",
                                                          "recall_at_10pct", "precision_at_capacity", "top_decile_lift",
                                                          "brier", "ece")}})
    return rows


def _fmt(v, pct=False):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.1%}" if pct else (f"{v:.4f}" if isinstance(v, float) else f"{v:,}")


def _report_head(model_id: str, fitted: Fitted) -> list[str]:
    """Title and the banners of a quick or data-starved run."""
    L: list[str] = []
    L += [f"# Model {model_id} ({fitted.kind})", ""]
    if fitted.selection.get("quick"):
        L += ["> **Quick recipe** (first start): no SMOTE comparison, tuning or pruning; the noise-aware choice among "
              "the logistic, additive, shallow and small-leaf contenders only. Retrain from Train & compare for the "
              "full recipe.", ""]
    if fitted.insufficient:
        L += [f"> **Not enough data:** {fitted.insufficient}. Metrics below are shown with their sample sizes; "
              "treat them as indicative only.", ""]
    return L


def _report_data(fitted: Fitted, split: dict, refit: dict | None) -> list[str]:
    """Data and splits; the registered artifact."""
    L: list[str] = []
    L += [f"## Data and splits (time order, {fitted.gap.days}-day gaps: the label window)",
          f"- fit: {split['fit_n']:,} leads ({split['fit_pos']:,} positive), {split['fit_from']} → {split['fit_to']}",
          f"- calibration: {split['calib_n']:,} leads ({split['calib_pos']:,} positive), {split['calib_from']} → {split['calib_to']}",
          f"- test: {split['test_n']:,} leads ({split['test_pos']:,} positive), {split['test_from']} → {split['test_to']}",
          f"- blocked CV: {len(fitted.folds)} expanding folds inside the fit period",
          *([f"- model selection (SMOTE comparison, tuning, pruning, every contender's CV) on a uniform sample of "
             f"{ss['rows']:,} of the {ss['of_rows']:,} fit-period leads ({ss['positives']:,} of {ss['of_positives']:,} "
             "positive), time order kept; the chosen model, its calibration and every refit use all rows"]
            if (ss := fitted.selection.get("selection_sample")) and ss["rows"] < ss["of_rows"] else []),
          f"- the registered model: chosen and calibrated as above, then refitted with the same features and settings "
          f"on all {len(fitted.train_frame):,} leads before the test period ({fitted.train_frame.positives:,} positive); "
          "it keeps the calibrators learned on the calibration period"]
    if refit:
        L += [f"- **registered artifact**: the gates passed, so the same recipe was refitted on every matured lead, "
              f"test period included: {refit['rows']:,} leads ({refit['positives']:,} positive) instead of "
              f"{refit['evaluated_rows']:,}. The test metrics below belong to the evaluated artifact (kept as "
              f"`evaluated_*.json`); the refitted one scores the test period in-sample at AUC-PR "
              f"{_fmt(refit['test_period_auc_pr_in_sample'])}, ECE {_fmt(refit['test_period_ece_in_sample'])} "
              "(not an estimate of future quality)."]
    return L


def _report_gates(ev: dict, gate_rows: list[dict]) -> list[str]:
    """The gates, with the CV's sampling-noise yardstick."""
    L: list[str] = []
    L += ["",
          "## Gates", "| gate | value | n | result |", "|---|---:|---:|---|"]
    L += [f"| {g['gate']} | {_fmt(g['value'])} | {g['n']:,} | {'PASS' if g['passed'] else 'FAIL'} |" for g in gate_rows]
    if ev.get("cv_sampling_cov") is not None:
        L += ["", f"CV CoV from sampling noise alone (each fold's validation rows bootstrapped): "
              f"{_fmt(ev['cv_sampling_cov'])} — a model of perfectly stable quality would show about this much "
              "variation across folds of this size. An observed CoV near it is not evidence of instability; one far "
              "above it is."]
    return L


def _report_test(ev: dict, base_rows: list[dict]) -> list[str]:
    """Test metrics beside the baselines, and lift by decile."""
    L: list[str] = []
    t = ev["test"]
    L += ["", f"## Test metrics (n = {t['n']:,}, positives = {t['positives']:,}, base rate {_fmt(t['base_rate'], True)})",
          "| model | AUC-PR | AUC-ROC | P@10% | R@10% | P@capacity | top-decile lift | Brier | ECE |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
          f"| **this model** | {_fmt(t['auc_pr'])} | {_fmt(t['auc_roc'])} | {_fmt(t['precision_at_10pct'], True)} | "
          f"{_fmt(t['recall_at_10pct'], True)} | {_fmt(t.get('precision_at_capacity'), True)} | {_fmt(t['top_decile_lift'])} | "
          f"{_fmt(t['brier'])} | {_fmt(t['ece'])} |"]
    for b in base_rows:
        L.append(f"| {b['model']} | {_fmt(b['auc_pr'])} | {_fmt(b['auc_roc'])} | {_fmt(b['precision_at_10pct'], True)} | "
                 f"{_fmt(b['recall_at_10pct'], True)} | {_fmt(b['precision_at_capacity'], True)} | {_fmt(b['top_decile_lift'])} | "
                 f"{_fmt(b['brier'])} | {_fmt(b['ece'])} |")
    L += ["", f"Capacity = {t.get('capacity', 'n/a')} leads (Tier A: SGAs × dials per day × {ev.get('tier_a_factor', Settings.tier_a_factor)}).",
          f"Tier A precision as daily scoring would have tiered the test period (weekly replay, every open lead "
          f"competing, priority boosts included; monitoring's baseline): {_fmt(t.get('tier_a_precision'), True)} "
          f"of {t.get('tier_a_leads', 0):,} test leads first tiered A." + (f" {b}" if (b := boost_effect(t)[0]) else ""),
          f"Train AUC-ROC {_fmt(ev['train_auc_roc'])} vs test {_fmt(t['auc_roc'])}; CV AUC-PR per fold "
          + ", ".join(_fmt(a) for a in ev["cv_fold_auc_pr"]) + f" (CoV {_fmt(ev['cv_cov'])}; "
          f"sampling noise alone {_fmt(ev.get('cv_sampling_cov'))}).", "",
          "## Lift by decile (test)", "| decile | n | positives | rate | lift |", "|---:|---:|---:|---:|---:|"]
    L += [f"| {d['decile']} | {d['n']:,} | {d['positives']:,} | {_fmt(d['rate'], True)} | {_fmt(d['lift'])} |"
          for d in t["lift_by_decile"]]
    return L


def _report_calibration(fitted: Fitted, ev: dict) -> list[str]:
    """Calibration by AUM segment and the calibrators chosen."""
    L: list[str] = []
    L += ["", "## Calibration by AUM segment (test)", "| segment | n | positives | Brier | ECE |", "|---|---:|---:|---:|---:|"]
    L += [f"| {s['segment']} | {s['n']:,} | {s['positives']:,} | {_fmt(s['brier'])} | {_fmt(s['ece'])} |" for s in ev["by_aum_tier"]]
    L += ["", "Calibrators (fitted on the calibration period only; the first line is the pooled one):", ""]
    L += [f"- {r['segment']}: {r['chosen']} (n {r['n']:,}, positives {r['positives']:,}; two-way hold-out Brier: "
          + ("" if r["segment"] == "all" else f"pooled {_fmt(r.get('brier_pooled_holdout'))}, ")
          + f"own Platt {_fmt(r['brier_platt_holdout'])}, own isotonic {_fmt(r['brier_isotonic_holdout'])})"
          for r in fitted.calibrator.report_]
    L += ["", "A segment uses its own curve only when it beats the pooled one by more than one standard error "
          "(isotonic must also beat Platt that way)."]
    return L


def _report_imbalance(fitted: Fitted) -> list[str]:
    """SMOTE vs scale_pos_weight (full recipe only)."""
    L: list[str] = []
    if fitted.imbalance_table is not None:
        L += ["", "## SMOTE vs scale_pos_weight (blocked CV, spec §5.6; weights 40/25/20/15)",
              "| config | setting | AUC-PR | AUC-ROC | P@10% | R@10% | calib. error | CoV | train rows | synthetic | s | score |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in fitted.imbalance_table.itertuples():
            L.append(f"| {'**' + r.config + '**' if r.chosen else r.config} | {r.setting} | {_fmt(r.auc_pr)} | {_fmt(r.auc_roc)} | "
                     f"{_fmt(r.precision_at_10pct, True)} | {_fmt(r.recall_at_10pct, True)} | {_fmt(r.calibration_error)} | "
                     f"{_fmt(r.auc_pr_cov)} | {r.training_samples:,} | {r.synthetic_samples:,} | {r.train_seconds} | {r.score:.3f} |")
        L.append(f"\nValidation rows across folds: {int(fitted.imbalance_table.n_val.iloc[0]):,} "
                 f"({int(fitted.imbalance_table.positives_val.iloc[0]):,} positive).")
    return L


def _report_tuning(fitted: Fitted) -> list[str]:
    """Successive-halving tuning (full recipe only)."""
    L: list[str] = []
    if fitted.tuning:
        tu = fitted.tuning
        L += ["", "## Tuning", f"Successive halving over {tu['candidates_drawn']} of {tu['grid_size']:,} grid points "
              f"(spec §6.4; seed 42), early stopping on AUC-PR with patience 20; {len(tu['history'])} evaluations in "
              f"{tu['seconds']} s. " + (f"Stopped early: {tu['stopped']}." if tu["stopped"] else "All rungs completed."),
              f"Best: {json.dumps(tu['best_params'])} (CV AUC-PR {_fmt(tu['best_cv_auc_pr'])})."]
    return L


def _report_choice(fitted: Fitted) -> list[str]:
    """The guarded model choice among contenders."""
    L: list[str] = []
    sel = fitted.selection
    if sel.get("model_choice"):
        rule = sel.get("model_choice_rule") or {}
        L += ["", "## Model choice on rows each contender never trained on (CV validation blocks + calibration period)",
              "Contenders are listed from simplest to most complex. Each one's pooled AUC-PR is compared with the best "
              f"({rule.get('best', 'n/a')}) on {rule.get('resamples', 'n/a')} paired bootstrap resamples of the same rows; "
              "the simplest contender within one standard error of the best is registered (the one-standard-error "
              "rule): a difference smaller than that is what another draw of the same months could reverse.", "",
              "| candidate | features | pooled AUC-PR | vs best | 1 SE of the difference | within 1 SE | CV mean AUC-PR | "
              "calibration-period AUC-PR | n | positives |",
              "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
        L += [f"| {'**' + c['model'] + '**' if c['model'] == sel['model_chosen'] else c['model']} | "
              f"{c.get('features', 'n/a')} | {_fmt(c['pooled_unseen_auc_pr'])} | {_fmt(c.get('diff_to_best'))} | "
              f"{_fmt(c.get('se_diff'))} | {'yes' if c.get('within_one_se') else 'no'} | {_fmt(c['cv_mean_auc_pr'])} | "
              f"{_fmt(c['calibration_period_auc_pr'])} | {c['n']:,} | {c['positives']:,} |" for c in sel["model_choice"]]
    return L


def _report_pruning(fitted: Fitted) -> list[str]:
    """Permutation-importance pruning (full recipe only)."""
    L: list[str] = []
    sel = fitted.selection
    if sel.get("pruning"):
        pr = sel["pruning"]
        dropped = [r for r in pr["table"] if not r["kept"]]
        L += ["", f"## Permutation-importance pruning: {len(pr['kept'])} of {len(pr['table'])} features kept",
              f"The shallow booster was refitted in each of the {pr['folds']} CV folds and every feature shuffled "
              f"{pr['n_repeats']} times on the fold's validation block; importance = rise in log-loss. A feature is "
              "kept when its mean importance exceeds its standard error across folds (t > 1). During model choice "
              "fold i is scored with the features chosen from earlier folds only (all features for the first fold).", "",
              "| kept feature | mean importance | standard error |", "|---|---:|---:|"]
        L += [f"| {r['feature']}{' (kept by rule, spec §6.2)' if r['by_rule'] else ''} | {r['mean_importance']:.6f} | "
              f"{r['se']:.6f} |" for r in pr["table"] if r["kept"]]
        L += ["", f"Dropped ({len(dropped)}): " + ", ".join(f"{r['feature']} ({r['mean_importance']:.6f} ± {r['se']:.6f})"
                                                          for r in dropped)]
    return L


def _report_selection(fitted: Fitted) -> list[str]:
    """Feature selection and time per stage."""
    L: list[str] = []
    sel = fitted.selection
    L += ["", f"## Feature selection: {len(fitted.features)} kept of {len(sel['iv'])}", ""]
    if sel["kept_by_rule"]:
        L += ["Kept by rule (business-critical, spec §6.2): " + "; ".join(f"{k['feature']} ({k['reason']})" for k in sel["kept_by_rule"])]
    L += ["", "| removed feature | reason | value |", "|---|---|---:|"]
    L += [f"| {r['feature']} | {r['reason']} | {_fmt(r['value'])} |" for r in sel["removed"]]
    L += ["", "## Time per stage (s)", ", ".join(f"{k} {v}" for k, v in fitted.timings.items() if not k.startswith("_"))]
    return L


def report_markdown(model_id: str, fitted: Fitted, ev: dict, gate_rows: list[dict], base_rows: list[dict],
                    split: dict, refit: dict | None = None) -> str:
    """The model's report (report.md beside the artifact), section by section."""
    sections = [_report_head(model_id, fitted), _report_data(fitted, split, refit), _report_gates(ev, gate_rows),
                _report_test(ev, base_rows), _report_calibration(fitted, ev), _report_imbalance(fitted),
                _report_tuning(fitted), _report_choice(fitted), _report_pruning(fitted), _report_selection(fitted)]
    return "\n".join(line for section in sections for line in section) + "\n"


def _split_info(fit: Frame, calib: Frame, test: Frame) -> dict:
    d = lambda f, i: str(f.t.iloc[i].date()) if len(f) else "n/a"  # noqa: E731
    return {"fit_n": len(fit), "fit_pos": fit.positives, "fit_from": d(fit, 0), "fit_to": d(fit, -1),
            "calib_n": len(calib), "calib_pos": calib.positives, "calib_from": d(calib, 0), "calib_to": d(calib, -1),
            "test_n": len(test), "test_pos": test.positives, "test_from": d(test, 0), "test_to": d(test, -1)}


@dataclass
class TrainResult:
    model_id: str
    kind: str
    gates: list[dict]
    gates_passed: bool
    metrics: dict
    report: str
    promoted: bool
    seconds: float
    timings: dict


@dataclass(frozen=True)
class TrainingData:
    """The rows one training run learns from and is judged on: a feature build's matured leads, in time order,
    split into the earlier ~80% (fit and calibration) and the newest ~20% (the held-out test period)."""
    feature_set: FeatureSet  # the build's record: as_of, levels, fingerprint
    rows: pd.DataFrame  # ids, contact times, labels and features of every matured lead
    frame: Frame
    train_all: Frame
    test: Frame

    @property
    def fingerprint(self) -> str:
        """Which leads with which labels: two runs on the same fingerprint trained on the same outcomes."""
        hashed = pd.util.hash_pandas_object(self.rows[["lead_id", "label"]], index=False).values.tobytes()
        return hashlib.sha256(hashed).hexdigest()[:16]


@dataclass(frozen=True)
class Evaluation:
    """The held-out period's verdict: metrics at the Tier A size daily scoring uses, the gates, the baselines."""
    metrics: dict
    gates: list[dict]
    baselines: list[dict]
    daily_capacity: int

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gates)


@dataclass(frozen=True)
class Refit:
    """The recipe that passed, fitted again on every matured lead; ``evaluated`` is the artifact the test metrics
    belong to, kept beside the registered one."""
    evaluated: object
    info: dict


def training_data(wh: Warehouse, settings: Settings, actor: Actor, features: FeatureBuild | None,
                  progress) -> TrainingData:
    fs = features.meta() if features is not None else latest_feature_set(wh)
    if features is None and not is_current(wh, fs):  # none yet, or as of another time than the loaded export's
        progress(0.01, "Building features")
        fs = build_features(wh, settings, actor=actor).meta()
    df = feature_matrix(wh, training_only=True, build=features.name if features is not None else "")
    if df.empty or df.label.sum() == 0:
        raise LeadScoringError("There are no labelled leads to train on yet (no positives among matured leads). "
                               "Load a longer Lead history and run build-features.")
    frame = frame_from(df)
    train_all, test = time_split(frame, 0.2, label_gap(settings))
    if len(test) == 0 or len(train_all) == 0:
        raise LeadScoringError("Too few contacted leads to hold out a test period; load more history.")
    return TrainingData(fs, df, frame, train_all, test)


def evaluate_held_out(wh: Warehouse, settings: Settings, fitted: Fitted, data: TrainingData) -> Evaluation:
    """Tier A as daily scoring sizes it: the capacity in force (an SGA manager's setting, else the config's);
    and Tier A precision as daily scoring would have tiered the held-out period (monitoring's baseline)."""
    t0 = time.perf_counter()
    test = data.test
    daily = get_capacity(wh, settings).daily
    capacity = settings.tier_a_size(daily)
    ev = evaluate(fitted, test, capacity)
    ev["tier_a_factor"] = settings.tier_a_factor
    ev["test"].update(_replayed_tier_a(wh, settings, fitted, data, daily))
    result = Evaluation(ev, gates(ev, fitted.insufficient, fitted.train_frame.positives),
                        baselines(fitted, test, capacity), daily)
    fitted.timings["evaluation"] = round(time.perf_counter() - t0, 2)
    return result


def _replayed_tier_a(wh: Warehouse, settings: Settings, fitted: Fitted, data: TrainingData, daily: int) -> dict:
    """The evaluated model (before any refit) on every matured lead, tiered weekly over the held-out period with
    the priority boosts daily scoring adds (see replayed_tier_a)."""
    frame = data.frame
    leads = with_mql_times(wh, pd.DataFrame({
        "lead_id": frame.ids.to_numpy(), "contacted_at": frame.t.to_numpy(), "prob": stored_prob(fitted.predict(frame.X)),
        "boost": boosts(frame.X, settings.priority_boost)[0], "label": frame.y}))
    replay = partial(replayed_tier_a, test_from=data.test.t.min(), capacity=daily, a_factor=settings.tier_a_factor,
                     b_factor=settings.tier_b_factor, window=settings.tier_window)
    out = replay(leads)
    if leads.boost.any():  # the same replay without the boosts: do the spec's rules help on this firm's leads?
        plain = replay(leads.assign(boost=0.0))
        out |= {"tier_a_precision_unboosted": plain["tier_a_precision"], "tier_a_leads_unboosted": plain["tier_a_leads"]}
    return out


def refit_on_every_matured_lead(fitted: Fitted, data: TrainingData) -> Refit:
    """Ship what was evaluated, then refit: the recipe that passed the gates on the held-out period is fitted
    again on every matured lead, test period included, so production keeps its newest ~20% of history."""
    t0 = time.perf_counter()
    evaluated = fitted.artifact
    frame, test = data.frame, data.test
    final = fitted.recipe(frame.X[fitted.features], frame.y)
    fitted.artifact = final.to_dict() if fitted.kind == "logistic" else final.model
    fitted.medians = None if fitted.kind == "logistic" else final.medians
    fitted.encoder = None if fitted.kind == "logistic" else final.encoder
    fitted.predict_raw = final.predict
    in_sample = fitted.predict(test.X)
    info = {"rows": len(frame), "positives": frame.positives, "evaluated_rows": len(data.train_all),
            "evaluated_positives": data.train_all.positives,
            "test_period_auc_pr_in_sample": metrics.auc_pr(test.y, in_sample),
            "test_period_ece_in_sample": metrics.ece(test.y, in_sample), "seconds": round(time.perf_counter() - t0, 2)}
    fitted.params = {**fitted.params, "registered_rows": len(frame), "registered_positives": frame.positives}
    fitted.timings["refit_all_matured"] = info["seconds"]
    return Refit(evaluated, info)


def registry_meta(model_id: str, fitted: Fitted, data: TrainingData, ev: Evaluation, split: dict,
                  refit: Refit | None) -> dict:
    """What the registry stores beside the artifact (meta.json): enough to load, score, explain and audit it."""
    fs = data.feature_set
    return {
        "model_id": model_id, "kind": fitted.kind, "features": fitted.features, "levels": fs.levels,
        "medians": fitted.medians, "params": fitted.params,
        "category_encoding": fitted.encoder.to_dict() if fitted.encoder is not None else None,
        "calibration": fitted.calibrator.to_dict(),
        "metrics": {**ev.metrics, "baselines": ev.baselines, "split": split, "refit": refit.info if refit else None},
        "gates": ev.gates, "gates_passed": ev.passed, "training_fingerprint": data.fingerprint,
        "feature_set_fingerprint": fs.fingerprint, "as_of": str(fs.as_of), "timings": fitted.timings,
        "selection": {k: v for k, v in fitted.selection.items() if k != "iv"},
        "imbalance_table": None if fitted.imbalance_table is None else fitted.imbalance_table.to_dict(orient="records"),
        "tuning": fitted.tuning, "notes": fitted.insufficient or "", "crm_fallback": fitted.fallback,
    }


def freeze_reference(wh: Warehouse, settings: Settings, folder, fitted: Fitted, data: TrainingData,
                     ev: Evaluation) -> None:
    """Monitoring's frozen reference (training rows, territory month, scores, tiers), stored with the artifact."""
    t0 = time.perf_counter()
    fs = data.feature_set
    rows = data.rows.sort_values(["contacted_at", "lead_id"]).reset_index(drop=True)
    with wh.reader() as s:
        reference = build_reference(s, rows, fitted.predict(data.frame.X), fs.levels, ev.daily_capacity,
                                    ev.metrics["test"].get("tier_a_precision"), str(fs.as_of),
                                    settings.tier_a_factor, settings.tier_b_factor, settings.tier_window)
    save_reference(folder, reference)
    fitted.timings["reference"] = round(time.perf_counter() - t0, 2)


def keep_evaluated_artifact(folder, kind: str, refit: Refit | None) -> None:
    if refit is None:
        return
    if kind == "xgboost":
        refit.evaluated.save_model(folder / "evaluated_booster.json")
    else:
        (folder / "evaluated_logistic.json").write_text(json.dumps(refit.evaluated))


@audited("train_promote", "train_model")
def train(wh: Warehouse, settings: Settings, budget_minutes: float | None = None, promote_if_passing: bool = False,
          actor: Actor | None = None, progress=None, quick: bool = False, features: FeatureBuild | None = None) -> TrainResult:
    """Train on the live feature build, or on ``features`` (a named build, e.g. the rows known on a past day):
    data → fit → evaluate on the held-out period → refit on every matured lead (when the gates pass) → register
    with its report and frozen monitoring reference → promote (when asked and passing)."""
    progress = progress or (lambda f, m: None)
    started = time.perf_counter()
    budget = 60 * float(budget_minutes or settings.train_budget_minutes)
    data = training_data(wh, settings, actor, features, progress)
    fitted = fit_pipeline(data.train_all, budget - (time.perf_counter() - started), progress, quick=quick,
                          selection_rows=configured_selection_rows(settings), gap=label_gap(settings))
    if data.test.positives < MIN_TEST_POSITIVES and not fitted.insufficient:
        fitted.insufficient = f"only {data.test.positives} positives in the test period (need ≥ {MIN_TEST_POSITIVES})"
    progress(0.93, "Evaluating on the held-out period, with baselines")
    ev = evaluate_held_out(wh, settings, fitted, data)
    model_id = time.strftime("m%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
    split = _split_info(fitted.fit_frame, fitted.calib_frame, data.test)
    refit = None
    if ev.passed and not fitted.insufficient and fitted.recipe is not None:
        progress(0.96, "Refitting the evaluated recipe on every matured lead (test period included)")
        refit = refit_on_every_matured_lead(fitted, data)
    report = report_markdown(model_id, fitted, ev.metrics, ev.gates, ev.baselines, split, refit.info if refit else None)
    meta = registry_meta(model_id, fitted, data, ev, split, refit)
    folder = save_model(wh, settings, model_id, fitted.kind, fitted.artifact, meta, report, actor)
    progress(0.98, "Freezing the monitoring reference (training rows, territory month, scores, tiers)")
    freeze_reference(wh, settings, folder, fitted, data, ev)
    keep_evaluated_artifact(folder, fitted.kind, refit)
    promoted = False
    if promote_if_passing:
        if ev.passed:
            promote(wh, model_id, actor)
            promoted = True
        else:
            report += "\n**Not promoted:** the gates failed (see above).\n"
    fitted.timings["total"] = round(time.perf_counter() - started, 2)
    progress(1.0, f"Model {model_id} registered")
    return TrainResult(model_id, fitted.kind, ev.gates, ev.passed, meta["metrics"], report, promoted,
                       time.perf_counter() - started, fitted.timings)
