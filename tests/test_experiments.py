"""Experiments (#15): the statistics against known answers, the A/A and power simulations, assignment,
the write-back of hidden arms to the Salesforce stand-in, dials, the demo readout and every bad input."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from core.cli import main
from core.config import with_overrides
from core.errors import LeadScoringError
from core.experiments import stats as S
from core.experiments.aa import Pool, blocked_split, simulate
from core.experiments.assign import arms_for, block_pattern
from core.experiments.readout import cmh

# ------------------------------------------------------------------------------------- the statistics


def test_delta_method_variance_matches_a_bootstrap():
    rng = np.random.default_rng(3)
    n = 4000
    x = 1 + rng.poisson(2.4, n)
    y = (rng.random(n) < 0.04 + 0.01 * (x > 3)).astype(float)
    r = S.ratio(y, x)
    boot = []
    for _ in range(2000):
        i = rng.integers(0, n, n)
        boot.append(y[i].sum() / x[i].sum())
    assert r.ratio == pytest.approx(y.sum() / x.sum())
    assert np.sqrt(r.var) == pytest.approx(np.std(boot), rel=0.08)


def test_a_lift_interval_never_reaches_below_minus_100_percent():
    """A stratum with one control MQL: the delta method's symmetric interval went to about -650%, which no rate
    can give; its lower end is cut at -100%, the rest of the lift untouched."""
    lf = S.relative_lift(S.ArmRatio(80, 0.05, 0.05 ** 2), S.ArmRatio(90, 0.011, 0.011 ** 2))
    assert lf.ci_low == -1.0 and lf.effect == pytest.approx(0.05 / 0.011 - 1)
    assert lf.ci_high == pytest.approx(lf.effect + 1.959964 * lf.se, rel=1e-6)
    wide = S.relative_lift(S.ArmRatio(4000, 0.05, 1e-6), S.ArmRatio(4000, 0.04, 1e-6))
    assert wide.ci_low == pytest.approx(wide.effect - 1.959964 * wide.se, rel=1e-6) and wide.ci_low > 0


def test_cmh_matches_a_hand_computed_example():
    tables = [np.array([[10, 90], [5, 95]]), np.array([[20, 80], [12, 88]]), np.array([[3, 47], [1, 49]])]
    num = sum(t[0, 0] * t[1, 1] / t.sum() for t in tables)
    den = sum(t[0, 1] * t[1, 0] / t.sum() for t in tables)
    y, treat, stratum = [], [], []
    for k, t in enumerate(tables):
        for arm, row in ((1, t[0]), (0, t[1])):
            y += [1] * row[0] + [0] * row[1]
            treat += [arm] * row.sum()
            stratum += [k] * row.sum()
    out = cmh(np.array(y, float), np.array(treat), np.array(stratum))
    assert out["odds_ratio"] == pytest.approx(num / den)  # Mantel–Haenszel pooled odds ratio by hand
    assert out["p_value"] == pytest.approx(StratifiedTable(tables).test_null_odds(correction=False).pvalue)
    assert out["strata_used"] == 3


def test_srm_fires_on_a_planted_52_48_split_and_not_on_a_fair_one():
    assert S.srm_p([10_400, 9_600], [0.5, 0.5]) < 0.001
    assert S.srm_p([10_030, 9_970], [0.5, 0.5]) > 0.05


def test_sequential_boundaries_match_published_values():
    # gsDesign, sfLDOF, two-sided symmetric, alpha 0.05: two looks 2.963 / 1.969; four looks 4.333 / 2.963 / 2.359 / 2.014
    assert S.boundaries((0.5, 1.0)) == pytest.approx((2.963, 1.969), abs=2e-3)
    assert S.boundaries((0.25, 0.5, 0.75, 1.0)) == pytest.approx((4.333, 2.963, 2.359, 2.014), abs=2e-3)
    assert S.boundaries((1.0,))[0] == pytest.approx(1.96, abs=1e-3)


def test_score_adjustment_reduces_variance_when_the_score_predicts():
    rng = np.random.default_rng(5)
    n = 6000
    score = rng.beta(1, 20, n)
    y = (rng.random(n) < score * 1.2).astype(float)
    x = np.ones(n)
    t = rng.random(n) < 0.5
    at, ac, vr = S.adjusted_arms(y[t], x[t], score[t], y[~t], x[~t], score[~t])
    assert 0.02 < vr < 0.9
    assert at.var < S.ratio(y[t], x[t]).var


def _pool(seed: int, n: int = 3000) -> Pool:
    rng = np.random.default_rng(seed)
    score = rng.beta(1.2, 25, n)
    y = (rng.random(n) < score).astype(float)
    x = 1 + rng.poisson(2.4, n).astype(float)
    stratum = rng.choice(["a", "b", "c"], n)
    codes = pd.factorize(stratum)[0]
    pos = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    return Pool(y=y, x=x, score=score, stratum=stratum, block_key=codes * 1_000_000 + pos // 2,
                interim=np.arange(n) < n // 4, t1=0.25, has_dials=True)


def test_aa_false_positive_rate_is_near_alpha_seeded():
    res = simulate(_pool(11), sims=400, seed=7)
    assert 0.025 <= res.false_positive_rate <= 0.085  # 5% ± binomial noise for 400 simulations
    assert res.srm_false_alarm_rate == 0.0  # blocked assignment cannot drift from its split


def test_power_simulation_detection_rate_matches_the_design():
    res = simulate(_pool(12, n=5000), sims=250, seed=8, lift=0.5)
    assert res.detection_rate == pytest.approx(res.design_power, abs=0.12)


def test_blocked_assignment_is_balanced_sticky_and_reproducible():
    a = arms_for("exp", 1, "AUM · rich", np.arange(100), 0.5)
    assert a.sum() == 50 and np.array_equal(a, arms_for("exp", 1, "AUM · rich", np.arange(100), 0.5))
    assert not np.array_equal(a, arms_for("exp", 2, "AUM · rich", np.arange(100), 0.5))
    assert np.array_equal(arms_for("exp", 1, "AUM · rich", np.arange(40, 60), 0.5), a[40:60])  # sticky by position
    assert len(block_pattern(0.1)) == 10 and block_pattern(0.1).sum() == 1
    t = blocked_split(np.random.default_rng(1), np.repeat(np.arange(50), 2))
    assert t.reshape(50, 2).sum(axis=1).tolist() == [1] * 50


def test_the_arm_and_the_tag_never_reach_features():
    from core.features.catalog import Feature, check_no_leakage

    for src in ("Experimentation_Tag__c", "experiment_arm", "Lead_Score_Experiment__c"):
        with pytest.raises(LeadScoringError, match=src):
            check_no_leakage([Feature("Arm_Leak", "Coverage", "leak", "1", (src,))])


# ------------------------------------------------------------------------------------- the demo


def test_a_readout_as_of_after_the_outcomes_are_known_is_refused(monitored):
    """Leads whose window was still open at the export would count as matured without an MQL."""
    from core.experiments.readout import readout

    s, w, _ = monitored
    with pytest.raises(LeadScoringError, match=r"--as-of 2031-01-01 00:00 UTC is after .* outcomes are known to"):
        readout(w, s, "tiering-pilot", as_of="2031-01-01")


@pytest.mark.parametrize("name,source", [("tiering-pilot", "engine"), ("scoring-pilot", "tag")])
def test_demo_readout_recovers_the_planted_effect(monitored, name, source):
    from core.experiments.readout import readout

    s, w, _ = monitored
    truth = json.loads((s.data_dir / "demo" / "truth" / "experiment_truth.json").read_text())[name]
    r = readout(w, s, name)
    j = r.as_json()
    assert j["source"] == source and j["primary_metric"] == "mqls_per_100_dials" and j["look"] == 2
    assert j["ci_low"] <= truth["true_effect_per_100_dials"] <= j["ci_high"]
    assert j["srm_p"] > 0.001 and j["decision"] in ("no effect", "stop for efficacy")
    assert {a: v["leads"] for a, v in j["arms"].items()} == truth["leads"] or source == "tag"
    assert {g["guardrail"] for g in j["guardrails"]} >= {"Feature balance", "Discovery data coverage balance",
                                                          "High-AUM lead coverage", "SGA workload across metros"}
    assert not r.strata.empty and not r.cumulative.empty
    assert not any(w_.startswith("Converted leads") for w_ in j["warnings"])  # the demo's Tasks stay on the Lead
    assert not any(w_.startswith("The call activity loaded ends") for w_ in j["warnings"])  # exported with the Leads
    # the balance chart names an owning SGA's column by the SGA, never by a Salesforce user id
    owners = r.balance[r.balance.feature.str.startswith("Owner_")]
    assert len(owners) and owners.label.str.startswith("Owner: ").all() and not owners.label.str.contains("005").any()
    if source == "tag":
        assert any("without a valid arm" in w_ for w_ in j["warnings"])  # the demo's one malformed tag
        assert sum(v["leads"] for v in j["arms"].values()) == sum(truth["leads"].values()) - 1
    else:
        assert j["adjusted_effect"] is not None  # scores at assignment were recorded


def test_converted_leads_without_dials_are_called_out():
    """Salesforce moves a converted Lead's Tasks to its Contact: its dials vanish from the Lead's WhoId while its
    MQL stays. Said when converted MQLs carry under a quarter of the other MQLs' dials, and not otherwise."""
    from core.experiments.units import converted_dials_note

    m = pd.DataFrame({"lead_id": [f"L{i}" for i in range(60)], "mql": [1] * 30 + [0] * 30,
                      "dials": [0] * 12 + [3] * 18 + [2] * 30})
    note = converted_dials_note(m, {f"L{i}" for i in range(12)})
    assert note.startswith("Converted leads' dials look missing: the 12 matured MQLs converted in Salesforce carry "
                           "0.0 dials each, those not converted 3.0.")
    assert converted_dials_note(m, {f"L{i}" for i in range(12, 24)}) is None  # converted leads kept their dials
    assert converted_dials_note(m, {f"L{i}" for i in range(9)}) is None  # too few to say
    assert converted_dials_note(m, set()) is None


