"""Training machinery: time-ordered folds, SMOTE isolation, IV/VIF, calibration, gates, registry, and the
not-enough-data path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.outliers_influence import variance_inflation_factor

from core.auth import Actor
from core.errors import LeadScoringError, PermissionDeniedError
from core.modeling import imbalance as imb
from core.modeling import metrics, registry
from core.modeling.baselines import LogisticBaseline, heuristic_rule
from core.modeling.boosting import Imbalance, fit_booster
from core.modeling.calibration import SegmentCalibrator
from core.modeling.data import GAP, Frame, blocked_folds, time_split
from core.modeling.selection import information_value, permutation_pruning, select_features, vif_table
from core.modeling.train import gates


def _frame(n=1200, seed=0, pos_rate=0.08) -> Frame:
    rng = np.random.default_rng(seed)
    t = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 500, n)), unit="D"))
    x1 = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(np.log(pos_rate / (1 - pos_rate)) + 1.2 * x1)))).astype(int)
    X = pd.DataFrame({"row_id": np.arange(n, dtype="float32"), "x1": x1.astype("float32"),
                      "x2": rng.normal(size=n).astype("float32"), "TotalAssetsInMillions": rng.uniform(10, 900, n).astype("float32"),
                      "AUM_Growth_Rate_1Year": rng.normal(5, 10, n).astype("float32")})
    return Frame(X, y, t, pd.Series([f"L{i}" for i in range(n)]))


def test_blocked_folds_respect_time_and_gaps():
    f = _frame()
    folds = blocked_folds(f.t, k=5)
    assert len(folds) == 5
    for train, val in folds:
        assert f.t.iloc[train].max() < f.t.iloc[val].min() - GAP      # no val lead earlier than a train lead, 30-day gap
        assert len(set(train) & set(val)) == 0
    assert [len(tr) for tr, _ in folds] == sorted(len(tr) for tr, _ in folds)  # expanding window


def test_time_split_holds_out_the_newest_with_a_gap():
    f = _frame()
    old, new = time_split(f, 0.2)
    assert len(new) == 240 and old.t.max() < new.t.min() - GAP


def test_smote_never_sees_validation_rows(monkeypatch):
    from imblearn.over_sampling import SMOTE

    seen = []
    original = SMOTE.fit_resample

    def spy(self, X, y):
        seen.append(set(np.asarray(X["row_id"]).astype(int)))
        return original(self, X, y)

    monkeypatch.setattr(SMOTE, "fit_resample", spy)
    f = _frame()
    folds = blocked_folds(f.t, k=3)
    imb.compare(f, folds, configs=(Imbalance("smote_default", "smote"),))
    assert len(seen) == len(folds)
    for rows, (train, val) in zip(seen, folds):
        assert rows == set(train) and rows.isdisjoint(val)


def test_imbalance_decision_weights():
    table = pd.DataFrame({"config": ["a", "b"], "auc_pr": [0.30, 0.20], "calibration_error": [0.05, 0.01],
                          "precision_at_10pct": [0.3, 0.2], "auc_pr_cov": [0.1, 0.1]})
    decided = imb.decide(table)
    # a wins AUC-PR (0.40) and precision (0.20); b wins calibration (0.25); stability ties.
    assert decided.loc[decided.chosen, "config"].iloc[0] == "a"
    assert decided.score.tolist() == pytest.approx([0.75, 0.40])


def test_information_value_by_hand():
    x = pd.Series([0, 0, 0, 0, 1, 1, 1, 1])
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    # bins: x=0 has 3 pos / 1 neg, x=1 has 1 pos / 3 neg; with 0.5 smoothing per cell and 2 bins
    dp = np.array([3.5, 1.5]) / (4 + 1)
    dn = np.array([1.5, 3.5]) / (4 + 1)
    assert information_value(x, y) == pytest.approx(float(((dp - dn) * np.log(dp / dn)).sum()))


def test_vif_matches_statsmodels():
    rng = np.random.default_rng(1)
    a = rng.normal(size=500)
    X = pd.DataFrame({"a": a, "b": a * 0.9 + rng.normal(scale=0.3, size=500), "c": rng.normal(size=500)})
    ours = vif_table(X)
    exog = np.column_stack([np.ones(500), X.to_numpy()])
    theirs = [variance_inflation_factor(exog, i) for i in range(1, 4)]
    assert ours.tolist() == pytest.approx(theirs, rel=1e-6)


def test_selection_removes_and_keeps_by_rule():
    f = _frame()
    X = f.X.drop(columns=["row_id"]).copy()
    X["x1_copy"] = X["x1"] * 2 + 0.001
    X["constant"] = 1.0
    X["noise"] = np.random.default_rng(3).normal(size=len(X))
    within_class = pd.Series(f.y).groupby(f.y).cumcount().to_numpy()
    X["TotalAssetsInMillions"] = np.where(within_class % 2 == 0, 100.0, 200.0)  # split evenly in both classes
    out = select_features(X, f.y)
    removed = {r["feature"]: r["reason"] for r in out["removed"]}
    assert removed["constant"] == "constant"
    assert "VIF" in removed.get("x1_copy", removed.get("x1", ""))
    assert "TotalAssetsInMillions" in out["selected"]          # business-critical, kept even with a low IV
    assert any(k["feature"] == "TotalAssetsInMillions" for k in out["kept_by_rule"])


def test_calibration_improves_brier_on_a_miscalibrated_fixture():
    rng = np.random.default_rng(7)
    n = 6000
    p_true = rng.beta(1, 20, n)
    y = (rng.random(n) < p_true).astype(int)
    raw = p_true ** 0.4  # badly over-confident, same ranking
    seg = np.where(rng.random(n) < 0.5, "<$100M", "$100–500M")
    cal = SegmentCalibrator().fit(raw[:3000], y[:3000], seg[:3000])
    after = cal.transform(raw[3000:], seg[3000:])
    assert metrics.brier(y[3000:], after) < 0.8 * metrics.brier(y[3000:], raw[3000:])
    assert metrics.ece(y[3000:], after) < 0.02
    again = SegmentCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert np.allclose(again.transform(raw[3000:], seg[3000:]), after)


def test_isotonic_is_chosen_only_when_it_wins_clearly():
    rng = np.random.default_rng(11)
    # A Platt-shaped miscalibration with ~100 positives: isotonic would only chase noise.
    n = 2500
    p_true = 1 / (1 + np.exp(-rng.normal(-3.6, 1.0, n)))
    y = (rng.random(n) < p_true).astype(int)
    raw = 1 / (1 + np.exp(-(0.5 * np.log(p_true / (1 - p_true)) + 0.4)))
    cal = SegmentCalibrator().fit(raw, y, np.array(["<$100M"] * n))
    assert cal.calibrators_["all"]["kind"] == "platt"
    # A step no logistic curve can follow, with plenty of rows: isotonic wins by far more than its error.
    n = 40000
    raw = rng.random(n)
    y = (rng.random(n) < np.where(raw < 0.8, 0.01, 0.4)).astype(int)
    cal = SegmentCalibrator().fit(raw, y, np.array(["<$100M"] * n))
    row = {r["segment"]: r for r in cal.report_}["all"]
    assert row["chosen"] == "isotonic" and row["brier_isotonic_holdout"] < row["brier_platt_holdout"]


def _segment_fixture(seed, odd_shift):
    rng = np.random.default_rng(seed)
    n = 30000
    p_true = 1 / (1 + np.exp(-rng.normal(-3.2, 1.0, n)))
    y = (rng.random(n) < p_true).astype(int)
    seg = rng.choice(np.array(["<$100M", "$100–500M", ">$500M"]), n)
    logit = np.log(p_true / (1 - p_true))
    raw = 1 / (1 + np.exp(-(0.6 * logit + np.where(seg == ">$500M", odd_shift, 0.0))))
    return raw, y, seg


def test_a_segment_gets_its_own_curve_only_when_it_differs():
    # One miscalibration shared by every segment: the pooled curve serves them all.
    raw, y, seg = _segment_fixture(12, odd_shift=0.0)
    cal = SegmentCalibrator().fit(raw, y, seg)
    assert {r["segment"]: r["chosen"] for r in cal.report_ if r["segment"] != "all"} == {
        "<$100M": "pooled", "$100–500M": "pooled", ">$500M": "pooled", "unknown": "pooled (too few rows)"}
    assert set(cal.calibrators_) == {"all"}
    # >$500M scores far too high: that segment earns its own curve and ends up calibrated.
    raw, y, seg = _segment_fixture(12, odd_shift=1.5)
    cal = SegmentCalibrator().fit(raw, y, seg)
    assert {r["segment"]: r["chosen"] for r in cal.report_}[">$500M"] in {"platt", "isotonic"}
    out = cal.transform(raw, seg)
    for s_ in (">$500M", "<$100M", "$100–500M"):
        m = seg == s_
        assert abs(out[m].mean() - y[m].mean()) < 0.005


def test_gates_fail_when_they_should():
    ev = {"test": {"auc_pr": 0.25, "ece": 0.03, "n": 1000, "positives": 40}, "train_validation_gap": 0.05,
          "cv_cov": 0.10, "cv_fold_auc_pr": [0.2] * 5}
    assert all(g["passed"] for g in gates(ev, None))
    bad = {**ev, "test": {**ev["test"], "auc_pr": 0.15, "ece": 0.09}, "train_validation_gap": 0.39, "cv_cov": 0.4}
    assert [g["passed"] for g in gates(bad, None)] == [False, False, False, False]
    assert not gates(ev, "only 5 positives")[-1]["passed"]


def test_heuristic_rule_matches_spec_case():
    X = pd.DataFrame({"TotalAssetsInMillions": [600, 600, 200, 80, 10, np.nan],
                      "AUM_Growth_Rate_1Year": [11, 5, 6, 0, 50, 20]})
    assert heuristic_rule(X).tolist() == [0.25, 0.10, 0.15, 0.10, 0.05, 0.05]


def test_logistic_model_is_held_to_its_training_range():
    """A unit fault (AUM in thousands) or a heavy tail must not move a linear model's logit without limit."""
    from core.modeling.baselines import logistic_contributions, logistic_from_dict

    f = _frame(2000)
    rng = np.random.default_rng(1)
    X = f.X.assign(rare=(rng.random(len(f)) < 0.004).astype("float32"))  # an indicator at 0.4%: keeps its ones
    model = LogisticBaseline().fit(X, f.y)
    stored = json.loads(json.dumps(model.to_dict()))
    assert stored["upper"][stored["features"].index("rare")] == 1.0
    aum = stored["features"].index("TotalAssetsInMillions")
    assert stored["lower"][aum] > X.TotalAssetsInMillions.min() and stored["upper"][aum] < X.TotalAssetsInMillions.max()
    faulty = X.iloc[:50].copy()
    faulty["TotalAssetsInMillions"] = faulty.TotalAssetsInMillions * 1000  # the month the vendor sent thousands
    at_edge = faulty.assign(TotalAssetsInMillions=np.float32(stored["upper"][aum]))
    assert np.allclose(model.predict(faulty), model.predict(at_edge))
    assert np.allclose(logistic_from_dict(stored)(faulty), model.predict(faulty))  # stored == in memory
    contrib = logistic_contributions(stored, faulty)
    assert np.abs(contrib).max() < 10  # unclipped, the 1000x values gave contributions in the hundreds
    legacy = {k: v for k, v in stored.items() if k not in ("lower", "upper")}  # a model stored before winsorising
    assert np.isfinite(logistic_from_dict(legacy)(X.iloc[:5])).all()


