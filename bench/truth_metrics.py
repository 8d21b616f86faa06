"""Benchmark-only measures that need each lead's true probability — the demo truth file, which the engine
never reads (tests/test_demo.py guards core/ against it) — and the set-up the truth benchmarks share."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import load_settings, with_overrides
from core.modeling.metrics import auc_pr, bootstrap_auc_pr
from core.warehouse import open_warehouse


def truth_bench_parser() -> argparse.ArgumentParser:
    """DATA_DIR (the full-scale demo, loaded), TRUTH_CSV and --test-from; a benchmark adds its own options."""
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("truth_csv")
    ap.add_argument("--test-from", default="2025-06-01")
    return ap


def open_data_dir(data_dir):
    """(settings, warehouse) of the engine on ``data_dir``."""
    settings = with_overrides(load_settings(), data_dir=Path(data_dir))
    return settings, open_warehouse(settings)


def truth_probabilities(truth_csv, lead_ids) -> np.ndarray:
    """Each lead's true probability from the demo truth file, in the order of ``lead_ids``; every lead must
    be in the file."""
    truth = pd.read_csv(truth_csv, dtype={"lead_id": str}).set_index("lead_id")["true_prob_mql_30d"]
    q = truth.reindex(pd.Series(lead_ids).astype(str)).to_numpy()
    assert not pd.isna(q).any(), "every backtest lead must be in the truth file"
    return q


def expected_auc_pr(true_prob, scores: dict, draws: int = 500, seed: int = 42) -> dict:
    """Mean AUC-PR of each ranking in ``scores`` over outcomes redrawn from ``true_prob`` (Bernoulli per row).

    Only for simulated data, where each lead's true probability is known: one realised set of labels on a few
    hundred positives moves AUC-PR by several points, which hides differences between rankings. Averaging
    over ``draws`` fresh outcomes of the same leads measures the ranking itself, not the luck of one draw.
    Every ranking sees the same draws (paired). Returns name -> mean AUC-PR.
    """
    q = np.asarray(true_prob, dtype=float)
    rng = np.random.default_rng(seed)
    totals = {name: [] for name in scores}
    for _ in range(draws):
        y = rng.random(len(q)) < q
        for name, p in scores.items():
            if (ap := auc_pr(y, p)) is not None:
                totals[name].append(ap)
    return {name: (float(np.mean(v)) if v else None) for name, v in totals.items()}


def paired_bootstrap_ratio(y, p, q, resamples: int = 1000, seed: int = 42) -> tuple[float, float, float]:
    """Median and 90% interval of AUC-PR(p) / AUC-PR(q) over bootstrap resamples of the same rows."""
    both = bootstrap_auc_pr(y, p, q, resamples=resamples, seed=seed)
    lo, mid, hi = np.percentile(both[:, 0] / both[:, 1], [5, 50, 95])
    return float(mid), float(lo), float(hi)


def learning_curve(fit, X, y, X_test, true_prob, fractions=(0.25, 0.5, 0.75, 1.0), repeats: int = 3,
                   draws: int = 300, seed: int = 42) -> list[dict]:
    """How close a model gets to the truth ranking as its training rows grow.

    For each fraction, ``fit(X_sub, y_sub)`` (returning an object with ``predict``) is trained on ``repeats``
    random subsets of that share of the rows (one, the full set, at 1.0) and each fitted ranking of
    ``X_test`` is scored against the truth ranking on the same ``draws`` outcomes redrawn from ``true_prob``.
    Returns, per fraction: rows, mean positives, the mean ratio to the ceiling and each repeat's ratio.
    """
    y = np.asarray(y)
    runs, rankings = [], {"ceiling": np.asarray(true_prob, dtype=float)}
    for f in fractions:
        for r in range(repeats if f < 1 else 1):
            idx = np.sort(np.random.default_rng(seed + r).choice(len(y), int(round(f * len(y))), replace=False))
            rankings[(f, r)] = fit(X.iloc[idx], y[idx]).predict(X_test)
            runs.append((f, r, len(idx), int(y[idx].sum())))
    mean = expected_auc_pr(rankings["ceiling"], rankings, draws=draws, seed=seed)  # every ranking, same draws
    out = []
    for f in fractions:
        mine = [run for run in runs if run[0] == f]
        ratios = [mean[(f, r)] / mean["ceiling"] for _, r, _, _ in mine]
        out.append({"fraction": f, "rows": mine[0][2], "positives": float(np.mean([run[3] for run in mine])),
                    "ratio": float(np.mean(ratios)), "ratios": [round(v, 4) for v in ratios]})
    return out

def positives_for(curve: list[dict], target: float) -> float | None:
    """Training positives at which a power law ``1 - ratio = a * positives^-b``, fitted to the curve, reaches
    ``target``; None when the gap does not shrink with more history."""
    x = np.log([c["positives"] for c in curve])
    g = np.log([max(1 - c["ratio"], 1e-6) for c in curve])
    slope, intercept = np.polyfit(x, g, 1)
    return float(np.exp((np.log(1 - target) - intercept) / slope)) if slope < 0 else None
