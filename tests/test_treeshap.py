"""Per-pattern TreeSHAP equals XGBoost's own pred_contribs, and steps aside where it does not apply."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from core.modeling.treeshap import TreeTables, exact_contributions


def _data(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "aum": rng.lognormal(5, 1.2, n),
        "growth": rng.normal(5, 15, n),
        "flag": rng.integers(0, 2, n).astype(float),
        "count": rng.poisson(2, n).astype(float),
        "tenure": rng.uniform(0, 30, n),
        "unused": rng.normal(size=n),
    })
    X.loc[rng.random(n) < 0.25, "growth"] = np.nan  # missing values take the default way
    X.loc[rng.random(n) < 0.10, "aum"] = np.nan
    logit = -3 + 0.6 * np.log1p(X.aum.fillna(50)) / 3 + 0.05 * X.growth.fillna(0) + 0.8 * X.flag - 0.03 * X.tenure
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _direct(booster: xgb.Booster, X: pd.DataFrame) -> np.ndarray:
    return booster.predict(xgb.DMatrix(X), pred_contribs=True)[:, :-1]


@pytest.mark.parametrize("depth,trees", [(1, 120), (2, 150), (3, 80)])
def test_tables_give_xgboosts_contributions(depth, trees):
    X, y = _data()
    model = xgb.XGBClassifier(n_estimators=trees, max_depth=depth, learning_rate=0.1, tree_method="hist",
                              max_bin=32, subsample=0.8, random_state=1).fit(X, y)
    booster = model.get_booster()
    tables = TreeTables.build(booster)
    assert tables is not None
    if depth == 1:  # stumps on the same split share one table
        assert len(tables.shapes) < trees
    else:  # trees that split one feature twice are exercised
        assert any(len({f for f, _, _ in s.nodes}) < len(s.nodes) for s in tables.shapes)
    held_out, _ = _data(2000, seed=7)
    fast = tables.contributions(held_out.to_numpy(dtype=np.float32))
    np.testing.assert_allclose(fast, _direct(booster, held_out), atol=2e-6)
    assert fast.dtype == np.float32 and fast.shape == (2000, X.shape[1])


def test_all_missing_rows_and_values_on_the_thresholds():
    X, y = _data()
    booster = xgb.XGBClassifier(n_estimators=60, max_depth=2, max_bin=16, random_state=0).fit(X, y).get_booster()
    tables = TreeTables.build(booster)
    frame = booster.trees_to_dataframe()
    splits = frame[frame.Feature != "Leaf"]
    probe = pd.DataFrame(np.nan, index=range(len(splits) + 1), columns=X.columns)
    for i, (feature, threshold) in enumerate(zip(splits.Feature, splits.Split)):
        probe.loc[i + 1, feature] = threshold  # exactly on a split: x < split is false, the row goes right
    got = tables.contributions(probe.to_numpy(dtype=np.float32))
    np.testing.assert_allclose(got, _direct(booster, probe), atol=2e-6)


def test_deep_trees_fall_back_to_pred_contribs():
    X, y = _data()
    booster = xgb.XGBClassifier(n_estimators=20, max_depth=5, random_state=0).fit(X, y).get_booster()
    assert TreeTables.build(booster) is None  # 2**31 patterns per tree: not worth tabulating
    got = exact_contributions(booster, X, None)
    np.testing.assert_array_equal(got, _direct(booster, X))


def test_a_disagreeing_table_is_caught_by_the_self_check(caplog):
    X, y = _data()
    booster = xgb.XGBClassifier(n_estimators=40, max_depth=2, random_state=0).fit(X, y).get_booster()
    tables = TreeTables.build(booster)
    tables.shapes[0].columns[0][:] += 1.0  # a corrupted table
    got = exact_contributions(booster, X, tables)
    np.testing.assert_array_equal(got, _direct(booster, X))
    assert "differs from pred_contribs" in caplog.text