def _register(wh, settings, model_id, passed):
    f = _frame(300)
    model = LogisticBaseline().fit(f.X[["x1", "TotalAssetsInMillions"]], f.y)
    cal = SegmentCalibrator().fit(model.predict(f.X), f.y, np.array(["<$100M"] * len(f)))
    meta = {"model_id": model_id, "kind": "logistic", "features": ["x1", "TotalAssetsInMillions"], "levels": {},
            "params": {}, "calibration": cal.to_dict(), "metrics": {"test": {"auc_pr": 0.3}},
            "gates": [{"gate": "AUC-PR > 0.20 (test)", "passed": passed, "value": 0.3, "n": 1}], "gates_passed": passed,
            "training_fingerprint": "x"}
    registry.save_model(wh, settings, model_id, "logistic", model.to_dict(), meta, "# report", Actor("t", "analyst"))
    return f


def test_registry_promote_rollback_and_gate_enforcement(settings, wh):
    f = _register(wh, settings, "m1", True)
    _register(wh, settings, "m2", True)
    _register(wh, settings, "m3", False)
    analyst = Actor("ana", "analyst")
    with pytest.raises(LeadScoringError, match="No champion"):
        registry.load_champion(wh)
    registry.promote(wh, "m1", analyst)
    registry.promote(wh, "m2", analyst)
    assert registry.champion_row(wh)["model_id"] == "m2"
    assert registry.rollback(wh, analyst) == "m1"
    assert registry.champion_row(wh)["model_id"] == "m1"
    with pytest.raises(LeadScoringError, match="fails the gates"):
        registry.promote(wh, "m3", analyst)
    with pytest.raises(LeadScoringError, match="needs --reason"):
        registry.promote(wh, "m3", analyst, force=True)
    registry.promote(wh, "m3", analyst, force=True, reason="demo week")
    events = wh.read("select action, reason from ml.model_events order by at")
    assert events.values.tolist()[-1] == ["force_promote", "demo week"]
    with pytest.raises(PermissionDeniedError):
        registry.promote(wh, "m1", Actor("rita", "revops"))
    champion = registry.load_champion(wh)
    p = champion.predict(f.X)
    assert p.shape == (len(f),) and ((p >= 0) & (p <= 1)).all()
    assert (settings.models_dir / "m3" / "logistic.json").exists()


