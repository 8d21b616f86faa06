"""Categorical signal (target encoding inside each training fold, unseen levels), the noise-aware model
choice, ship-what-was-evaluated-then-refit, the analyst baseline and SHAP values equal to xgboost's own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.modeling.boosting import Imbalance, fit_booster
from core.modeling.choice import one_se_choice
from core.modeling.data import Frame, model_inputs
from core.modeling.encoding import CategoryEncoder

NONE = Imbalance("none", "pos_weight", pos_weight=1.0)


def _cat_frame(n=4000, seed=0, levels=60) -> pd.DataFrame:
    """x1 numeric signal plus a long-tail category whose levels carry their own effects."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0, 1.0, levels)
    lv = rng.integers(0, levels, n)
    x1 = rng.normal(size=n)
    z = -3.0 + 0.8 * x1 + effect[lv]
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return pd.DataFrame({"x1": x1.astype("float32"), "cat_Metro": [f"metro {i}" for i in lv], "label": y,
                         "TotalAssetsInMillions": rng.uniform(10, 900, n).astype("float32")})


def test_model_inputs_keep_categories_as_text_and_numbers_as_float():
    df = pd.DataFrame({"cat_Metro": ["Denver", None], "x": ["1.5", "oops"]})
    X = model_inputs(df, ["cat_Metro", "x", "cat_Owner"])
    assert X.cat_Metro.tolist() == ["Denver", None] and X.cat_Owner.isna().all()
    assert X.x.dtype == "float32" and X.x.iloc[0] == 1.5 and np.isnan(X.x.iloc[1])


def test_encoding_never_sees_the_validation_folds_labels():
    df = _cat_frame()
    train, val = df.iloc[:3000].copy(), df.iloc[3000:].copy()
    # A level that exists only in the validation rows, all of them positive: training cannot know it.
    val.loc[val.index[:40], "cat_Metro"] = "only in validation"
    val.loc[val.index[:40], "label"] = 1
    X_tr = train[["x1", "cat_Metro"]]
    enc = CategoryEncoder()
    crossfit = enc.fit_transform(X_tr, train.label)
    assert "only in validation" not in enc.mapping["cat_Metro"]
    out = enc.transform(val[["x1", "cat_Metro"]])
    assert np.allclose(out.cat_Metro.iloc[:40], enc.default)  # the overall training rate, nothing learned
    # Training rows are cross-fitted: a row's encoding does not come from a mapping that saw its own label.
    full = enc.transform(X_tr)
    assert not np.allclose(crossfit.cat_Metro.to_numpy(), full.cat_Metro.to_numpy())
    # The booster scores the planted level exactly like a level it has never seen.
    m = fit_booster(X_tr, train.label.to_numpy(), {"max_depth": 2, "n_estimators": 50}, NONE)
    probe = val[["x1", "cat_Metro"]].iloc[:40].copy()
    unseen = probe.assign(cat_Metro="a level nobody has seen")
    assert np.allclose(m.predict(probe), m.predict(unseen))


def test_long_tail_levels_carry_signal_through_the_encoding():
    from core.modeling.metrics import auc_pr

    df = _cat_frame(n=12000, seed=1)
    tr, te = df.iloc[:9000], df.iloc[9000:]
    with_cat = fit_booster(tr[["x1", "cat_Metro"]], tr.label.to_numpy(), {"max_depth": 2, "n_estimators": 200,
                                                                           "learning_rate": 0.05}, NONE)
    without = fit_booster(tr[["x1"]], tr.label.to_numpy(), {"max_depth": 2, "n_estimators": 200,
                                                            "learning_rate": 0.05}, NONE)
    assert auc_pr(te.label, with_cat.predict(te)) > auc_pr(te.label, without.predict(te)) + 0.02


