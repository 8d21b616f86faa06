"""Monitoring: PSI against frozen bins, matured vs estimated cohorts, the demo's scripted incidents found on
exactly the affected features, CRITICAL on a failed pipeline, the shadow never reaching Salesforce, and clear
messages for the ways monitoring can be asked the impossible."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.demo import FAULT_COLUMNS, FAULT_MONTH, SHIFT_FROM
from core.errors import LeadScoringError
from core.monitoring import measures as M
from core.monitoring.psi import PSI_FLOOR, categorical_profile, counts_in, profile, psi_against, psi_from_counts


# ------------------------------------------------------------------------------------------------ PSI


def test_psi_matches_hand_computed_values_including_an_empty_bin():
    ref, cur = np.array([50, 30, 20]), np.array([30, 30, 40])
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi_from_counts(ref, cur) == pytest.approx(expected)
    # an empty current bin is floored, not infinite
    empty = psi_from_counts(np.array([50, 50, 0]), np.array([100, 0, 0]))
    expected = (1 - 0.5) * math.log(1 / 0.5) + (PSI_FLOOR - 0.5) * math.log(PSI_FLOOR / 0.5) + 0
    assert empty == pytest.approx(expected)
    assert psi_from_counts(ref, ref * 3) == pytest.approx(0.0)


def test_all_missing_values_land_in_the_missing_bin():
    prof = profile(pd.Series([1.0, 2.0, 3.0, 4.0, np.nan]))
    counts = counts_in(prof, pd.Series([np.nan] * 10))
    assert counts[-1] == 10 and counts[:-1].sum() == 0
    value, _ = psi_against(prof, pd.Series([np.nan] * 10))
    expected = (1 - 0.2) * math.log(1 / 0.2) + sum((PSI_FLOOR - c / 5) * math.log(PSI_FLOOR / (c / 5))
                                                  for c in prof["counts"][:-1] if c)
    assert value == pytest.approx(expected, rel=1e-6)
    all_missing_ref = profile(pd.Series([np.nan, np.nan], dtype=float))
    assert all_missing_ref["edges"] == [] and counts_in(all_missing_ref, pd.Series([1.0, np.nan])).tolist() == [1, 1]


def test_bins_come_from_the_reference_and_never_move_with_the_current_sample():
    rng = np.random.default_rng(0)
    prof = profile(pd.Series(rng.normal(0, 1, 5000)))
    frozen = json.dumps(prof)
    for shift in (0.0, 3.0, -10.0):
        psi_against(prof, pd.Series(rng.normal(shift, 1, 500)))
    assert json.dumps(prof) == frozen
    shifted, _ = psi_against(prof, pd.Series(rng.normal(3, 1, 500)))
    same, noise = psi_against(prof, pd.Series(rng.normal(0, 1, 500)))
    assert shifted > 1.0 and same < noise


def test_a_plateaued_score_stored_to_6_decimals_stays_in_its_reference_bins():
    """A calibrated score is a step function: decile edges fall on plateaus. Stored scores are rounded to 6
    decimals, so the reference must be too, or a plateau rounded down crosses its edge and every month reads
    drift (it read PSI ~0.2, a WARN, on each clean month of the full-scale demo)."""
    from core.monitoring.reference import score_profile, score_reference
    from core.scoring.tiers import stored_prob

    rng = np.random.default_rng(3)
    plateaus = np.array([0.0028881857, 0.0037453183520, 0.0077931311, 0.0142868969, 0.0248467851, 0.0309278350,
                         0.0326086956, 0.0435626429, 0.1019812344, 0.2])
    prob = rng.choice(plateaus, size=20_000, p=[.10, .03, .17, .10, .10, .04, .07, .19, .10, .10])
    stored = pd.Series(stored_prob(prob))
    again = pd.Series(stored_prob(rng.choice(plateaus, size=5_000, p=[.10, .03, .17, .10, .10, .04, .07, .19, .10, .10])))
    reference = {"score": score_reference(prob)}
    assert psi_against(score_profile(reference), stored)[0] == pytest.approx(0.0, abs=1e-9)
    psi, noise = psi_against(score_profile(reference), again)
    assert psi < noise
    # a reference frozen by an earlier release (full-precision edges and counts) is read with rounded edges
    old = {"score": profile(pd.Series(prob), n_bins=10)}
    assert psi_against(old["score"], stored)[0] > 0.1  # what monitoring read before
    assert psi_against(score_profile(old), stored)[0] == pytest.approx(0.0, abs=1e-9)


def test_categories_keep_top_levels_other_and_missing():
    prof = profile(pd.Series(["a"] * 50 + ["b"] * 30 + [None] * 20), top=1)
    assert prof["levels"] == ["a"] and prof["counts"] == [50, 30, 20]
    assert counts_in(prof, pd.Series(["z", "a", None])).tolist() == [1, 1, 1]


def test_a_profile_from_level_counts_is_the_profile_from_the_values_ties_broken_by_text():
    values = pd.Series(["b"] * 5 + ["a"] * 5 + ["c"] * 2 + [None] * 3 + ["d"])
    counted = categorical_profile(values.dropna().value_counts(), int(values.isna().sum()), top=2)
    assert counted == profile(values, top=2)
    assert counted["levels"] == ["a", "b"] and counted["counts"] == [5, 5, 3, 3] and counted["n"] == 16


def test_the_territory_month_profile_is_counted_in_the_warehouse_with_the_same_figures(monitored):
    from core.monitoring.reference import snapshot_columns, snapshot_profile

    _, w, _ = monitored
    with w.reader() as s:
        month = s.scalar("select max(snapshot_month) from marts.dim_rep_snapshots")
        counted = snapshot_profile(s, month)
        whole = s.query(f"select * from marts.dim_rep_snapshots where snapshot_month = '{month}'")
    expected = {c: profile(whole[c]) for c in snapshot_columns() if c in whole.columns}
    assert counted["rows"] == len(whole) and set(counted["columns"]) == set(expected)
    assert json.dumps(counted["columns"], sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert any(p["kind"] == "categorical" for p in expected.values())


def test_territory_months_are_counted_in_frozen_bins_by_the_warehouse_as_from_the_values(monitored):
    """Cold-path drift: every month of every column counted in the reference month's bins by one query per column
    (sql/monitoring/snapshot_bins.sql) equals counting the values in Python, numbers, booleans and categories alike;
    the implausible values per month and column (count, rows, most extreme example) too."""
    from core.features.catalog import PLAUSIBLE_RANGES
    from core.monitoring.reference import month_counts, snapshot_profile

    _, w, _ = monitored
    with w.reader() as s:
        months = s.query("select distinct snapshot_month from marts.dim_rep_snapshots order by 1").snapshot_month.tolist()
        profiles = snapshot_profile(s, months[0])["columns"]
        counts, bad = month_counts(s, months, profiles, PLAUSIBLE_RANGES)
        whole = s.query("select * from marts.dim_rep_snapshots")
    assert set(counts) == set(profiles)
    assert any(pd.api.types.is_bool_dtype(whole[c]) for c in profiles) and any(p["kind"] == "categorical" for p in profiles.values())
    expected_bad = []
    for i, m in enumerate(months):
        g = whole[whole.snapshot_month == m]
        for c, prof in profiles.items():
            assert counts[c][i].tolist() == counts_in(prof, g[c]).tolist(), (m, c)
            if c in PLAUSIBLE_RANGES and prof["kind"] == "numeric":
                lo, hi = PLAUSIBLE_RANGES[c]
                v = pd.to_numeric(g[c], errors="coerce")
                out = v[(v < lo) | (v > hi)]
                if len(out):
                    expected_bad.append({"period": m, "column": c, "count": len(out), "rows": len(g),
                                         "example": float(out.loc[(out - (lo + hi) / 2).abs().idxmax()]), "low": lo, "high": hi})
    assert expected_bad, "the demo's vendor-fault month has AUM in thousands"
    assert bad.to_dict(orient="records") == sorted(expected_bad, key=lambda r: (r["period"], r["column"]))


# ------------------------------------------------------------------------------------------ cohorts


def test_matured_and_estimated_cohorts_split_at_exactly_the_label_window():
    as_of = pd.Timestamp("2025-10-27 00:00", tz="UTC")
    week_a = pd.Timestamp("2025-09-15", tz="UTC")  # Monday; + 7 days + 30 days = 2025-10-22 <= as_of: matured
    week_b = pd.Timestamp("2025-09-22", tz="UTC")  # + 37 days = 2025-10-29 > as_of: estimated
    scored = pd.DataFrame({
        "lead_id": list("abcdef"), "contacted_at": [week_a] * 3 + [week_b] * 3, "prob": [0.5, 0.1, 0.1, 0.4, 0.2, 0.1],
        "tier": ["A", "B", "C", "A", "A", "C"], "label": [1, 0, 0, np.nan, np.nan, np.nan], "aum": 50.0})
    c = M.cohorts(scored, as_of, 30)
    assert c.matured.tolist() == [True, False]
    assert c.tier_a_precision.iloc[0] == 1.0 and not c.estimated.iloc[0]
    assert c.estimated.iloc[1] and c.tier_a_precision.iloc[1] == pytest.approx(0.3)
    assert c.tier_a_low.iloc[1] < 0.3 < c.tier_a_high.iloc[1]
    # the same week matures the moment its window closes
    c2 = M.cohorts(scored, week_b + pd.Timedelta(days=37), 30)
    assert c2.matured.tolist() == [True, True]


# ------------------------------------------------------------------------------------------ the demo


def _latest(w):
    from core.monitoring.store import latest_run

    return latest_run(w)


def test_first_start_has_matured_cohorts_and_backfilled_history(monitored):
    s, w, started = monitored
    run, frames = _latest(w)
    assert len(run["matured_cohorts"]) >= 8
    assert started.backfill.dates >= 20 and started.to_json()["backfill"]["dates"] == started.backfill.dates
    hist = w.read("select backfilled, count(*) as n from ml.score_history group by backfilled")
    assert set(hist.backfilled) == {True, False}
    # the champion never saw a lead from the monitoring window
    champion = w.read("select artifact_dir from ml.models where is_champion").artifact_dir.iloc[0]
    ref = json.loads((Path(champion) / "reference.json").read_text())
    assert pd.Timestamp(ref["contacted_to"]) < pd.Timestamp(started.backfill.first, tz="UTC")
    # the CRITICAL alert's baseline exists: Tier A precision of the test period as daily scoring tiers it
    meta = json.loads((Path(champion) / "meta.json").read_text())
    assert ref["tier_a_precision"] == meta["metrics"]["test"]["tier_a_precision"]
    assert meta["metrics"]["test"]["tier_a_leads"] > 0 and 0 <= ref["tier_a_precision"] <= 1
    # ... and the same replay without the priority boosts: whether the spec's rules help on this data
    from core.modeling.card import model_card

    assert meta["metrics"]["test"]["tier_a_leads_unboosted"] > 0
    card = model_card(w, meta["model_id"])
    assert card.boosts.startswith("Priority boosts on the test period: Tier A precision ")
    assert "Priority boosts on the test period" in card.report_md


def test_calibration_judges_every_matured_lead_and_rescores_those_booked_before_a_first_score(monitored):
    """The model predicts for every contacted lead; leads that booked their MQL before the first scoring run after
    contact reached no call list and have no first score. Calibration scores them as of contact (point-in-time
    features); the cohorts say how many MQLs they were."""
    from core.modeling.data import model_inputs
    from core.modeling.registry import load_champion
    from core.scoring.score import champion_prob
    from core.scoring.tiers import stored_prob

    _, w, _ = monitored
    run, frames = _latest(w)
    cal = frames["calibration"]
    assert cal.rescored.sum() > 0
    leads = w.read("select * from ml.lead_features where label_status in ('positive', 'negative')")
    leads["month"] = pd.to_datetime(leads.contacted_at, utc=True).dt.strftime("%Y-%m")
    months = sorted(cal.period.unique())[1:]  # the first month is scored from the backfill's start only
    per_month = cal.groupby("period")[["leads", "positives"]].sum().loc[months]
    every = leads.groupby("month").agg(leads=("lead_id", "size"), positives=("label", "sum")).loc[months]
    assert per_month.leads.tolist() == every.leads.tolist() and per_month.positives.tolist() == every.positives.astype(int).tolist()
    # the leads without a first score within 8 days of contact are rescored with the champion's probability on
    # their point-in-time features; the others keep their first score
    firsts = w.read("select lead_id, score_date, prob from ml.lead_first_scores")
    both = leads[leads.month.isin(months)].merge(firsts, on="lead_id", how="left")
    contact_day = pd.to_datetime(both.contacted_at, utc=True).dt.tz_localize(None).dt.normalize()
    near = pd.to_datetime(both.score_date) <= contact_day + pd.Timedelta(days=8)
    unscored = both[~near.to_numpy()]
    assert len(unscored) and unscored.label.mean() > both.label.mean()  # mostly MQLs booked before a first score
    champion = load_champion(w)
    X = model_inputs(unscored, [c for c in leads.columns if c in champion.features or c == "TotalAssetsInMillions"])
    prob = pd.Series(stored_prob(champion_prob(champion, X)[0]), index=unscored.index)
    judged = both.prob.where(near.to_numpy(), prob)
    by_month = cal.assign(total=cal.predicted * cal.leads).groupby("period")[["total", "rescored"]].sum().loc[months]
    assert by_month.rescored.tolist() == unscored.groupby("month").size().reindex(months, fill_value=0).tolist()
    assert by_month.total.to_numpy() == pytest.approx(judged.groupby(both.month).sum().loc[months].to_numpy(), rel=1e-9)
    # matured weeks: MQLs on a list plus MQLs before a list are the week's MQLs
    cohorts = pd.DataFrame(run["matured_cohorts"])
    assert "mqls_before_a_list" in cohorts and cohorts.mqls_before_a_list.sum() > 0
    week = cohorts[cohorts.cohort_start > months[0]].iloc[0]
    start = pd.Timestamp(week.cohort_start, tz="UTC")
    in_week = leads[(pd.to_datetime(leads.contacted_at, utc=True) >= start)
                    & (pd.to_datetime(leads.contacted_at, utc=True) < start + pd.Timedelta(days=7))]
    assert week.positives + week.mqls_before_a_list == int(in_week.label.sum())


def test_unscored_mqls_are_counted_per_matured_week_only():
    week_a, week_b = pd.Timestamp("2025-08-04 10:00", tz="UTC"), pd.Timestamp("2025-09-22 10:00", tz="UTC")
    cohorts = pd.DataFrame({"cohort_start": ["2025-08-04", "2025-08-11", "2025-09-22"], "matured": [True, True, False]})
    unscored = pd.DataFrame({"contacted_at": [week_a, week_a, week_a, week_b], "label": [1, 1, 0, 1]})
    out = M.with_unscored_mqls(cohorts, unscored)
    assert out.mqls_before_a_list.tolist()[:2] == [2, 0] and pd.isna(out.mqls_before_a_list.iloc[2])
    assert M.with_unscored_mqls(cohorts, unscored.iloc[:0]).mqls_before_a_list.tolist()[:2] == [0, 0]


def _affected_features(run_frames) -> set[str]:
    drift = run_frames["drift"]
    return {f for f, src in zip(drift.feature, drift.sources) if set(src.split(", ")) & set(FAULT_COLUMNS)}


def test_vendor_fault_month_raises_alert_on_exactly_the_affected_features(monitored):
    _, w, _ = monitored
    run, frames = _latest(w)
    alerted = {a["subject"].split(" · ")[0] for a in run["alerts"]
               if a["kind"] == "feature_drift" and a["level"] == "alert" and a["subject"].endswith(FAULT_MONTH)}
    assert "TotalAssetsInMillions" in alerted and len(alerted) >= 5
    assert alerted <= _affected_features(frames), alerted - _affected_features(frames)
    snap = {a["subject"].split(" · ")[0] for a in run["alerts"]
            if a["kind"] == "snapshot_drift" and a["subject"].endswith(FAULT_MONTH) and a["level"] == "alert"}
    assert snap and snap <= set(FAULT_COLUMNS)
    ranges = {a["subject"] for a in run["alerts"] if a["kind"] == "feed_range"}
    assert f"TotalAssetsInMillions · {FAULT_MONTH}" in ranges


def test_clean_months_raise_no_feature_alert_and_the_shift_is_found(monitored):
    _, w, _ = monitored
    run, _ = _latest(w)
    shift_month = SHIFT_FROM[:7]
    feature_alerts = [a for a in run["alerts"] if a["kind"] == "feature_drift" and a["level"] == "alert"]
    clean = [a for a in feature_alerts if not a["subject"].endswith(FAULT_MONTH)
             and a["subject"].split(" · ")[1] < shift_month]
    assert clean == []
    shifted = {a["subject"].split(" · ")[0] for a in feature_alerts if a["subject"].endswith(shift_month)}
    assert "cat_Lead_List" in shifted
    # the score distribution of clean months stays in its frozen bins (stored scores and reference alike rounded)
    score = [a["subject"] for a in run["alerts"] if a["kind"] == "score_drift"
             and not a["subject"].endswith(FAULT_MONTH) and a["subject"].split(" · ")[1] < shift_month]
    assert score == []


def test_boost_shares_count_each_rule_per_month_against_the_training_share():
    from core.scoring.tiers import boost_rules, boosts

    # 200 leads a month; 2025-01: 20 meet the AUM rule (10%), 2025-02: 80 (40%); HNW and veteran rules never
    months = np.repeat(["2025-01", "2025-02"], 200)
    aum = np.where(np.r_[np.arange(200) < 20, np.arange(200) < 80], 900.0, 100.0)
    rows = pd.DataFrame({"TotalAssetsInMillions": aum, "AUM_Growth_Rate_1Year": 0.05, "HNW_Client_Ratio": 0.1,
                         "Is_Veteran_Advisor": 0, "Date_Of_Hire_At_Current_Firm_Years": 5.0})
    rows.loc[5, "AUM_Growth_Rate_1Year"] = np.nan  # a missing value meets no rule
    ref = M.boost_reference(rows.iloc[:200])
    assert ref["rows"] == 200 and ref["rules"]["AUM over $500M and growing"] == pytest.approx(19 / 200)
    assert ref["rules"][M.ANY_RULE] == pytest.approx(19 / 200) and ref["rules"]["HNW clients over half the book"] == 0
    out = M.boost_shares(rows, pd.Series(months), ref).set_index(["period", "rule"])
    feb = out.loc[("2025-02", "AUM over $500M and growing")]
    assert (feb.leads, feb.boosted) == (200, 80) and feb.share == pytest.approx(0.4)
    assert feb.ratio == pytest.approx(0.4 / (19 / 200)) and M.binomial_p(80, 200, 19 / 200) < 1e-20
    jan = out.loc[("2025-01", "AUM over $500M and growing")]
    assert M.binomial_p(jan.boosted, jan.leads, jan.reference) > 0.5 and np.isnan(M.binomial_p(3, 10, 0.0))
    assert np.isnan(out.loc[("2025-02", "HNW clients over half the book")].ratio)  # never met in training: no ratio
    # the scoring boosts and the monitored rules are the same rules
    assert (boosts(rows, 0.1)[0] > 0).sum() == sum(m.sum() for _, m in boost_rules(rows))


def test_the_vendor_fault_inflates_one_priority_rule_and_only_that_month_warns(monitored):
    _, w, _ = monitored
    run, frames = _latest(w)
    warned = [a["subject"] for a in run["alerts"] if a["kind"] == "boost_share"]
    assert warned == [f"AUM over $500M and growing · {FAULT_MONTH}"]
    b = frames["boosts"].set_index(["period", "rule"])
    fault = b.loc[(FAULT_MONTH, "AUM over $500M and growing")]
    assert fault.ratio >= 2
    alert = next(a for a in run["alerts"] if a["kind"] == "boost_share")
    assert alert["threshold"] == pytest.approx(2 * fault.reference, abs=1e-4)  # twice the training share
    assert alert["threshold"] < alert["value"]
    assert set(run["feed"]["priority_boosts"]) == set(b.index.get_level_values("rule"))


def test_tier_lists_warn_about_tier_a_leads_boosted_by_a_rule_monitoring_flags_until_acknowledged(monitored_copy):
    from core.auth import Actor
    from core.monitoring.store import acknowledge, read_alerts
    from core.monitoring.view import boost_warnings
    from core.scoring.score import current_scores

    _, w = monitored_copy
    scores = current_scores(w)
    warned = boost_warnings(w, scores)
    fault_a = scores[(scores.tier == "A") & scores.contacted_at.astype(str).str.startswith(FAULT_MONTH)
                     & scores.boost_reasons.fillna("").str.contains("AUM over $500M", regex=False)]
    assert len(fault_a) and len(warned) == 1
    assert warned[0].startswith(f"{len(fault_a)} Tier A lead") and "Jun 2025" in warned[0] and "warns past 2" in warned[0]
    keys = list(read_alerts(w).query("kind == 'boost_share'").alert_key)
    acknowledge(w, keys, Actor("ana", "analyst"))
    assert boost_warnings(w, scores) == []


def test_a_rule_met_by_half_the_training_share_warns_too(monitored_copy):
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    folder = Path(w.read("select artifact_dir from ml.models where is_champion").artifact_dir.iloc[0])
    ref = json.loads((folder / "reference.json").read_text())
    ref["boosts"]["rules"]["HNW clients over half the book"] = 0.5  # as if half the training rows had met it
    (folder / "reference.json").write_text(json.dumps(ref))
    low = [a for a in run_monitor(w, s).alerts if a["kind"] == "boost_share" and a["subject"].startswith("HNW")]
    assert low and all(a["threshold"] == 0.25 and a["value"] < 0.25 and "far fewer" in a["message"] for a in low)


def test_a_reference_without_boost_shares_asks_for_a_retrain_and_boosts_off_measure_nothing(monitored_copy):
    from core.config import with_overrides
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    folder = Path(w.read("select artifact_dir from ml.models where is_champion").artifact_dir.iloc[0])
    ref = json.loads((folder / "reference.json").read_text())
    del ref["boosts"]
    (folder / "reference.json").write_text(json.dumps(ref))
    r = run_monitor(w, s)
    assert not any(a["kind"] == "boost_share" for a in r.alerts)
    assert any("predates priority-boost shares" in n for n in r.notes)
    off = run_monitor(w, with_overrides(s, priority_boost=0.0))
    assert off.frames["boosts"].empty and not any("priority-boost" in n for n in off.notes)


def test_an_injected_pipeline_failure_raises_critical(monitored_copy, monkeypatch):
    from core import daily
    from core.monitoring.store import current_level, read_alerts

    s, w = monitored_copy

    def broken(*a, **k):
        raise RuntimeError("injected scoring failure")

    monkeypatch.setattr("core.scoring.score.score_leads", broken)
    with pytest.raises(RuntimeError):
        daily.run_daily(w, s)
    alerts = read_alerts(w)
    crit = alerts[(alerts.kind == "pipeline_failed") & alerts.active.astype(bool)]
    assert len(crit) == 1 and "injected scoring failure" in crit.message.iloc[0]
    assert current_level(alerts) == "critical"
    # the failed run's features carry the champion's levels (run-daily builds with them): every matured lead is judged
    from core.features.build import build_features, latest_feature_set
    from core.modeling.registry import champion_levels
    from core.monitoring.monitor import run_monitor

    assert latest_feature_set(w).levels == champion_levels(w)
    assert not any("could not be scored as of contact" in n for n in run_monitor(w, s).notes)
    # features with levels learned afresh (the build-features verb) lack the champion's: calibration says what it
    # could not score
    build_features(w, s)
    assert latest_feature_set(w).levels != champion_levels(w)
    assert any("could not be scored as of contact" in n for n in run_monitor(w, s).notes)


def test_acknowledged_alerts_leave_the_level_and_view_only_actors_cannot_acknowledge(monitored_copy):
    from core.auth import Actor
    from core.errors import PermissionDeniedError
    from core.monitoring.store import acknowledge, current_level, read_alerts
    from core.monitoring.view import incidents

    s, w = monitored_copy
    alerts = read_alerts(w)
    with pytest.raises(PermissionDeniedError):
        acknowledge(w, alerts.alert_key.iloc[0], Actor("m", "sga_manager"))
    active = alerts[alerts.active.astype(bool)]
    # incidents: one per kind and period, worst first; the vendor-fault month's drifting features are one
    inc = incidents(active)
    assert inc.alerts.sum() == len(active) and inc.level.iloc[0] == max(active.level, key=["ok", "warn", "alert", "critical"].index)
    fault = inc[inc.label.str.startswith("Feature drift") & inc.label.str.contains(pd.Timestamp(f"{FAULT_MONTH}-01").strftime("%b %Y"))]
    assert len(fault) == 1 and fault.alerts.iloc[0] >= 2
    # all or none: one unknown key among known ones acknowledges nothing
    with pytest.raises(LeadScoringError, match="nope"):
        acknowledge(w, [*fault.alert_keys.iloc[0], "nope|nothing"], Actor("ana", "analyst"))
    assert read_alerts(w).acknowledged_by.notna().sum() == 0
    acknowledge(w, fault.alert_keys.iloc[0], Actor("ana", "analyst"))
    assert set(read_alerts(w).dropna(subset=["acknowledged_by"]).alert_key) == set(fault.alert_keys.iloc[0])
    assert len(incidents(read_alerts(w)[lambda d: d.active.astype(bool)])) == len(inc) - 1
    for key in active.alert_key:
        acknowledge(w, key, Actor("ana", "analyst"))
    assert current_level(read_alerts(w)) == "ok"
    with pytest.raises(LeadScoringError, match="No alert"):
        acknowledge(w, "nope|nothing", Actor("ana", "analyst"))


def test_shadow_scores_are_stored_apart_and_never_reach_the_salesforce_payload(monitored_copy, monkeypatch):
    from core.modeling import train as tr
    from core.modeling.train import train
    from core.monitoring import shadow
    from core.salesforce.ledger import pending_changes
    from core.scoring.score import score_leads

    s, w = monitored_copy
    monkeypatch.setattr(tr, "MIN_TRAIN_POSITIVES_QUICK", 10**6)  # a fast logistic challenger is enough here
    challenger = train(w, s, 1.0, quick=True).model_id
    shadow.start_shadow(w, challenger)
    run, scores = score_leads(w, s)
    assert run.shadow_scored == len(scores)
    sh = w.read("select * from ml.shadow_scores")
    assert set(sh.model_version) == {challenger} and len(sh) == len(scores)
    # the challenger's list is ranked as the champion's: leads inside their outcome window first, then each
    # lead's own priority boost on its probability (a fair gate)
    both = sh.merge(w.read("select lead_id, boost, contacted_at from ml.lead_scores"), on="lead_id").sort_values("rank")
    assert (both.boost > 0).any() and len(both) == len(sh)
    late = (pd.to_datetime(both.contacted_at, utc=True) <= run.as_of - s.tier_window).to_numpy()
    assert late.any() and (~late).any() and (np.diff(late.astype(int)) >= 0).all()  # in-window leads first
    for part in (both[~late], both[late]):
        assert ((part.prob_mql_30d + part.boost).round(6).diff().dropna() <= 0).all()
    assert set(w.read("select distinct model_version from ml.lead_scores").model_version) == {run.model_version}
    pending = pending_changes(w, s)
    assert challenger not in " ".join(map(str, pending.to_numpy().ravel()))
    result = shadow.compare(w, s)
    assert result.gate_passed is False and result.days_in_shadow == 0
    with pytest.raises(LeadScoringError, match="shadow gate"):
        shadow.promote_challenger(w, s)
    with pytest.raises(LeadScoringError, match="is the champion"):
        shadow.start_shadow(w, run.model_version)


def test_attribution_is_read_back_for_unchanged_periods_and_recomputed_for_changed_ones(monitored_copy, monkeypatch):
    from core.modeling import registry
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    first = run_monitor(w, s, as_of="2025-10-27").frames["attribution"]
    explained: list[int] = []
    real = registry.load_model

    def counting(*a, **k):
        m = real(*a, **k)
        inner = m.contributions
        m.contributions = lambda X: explained.append(len(X)) or inner(X)
        return m

    monkeypatch.setattr("core.monitoring.monitor.load_model", counting)
    again = run_monitor(w, s, as_of="2025-10-27").frames["attribution"]
    assert explained == []  # every period's sampled rows hash as before: nothing explained again
    pd.testing.assert_frame_equal(first, again)
    # one period's rows change (a cached fingerprint no longer matches): only that period is explained again
    newest = first.period.max()
    with w.writer("test") as x:
        x.execute(f"update ml.monitor_attribution set fingerprint = 'stale' where period = '{newest}'")
    third = run_monitor(w, s, as_of="2025-10-27").frames["attribution"]
    assert len(explained) == 1 and 0 < explained[0] <= 2000
    pd.testing.assert_frame_equal(first, third)


def test_month_drift_is_read_back_until_a_months_rows_change_then_equals_a_fresh_run(monitored_copy, monkeypatch):
    """A contact month's feature drift is kept under its fingerprint (rows and a hash of every value): a run with
    nothing changed measures no month again, a changed value re-measures exactly its month, and the drift then
    equals a run with every cache dropped."""
    from core.monitoring import measures
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    first = run_monitor(w, s, as_of="2025-10-27").frames["drift"]
    measured: list[list[str]] = []
    real = measures.drift_with_recent

    def counting(rows, periods, measured_rows, recent, reference):
        measured.append(sorted(pd.Series(periods[measured_rows]).unique()))
        return real(rows, periods, measured_rows, recent, reference)

    def stored_periods():  # what the newest run stored in the drift history: what it measured
        return sorted(w.read("select distinct period from ml.monitor_feature_psi where run_id = (select run_id from "
                             "ml.monitor_runs order by created_at desc limit 1)").period)

    monkeypatch.setattr(measures, "drift_with_recent", counting)
    month = sorted(first.period.unique())[-3]
    # a label maturing is not a change of the lead's features
    with w.writer("test: a label matures") as x:
        x.execute("update ml.lead_features set label = 1, label_status = 'positive' where lead_id = (select max(lead_id) "
                  f"from ml.lead_features where strftime(contacted_at, '%Y-%m') = '{month}')")
    again = run_monitor(w, s, as_of="2025-10-27").frames["drift"]
    assert not any(measured)  # no month measured again
    pd.testing.assert_frame_equal(first, again, check_dtype=False)
    assert stored_periods() == ["last 30 days"]  # the history holds each month once, from the run that measured it
    with w.writer("test: one lead's value changes") as x:
        x.execute("update ml.lead_features set TotalAssetsInMillions = 999999 where lead_id = (select min(lead_id) "
                  f"from ml.lead_features where strftime(contacted_at, '%Y-%m') = '{month}')")
    changed = run_monitor(w, s, as_of="2025-10-27").frames["drift"]
    assert measured[-1] == [month] and stored_periods() == sorted([month, "last 30 days"])
    assert not changed[changed.period == month].equals(first[first.period == month])
    with w.writer("test: drop the caches") as x:
        x.execute("drop table ml.monitor_month_drift")
        x.execute("drop table ml.monitor_attribution")
    fresh = run_monitor(w, s, as_of="2025-10-27").frames["drift"]
    pd.testing.assert_frame_equal(changed, fresh, check_dtype=False)


# --------------------------------------------------------------------------------------- bad input


def test_monitoring_without_a_champion_says_what_to_do(wh, settings):
    from core.monitoring.monitor import run_monitor

    with pytest.raises(LeadScoringError, match="No champion"):
        run_monitor(wh, settings)


def test_a_champion_without_a_reference_asks_for_a_retrain(monitored_copy):
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    folder = Path(w.read("select artifact_dir from ml.models where is_champion").artifact_dir.iloc[0])
    (folder / "reference.json").unlink()
    with pytest.raises(LeadScoringError, match="retrain to enable drift"):
        run_monitor(w, s)


def test_a_feature_gone_from_todays_data_is_a_schema_change_and_empty_months_are_fine(monitored_copy):
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    folder = Path(w.read("select artifact_dir from ml.models where is_champion").artifact_dir.iloc[0])
    ref = json.loads((folder / "reference.json").read_text())
    ref["features"]["Vendor_Intent_Score"] = dict(ref["features"]["TotalAssetsInMillions"])
    (folder / "reference.json").write_text(json.dumps(ref))
    r = run_monitor(w, s, as_of="2025-10-27")
    assert any(a["kind"] == "schema_change" and a["subject"] == "Vendor_Intent_Score" for a in r.alerts)
    assert any(t["trigger"] == "schema change" for t in r.retrain)
    # a date before any scored lead: no cohorts, a note, no traceback
    early = run_monitor(w, s, as_of="2024-04-20")
    assert early.matured_cohorts == [] and early.notes


def test_a_month_missing_a_territorys_file_warns_naming_it(monitored_copy):
    """September's T3 file never loaded (its load left out here): feed health names the month and territory."""
    from core.monitoring.monitor import run_monitor, summary_markdown

    s, w = monitored_copy
    with w.writer("forget T3's September") as x:
        x.execute("update raw.file_loads set rows_loaded = 0 where kind = 'territory' and snapshot_month = '2025-09' "
                  "and territory = 'T3'")
    r = run_monitor(w, s)
    late = [a for a in r.alerts if a["kind"] == "feed_late"]
    assert [a["subject"] for a in late] == ["territory export · 2025-09 · T3"]
    assert late[0]["message"].startswith("2025-09 holds T1, T2 only: T3 not loaded")
    assert r.feed["missing_territories"] == {"2025-09": ["T3"]} and r.feed["missing_months"] == []
    assert "2025-09 without T3" in summary_markdown(r)