def test_corrupt_artifact_is_a_clear_error(settings, wh):
    _register(wh, settings, "m1", True)
    (settings.models_dir / "m1" / "meta.json").write_text("{not json")
    with pytest.raises(LeadScoringError, match="cannot be loaded"):
        registry.load_model(settings.models_dir / "m1")


def test_tiny_dataset_takes_the_not_enough_data_path(settings, wh, tmp_path):
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_files
    from core.modeling.train import train
    from tests.conftest import LEAD_HEADER, REP_HEADER, lead, rep, write_csv

    rng = np.random.default_rng(0)
    reps = [rep(i, TotalAssetsInMillions=str(round(rng.uniform(10, 900))), AUMGrowthRate_1Year=str(round(rng.normal(5, 9))))
            for i in range(1, 301)]
    load_territory_files(wh, settings, [write_csv(tmp_path / "discovery_t1_2024_01.csv", REP_HEADER, reps)])
    days = np.sort(rng.uniform(0, 400, 300))
    leads = []
    for i, d in enumerate(days, start=1):
        c = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=float(d))
        mql = (c + pd.Timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000+0000") if i % 60 == 0 else ""
        leads.append(lead(f"00Q{i:04d}", i, contacted=c.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), mql=mql,
                          CreatedDate=(c - pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                          modified="2025-03-01T00:00:00.000+0000"))
    load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, leads))
    result = train(wh, settings, budget_minutes=1, promote_if_passing=True)
    assert result.kind == "logistic" and not result.gates_passed and not result.promoted
    assert "Not enough data" in result.report and "positives in training" in result.report
    assert result.gates[-1]["gate"].startswith("enough positives to train and test — only ")
    assert "positives in training (need ≥" in result.gates[-1]["gate"]
    # its sample is the training positives the sentence counts, not the test period's
    assert f"only {result.gates[-1]['n']} positives in training" in result.gates[-1]["gate"]
    assert "n = " in result.report  # every metric block states its sample
    from core.modeling.card import model_card
    card = model_card(wh, result.model_id)  # what Train & compare reads: typed, shaped, nothing parsed in the page
    assert not card.gates_passed and "Gates failed" in card.status and "positives in training" in card.notes
    # a gate without a number reads "—" (Streamlit drew a grey "None"); measured gates keep three decimals
    assert card.gates.value.iloc[-1] == "—"
    assert card.gates.columns.tolist() == ["gate", "value", "result", "n"] and card.gates.result.iloc[-1] == "✗ fail"
    assert card.gates.gate.iloc[-1].startswith("Enough positives to train and test")
    assert all(v == f"{g['value']:.3f}" for v, g in zip(card.gates.value, result.gates) if g["value"] is not None)
    assert card.baselines.model.iloc[0] == "this model" and len(card.baselines) > 1
    assert list(card.folds.columns) == ["fold", "auc_pr"] and card.report_md.startswith("#")
    assert registry.list_models(wh).test_auc_pr.iloc[0] == pytest.approx(card.baselines.auc_pr.iloc[0])
    with pytest.raises(LeadScoringError, match="No model nope"):
        model_card(wh, "nope")
    (settings.models_dir / result.model_id / "meta.json").write_text("{not json")
    with pytest.raises(LeadScoringError, match="unreadable"):
        model_card(wh, result.model_id)