def test_one_se_rule_prefers_the_simpler_of_equal_contenders():
    rng = np.random.default_rng(0)
    n = 20000
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-3 + signal)))).astype(int)
    # Two contenders of exactly equal expected quality (same noise level), the complex one luckier here.
    simple, complex_ = signal + rng.normal(0, 1.0, n), signal + rng.normal(0, 1.0, n)
    out = one_se_choice(y, {"simple": simple, "complex": complex_}, {"simple": 0, "complex": 1})
    assert out["chosen"] == "simple"
    rows = {r["model"]: r for r in out["rows"]}
    assert rows["complex"]["se_diff"] == 0 and rows["simple"]["se_diff"] > 0
    # A clearly better complex contender wins.
    better = signal + rng.normal(0, 0.2, n)
    out = one_se_choice(y, {"simple": simple, "complex": better}, {"simple": 0, "complex": 1})
    assert out["chosen"] == "complex" and not {r["model"]: r for r in out["rows"]}["simple"]["within_one_se"]


def test_analyst_baseline_takes_categories_and_unseen_levels():
    from core.modeling.baselines import analyst_default

    df = _cat_frame(n=3000)
    m = analyst_default(df[["x1", "cat_Metro"]].iloc[:2500], df.label.iloc[:2500])
    probe = df[["x1", "cat_Metro"]].iloc[2500:].copy()
    probe.iloc[:5, 1] = "brand new metro"
    p = m.predict(probe)
    assert p.shape == (500,) and np.isfinite(p).all()


def _synthetic_warehouse_frame(n=6000, seed=5):
    rng = np.random.default_rng(seed)
    t = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 500, n)), unit="D"))
    df = _cat_frame(n=n, seed=seed, levels=30)
    X = df[["x1", "cat_Metro", "TotalAssetsInMillions"]].assign(
        AUM_Growth_Rate_1Year=rng.normal(5, 10, n).astype("float32"), x2=rng.normal(size=n).astype("float32"))
    return Frame(X, df.label.to_numpy(), t, pd.Series([f"L{i}" for i in range(n)]))


def test_registered_model_is_the_evaluated_recipe_refitted_on_every_matured_lead(settings, wh, monkeypatch):
    """train(): gates pass on the test period, then the same recipe is refitted on all rows (test included)."""
    from core.features.build import FeatureSet
    from core.modeling import train as tr
    from core.modeling.data import time_split
    from core.modeling.registry import load_model

    frame = _synthetic_warehouse_frame()
    monkeypatch.setattr(tr, "latest_feature_set", lambda wh: FeatureSet("fs", pd.Timestamp("2025-06-01"), {}, "f"))
    monkeypatch.setattr(tr, "is_current", lambda wh, fs: True)
    monkeypatch.setattr(tr, "feature_matrix", lambda wh, training_only=False, build="": pd.DataFrame(
        {"lead_id": frame.ids, "contacted_at": frame.t, "label": frame.y}))
    monkeypatch.setattr(tr, "frame_from", lambda df: frame)
    monkeypatch.setattr(tr, "gates", lambda ev, insufficient, train_positives=None: [{"gate": "test", "value": 1.0, "passed": True, "n": 1}])
    seen, real = {}, tr.build_reference
    monkeypatch.setattr(tr, "build_reference", lambda *a: seen.update(args=a) or real(*a))
    result = tr.train(wh, settings, budget_minutes=1)
    folder = settings.models_dir / result.model_id
    meta = json.loads((folder / "meta.json").read_text())
    # Tier A as scoring sizes it: precision at capacity x 1.2; the reference replays tiers from the daily capacity
    assert meta["metrics"]["test"]["capacity"] == settings.tier_a_size(settings.daily_capacity) == 144
    assert seen["args"][4] == settings.daily_capacity and seen["args"][-3:] == (1.2, 2.0, settings.tier_window)
    refit = meta["metrics"]["refit"]
    train_all, test = time_split(frame, 0.2)
    assert refit["rows"] == len(frame) > refit["evaluated_rows"] == len(train_all)
    assert meta["params"]["registered_rows"] == len(frame)
    assert (folder / ("evaluated_booster.json" if meta["kind"] == "xgboost" else "evaluated_logistic.json")).exists()
    # Same recipe: the registered artifact has the evaluated one's settings and features.
    if meta["kind"] == "xgboost":
        import xgboost as xgb

        a, b = xgb.XGBClassifier(), xgb.XGBClassifier()
        a.load_model(folder / "booster.json")
        b.load_model(folder / "evaluated_booster.json")
        keys = ("max_depth", "learning_rate", "reg_lambda", "colsample_bytree", "max_leaves")
        assert {k: a.get_params()[k] for k in keys} == {k: b.get_params()[k] for k in keys}
        assert a.get_booster().feature_names == b.get_booster().feature_names
    loaded = load_model(folder)
    probe = test.X.copy()
    probe.loc[probe.index[:10], "cat_Metro"] = "never seen"  # unseen levels score
    assert np.isfinite(loaded.predict(probe)).all()
    assert "refitted on every matured lead" in (folder / "report.md").read_text()