def test_a_months_export_is_late_days_after_the_day_it_exists_from(monitored_copy):
    """October's territory files never loaded: on 8 Oct it is late for a vendor whose month exists from the 1st
    (due by the 5th), not yet for one whose month lands on the 10th (``territory_known_day``: due by the 14th)."""
    from core.config import with_overrides
    from core.monitoring.monitor import run_monitor

    s, w = monitored_copy
    with w.writer("forget October's territory files") as x:
        x.execute("update raw.file_loads set rows_loaded = 0 where kind = 'territory' and snapshot_month = '2025-10'")
    late = lambda settings: [a["subject"] for a in run_monitor(w, settings, as_of="2025-10-08").alerts  # noqa: E731
                             if a["kind"] == "feed_late"]
    assert late(s) == ["territory export · 2025-10"]
    assert late(with_overrides(s, territory_known_day=10)) == []


def test_a_past_days_view_sees_only_what_was_known_then_and_leaves_todays_alerts(monitored_copy):
    """`monitor --as-of` a day before the newest contact: territory months loaded after it are not in the view
    (the vendor-fault month is not), and it is kept as history without closing today's alerts or replacing the
    page's run. An as-of after the time the outcomes are known to is refused: later weeks would read as matured
    with no MQLs."""
    from core.monitoring.monitor import run_monitor
    from core.monitoring.store import latest_run, read_alerts

    s, w = monitored_copy
    live = run_monitor(w, s)
    before = read_alerts(w).sort_values("alert_key", ignore_index=True)
    month_before = (pd.Period(FAULT_MONTH, "M") - 1).strftime("%Y-%m")
    past = run_monitor(w, s, as_of=f"{month_before}-15")
    assert not past.live and live.live and any(n.startswith("A view as of 15 ") for n in past.notes)
    assert past.feed["months_loaded"] and max(past.feed["months_loaded"]) == month_before
    assert not any(a["subject"].endswith(FAULT_MONTH) for a in past.alerts)
    assert any(a["subject"].endswith(FAULT_MONTH) for a in live.alerts)  # the live view names the faulty month
    after = read_alerts(w).sort_values("alert_key", ignore_index=True)
    pd.testing.assert_frame_equal(before[["alert_key", "level", "active", "last_seen"]],
                                  after[["alert_key", "level", "active", "last_seen"]])
    assert latest_run(w)[0]["run_id"] == live.run_id
    assert w.read(f"select count(*) as n from ml.monitor_runs where run_id = '{past.run_id}'").n.iloc[0] == 1
    with pytest.raises(LeadScoringError, match=r"is after .* the time the loaded leads' outcomes are known to"):
        run_monitor(w, s, as_of="2031-01-01")


