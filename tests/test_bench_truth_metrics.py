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
