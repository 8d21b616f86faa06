"""The benchmark's truth-based measures (bench/truth_metrics.py): they must measure a ranking, not one draw."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from truth_metrics import expected_auc_pr, paired_bootstrap_ratio  # noqa: E402


def test_expected_auc_pr_measures_the_ranking_not_one_draw():
    rng = np.random.default_rng(0)
    q = 1 / (1 + np.exp(-(-3 + 1.5 * rng.normal(size=4000))))
    noisy = np.log(q / (1 - q)) + rng.normal(scale=1.5, size=len(q))
    e = expected_auc_pr(q, {"truth": q, "same order": 2 * q, "noisy": noisy, "random": rng.random(len(q))}, draws=100)
    assert e["truth"] == pytest.approx(e["same order"])          # a ranking, not a probability scale
    assert e["truth"] > e["noisy"] > e["random"]
    assert e["random"] == pytest.approx(q.mean(), abs=0.01)     # a random ranking scores the base rate
    assert expected_auc_pr(q, {"t": q}, draws=20) == expected_auc_pr(q, {"t": q}, draws=20)  # seeded
    y = (rng.random(len(q)) < q).astype(int)
    assert paired_bootstrap_ratio(y, q, q, resamples=50) == (1.0, 1.0, 1.0)
    mid, lo, hi = paired_bootstrap_ratio(y, noisy, q, resamples=200)
    assert lo <= mid <= hi < 1.0


def test_learning_curve_rises_with_training_rows_towards_the_ceiling():
    from sklearn.linear_model import LogisticRegression
    import pandas as pd
    from truth_metrics import learning_curve

    rng = np.random.default_rng(1)
    def make(n):
        X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
        z = -3 + 1.2 * X.x0 - 0.8 * X.x1 + 0.5 * X.x2
        return X, 1 / (1 + np.exp(-z))

    class Fit:
        def __init__(self, X, y):
            self.m = LogisticRegression(C=1e4, max_iter=1000).fit(X, y)

        def predict(self, X):
            return self.m.predict_proba(X)[:, 1]

    X, q = make(6000)
    y = (rng.random(len(q)) < q).astype(int)
    Xt, qt = make(3000)
    curve = learning_curve(Fit, X, y, Xt, qt, fractions=(0.03, 0.2, 1.0), repeats=2, draws=40)
    assert [c["rows"] for c in curve] == [180, 1200, 6000]
    assert len(curve[0]["ratios"]) == 2 and len(curve[-1]["ratios"]) == 1
    assert curve[-1]["positives"] == int(y.sum())
    ratios = [c["ratio"] for c in curve]
    assert ratios[0] < ratios[1] < ratios[2] <= 1.0 + 1e-9
    assert ratios[2] > 0.98          # the right form with 6,000 rows is nearly the truth ranking
    assert curve == learning_curve(Fit, X, y, Xt, qt, fractions=(0.03, 0.2, 1.0), repeats=2, draws=40)  # seeded


def test_positives_for_inverts_a_power_law_gap():
    from truth_metrics import positives_for

    curve = [{"positives": n, "ratio": 1 - 2.0 * n ** -0.5} for n in (100, 400, 1600)]
    assert positives_for(curve, 0.95) == pytest.approx(1600, rel=1e-6)   # 2 / sqrt(1600) = 0.05
    flat = [{"positives": n, "ratio": 0.9} for n in (100, 400)] + [{"positives": 1600, "ratio": 0.89}]
    assert positives_for(flat, 0.95) is None