def test_backtest_writes_the_contract_columns(loaded_demo, tmp_path):
    import shutil

    from core.config import with_overrides
    from core.features.build import build_features, feature_matrix, latest_feature_set
    from core.modeling.backtest import backtest
    from core.warehouse import open_warehouse

    settings, _, _, _ = loaded_demo
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    s = with_overrides(settings, data_dir=data)
    wh = open_warehouse(s)
    out = tmp_path / "bt.csv"
    live = build_features(wh, s)
    before = feature_matrix(wh)
    result = backtest(wh, s, "2025-05-01", str(out), budget_minutes=1)
    df = pd.read_csv(out)
    assert df.columns.tolist() == ["lead_id", "score", "label"]
    assert len(df) == result["overall"]["n"] and df.label.isin([0, 1]).all()
    assert result["per_month"] and all(m["month"] >= "2025-05" for m in result["per_month"])
    assert "Not enough data" in result["markdown"]  # the small demo has too few positives before May
    # the backtest worked beside the live build: today's features were never replaced, and its own are gone
    assert latest_feature_set(wh).feature_set_id == live.feature_set_id
    pd.testing.assert_frame_equal(feature_matrix(wh), before)
    as_of = wh.read("select max(as_of) as a from ml.lead_labels").a.iloc[0]
    assert str(as_of).startswith("2025-10-27")
    with wh.reader() as x:
        left = x.con.execute("select table_name from information_schema.tables where table_name like '%backtest%'")
        assert not left.fetchall()
    with pytest.raises(LeadScoringError, match="not before the Lead export time"):
        backtest(wh, s, "2026-01-01", str(out))