def test_shap_equals_xgboost_contributions(tmp_path):
    """The analyst views use shap.TreeExplainer; it must give xgboost's own pred_contribs (within 1e-4)."""
    import shap

    from core.modeling.registry import load_model

    df = _cat_frame(n=3000)
    X = df[["x1", "cat_Metro", "TotalAssetsInMillions"]]
    m = fit_booster(X, df.label.to_numpy(), {"max_depth": 3, "n_estimators": 80}, NONE)
    m.model.save_model(tmp_path / "booster.json")
    (tmp_path / "meta.json").write_text(json.dumps({"model_id": "m-shap", "kind": "xgboost", "features": list(X.columns),
                                                    "medians": None, "category_encoding": m.encoder.to_dict()}))
    loaded = load_model(tmp_path)
    Z = loaded.prepare(X.iloc[:500])
    values = shap.TreeExplainer(loaded.booster.get_booster())(Z).values
    assert np.abs(values - loaded.contributions(X.iloc[:500])).max() < 1e-4


@pytest.mark.parametrize("family", ["additive", "interactions", "thresholds", "long-tail"])
def test_each_truth_family_generates_at_its_documented_rates(tmp_path, family):
    from core.demo import generate

    s = generate(tmp_path / family, "small", 11, truth=family)
    truth = pd.read_csv(tmp_path / family / "truth" / "demo_truth.csv")
    c = truth[truth.contacted]
    assert s["truth"] == family
    assert abs(c.true_prob_mql_30d.mean() - 0.041) < 0.003  # the intercept is solved for the base rate
    assert 0.025 < s["positive_rate_30d_drawn"] < 0.055
    assert s["weekend_rate"] > s["weekday_rate"]  # every family keeps the weekend effect
    doc = (tmp_path / family / "truth" / "GENERATIVE_MODEL.md").read_text()
    assert f"`{family}` truth" in doc
    leads = pd.read_csv(tmp_path / family / "salesforce_leads.csv", dtype=str, keep_default_na=False)
    from core.demo import NA_SPELLINGS

    lists = len(set(leads.Lead_List_Name__c) - set(NA_SPELLINGS))
    assert lists > 20 if family == "long-tail" else lists <= 6  # five lists and the population shift's new one


def test_unknown_truth_family_is_a_user_error(tmp_path):
    from core.demo import generate
    from core.errors import LeadScoringError

    with pytest.raises(LeadScoringError, match="--truth"):
        generate(tmp_path, "small", 1, truth="wavy")


def test_category_drivers_are_plain_sentences_never_encoded_numbers():
    from core.scoring.drivers import top_drivers

    X = pd.DataFrame({"cat_Metro": ["Denver-Aurora-Lakewood CO", None], "cat_Owner": ["005A", "005B"],
                      "cat_Lead_List": ["Apollo RIA 2024", "Apollo RIA 2024"], "x1": [1.0, 2.0]})
    contribs = np.array([[0.9, 0.8, 0.5, 0.1], [0.9, 0.8, 0.5, 0.1]])
    d = top_drivers(contribs, list(X.columns), X)
    assert [x["text"] for x in d[0]][:2] == ["Lives in the Denver-Aurora-Lakewood CO metro",
                                             "From the Apollo RIA 2024 list"]
    assert all("cat_" not in x["text"] and "005A" not in x["text"] for x in d[0])  # the owner is never a reason
    assert d[1][0]["text"] == "From the Apollo RIA 2024 list"  # a missing metro is not a fact