def test_a_task_export_older_than_the_leads_is_called_out():
    """A Lead export refreshed daily beside a Task export loaded once: the matured leads' dial windows run past
    the newest dial loaded, their later dials are missing and MQLs per 100 dials read high in both arms."""
    from core.experiments.units import stale_dials_note

    t = lambda d: pd.Timestamp(d, tz="UTC")  # noqa: E731
    m = pd.DataFrame({"contacted_at": pd.date_range("2025-06-01", "2025-08-31", periods=500, tz="UTC")})
    note = stale_dials_note(m, t("2025-08-15"), 30)  # windows end up to 30 Sep: those ending after 19 Aug are late
    late = int((m.contacted_at + pd.Timedelta(days=30) > t("2025-08-19")).sum())
    assert note.startswith(f"The call activity loaded ends 15 Aug 2025, but the 30-day windows of {late:,} matured "
                           f"leads ({late / 500:.0%}) run past it")
    assert stale_dials_note(m, t("2025-09-28"), 30) is None  # a long weekend's gap, not a stale export
    assert stale_dials_note(m, t("2025-09-25"), 30) is None  # a handful of windows past 29 Sep: under 10
    assert stale_dials_note(m, None, 30) is None  # no call activity: the readout uses MQLs per lead


def test_dials_are_loaded_with_accounting_and_counted_inside_the_window(monitored):
    s, w, _ = monitored
    loads = w.read("select rows_read, rows_loaded, rows_quarantined from raw.file_loads where kind = 'activities'")
    assert len(loads) == 1
    assert int(loads.rows_read[0]) == int(loads.rows_loaded[0]) + int(loads.rows_quarantined[0])
    assert int(loads.rows_quarantined[0]) == 2  # the two Tasks without an Id
    facts = w.read("select count(*) as n, countif(is_dial) as dials from marts.fact_tasks")
    assert 0 < facts.dials[0] < facts.n[0]  # e-mails are Tasks, not dials