def test_full_pipeline_path_on_a_synthetic_frame():
    """Selection, the 8-config imbalance comparison, tuning, the guarded choice and calibration, end to end."""
    from core.modeling.train import evaluate, fit_pipeline, gates

    f = _frame(n=6000, seed=5, pos_rate=0.12)
    train_all, test = time_split(f, 0.2)
    fitted = fit_pipeline(train_all, budget_seconds=60)
    assert fitted.insufficient is None and fitted.imbalance_table is not None
    assert len(fitted.imbalance_table) == 8 and fitted.imbalance_table.chosen.sum() == 1
    assert fitted.tuning["history"] and fitted.selection["model_chosen"] in {
        c["model"] for c in fitted.selection["model_choice"]}
    names = [c["model"] for c in fitted.selection["model_choice"]]
    assert names[0] == "logistic regression (L2)" and names[-1] == "tuned booster (spec §6.4 grid)"  # simplest first
    chosen = next(c for c in fitted.selection["model_choice"] if c["model"] == fitted.selection["model_chosen"])
    assert chosen["within_one_se"] and all(not c["within_one_se"] for c in fitted.selection["model_choice"]
                                           if c["complexity"] < chosen["complexity"])
    assert "x1" in fitted.selection["pruning"]["kept"]
    # The registered model is refitted on every pre-test row and keeps the calibration-period calibrators.
    assert fitted.params["refit_rows"] == len(train_all) >= len(fitted.fit_frame) + len(fitted.calib_frame)
    assert fitted.train_frame is train_all
    assert fitted.fallback["refit_rows"] == len(train_all)  # the CRM fallback model is refitted the same way
    assert len(fitted.cv["fold_auc_pr"]) == len(fitted.folds) == 5
    ev = evaluate(fitted, test, capacity=50)
    assert ev["test"]["auc_pr"] > 0.25  # x1 carries real signal
    assert len(gates(ev, None)) == 4
    assert 0 < ev["cv_sampling_cov"] < 1  # the noise floor the CoV gate is read against

    from core.modeling.train import report_markdown, _split_info
    md = report_markdown("m-test", fitted, ev, gates(ev, None), [], _split_info(fitted.fit_frame, fitted.calib_frame, test))
    assert "sampling noise alone" in md


