"""`backtest --test-from DATE`: train only on what was known before DATE (leads contacted before it, with
labels as matured by then) and score every non-censored lead contacted on or after it, with labels as
known now. Metrics overall and per month show temporal stability; scikit-learn's HistGradientBoosting with
its defaults is scored on the same leads for comparison. The past features are built beside the live ones
(a named build), so scoring, monitoring and experiments read today's features throughout."""

from __future__ import annotations

import time
import uuid
from typing import NamedTuple

import numpy as np
import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.export import output_path, write_csv
from core.features.build import build_features, default_as_of, drop_build, feature_matrix, parse_as_of
from core.modeling import metrics
from core.modeling.baselines import analyst_default
from core.modeling.data import Frame, frame_from
from core.modeling.train import configured_selection_rows, fit_pipeline, label_gap
from core.operation import audited
from core.scoring.capacity import get_capacity
from core.warehouse import Warehouse


class BacktestRows(NamedTuple):
    train: Frame
    test: Frame
    now: pd.Timestamp


def backtest_frames(wh: Warehouse, settings: Settings, cutoff: pd.Timestamp, actor: Actor | None = None,
                    progress=None) -> BacktestRows:
    """The backtest's rows: for training, every lead contacted before ``cutoff`` whose label had matured by
    then, with features as known on that day; for testing, every matured lead contacted on or after it,
    with features built now on the cut-off's category levels (same columns). Both are built in a named
    build of their own (``backtest_<random>``), beside the live one, which nothing here touches; it is dropped
    afterwards, also on failure. ``now`` is the Lead export time."""
    progress = progress or (lambda f, m: None)
    with wh.reader() as s:
        now = default_as_of(s)
    if cutoff >= now:
        raise LeadScoringError(f"--test-from {cutoff.date()} is not before the Lead export time {now}: nothing to test on.")
    build = f"backtest_{uuid.uuid4().hex[:8]}"
    try:
        progress(0.02, f"Features as known on {cutoff.date()}")
        past = build_features(wh, settings, as_of=cutoff, actor=actor, into=build)
        train_df = feature_matrix(wh, training_only=True, build=build)
        if train_df.empty or train_df.label.sum() == 0:
            raise LeadScoringError(f"No matured positive labels before {cutoff.date()}: choose a later --test-from.")
        frame = frame_from(train_df)
        progress(0.06, "Features of the leads contacted on or after the cut-off")
        build_features(wh, settings, as_of=now, levels=past.levels, actor=actor, into=build)
        later = feature_matrix(wh, training_only=True, build=build)
        later = later[pd.to_datetime(later.contacted_at, utc=True) >= cutoff]
        if later.empty:
            raise LeadScoringError(f"No matured leads contacted on or after {cutoff.date()}.")
        return BacktestRows(frame, frame_from(later, features=list(frame.X.columns)), now)
    finally:
        drop_build(wh, build)


@audited("train_promote", "backtest", target=lambda a: a["out"])
def backtest(wh: Warehouse, settings: Settings, test_from: str, out: str, budget_minutes: float | None = None,
             actor: Actor | None = None, progress=None) -> dict:
    progress = progress or (lambda f, m: None)
    started = time.perf_counter()
    cutoff = parse_as_of(test_from)
    out = output_path(out, "--out")  # checked before the minutes of training, not after
    frame, test, now = backtest_frames(wh, settings, cutoff, actor, progress)
    budget = 60 * float(budget_minutes or settings.train_budget_minutes)
    fitted = fit_pipeline(frame, budget, lambda f, m: progress(0.1 + 0.8 * f, m),
                          selection_rows=configured_selection_rows(settings), gap=label_gap(settings))
    progress(0.92, "Scoring the leads contacted on or after the cut-off")
    score = fitted.predict(test.X)
    tf = fitted.train_frame  # same rows as the engine's model
    baseline = analyst_default(tf.X, tf.y).predict(test.X[tf.X.columns])
    write_csv(pd.DataFrame({"lead_id": test.ids, "score": np.round(score, 6), "label": test.y}), out, "--out")
    month = test.t.dt.strftime("%Y-%m").to_numpy()
    per_month = []
    for m in sorted(set(month)):
        sel = month == m
        per_month.append({"month": m, "n": int(sel.sum()), "positives": int(test.y[sel].sum()),
                          "auc_pr": metrics.auc_pr(test.y[sel], score[sel]), "auc_roc": metrics.auc_roc(test.y[sel], score[sel])})
    overall = metrics.summary(test.y, score, settings.tier_a_size(get_capacity(wh, settings).daily))
    result = {
        "test_from": str(cutoff), "as_of_now": str(now), "train_n": len(frame), "train_positives": frame.positives,
        "model_kind": fitted.kind, "model_chosen": fitted.selection.get("model_chosen", fitted.kind),
        "features": len(fitted.features), "insufficient": fitted.insufficient, "overall": overall,
        "baseline_hgb_auc_pr": metrics.auc_pr(test.y, baseline), "per_month": per_month,
        "seconds": round(time.perf_counter() - started, 1), "out": str(out),
    }
    lines = [f"# Backtest from {cutoff.date()} ({result['model_chosen']}, {result['features']} features)",
             f"Trained on {len(frame):,} leads ({frame.positives:,} positive) known before the cut-off; scored "
             f"{overall['n']:,} matured leads ({overall['positives']:,} positive) contacted on or after it.",
             f"AUC-PR {overall['auc_pr']:.4f} (scikit-learn HistGradientBoosting defaults on the same leads {result['baseline_hgb_auc_pr']:.4f}), "
             f"AUC-ROC {overall['auc_roc']:.4f}, top-decile lift {overall['top_decile_lift']:.2f}, ECE {overall['ece']:.4f}.",
             "", "| month | n | positives | AUC-PR | AUC-ROC |", "|---|---:|---:|---:|---:|"]
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    lines += [f"| {r['month']} | {r['n']:,} | {r['positives']:,} | {fmt(r['auc_pr'])} | {fmt(r['auc_roc'])} |"
              for r in per_month]
    if fitted.insufficient:
        lines.insert(1, f"> Not enough data: {fitted.insufficient}.")
    lines.append(f"\nScores written to {out} (columns lead_id, score, label). {result['seconds']} s.")
    result["markdown"] = "\n".join(lines)
    audit.record_now(wh, actor, "backtest", str(out), "ok", {k: v for k, v in result.items() if k not in ("markdown", "per_month", "overall")})
    return result