@pytest.fixture
def exp_world(monitored_copy):
    return monitored_copy


def _cli(s, capsys, *argv) -> tuple[int, str]:
    code = main(["--db", str(s.warehouse_path), *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_cli_design_assign_readout_and_every_bad_input(exp_world, capsys):
    s, w = exp_world
    code, out = _cli(s, capsys, "experiment", "power", "--json")
    assert code == 0 and json.loads(out)["leads_adjusted"] > 0
    code, out = _cli(s, capsys, "experiment", "create", "pilot-a", "--start", "2025-10-01", "--json")
    assert code == 0, out
    assert _cli(s, capsys, "experiment", "assign")[0] == 0
    code, out = _cli(s, capsys, "experiment", "readout", "pilot-a", "--json")
    assert code == 0 and "not enough matured leads yet: 0 of the planned" in out
    assigned = w.read("select arm, count(*) as n from ops.experiment_assignments group by arm")
    assert set(assigned.arm) == {"control", "treatment"}
    # bad inputs: a clear message and exit 2, never a traceback
    for argv, needle in [
        (("experiment", "create", "x1", "--start", "2026-06-01", "--split", "1.5"), "strictly between 0 and 1"),
        (("experiment", "create", "x2", "--start", "2026-06-01", "--strata", "aum_tier,zodiac"), "unknown stratum 'zodiac'"),
        (("experiment", "create", "pilot-a", "--start", "2026-06-01"), "already exists"),
        (("experiment", "create", "scoring-pilot", "--start", "2027-06-01"), "Experimentation_Tag__c"),
        (("experiment", "create", "pilot-b", "--start", "2025-11-01"), "a lead is in at most one running experiment"),
        (("experiment", "readout", "nobody"), "No experiment named 'nobody'"),
        (("experiment", "aa-test", "--from", "2025-01-01", "--to", "2024-01-01"), "must be after"),
    ]:
        code, out = _cli(s, capsys, *argv)
        assert code == 2 and needle in out and "Traceback" not in out, (argv, out)
    code, out = _cli(s, capsys, "experiment", "aa-test", "--from", "2024-06-01", "--to", "2025-06-01", "--sims", "50",
                     "--json")
    j = json.loads(out)
    assert code == 0 and j["sims"] == 50 and 0 <= j["false_positive_rate"] <= 0.2 and "srm_false_alarm_rate" in j


def test_hidden_arm_reaches_the_standin_blank_with_its_tag(exp_world, small_demo):
    from core.experiments.assign import assign_new_leads
    from core.experiments.design import create_experiment
    from core.salesforce.standin import SalesforceStandin
    from core.salesforce.push import push_scores

    s, w = exp_world
    create_experiment(w, s, "pilot-w", "2025-09-22")
    assert assign_new_leads(w, s)["pilot-w"] > 10
    arms = w.read("select lead_id, arm from ops.experiment_assignments where experiment = 'pilot-w' "
                  "and lead_id in (select lead_id from ml.lead_scores) order by lead_id")
    assert set(arms.arm) == {"control", "treatment"}
    with SalesforceStandin(small_demo / "salesforce_leads.csv") as sf:
        s2 = with_overrides(s, salesforce={**sf.settings(), "poll_seconds": 0.02, "backoff_seconds": 0.001})
        result = push_scores(w, s2)
        assert result.outcome == "ok", result.message
        for lead_id, arm in arms.head(40).itertuples(index=False):
            rec = sf.leads[lead_id]
            assert rec["Lead_Score_Experiment__c"] == f"pilot-w:{arm}"
            if arm == "control":
                assert rec["Lead_Score__c"] is None and rec["Lead_Score_Tier__c"] is None and rec["Lead_Score_Drivers__c"] is None
            else:
                assert rec["Lead_Score__c"] is not None and rec["Lead_Score_Tier__c"] in ("A", "B", "C")
    kept = w.read("select count(*) as n from ml.lead_scores where lead_id in "
                  "(select lead_id from ops.experiment_assignments where arm = 'control')")
    assert kept.n[0] > 0  # the engine keeps the hidden arm's scores


def test_activities_pull_through_the_standin_matches_the_file(exp_world, small_demo):
    from core.salesforce.standin import SalesforceStandin
    from core.salesforce.pull import pull_activities

    s, w = exp_world
    # Salesforce archives a closed Task a year after its date, and `query` no longer returns it: as of a day a year
    # after the demo's first contacts, the oldest dials are archived; one more Task is in the recycle bin
    with SalesforceStandin(small_demo / "salesforce_leads.csv", page_size=2000, as_of=datetime.date(2025, 9, 1)) as sf:
        n = sf.seed_tasks(small_demo / "salesforce_tasks.csv")
        archived = sum(sf._archived(t) for t in sf.tasks.values())
        deleted = next(iter(sf.tasks))
        sf.tasks[deleted]["IsDeleted"] = True
        assert 0 < archived < n and sf.query("SELECT Id FROM Task WHERE WhoId != null")["totalSize"] == n - archived - 1
        s2 = with_overrides(s, salesforce={**sf.settings(), "poll_seconds": 0.02})
        result = pull_activities(w, s2)
        pages = [p for m, p, _ in sf.requests if m == "GET" and "/queryAll" in p]
    assert result.rows_read == n - 1 and len(pages) > 1  # every page, archived dials too, not the recycle bin
    facts = w.read("select count(*) as n, countif(task_id = '%s') as deleted from marts.fact_tasks" % deleted)
    assert facts.n[0] == n - 1 and facts.deleted[0] == 0


def test_a_gradual_rollout_sends_the_challengers_scores_to_its_arm_only(exp_world):
    from core.experiments.assign import assign_new_leads
    from core.experiments.design import create_experiment, get_design, set_split
    from core.modeling.train import train
    from core.monitoring.shadow import start_shadow
    from core.salesforce.ledger import writeback_scores
    from core.scoring.score import score_leads

    s, w = exp_world
    challenger = train(w, s, 1, quick=True).model_id
    with pytest.raises(LeadScoringError, match="models shadow"):
        create_experiment(w, s, "roll-1", "2025-09-22", split=0.1, challenger=challenger)
    start_shadow(w, challenger)
    score_leads(w, s, full=True)  # scores the challenger in shadow beside the champion
    d = create_experiment(w, s, "roll-1", "2025-09-22", split=0.1, challenger=challenger)
    assert d.kind == "rollout" and d.arms == ("champion", "challenger") and d.hidden_arms == ()
    assert assign_new_leads(w, s)["roll-1"] > 0
    arms = w.read("select lead_id, arm from ops.experiment_assignments where experiment = 'roll-1'")
    assert 0 < (arms.arm == "challenger").mean() < 0.3  # about 10%, in blocks of 10
    sent = writeback_scores(w).merge(arms, on="lead_id")
    chal, champ = sent[sent.arm == "challenger"], sent[sent.arm == "champion"]
    assert len(chal) and (chal.model_version == challenger).all() and (chal.drivers == "").all()
    assert len(champ) and (champ.model_version != challenger).all()
    assert set(sent.experiment_tag) <= {"roll-1:champion", "roll-1:challenger"}
    set_split(w, "roll-1", 0.5)  # 10% -> 50%: new leads follow, assigned leads keep their arm
    assert get_design(w, "roll-1").split == 0.5
    assert w.read("select count(*) as n from ops.experiment_assignments where experiment = 'roll-1'").n[0] == len(arms)


def test_every_experiment_verb_on_an_empty_warehouse_is_a_clear_error(settings, capsys):
    """Before any load, each verb says what to load or build first (exit 2), never a traceback."""
    for argv in (["experiment", "aa-test", "--from", "2025-01-01", "--to", "2025-02-01"], ["experiment", "power"],
                 ["experiment", "readout", "pilot"], ["experiment", "readout", "pilot", "--as-of", "2025-03-01"]):
        code = main(["--db", str(settings.warehouse_path), *argv])
        out = capsys.readouterr()
        assert code == 2, (argv, out.err)
        assert "Traceback" not in out.err and ("load" in out.err or "build-features" in out.err), (argv, out.err)