def test_sampling_cov_matches_the_spread_of_folds_from_one_stable_model():
    """Folds drawn from one fixed model and population: the bootstrap estimate must match the CoV they show."""
    rng = np.random.default_rng(11)

    def fold(n):
        s = rng.normal(size=n)
        y = (rng.random(n) < 1 / (1 + np.exp(-(-3.6 + 1.2 * s)))).astype(int)
        return y, s

    many = [fold(2000) for _ in range(200)]
    aps = [metrics.auc_pr(y, s) for y, s in many]
    observed = np.std(aps) / np.mean(aps)
    estimated = metrics.sampling_cov(many[:5], resamples=300)
    assert 0.6 * observed < estimated < 1.6 * observed
    assert metrics.sampling_cov([fold(20000) for _ in range(5)], resamples=100) < 0.6 * estimated  # more rows, less noise
    assert metrics.sampling_cov(many[:1]) is None  # one fold has no spread


def _noisy_frame(n=5000, seed=3) -> Frame:
    """Two real signals among eight pure-noise columns."""
    rng = np.random.default_rng(seed)
    t = pd.Series(pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 500, n)), unit="D"))
    X = pd.DataFrame({f"noise{i}": rng.normal(size=n).astype("float32") for i in range(8)})
    X["signal"] = rng.normal(size=n).astype("float32")
    X["step"] = rng.integers(0, 10, n).astype("float32")
    z = -2.6 + 1.3 * X["signal"] + np.where((X["step"] >= 3) & (X["step"] <= 6), 1.2, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return Frame(X, y, t, pd.Series([f"L{i}" for i in range(n)]))


def _shallow(X, y):
    from core.modeling.train import SHALLOW

    return fit_booster(X, y, {**SHALLOW, "n_estimators": 300, "learning_rate": 0.05},
                       Imbalance("none", "pos_weight", pos_weight=1.0)).model


def test_permutation_pruning_keeps_signal_drops_noise_and_keeps_business_critical():
    f = _noisy_frame()
    folds = blocked_folds(f.t)
    out = permutation_pruning(f.X, f.y, folds, _shallow, keep=("noise7",))
    assert {"signal", "step"} <= set(out["kept"])
    assert sum(c.startswith("noise") for c in out["kept"]) <= 3  # most noise goes (t > 1 keeps ~16% by chance)
    assert "noise7" in out["kept"]  # kept by rule, and said so unless it earned its place
    row = {r["feature"]: r for r in out["table"]}
    assert row["signal"]["mean_importance"] > 10 * max(abs(row[f"noise{i}"]["mean_importance"]) for i in range(7))
    assert row["noise7"]["by_rule"] == (not row["noise7"]["mean_importance"] > row["noise7"]["se"])
    assert len(out["kept_before"]) == len(folds) == out["folds"]


def test_permutation_pruning_for_a_fold_uses_only_older_rows():
    """The features that score fold i during model choice come from earlier folds only: rewriting every label
    from fold i's validation block onwards cannot change them."""
    f = _noisy_frame(seed=4)
    folds = blocked_folds(f.t)
    base = permutation_pruning(f.X, f.y, folds, _shallow)
    assert base["kept_before"][0] == list(f.X.columns)  # no earlier evidence: nothing pruned
    i = 3
    y2 = f.y.copy()
    later = np.arange(folds[i][1][0], len(y2))
    y2[later] = np.random.default_rng(0).permutation(y2[later])
    other = permutation_pruning(f.X, y2, folds, _shallow)
    assert other["kept_before"][i] == base["kept_before"][i]
    assert other["kept"] != base["kept"] or other["table"] != base["table"]  # the relabelling did reach the full-data rule


def test_additive_contender_has_no_interactions():
    """Depth-1 trees: the change from moving x1 is the same whatever x2 is (no interaction term)."""
    from core.modeling.train import ADDITIVE

    rng = np.random.default_rng(3)
    n = 3000
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    # The truth has a strong x1*x2 interaction; the additive model must still not represent one.
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + X.x1 + X.x2 + 2 * X.x1 * X.x2)))).astype(int)
    m = fit_booster(X, y, {**ADDITIVE, "n_estimators": 200}, Imbalance("none", "pos_weight", pos_weight=1.0)).model
    grid = pd.DataFrame({"x1": [-1.0, 1.0, -1.0, 1.0], "x2": [-1.0, -1.0, 1.0, 1.0]})
    f = m.predict(grid, output_margin=True)
    assert abs((f[1] - f[0]) - (f[3] - f[2])) < 1e-5
    assert abs(f[1] - f[0]) > 0.1  # x1 does move the score