def test_monitor_json_follows_the_contract(monitored_copy, capsys, monkeypatch):
    from core.cli import main

    s, w = monitored_copy
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(s.data_dir))
    assert main(["monitor", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["alert_level"] in ("ok", "warn", "alert", "critical")
    assert {"level", "kind", "subject", "value", "threshold", "message"} <= set(out["alerts"][0])
    assert "TotalAssetsInMillions" in out["feature_psi"] and "TotalAssetsInMillions" in out["snapshot_psi"]
    assert {"cohort_start", "leads", "positives", "tier_a_precision", "auc_pr"} <= set(out["matured_cohorts"][0])
    assert out["shadow"] is None
    assert main(["monitor"]) == 0  # the terminal view names the newest month's priority-rule shares
    assert "Priority rules met by leads contacted in 2025-10 (training rows): AUM over $500M" in capsys.readouterr().out
    # the CRITICAL alert's baseline and floor travel with the run, and the precision chart draws both
    assert 0 < out["tier_a_baseline"] < 1 and out["tier_a_critical_below"] == pytest.approx(0.5 * out["tier_a_baseline"])
    from core.monitoring import charts
    from core.monitoring.store import latest_run
    fig = charts.precision_by_week(latest_run(w)[1]["cohorts"], out["tier_a_baseline"], out["tier_a_critical_below"])
    assert sorted(round(s.y0, 6) for s in fig.layout.shapes) == sorted(
        round(v, 6) for v in (out["tier_a_baseline"], out["tier_a_critical_below"]))
    assert main(["models", "list"]) == 0  # the registry in a line a model, its test AUC-PR read from its metrics
    line = next(l for l in capsys.readouterr().out.splitlines() if "champion" in l)
    assert "AUC-PR 0." in line and "gates" in line


def test_frames_of_an_earlier_release_move_out_of_the_run_history(wh):
    """Runs stored by an earlier release kept their page frames in ml.monitor_runs.frames_json: the page still
    reads the newest run's frames before and after the next run moves them to ml.monitor_frames."""
    from core.monitoring.store import FRAMES, _move_frames_out_of_runs, latest_run

    frames = lambda v: json.dumps({"cohorts": pd.DataFrame({"leads": [v]}).to_json(orient="split", index=False)})
    old = pd.DataFrame({"run_id": ["r1", "r2"], "created_at": pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True),
                        "result_json": [json.dumps({"alert_level": "ok"})] * 2, "frames_json": [frames(1), frames(2)]})
    with wh.writer("an earlier release's runs") as s:
        s.load("ml.monitor_runs", old)
    for moved in (False, True):
        run, got = latest_run(wh)
        assert run["alert_level"] == "ok" and got["cohorts"].leads.tolist() == [2]
        with wh.writer("migrate") as s:
            _move_frames_out_of_runs(s)
            assert "frames_json" not in s.columns("ml.monitor_runs") and s.table_exists(FRAMES)
    assert wh.read(f"select run_id from {FRAMES}").run_id.tolist() == ["r2"]


def test_frames_keep_their_types_and_a_json_era_frames_table_is_still_read(wh):
    """The page's frames are stored as Arrow: every column comes back with its type (JSON made a float column of
    whole numbers an integer one), empty frames included; a frames table of the JSON era still reads."""
    from core.monitoring.store import FRAMES, decode_frames, encode_frames, latest_run

    frames = {"cohorts": pd.DataFrame({"cohort_start": ["2025-03-03", None], "share": [1.0, 0.0], "leads": [3, 4],
                                       "matured": [True, False], "auc_pr": [None, 0.25]}),
              "empty": pd.DataFrame(), "typed_empty": pd.DataFrame({"period": pd.Series(dtype=str)}),
              "unmatured": pd.DataFrame({"cohort_start": ["2025-03-03"], "positives": [None]}),
              "not_a_frame": 3}
    back = decode_frames(encode_frames(frames))
    assert set(back) == {"cohorts", "empty", "typed_empty", "unmatured"}
    assert back["unmatured"].positives.dtype == float and back["unmatured"].positives.isna().all()
    pd.testing.assert_frame_equal(back["cohorts"], frames["cohorts"])
    assert back["cohorts"].share.dtype == float and back["empty"].empty and list(back["typed_empty"]) == ["period"]
    with wh.writer("a run of the JSON era") as s:
        s.load("ml.monitor_runs", pd.DataFrame({"run_id": ["r1"], "created_at": pd.to_datetime(["2026-01-01"], utc=True),
                                                "result_json": [json.dumps({"alert_level": "warn"})]}))
        s.load(FRAMES, pd.DataFrame({"run_id": ["r1"], "created_at": pd.to_datetime(["2026-01-01"], utc=True),
                                     "frames_json": [json.dumps({"cohorts": pd.DataFrame({"leads": [7]}).to_json(
                                         orient="split", index=False)})]}))
    run, got = latest_run(wh)
    assert run["alert_level"] == "warn" and got["cohorts"].leads.tolist() == [7]


def test_cohorts_take_first_scores_within_8_days_of_contact_joined_in_the_warehouse(wh):
    """scored_leads keeps a lead whose first score came on its contact day or at most 8 days after, with a known or
    censored label, contacted by the as-of; the join to the lead's contact time, label and AUM is the warehouse's.
    A recycled lead (Salesforce moved its contact stage to a new outreach) whose first score dates from before this
    contact is not judged by that old score."""
    from types import SimpleNamespace

    from core.monitoring.monitor import _read, scored_leads

    t = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    features = pd.DataFrame({
        "lead_id": ["a", "b", "c", "d", "f", "g"],
        "contacted_at": [t("2025-03-03 23:30"), t("2025-03-03 08:00"), t("2025-03-03 08:00"), t("2025-03-20 08:00"),
                         t("2025-03-05 08:00"), t("2025-03-06 08:00")],
        "label": [1, 0, None, 0, None, 0],
        "label_status": ["positive", "negative", "not_contacted", "negative", "censored", "negative"],
        "TotalAssetsInMillions": [250.0, 80.0, 10.0, 900.0, None, 40.0], "Has_Discovery_Data": [1, 1, 0, 1, 0, 1]})
    firsts = pd.DataFrame({"lead_id": ["a", "b", "c", "d", "e", "f", "g"],
                           "score_date": ["2025-03-11", "2025-03-12", "2025-03-04", "2025-03-21", "2025-03-04", "2025-03-05",
                                          "2025-01-10"],
                           "prob": [0.4, 0.3, 0.2, 0.1, 0.5, 0.6, 0.7], "tier": ["A", "B", "C", "C", "A", "A", "A"],
                           "model_version": "m", "backfilled": False})
    with wh.writer("leads and their first scores") as s:
        s.load("ml.lead_features", features)
        s.load("ml.lead_first_scores", firsts)
        s.load("ml.score_history", firsts.rename(columns={"prob": "prob_mql_30d"}))
    first = _read(wh)[1]
    assert sorted(first.lead_id) == ["a", "b", "c", "d", "e", "f", "g"]  # a score without a features row stays, unjoined
    scored = scored_leads(SimpleNamespace(as_of=t("2025-03-15")), first).set_index("lead_id")
    # a: 8 days after its contact day (the hour does not count); b: 9 days; c: not contacted; d: after the as-of;
    # g: first scored two months before this contact
    assert sorted(scored.index) == ["a", "f"]
    assert scored.loc["a", "aum"] == 250.0 and scored.loc["a", "label"] == 1 and np.isnan(scored.loc["f", "label"])
    assert "near_contact" not in scored and str(scored.contacted_at.dtype).startswith("datetime64")


def test_each_leads_first_score_is_its_earliest_score_date_then_scoring_time(wh):
    """Cohorts judge the first score SGAs saw: the earliest score date, and on that date the earliest scoring run
    (a same-day rescore comes later); a row without a scoring time still counts."""
    from core.monitoring.monitor import _read

    t = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    rows = pd.DataFrame({
        "score_date": ["2025-03-10", "2025-03-03", "2025-03-03", "2025-03-17", "2025-03-03"],
        "lead_id": ["a", "a", "a", "b", "c"], "prob_mql_30d": [0.9, 0.2, 0.3, 0.5, 0.7],
        "tier": ["A", "C", "B", "B", "A"], "model_version": "m", "backfilled": False,
        "scored_at": [t("2025-03-10 06:00"), t("2025-03-03 09:00"), t("2025-03-03 06:00"), t("2025-03-17 06:00"), pd.NaT]})
    with wh.writer("score history") as s:
        s.load("ml.score_history", rows)
    first = _read(wh)[1].set_index("lead_id").sort_index()
    assert first.prob.tolist() == [0.3, 0.5, 0.7] and first.score_date.tolist() == ["2025-03-03", "2025-03-17", "2025-03-03"]
    assert first.tier.tolist() == ["B", "B", "A"] and not first.backfilled.any()


def test_first_start_keeps_first_scores_and_monitoring_builds_them_on_an_older_warehouse(monitored_copy):
    from core.monitoring.monitor import run_monitor
    from core.scoring.score import FIRST_SCORES, first_scores_sql

    s, w = monitored_copy

    def kept_and_whole():
        with w.reader() as r:
            return (r.query(f"select * from {FIRST_SCORES}").sort_values("lead_id").reset_index(drop=True),
                    r.query(first_scores_sql(r)).sort_values("lead_id").reset_index(drop=True))

    pd.testing.assert_frame_equal(*kept_and_whole(), check_dtype=False)  # backfill + daily run kept it
    before = run_monitor(w, s, as_of="2025-10-27")
    with w.writer("an earlier release's warehouse") as x:
        x.execute(f"drop table {FIRST_SCORES}")
    again = run_monitor(w, s, as_of="2025-10-27")  # aggregated from the history, then kept
    pd.testing.assert_frame_equal(*kept_and_whole(), check_dtype=False)
    assert again.matured_cohorts == before.matured_cohorts and again.estimated_cohorts == before.estimated_cohorts


def test_first_scores_kept_with_the_history_equal_the_aggregate_over_it(wh):
    """ml.lead_first_scores, kept by each write to the score history (from the day it changed on), always holds
    what aggregating the whole history gives: after a new day, a same-day rescore that drops a lead and adds
    one, and a backfill of earlier days."""
    from core.scoring.score import FIRST_SCORES, first_scores_sql, refresh_first_scores

    t = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731

    def day(date, leads, prob, hour="06:00", backfilled=False):
        return pd.DataFrame({"score_date": date, "lead_id": leads, "prob_mql_30d": prob, "tier": "B",
                             "model_version": "m", "backfilled": backfilled, "scored_at": t(f"{date} {hour}")})

    def write(rows, replace_days):
        with wh.writer("history") as s:
            if s.table_exists("ml.score_history"):
                s.execute("delete from ml.score_history where score_date in ("
                          + ", ".join(f"'{d}'" for d in replace_days) + ")")
            s.load("ml.score_history", rows, mode="append")
            refresh_first_scores(s, min(replace_days))

    def check():
        with wh.reader() as s:
            kept = s.query(f"select * from {FIRST_SCORES}").sort_values("lead_id").reset_index(drop=True)
            whole = s.query(first_scores_sql(s)).sort_values("lead_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(kept, whole, check_dtype=False)
        return kept.set_index("lead_id")

    write(day("2025-03-03", ["a", "b"], [0.1, 0.2]), ["2025-03-03"])
    write(day("2025-03-10", ["a", "b", "c"], [0.3, 0.4, 0.5]), ["2025-03-10"])
    assert check().prob.to_dict() == {"a": 0.1, "b": 0.2, "c": 0.5}
    # the same day scored again later: c is no longer open, d is new; c's first score of that day is gone
    write(day("2025-03-10", ["a", "b", "d"], [0.6, 0.7, 0.8], hour="15:00"), ["2025-03-10"])
    assert check().prob.to_dict() == {"a": 0.1, "b": 0.2, "d": 0.8}
    # a backfill of an earlier day moves first scores back
    write(day("2025-02-24", ["b", "e"], [0.9, 0.95], backfilled=True), ["2025-02-24"])
    got = check()
    assert got.prob.to_dict() == {"a": 0.1, "b": 0.9, "d": 0.8, "e": 0.95} and got.backfilled.to_dict()["b"]


def test_the_references_tier_shares_are_sized_as_daily_scoring_sizes_tiers(wh, settings):
    """The reference replays tiering at the daily capacity with the configured factors (training once passed it
    Tier A's size, which the replay multiplied by 1.2 again); every tiering reads the same two factors."""
    from core.config import with_overrides
    from core.monitoring.reference import build_reference

    rng = np.random.default_rng(0)
    rows = pd.DataFrame({"lead_id": [f"L{i:03d}" for i in range(200)],
                         "contacted_at": pd.Timestamp("2025-03-03 09:00", tz="UTC"),
                         "label": (rng.random(200) < 0.1).astype(float), "x": rng.normal(size=200)})
    prob = rng.random(200)
    with wh.reader() as s:
        ref = build_reference(s, rows, prob, {}, 10, None, "2025-03-04", 1.2, 2.0)
        wide = build_reference(s, rows, prob, {}, 10, None, "2025-03-04", 3.0, 1.0)
    assert ref["tier_shares"] == {"A": 0.06, "B": 0.1, "C": 0.84}  # 12, 20 and 168 of 200 leads
    assert wide["tier_shares"] == {"A": 0.15, "B": 0.05, "C": 0.8}
    assert with_overrides(settings, tier_a_factor=1.5).tier_a_size(10) == 15 and settings.tier_a_size(12 * 10) == 144


def test_tier_a_baseline_replays_daily_tiering_over_the_held_out_period():
    """Monitoring's Tier A precision is each new lead's first tier in the daily tiering, where older open leads
    compete; the baseline is measured the same way: earlier leads crowd Tier A, a lead that booked its call leaves
    the pool, boosts count, and only held-out leads are judged."""
    from core.monitoring.reference import replayed_tier_a

    t = lambda d: pd.Timestamp(d, tz="UTC")  # noqa: E731
    leads = pd.DataFrame({
        "lead_id": ["old1", "old2", "gone", "n1", "n2", "n3", "n4"],
        "contacted_at": [t("2025-03-01"), t("2025-03-01"), t("2025-03-01"), t("2025-03-04"), t("2025-03-05"),
                         t("2025-03-05"), t("2025-03-11")],
        "mql_at": [pd.NaT, pd.NaT, t("2025-03-02"), pd.NaT, t("2025-03-20"), pd.NaT, pd.NaT],
        "prob": [0.90, 0.05, 0.99, 0.50, 0.40, 0.30, 0.20],
        "boost": [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0],
        "label": [0, 0, 1, 0, 1, 0, 1]})
    leads["mql_at"] = pd.to_datetime(leads.mql_at, utc=True)
    # capacity 2 × 1.2 → Tier A holds 2 leads a day. Monday 10 Mar: pool old1 0.90, old2 0.55 (boosted), n1 0.50,
    # n2 0.40, n3 0.30 ("gone" booked on 2 Mar) → A = old1, old2: no held-out lead first tiered A; n4 is first
    # tiered at the period's end (11 Mar), behind old1 and old2 again.
    got = replayed_tier_a(leads, t("2025-03-04"), capacity=2, a_factor=1.2, b_factor=1.0)
    assert got == {"tier_a_precision": None, "tier_a_leads": 0}
    # without the boost old2 drops to 0.05 and n1 takes its place; at capacity 3 (A = 4 leads) n1, n2 and n3 make it
    got = replayed_tier_a(leads.assign(boost=0.0), t("2025-03-04"), capacity=3, a_factor=1.2, b_factor=1.0)
    assert got == {"tier_a_precision": pytest.approx(1 / 3), "tier_a_leads": 3}
    # leads inside a 7-day outcome window first (as daily scoring ranks them): on 10 Mar old1 and old2 are past
    # it, so n1 and n2 take Tier A despite old2's boost
    got = replayed_tier_a(leads, t("2025-03-04"), capacity=2, a_factor=1.2, b_factor=1.0, window=pd.Timedelta(days=7))
    assert got == {"tier_a_precision": 0.5, "tier_a_leads": 2}
    # capacity 1 (A = 1 lead): old1 holds Tier A on every date
    got = replayed_tier_a(leads.assign(boost=0.0), t("2025-03-04"), capacity=1, a_factor=1.2, b_factor=1.0)
    assert got == {"tier_a_precision": None, "tier_a_leads": 0}


def test_conversion_by_tier_counts_matured_leads_per_month_tier_and_discovery_data():
    """Spec §9.1: MQL rate by first-score tier, all leads and split by discovery data; leads not yet matured (no
    label) never count; pooled over the last months with Wilson intervals."""
    from core.monitoring.measures import conversion_by_tier, conversion_pooled

    scored = pd.DataFrame({
        "tier": ["A", "A", "A", "B", "B", "C", "C", "A", "C"],
        "label": [1, 0, 1, 0, np.nan, 0, 0, 1, 1],
        "discovery": [1, 1, 0, 1, 1, None, 0, 1, 0]})
    month = pd.Series(["2025-01"] * 7 + ["2025-02"] * 2)
    conv = conversion_by_tier(scored, month).set_index(["period", "tier", "discovery"])
    assert conv.loc[("2025-01", "A", "all"), ["leads", "mqls"]].tolist() == [3, 2]
    assert conv.loc[("2025-01", "A", "with discovery data"), ["leads", "mqls"]].tolist() == [2, 1]
    assert conv.loc[("2025-01", "A", "no discovery data"), ["leads", "mqls"]].tolist() == [1, 1]
    assert conv.loc[("2025-01", "B", "all"), "leads"] == 1  # the unlabelled B lead has not matured
    assert ("2025-01", "C", "with discovery data") not in conv.index  # discovery unknown: only in "all"
    assert conv.loc[("2025-01", "C", "all"), "leads"] == 2
    a = conv.loc[("2025-01", "A", "all")]
    assert a.rate == pytest.approx(2 / 3) and a.low < 2 / 3 < a.high
    # Wilson 95% for 2 of 3, by hand: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    z, n, p = 1.959964, 3, 2 / 3
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (a.low, a.high) == pytest.approx((centre - half, centre + half), abs=1e-6)
    pooled = conversion_pooled(conversion_by_tier(scored, month), months=1).set_index(["tier", "discovery"])
    assert pooled.loc[("A", "all"), ["leads", "mqls"]].tolist() == [1, 1] and pooled.first_month.iloc[0] == "2025-02"
    assert conversion_by_tier(scored.assign(label=np.nan), month).empty


def test_a_features_month_drills_down_to_bins_whose_psi_terms_add_up_to_the_heatmaps_cell(monitored):
    """The drill-down counts one feature of one month's leads in the reference's frozen bins: shares sum to 1 and
    the bins' PSI terms add up to the PSI the run stored for that cell (the vendor-fault month's AUM column)."""
    from core.monitoring.drilldown import feature_distribution, territory_distribution

    _, w, _ = monitored
    _, frames = _latest(w)
    cell = frames["drift"].set_index(["feature", "period"]).loc[("TotalAssetsInMillions", FAULT_MONTH)]
    d = feature_distribution(w, "TotalAssetsInMillions", FAULT_MONTH)
    assert d.rows == cell.n and d.psi == pytest.approx(cell.psi, abs=1e-4) and cell.psi >= 0.3
    assert d.bins.month_share.sum() == pytest.approx(1) and d.bins.reference_share.sum() == pytest.approx(1)
    assert d.bins.bin.iloc[-1] == "(missing)" and d.bins.psi_term.sum() == pytest.approx(d.psi)
    # the same for the territory month against the month the champion was trained on (counted by the warehouse)
    snap = frames["snapshot_drift"].set_index(["feature", "period"]).loc[("TotalAssetsInMillions", FAULT_MONTH)]
    t = territory_distribution(w, "TotalAssetsInMillions", FAULT_MONTH)
    assert t.psi == pytest.approx(snap.psi, abs=1e-4) and snap.psi >= 0.3 and t.rows == snap.n
    assert t.bins.month_share.iloc[-2] > 2 * t.bins.reference_share.iloc[-2]  # AUM in thousands: the top bin swells
    with pytest.raises(LeadScoringError, match="No territory export"):
        territory_distribution(w, "TotalAssetsInMillions", "1999-01")
    with pytest.raises(LeadScoringError, match="YYYY-MM"):
        feature_distribution(w, "TotalAssetsInMillions", "June")
    with pytest.raises(LeadScoringError, match="not in the champion's reference"):
        feature_distribution(w, "no_such_feature", FAULT_MONTH)


def test_the_monitoring_view_reads_in_words(monitored):
    """The page's view of the first start's run: figures, caption and feed line in words, no ISO timestamps."""
    from core.monitoring.view import MonitoringView, monitoring_view

    s, w, _ = monitored
    v = monitoring_view(w, s)
    assert isinstance(v, MonitoringView)
    head = dict(v.headline())
    assert list(head) == ["Alert level", "Matured weekly cohorts", "Score PSI, last 30 days",
                          "Discovery coverage, last 30 days"]
    assert int(head["Matured weekly cohorts"].replace(",", "")) == len(v.cohorts) >= 8
    assert head["Discovery coverage, last 30 days"].endswith("%")
    assert "UTC" in v.caption() and "T0" not in v.caption() and v.model_label in v.caption()
    assert v.feed_summary().startswith(f"Territory months loaded: **{len(v.run['feed']['months_loaded'])}**")
    assert " to " in v.feed_summary() and "-" not in v.feed_summary().split("(")[1].split(")")[0]  # 'Oct 2024 to Oct 2025'
    assert v.reference_span and f"from leads contacted {v.reference_span}" in v.caption()
    assert not v.alerts.Subject.str.contains(r"\d{4}-\d{2}").any()  # months in words: 'Jun 2025'
    # the SGA-effect features are named by their owners, not by Salesforce user ids
    owners = {f for k in ("drift", "attribution") for f in v.frames[k].feature if f.startswith("Owner_")}
    assert owners and set(v.feature_labels) == owners
    assert all(label.startswith("Owner: ") and "005" not in label for label in v.feature_labels.values())
    assert not v.alerts.message.str.contains("Owner_00").any() and not v.incidents.label.str.contains("Owner_00").any()
    from core.monitoring import charts

    fig = charts.attribution_ranks(v.frames["attribution"], labels=v.feature_labels)
    shown = {t.name for t in fig.data}
    assert not any(n.startswith("Owner_") for n in shown)
    heat = charts.psi_heatmap(v.frames["drift"], top=500, labels=v.feature_labels)
    assert set(v.feature_labels.values()) & set(heat.data[0].y) and not any(str(y).startswith("Owner_") for y in heat.data[0].y)


def test_owner_features_read_as_their_owners():
    from core.features.owners import owner_labels, owners_in_words, relabel

    names = {"005A0000001000AAA": "Harper Quinn", "005A0000001001AAA": "Sam Lee", "005A0000001002AAA": "Sam Lee"}
    labels = owner_labels(["Owner_005A0000001000AAA", "Owner_005A0000001001AAA", "Owner_005A0000001002AAA",
                           "Owner_005A0000009999AAA", "TotalAssetsInMillions"], names)
    assert labels == {"Owner_005A0000001000AAA": "Owner: Harper Quinn",  # an unknown owner keeps its name
                      "Owner_005A0000001001AAA": "Owner: Sam Lee (005A0000001001AAA)",  # one name, two owners
                      "Owner_005A0000001002AAA": "Owner: Sam Lee (005A0000001002AAA)"}
    assert owners_in_words("Mean |SHAP| of Owner_005A0000001000AAA changed; Owner_005A0000009999AAA too", names) == \
        "Mean |SHAP| of Owner: Harper Quinn changed; Owner_005A0000009999AAA too"
    frame = pd.DataFrame({"feature": ["Owner_005A0000001000AAA", "x"], "psi": [0.1, 0.2]})
    assert relabel(frame, labels).feature.tolist() == ["Owner: Harper Quinn", "x"]
    assert relabel(frame, {}) is frame


def test_months_in_words_leaves_dates_and_numbers_alone():
    from core.monitoring.view import months_in_words

    assert months_in_words("AUM moved (PSI 0.63) in 2025-06, and 2024-12") == "AUM moved (PSI 0.63) in Jun 2025, and Dec 2024"
    assert months_in_words("on 2025-06-02 · 2025-13 · 12025-06") == "on 2025-06-02 · 2025-13 · 12025-06"


def test_the_home_pages_state_reads_in_words(monitored):
    """After the first start the home page's state says what is loaded and how the last run ended, in words;
    `status` prints the same state as JSON."""
    import json

    from core.pipeline import PipelineState, pipeline_state

    _, w, _ = monitored
    state = pipeline_state(w)
    assert isinstance(state, PipelineState)
    head = dict(state.headline())
    assert head["Territory snapshot"][-4:].isdigit() and "-" not in head["Territory snapshot"]  # 'Oct 2025'
    assert head["CRD match rate"].endswith("%") and int(head["Contacted leads"].replace(",", "")) > 0
    what, caption = state.territory_load_words()
    assert what.startswith("**") and "rows read" in caption and "UTC" in caption
    kind, text = state.last_run_words()
    assert kind == "ok" and "scored with the champion model" in text and "Salesforce write-back: " in text
    assert state.champion_words().startswith(("Gradient boosting, trained ", "Logistic regression, trained "))
    assert state.champion_words().endswith(state.champion_model["model_id"]) and state.sync_lines() == []  # no Salesforce org on the demo
    assert set(json.loads(json.dumps(state.to_json(), default=str))) >= {"monitoring", "last_run", "salesforce_last"}
    counts = [v for load in state.territory_loads for k, v in load.items() if k.startswith("rows_")]
    assert counts and all(isinstance(v, int) for v in counts)  # whole numbers in `status --json`, not 6167.0
    banner = state.monitoring_banner()
    assert banner is None or banner[0] in ("warn", "alert", "critical") and "open alert" in banner[1]
    by_level = state.monitoring["open_by_level"]  # the banner counts each level, and they add up
    assert sum(by_level.values()) == state.monitoring["open_alerts"]
    assert banner is None or all(f"{n:,} {k.upper()}" in banner[1] for k, n in by_level.items())


def _shadowed_history(w, days_ago: int, n: int = 600, seed: int = 3):
    """A shadow started ``days_ago`` days ago and, since then, first scores of ``n`` new leads (contacted the day
    before), matured since, by the champion (a weak score) and the challenger (a sharper one), each with Tier A its
    own top 60; and an old open lead rescored by both, and a recycled lead scored by both before its new contact,
    which the comparison must leave out."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.1).astype(int)
    ids = [f"L{i:04d}" for i in range(n)]
    champ_p = np.clip(0.08 + 0.05 * y + rng.normal(0, 0.05, n), 0.001, 0.999)
    chal_p = np.clip(0.08 + 0.15 * y + rng.normal(0, 0.05, n), 0.001, 0.999)
    started = pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=days_ago)
    day = (started + pd.Timedelta(days=1)).strftime("%Y-%m-%d")

    def listed(p):
        rank = pd.Series(-p).rank(method="first").astype(int).to_numpy()
        return pd.DataFrame({"score_date": day, "lead_id": ids, "prob_mql_30d": p, "rank": rank,
                             "tier": np.where(rank <= 60, "A", "C")})
    old = {"score_date": day, "lead_id": "OLD", "prob_mql_30d": 0.9, "rank": 1, "tier": "A"}
    recycled = old | {"lead_id": "RECYCLED"}
    with w.writer("test") as s:
        s.load("ops.shadow", pd.DataFrame({"model_id": ["m_challenger"], "started_at": [started], "started_by": ["ana"],
                                           "stopped_at": pd.Series([pd.NaT], dtype="datetime64[us, UTC]")}))
        s.load("ml.score_history", pd.concat([listed(champ_p), pd.DataFrame([old, recycled])]).assign(
            model_version="m_champion"))
        s.load("ml.shadow_scores", pd.concat([listed(chal_p), pd.DataFrame([old, recycled])]).assign(
            model_version="m_challenger"))
        s.load("ml.lead_labels", pd.DataFrame({
            "lead_id": ids + ["OLD", "RECYCLED"], "label": list(y) + [1, 1],
            "label_status": list(np.where(y == 1, "positive", "negative")) + ["positive", "positive"],
            "contacted_at": [started] * n + [started - pd.Timedelta(days=200), started + pd.Timedelta(days=3)]}))
    return y, listed(champ_p), listed(chal_p)


def test_shadow_comparison_is_typed_measured_on_matured_leads_and_round_trips(wh, settings, capsys, monkeypatch):
    from core.cli import main
    from core.modeling import metrics
    from core.monitoring.shadow import ShadowComparison, compare

    y, champ, chal = _shadowed_history(wh, days_ago=10)
    r = compare(wh, settings)
    assert r.measured and r.challenger == "m_challenger" and r.days_in_shadow == 10
    assert r.matured_leads == len(y) and r.positives == int(y.sum())
    assert r.champion.tier_a_leads == r.challenger_metrics.tier_a_leads == 60
    assert r.champion.tier_a_precision == pytest.approx(y[(champ.tier == "A").to_numpy()].mean())
    assert r.challenger_metrics.auc_pr == pytest.approx(metrics.auc_pr(y, chal.prob_mql_30d.to_numpy()))
    assert r.auc_pr_lift == pytest.approx(r.challenger_metrics.auc_pr / r.champion.auc_pr - 1)
    lo, hi = r.auc_pr_lift_ci
    assert lo < r.auc_pr_lift < hi and r.auc_pr_lift > 0.05 and r.tier_a_precision_lift > 0.05
    assert r.gate_passed and r.reasons == () and "PASS" in r.markdown()
    # what a monitoring run stores (its JSON) reads back as the same comparison
    assert ShadowComparison.from_json(json.loads(json.dumps(r.to_json()))) == r
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(settings.data_dir))
    assert main(["models", "compare", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["gate_passed"] is True and out["champion"]["tier_a_leads"] == 60 and len(out["auc_pr_lift_ci"]) == 2


def test_a_young_shadow_fails_the_gate_on_days_and_one_without_matured_leads_says_so(wh, settings):
    from core.monitoring.shadow import ShadowComparison, compare

    _shadowed_history(wh, days_ago=3)
    r = compare(wh, settings)
    assert r.measured and not r.gate_passed and r.reasons == ("3 days in shadow (need ≥ 7)",)
    with wh.writer("test") as s:
        s.execute("delete from ml.lead_labels")
    r = compare(wh, settings)
    assert not r.measured and r.champion is None and not r.gate_passed
    assert r.reasons == ("no matured leads scored by both yet (0 matured)",)
    assert "FAIL — no matured leads" in r.markdown()
    assert ShadowComparison.from_json(json.loads(json.dumps(r.to_json()))) == r


def test_a_daily_run_builds_the_features_once_with_the_champions_levels(monitored_copy):
    """run-daily builds features with the champion's category levels, so scoring reuses that build: with levels
    learned afresh (they differ from the champion's when a new metro or list appears) scoring built them again."""
    import json
    from pathlib import Path

    from core.daily import run_daily
    from core.features.build import latest_feature_set
    from core.modeling.registry import champion_levels, champion_row

    s, w = monitored_copy
    meta_path = Path(champion_row(w)["artifact_dir"]) / "meta.json"
    meta = json.loads(meta_path.read_text())
    key = next(k for k, v in meta["levels"].items() if len(v) >= 2)
    meta["levels"][key] = meta["levels"][key] + ["A level only the champion's training rows had"]  # levels differ
    meta_path.write_text(json.dumps(meta))
    assert champion_levels(w) == meta["levels"]
    started = pd.Timestamp.now(tz="UTC")
    run_daily(w, s)
    builds = w.read("select target from ops.audit_log where action = 'build_features' and "
                    f"at >= TIMESTAMP '{started:%Y-%m-%d %H:%M:%S.%f}+00'")
    assert len(builds) == 1
    assert latest_feature_set(w).levels == meta["levels"]


def test_precision_chart_labels_few_weeks_and_leaves_many_to_hover():
    """Labels on every dot collide past a dozen weeks (22 on the first start's page): they move to the hover text."""
    from core.monitoring.charts import LABELLED_WEEKS, precision_by_week

    def weeks(n):
        return pd.DataFrame({"cohort_start": pd.date_range("2025-01-06", periods=n, freq="7D").strftime("%Y-%m-%d"),
                             "matured": True, "tier_a_precision": 0.1, "tier_a_leads": 30, "leads": 300, "positives": 9})

    few, many = precision_by_week(weeks(LABELLED_WEEKS), 0.06, 0.03), precision_by_week(weeks(LABELLED_WEEKS + 1))
    assert few.data[0].mode == "markers+text" and few.data[0].text[0] == "3/30" and "labels:" in few.layout.title.text
    assert many.data[0].mode == "markers" and many.data[0].text[0] == "3/30" and "hover" in many.layout.title.text
    assert "%{text}" in many.data[0].hovertemplate and not many.layout.shapes
    # the two lines are named in the legend, with their values (a label on a line sat on the dots)
    assert [s.y0 for s in few.layout.shapes] == [0.06, 0.03] and not few.layout.annotations
    assert [t.name for t in few.data[1:]] == ["champion's held-out Tier A precision 6.0%",
                                              "CRITICAL below 3.0% (last 4 matured weeks, significant)"]


def test_adoption_counts_follow_up_dials_of_new_leads_by_score_band_inside_the_window(monitored_copy):
    """Spec §9.1 SGA adoption: each week's new leads in three bands by score, the share with a follow-up dial within
    the window after their first list — the contact dial, a dial at the window's end and dials after an MQL left
    out; backfilled weeks read as the baseline; lists worked in score order show it."""
    from core.monitoring.adoption import BANDS, adoption

    s, w = monitored_copy
    base = adoption(w)
    assert set(base.weekly.band) == set(BANDS) and base.recent_from is not None and base.go_live is None
    # the small demo's ~35 new leads a week make bands too small to read week by week: the trend is by month
    assert base.trend_kind == "month" and base.trend.leads.sum() == base.weekly.leads.sum()
    assert base.trend.period.str.endswith("-01").all()
    assert base.weekly.leads.sum() == len(base.leads) > 500 and base.leads.lead_id.is_unique
    shares = base.weekly.groupby("band", observed=True).leads.sum() / base.weekly.leads.sum()
    assert abs(shares[BANDS[0]] - 0.2) < 0.03 and abs(shares[BANDS[2]] - 0.4) < 0.03
    assert "backfilled, never seen by the SGAs: this is how the team dialled before the engine" in base.sentence()
    # The demo's dials ignore the score: a band dialed no more than another beyond chance.
    assert max(base.shares().values()) - min(base.shares().values()) < 0.2

    recent = base.leads[base.leads.week >= base.recent_from]
    top, bottom = recent[recent.band == BANDS[0]], recent[recent.band == BANDS[2]]
    days = base.days
    with w.writer("test: the top band dialed the day after its list, the bottom band never in the window") as x:
        x.execute("delete from marts.fact_tasks where lead_id in (select lead_id from ml.lead_first_scores where "
                  f"lead_id in ({', '.join(repr(i) for i in recent.lead_id)}))")
        x.execute("insert into marts.fact_tasks (task_id, lead_id, created_at, is_dial) "
                  "select 'T' || f.lead_id, f.lead_id, cast(f.score_date as timestamp) + interval 1 day, true "
                  f"from ml.lead_first_scores as f where f.lead_id in ({', '.join(repr(i) for i in top.lead_id)})")
        first, second = bottom.lead_id.iloc[0], bottom.lead_id.iloc[1]
        # at the window's end (not counted), then a second before it (counted); an e-mail Task is never a dial
        x.execute("insert into marts.fact_tasks (task_id, lead_id, created_at, is_dial) "
                  f"select 'E' || lead_id, lead_id, cast(score_date as timestamp) + interval {days} day, true "
                  f"from ml.lead_first_scores where lead_id = {first!r} union all "
                  f"select 'M' || lead_id, lead_id, cast(score_date as timestamp) + interval 2 day, false "
                  f"from ml.lead_first_scores where lead_id = {first!r}")
        # the weeks from the newest four's first Monday are live lists
        live_from = sorted(recent.week.unique())[-4]
        x.execute(f"update ml.lead_first_scores set backfilled = false where score_date >= '{live_from}'")
    a = adoption(w)
    r = a.leads.set_index("lead_id")
    assert r.loc[list(top.lead_id)].dialed.all() and (r.loc[list(top.lead_id)].hours == 24).all()
    assert not r.loc[list(bottom.lead_id)].dialed.any()
    assert a.shares()[BANDS[0]] == 1.0 and a.shares()[BANDS[2]] == 0.0 and a.go_live == live_from
    assert "These weeks' lists were backfilled" not in a.sentence() and "called first" not in a.sentence()
    assert a.sentence().startswith(f"Over the last {a.weekly[a.weekly.period >= a.recent_from].period.nunique()} weeks of "
                                   "lists, 100% of the new leads scored in the top 20% had a follow-up dial within 7 days")
    with w.writer("test: a dial a second before the window ends") as x:
        x.execute("insert into marts.fact_tasks (task_id, lead_id, created_at, is_dial) "
                  f"select 'S' || lead_id, lead_id, cast(score_date as timestamp) + interval {days} day "
                  f"- interval 1 second, true from ml.lead_first_scores where lead_id = {first!r}")
    assert adoption(w).leads.set_index("lead_id").dialed[first] and not adoption(w).leads.set_index("lead_id").dialed[second]
    # a 1-day window: the top band's dials at 24 h are outside it
    assert adoption(w, days=1).leads.set_index("lead_id").loc[list(top.lead_id)].dialed.sum() == 0
    # per SGA: every SGA's top band dialed, none of their bottom band; no ratio against a bottom band never dialed
    sga = a.by_sga
    assert (sga.top_share.dropna() == 1.0).all() and (sga.bottom_share.dropna() == 0.0).all() and sga.ratio.isna().all()
    assert sga.leads.sum() == (a.leads.week >= live_from).sum() and a.recent_from == live_from  # live lists only
    with w.writer("test: every new lead dialed the day after its list") as x:
        x.execute("insert into marts.fact_tasks (task_id, lead_id, created_at, is_dial) "
                  "select 'B' || f.lead_id, f.lead_id, cast(f.score_date as timestamp) + interval 1 day, true "
                  f"from ml.lead_first_scores as f where f.lead_id in ({', '.join(repr(i) for i in bottom.lead_id)})")
    assert "The top-scored leads are not called first" in adoption(w).sentence()
    with pytest.raises(LeadScoringError, match="choose 1 to 30 days"):
        adoption(w, days=45)


def test_adoption_without_call_activity_says_what_to_load(monitored_copy, capsys, monkeypatch):
    from core.cli import main
    from core.monitoring.adoption import adoption

    s, w = monitored_copy
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(s.data_dir))
    assert main(["adoption", "--json"]) == 0  # `adoption`: the page's figures for scripts and the terminal
    out = json.loads(capsys.readouterr().out)
    assert out["sentence"].startswith("Over the last 8 weeks of lists") and set(out["shares"]) == {
        "Top 20%", "Middle 40%", "Bottom 40%"}
    assert {"sga", "leads", "top_share", "bottom_share", "ratio"} <= set(out["by_sga"][0]) and out["trend_kind"] == "month"
    assert main(["adoption", "--days", "3"]) == 0
    text = capsys.readouterr().out
    assert "within 3 days" in text and "| SGA | new leads | top 20% |" in text
    assert main(["adoption", "--days", "0"]) == 2
    assert "choose 1 to 30 days" in capsys.readouterr().err
    with w.writer("test: no Task export loaded") as x:
        x.execute("drop table marts.fact_tasks")
    with pytest.raises(LeadScoringError, match=r"Adoption needs the call activity \(load the Salesforce Task export"):
        adoption(w)