def test_a_fit_period_with_one_class_says_what_to_load_instead_of_failing_inside_scikit_learn():
    from core.modeling.train import fit_pipeline

    n = 400
    t = pd.Series(pd.date_range("2025-01-01", periods=n, freq="12h", tz="UTC"))
    y = np.zeros(n, dtype=int)
    y[-20:] = 1  # every positive falls in the newest rows (the calibration period)
    X = pd.DataFrame({"TotalAssetsInMillions": np.linspace(10, 900, n).astype("float32"),
                      "AUM_Growth_Rate_1Year": np.linspace(-5, 30, n).astype("float32")})
    frame = Frame(X, y, t, pd.Series([f"L{i}" for i in range(n)]))
    with pytest.raises(LeadScoringError, match=r"has no positive labels: nothing to learn yet\. Load a longer Lead history"):
        fit_pipeline(frame, 30, quick=True)


def test_model_selection_runs_on_a_bounded_uniform_sample_and_the_final_fits_on_every_row():
    from core.modeling.train import fit_pipeline, selection_sample

    rng = np.random.default_rng(3)
    n = 2000
    t = pd.Series(pd.date_range("2024-01-01", periods=n, freq="4h", tz="UTC"))
    aum = rng.uniform(10, 900, n)
    y = (rng.random(n) < np.where(aum > 400, 0.2, 0.04)).astype(int)
    X = pd.DataFrame({"TotalAssetsInMillions": aum.astype("float32"),
                      "AUM_Growth_Rate_1Year": rng.normal(5, 10, n).astype("float32")})
    frame = Frame(X, y, t, pd.Series([f"L{i}" for i in range(n)]))
    sample = selection_sample(frame, 700)
    assert len(sample) == 700 and sample.t.is_monotonic_increasing and sample.ids.is_unique
    assert selection_sample(frame, 700).ids.tolist() == sample.ids.tolist()  # the same draw every time
    assert selection_sample(frame, n) is frame and selection_sample(frame, None) is frame
    fitted = fit_pipeline(frame, 60, quick=True, selection_rows=700)
    ss = fitted.selection["selection_sample"]
    assert ss["rows"] == 700 and ss["of_rows"] == len(fitted.fit_frame) > 700
    assert max(va.max() for _, va in fitted.folds) < 700  # the CV folds index the sample
    assert all(c["n"] < len(fitted.fit_frame) for c in fitted.selection["model_choice"])
    assert fitted.params["refit_rows"] == len(frame)  # the registered model: every row before the test period
    from core.modeling.train import _split_info, baselines, evaluate, gates, report_markdown

    ev = evaluate(fitted, frame, 50)
    report = report_markdown("m1", fitted, ev, gates(ev, None), baselines(fitted, frame, 50),
                             _split_info(fitted.fit_frame, fitted.calib_frame, frame))
    assert f"on a uniform sample of 700 of the {ss['of_rows']:,} fit-period leads" in report


def test_average_precision_is_scikit_learns_to_the_bit():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(7)
    cases = [(np.array([0, 1]), np.array([0.5, 0.5])), (np.array([1, 0, 1, 0]), np.zeros(4)),
             (np.array([0, 0, 1]), np.array([0.9, 0.8, 0.1]))]
    for i in range(400):
        n = int(rng.integers(2, 400))
        y = (rng.random(n) < rng.uniform(0.02, 0.6)).astype(int)
        p = rng.random(n) if i % 2 else np.round(rng.random(n), 1)  # many ties on the even draws
        cases.append((y, p))
    checked = 0
    for y, p in cases:
        if 0 < y.sum() < len(y):
            assert metrics.average_precision(y, p) == average_precision_score(y, p)
            checked += 1
    assert checked > 350
    with pytest.raises(ValueError):  # NaN scores are refused, as scikit-learn refuses them
        metrics.average_precision(np.array([0, 1]), np.array([0.1, np.nan]))


def test_period_gaps_follow_the_configured_label_window(settings):
    """A 45-day label window: a fit row's outcome is known 45 days after contact, so every later period (the
    calibration period, each CV validation block) starts at least 45 days after the rows trained before it."""
    from dataclasses import replace

    from core.modeling.train import _report_data, fit_pipeline, label_gap

    gap = label_gap(replace(settings, label_window_days=45))
    assert gap == pd.Timedelta(days=45) and label_gap(settings) == pd.Timedelta(days=30)
    fitted = fit_pipeline(_frame(n=3000, pos_rate=0.1), 30, quick=True, gap=gap)
    fit, calib = fitted.fit_frame, fitted.calib_frame
    assert calib.t.min() - fit.t.max() >= gap
    assert fitted.folds and all(fit.t.iloc[va].min() - fit.t.iloc[tr].max() >= gap for tr, va in fitted.folds)
    assert fitted.gap == gap
    assert any("45-day gaps" in line for line in _report_data(fitted, {k: 0 for k in (
        "fit_n", "fit_pos", "calib_n", "calib_pos", "test_n", "test_pos")} | {k: "" for k in (
        "fit_from", "fit_to", "calib_from", "calib_to", "test_from", "test_to")}, None))
