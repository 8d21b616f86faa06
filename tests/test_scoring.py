"""Scoring: exact tier sizes, boosts within capacity, deterministic ties, same-day idempotence, every
degradation level by fault injection, drivers that agree with the contributions."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from core.auth import Actor
from core.config import with_overrides
from core.errors import LeadScoringError, PermissionDeniedError
from core.scoring.capacity import get_capacity, set_capacity
from core.scoring.drivers import Peers, sentence, top_drivers
from core.scoring.tiers import assign_tiers, boosts
from core.warehouse import open_warehouse


def _scores(n=100, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"lead_id": [f"L{i:03d}" for i in range(n)], "prob": rng.random(n).round(2),
                         "boost": np.where(rng.random(n) < 0.2, 0.1, 0.0),
                         "contacted_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")})


@pytest.mark.parametrize("capacity", [1, 7, 10, 40])
def test_tier_sizes_follow_capacity_exactly(capacity):
    out = assign_tiers(_scores(), capacity)
    a, b = round(capacity * 1.2), round(capacity * 2.0)
    counts = out.tier.value_counts()
    assert counts.get("A", 0) == min(a, 100) and counts.get("B", 0) == min(b, max(100 - a, 0))
    assert out["rank"].tolist() == list(range(1, 101))


def test_boosts_reorder_but_never_change_tier_sizes():
    plain = assign_tiers(_scores().assign(boost=0.0), 10)
    boosted = assign_tiers(_scores(), 10)
    assert (plain.tier.value_counts() == boosted.tier.value_counts()).all()
    assert plain.lead_id.tolist() != boosted.lead_id.tolist()


def test_leads_inside_their_outcome_window_rank_first_and_older_ones_fill_what_is_left():
    from datetime import timedelta

    now = pd.Timestamp("2025-04-01 06:00", tz="UTC")
    df = pd.DataFrame({"lead_id": ["old_hot", "old_cold", "new_a", "new_b"], "prob": [0.9, 0.01, 0.05, 0.02],
                       "boost": [0.1, 0.0, 0.0, 0.0],
                       "contacted_at": [now - pd.Timedelta(days=200), now - pd.Timedelta(days=31),
                                        now - pd.Timedelta(days=2), now - pd.Timedelta(days=29)]})
    out = assign_tiers(df, 1, 1.2, 2.0, window=timedelta(days=30), as_of=now)
    assert out.lead_id.tolist() == ["new_a", "new_b", "old_hot", "old_cold"]  # in-window first, then by score
    assert out.tier.tolist() == ["A", "B", "B", "C"]                          # spare capacity goes to older leads
    assert assign_tiers(df, 1, 1.2, 2.0, window=timedelta(days=30), as_of=now.tz_localize(None)).equals(out)
    plain = assign_tiers(df, 1, 1.2, 2.0)  # no window: the score alone
    assert plain.lead_id.tolist() == ["old_hot", "new_a", "new_b", "old_cold"] and "_late" not in plain


def test_tier_window_follows_the_label_window_unless_configured(tmp_path):
    from datetime import timedelta

    from core.config import load_settings, with_overrides
    from core.errors import LeadScoringError

    cfg = tmp_path / "leadscore.toml"
    cfg.write_text("label_window_days = 45\n")
    assert load_settings(cfg).tier_window == timedelta(days=45)
    s = load_settings(cfg)
    assert with_overrides(s, tier_window_days=14).tier_window == timedelta(days=14)
    assert with_overrides(s, tier_window_days=0).tier_window is None
    for bad in ("-3", "'a month'", "7.5"):
        cfg.write_text(f"tier_window_days = {bad}\n")
        with pytest.raises(LeadScoringError, match="tier_window_days"):
            load_settings(cfg)


def test_ties_break_on_probability_then_contact_then_id():
    df = pd.DataFrame({"lead_id": ["c", "b", "a", "d"], "prob": [0.2, 0.2, 0.2, 0.3], "boost": [0.1, 0.1, 0.1, 0.0],
                       "contacted_at": pd.to_datetime(["2025-01-02", "2025-01-01", "2025-01-01", "2025-01-01"], utc=True)})
    out = assign_tiers(df, 1)
    assert out.lead_id.tolist() == ["d", "a", "b", "c"]  # d: same adjusted, higher raw; a/b same day -> id
    assert assign_tiers(df.sample(frac=1, random_state=3), 1).lead_id.tolist() == ["d", "a", "b", "c"]


def test_boost_rules():
    X = pd.DataFrame({"TotalAssetsInMillions": [600, 600, np.nan], "AUM_Growth_Rate_1Year": [5, -1, 5],
                      "HNW_Client_Ratio": [0.6, 0.1, np.nan], "Is_Veteran_Advisor": [1, 1, np.nan],
                      "Date_Of_Hire_At_Current_Firm_Years": [1, 5, np.nan]})
    total, reasons = boosts(X)
    assert total.tolist() == pytest.approx([0.3, 0.0, 0.0])
    assert len(reasons[0]) == 3 and reasons[2] == []
    total, reasons = boosts(X, per_rule=0.02)  # the config's priority_boost
    assert total.tolist() == pytest.approx([0.06, 0.0, 0.0]) and len(reasons[0]) == 3
    total, reasons = boosts(X, per_rule=0.0)   # boosts off: no lead shows a reason either
    assert total.tolist() == [0.0, 0.0, 0.0] and reasons == [[], [], []]


def test_priority_boost_is_configured_and_checked(tmp_path):
    from core.config import load_settings
    from core.errors import LeadScoringError

    cfg = tmp_path / "leadscore.toml"
    cfg.write_text("priority_boost = 0.02\n")
    assert load_settings(cfg).priority_boost == 0.02
    for bad in ("10", "'high'", "-0.1"):
        cfg.write_text(f"priority_boost = {bad}\n")
        with pytest.raises(LeadScoringError, match="priority_boost"):
            load_settings(cfg)


def test_drivers_agree_with_contributions_and_never_state_missing_values():
    X = pd.DataFrame({"TotalAssetsInMillions": [450.0, np.nan, 20.0], "Firm_Moves_10yr": [3.0, 2.0, 0.0],
                      "Has_CFP": [1.0, 0.0, 1.0]})
    contribs = np.array([[0.5, 0.9, 0.1], [0.8, 0.2, -0.3], [-0.1, -0.2, 0.4]])
    d = top_drivers(contribs, list(X.columns), X, k=5)
    assert [x["feature"] for x in d[0]] == ["Firm_Moves_10yr", "TotalAssetsInMillions", "Has_CFP"]  # rank order
    assert all(x["contribution"] > 0 for row in d for x in row)                                     # positive only
    assert [x["feature"] for x in d[1]] == ["Firm_Moves_10yr"]  # AUM missing: no AUM sentence at all
    assert [x["feature"] for x in d[2]] == ["Has_CFP"]
    assert d[0][1]["text"].startswith("$450M AUM")
    assert sentence("Has_CFP", 0.0, Peers.of(X)) is None  # a 0 flag is not a reason


def test_repeated_values_say_the_same_sentence_and_negative_zero_reads_as_zero():
    """Sentences are remembered per (feature, value) within a batch: the memo must not change a word."""
    X = pd.DataFrame({"AUM_Growth_Rate_1Year": [-0.0, 0.0, 12.0, -0.0, -4.0], "Has_CFP": [1.0, 1.0, 0.0, 1.0, 1.0],
                      "Firm_Moves_10yr": [2.0, 2.0, 5.0, np.nan, 2.0]})
    contribs = np.tile([0.3, 0.2, 0.1], (5, 1))
    d = top_drivers(contribs, list(X.columns), X, k=5)
    peers = Peers.of(X)
    for i, row in enumerate(d):
        for x in row:
            assert x["text"] == sentence(x["feature"], X[x["feature"]].iloc[i], peers)
    assert d[0][0]["text"].startswith("Growing 0% a year") and d[3][0]["text"] == d[0][0]["text"]
    assert d[4][0]["text"].startswith("Assets shrinking 4% a year")
    assert [x["feature"] for x in d[3]] == ["AUM_Growth_Rate_1Year", "Has_CFP"]  # missing moves: no sentence


def test_a_lead_never_hears_one_thing_twice_but_distinct_facts_from_one_column_stay():
    X = pd.DataFrame({"High_Turnover_Flag": [1.0, 1.0], "Firm_Moves_10yr": [3.0, 3.0], "Has_CFP": [1.0, 1.0],
                      "Has_ChFC": [1.0, 1.0], "TotalAssetsInMillions": [900.0, 900.0], "Log_TotalAssets": [6.8, 6.8]})
    contribs = np.array([[0.9, 0.5, 0.4, 0.3, 0.2, 0.6], [0.1, 0.5, 0.4, 0.3, 0.2, 0.15]])
    d = top_drivers(contribs, list(X.columns), X, k=10)
    # the flag and the count of firm moves are one topic (the stronger speaks); so are AUM and its log; the
    # CFP and ChFC flags, both read from the designations text, are two facts
    assert [x["feature"] for x in d[0]] == ["High_Turnover_Flag", "Log_TotalAssets", "Has_CFP", "Has_ChFC"]
    assert [x["feature"] for x in d[1]] == ["Firm_Moves_10yr", "Has_CFP", "Has_ChFC", "TotalAssetsInMillions"]


def _drivers_one_by_one(contribs, features, X, k, peers):
    """The plain definition: walk each row's ranking (ties in feature order), keep worded positives."""
    out = []
    for i in range(len(X)):
        picked = []
        for j in np.argsort(-contribs[i], kind="stable"):
            if contribs[i, j] <= 0 or len(picked) >= k:
                break
            name = features[j]
            raw = X[name].iloc[i]
            text = sentence(name, raw if name.startswith("cat_") else float(raw), peers)
            if text:
                picked.append((name, round(float(contribs[i, j]), 4), text))
        out.append(picked)
    return out


@pytest.mark.parametrize("k", [1, 3, 10])
def test_vectorised_drivers_equal_the_row_by_row_definition(k):
    """Ties, missing values, unworded features (owner, missing flags, zero flags) and rows whose first
    k * WINDOW contributions hold too few sentences all give what walking each row's ranking gives."""
    rng = np.random.default_rng(3)
    n = 400
    X = pd.DataFrame({
        "TotalAssetsInMillions": np.where(rng.random(n) < 0.2, np.nan, rng.lognormal(5, 1, n).round(0)),
        "AUM_Growth_Rate_1Year": rng.choice([-0.0, 0.0, 5.0, -3.0, np.nan], n),
        "Firm_Moves_10yr": rng.integers(0, 4, n).astype(float),
        "Has_CFP": rng.integers(0, 2, n).astype(float),
        "Owner_Alice": rng.integers(0, 2, n).astype(float),
        "Discovery_Missing": np.ones(n),
        "cat_Lead_List": rng.choice(["Apollo RIA 2024", "Lists B", None], n),
        "cat_Owner": rng.choice(["005A", "005B"], n),
        **{f"Owner_{i}": np.ones(n) for i in range(25)},  # never worded: exhausts the window
    })
    features = list(X.columns)
    contribs = rng.choice([0.0, 0.1, 0.2, -0.1, 0.05, 0.3], size=(n, len(features)))  # many exact ties
    contribs[: n // 4, 8:] = 0.9  # unworded features rank first for a quarter of the rows
    got = top_drivers(contribs, features, X, k=k)
    want = _drivers_one_by_one(contribs, features, X, k, Peers.of(X[[c for c in features if not c.startswith("cat_")]]))
    assert [[(x["feature"], x["contribution"], x["text"]) for x in row] for row in got] == want
    assert sum(len(row) for row in got[: n // 4]) > n // 8  # rows whose window held no sentence were completed


@pytest.fixture
def scored_copy(loaded_demo, tmp_path):
    settings, _, _, _ = loaded_demo
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    s = with_overrides(settings, data_dir=data)
    return s, open_warehouse(s)


def test_run_daily_falls_back_to_the_heuristic_without_a_champion(scored_copy):
    from core.daily import run_daily
    from core.scoring.score import current_scores

    settings, wh = scored_copy
    result = run_daily(wh, settings)
    scores = current_scores(wh)
    assert set(scores.fallback_level) == {"heuristic_rule"} and result.counts["fallback_level"] == "heuristic_rule"
    assert set(result.to_json()) == {"run_id", "counts", "timings", "as_of"}  # run-daily's JSON (cli.md)
    assert {"features", "score", "experiments", "monitor", "total"} <= set(result.timings)
    assert result.summary().startswith(f"Scored {result.counts['scored']:,} leads with the heuristic rule")
    assert result.summary().endswith("Salesforce write-back: not configured")


def test_lists_from_an_old_lead_export_say_so(scored_copy):
    from core.ingest.loader import loaded_export_at
    from core.scoring.score import old_export

    _, wh = scored_copy
    with wh.reader() as s:
        export = loaded_export_at(s)
    assert old_export(wh, now=export + pd.Timedelta(days=6)) is None  # a weekly upload is fine
    sentence = old_export(wh, now=export + pd.Timedelta(days=40))
    assert sentence.startswith(f"These lists come from the Lead export of {export:%d %b %Y} (40 days ago)")


def test_open_leads_whose_status_reads_closed_are_named_until_the_config_lists_them(scored_copy, capsys):
    """closed_statuses names the default org's values. An org that calls its closed leads 'Closed - Not Converted'
    or 'Unqualified' had them scored and listed to call without a word: the lists say so, by value and count, and
    once the config names them they leave the lists."""
    from core.cli import main
    from core.scoring.score import current_scores, score_leads, statuses_that_read_closed

    settings, wh = scored_copy
    score_leads(wh, settings)
    assert statuses_that_read_closed(wh, settings) is None  # the demo's 'Contacting' and 'Nurture' are open
    with wh.writer("an org's own closed statuses") as s:
        ids = s.query("select c.lead_id from ml.lead_scores as c order by c.rank").lead_id.tolist()
        for lead_id, status in zip(ids[:30], ["Closed - Not Converted"] * 20 + ["Unqualified"] * 10):
            s.execute(f"update marts.dim_leads set Status = '{status}' where Id = '{lead_id}'")
    score_leads(wh, settings)
    sentence = statuses_that_read_closed(wh, settings)
    assert sentence.startswith("30 leads on these lists have a Status that reads closed ('Closed - Not Converted' "
                               "(20), 'Unqualified' (10))") and "closed_statuses" in sentence
    assert main(["--db", str(settings.warehouse_path), "score"]) == 0
    assert "Warning: 30 leads on these lists" in capsys.readouterr().out
    own = with_overrides(settings, closed_statuses=(*settings.closed_statuses, "Closed - Not Converted", "Unqualified"))
    score_leads(wh, own)
    assert not set(ids[:30]) & set(current_scores(wh).lead_id)
    assert statuses_that_read_closed(wh, own) is None


def test_call_list_says_who_each_lead_is_without_pii(scored_copy):
    from core.scoring.score import call_list, current_scores
    from core.daily import run_daily

    settings, wh = scored_copy
    run_daily(wh, settings)
    scores, calls = current_scores(wh), call_list(wh)
    assert calls.lead_id.tolist() == scores.lead_id.tolist()  # the same list, in rank order
    with wh.reader() as s:
        leads = s.query("select Id, Company, Title, City, State from marts.dim_leads").set_index("Id")
    first = leads.loc[calls.lead_id.iloc[0]]
    assert calls.company.iloc[0] == first.Company and calls.title.iloc[0] == first.Title
    assert calls.location.iloc[0] == f"{first.City}, {first.State}"
    assert calls.company.notna().mean() > 0.9
    assert not {"FirstName", "LastName", "Name", "Email", "MobilePhone", "Address"} & set(calls.columns)
    cap = get_capacity(wh, settings).daily
    assert (scores.tier == "A").sum() == round(cap * 1.2)
    runs = wh.read("select outcome, counts_json from ops.runs")
    assert runs.outcome.tolist() == ["ok"] and json.loads(runs.counts_json.iloc[0])["scored"] == len(scores)


def test_same_day_rerun_replaces_that_day_only(scored_copy):
    from core.scoring.score import score_leads

    settings, wh = scored_copy
    score_leads(wh, settings)
    with wh.writer("older day") as s:
        s.execute("insert into ml.score_history select '2025-01-01' as score_date, * exclude (score_date) "
                  "from ml.score_history")
    n_day = int(wh.read("select count(*) as n from ml.score_history where score_date = '2025-10-27'").n.iloc[0])
    score_leads(wh, settings)
    counts = wh.read("select score_date, count(*) as n from ml.score_history group by 1 order by 1")
    assert counts.values.tolist() == [["2025-01-01", n_day], ["2025-10-27", n_day]]


def test_champion_used_then_corrupt_model_falls_back(scored_copy):
    from core.modeling import registry
    from core.modeling.train import train
    from core.scoring.score import score_leads

    settings, wh = scored_copy
    result = train(wh, settings, budget_minutes=1)
    registry.promote(wh, result.model_id, force=True, reason="test")
    run, scores = score_leads(wh, settings)
    assert run.fallback_level == "full_model" and set(scores.model_version) == {result.model_id}
    # Leads with no MarketPro match (discovery > 50% missing) are scored by the CRM-only model.
    features = wh.read("select lead_id, Has_Discovery_Data from ml.lead_features")
    levels = scores.merge(features, on="lead_id").groupby("Has_Discovery_Data").fallback_level.unique()
    assert list(levels[0]) == ["crm_marketpro_model"] and list(levels[1]) == ["full_model"]
    top_a = scores[scores.tier == "A"]
    assert (top_a.drivers.str.len() > 0).mean() > 0.9
    (settings.models_dir / result.model_id / "meta.json").write_text("corrupt")
    run, scores = score_leads(wh, settings)
    assert run.fallback_level == "heuristic_rule" and "cannot be loaded" in run.fallback_reason


def test_failing_feature_build_keeps_yesterdays_scores(scored_copy, monkeypatch):
    from core import daily
    from core.scoring.score import current_scores

    settings, wh = scored_copy
    daily.run_daily(wh, settings)
    before = current_scores(wh)
    monkeypatch.setattr("core.features.build.build_features", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("feature build broke")))
    with pytest.raises(RuntimeError, match="feature build broke"):
        daily.run_daily(wh, settings)
    assert current_scores(wh).equals(before)
    runs = wh.read("select outcome, error from ops.runs order by started_at")
    assert runs.outcome.tolist() == ["ok", "failed"] and "feature build broke" in runs.error.iloc[-1]


def test_capacity_editor_is_permissioned(scored_copy):
    settings, wh = scored_copy
    with pytest.raises(PermissionDeniedError):
        set_capacity(wh, Actor("rita", "revops"), 5, 10)
    set_capacity(wh, Actor("sam", "sga_manager"), 5, 10)
    cap = get_capacity(wh, settings)
    assert cap.daily == 50 and cap.set_by == "sam"
    assert cap.words().startswith("5 SGAs × 10 dials = 50 a day, set by sam on ")
    from core.scoring.capacity import Capacity

    assert Capacity(12, 40).words() == "12 SGAs × 40 dials = 480 a day, the configured default"
    with pytest.raises(LeadScoringError, match="between 1 and 500"):
        set_capacity(wh, Actor("sam", "sga_manager"), 0, 10)


def test_scoring_is_incremental_on_features_and_model_version(scored_copy):
    from core.scoring.score import score_leads

    settings, wh = scored_copy
    first, s1 = score_leads(wh, settings)
    assert first.timings["recomputed_leads"] == first.n_scored
    second, s2 = score_leads(wh, settings)
    assert second.timings["recomputed_leads"] == 0
    cols = ["lead_id", "prob_mql_30d", "tier", "rank", "drivers", "drivers_json", "fallback_level"]
    assert s1[cols].sort_values("lead_id").reset_index(drop=True).equals(s2[cols].sort_values("lead_id").reset_index(drop=True))
    with wh.writer("change one lead") as s:
        s.execute("update ml.lead_scores set feature_hash = 'stale' where rank <= 3")
    third, s3 = score_leads(wh, settings)
    assert third.timings["recomputed_leads"] == 3
    forced, s4 = score_leads(wh, settings, full=True)
    assert forced.timings["recomputed_leads"] == forced.n_scored
    # reused leads keep their stored drivers text; recomputed ones are serialised afresh: the same rows either way
    assert s3[cols].sort_values("lead_id").reset_index(drop=True).equals(s4[cols].sort_values("lead_id").reset_index(drop=True))
    assert (s4.drivers_json != "[]").any()


def test_a_reworded_release_rewords_every_stored_lead(scored_copy, monkeypatch):
    """Stored drivers are reused only under the wording that wrote them: a release that changes the catalog's or
    the drivers' wording recomputes every lead once, then reuses again."""
    import core.scoring.score as score_mod
    from core.scoring.drivers import WORDING_ID, _wording_id

    settings, wh = scored_copy
    assert WORDING_ID == _wording_id() and len(WORDING_ID) == 12
    score_mod.score_leads(wh, settings)
    assert score_mod.score_leads(wh, settings)[0].timings["recomputed_leads"] == 0
    monkeypatch.setattr(score_mod, "WORDING_ID", "reworded0000")
    reworded = score_mod.score_leads(wh, settings)[0]
    assert reworded.timings["recomputed_leads"] == reworded.n_scored > 0
    assert score_mod.score_leads(wh, settings)[0].timings["recomputed_leads"] == 0
    with wh.reader() as s:
        assert s.query("select count(*) as n from ml.lead_scores where feature_hash not like '%:reworded0000'").n[0] == 0


def test_an_explained_lead_reads_with_its_tier_and_score_and_an_unknown_one_is_a_clear_error():
    import numpy as np

    from core.errors import LeadScoringError
    from core.scoring.explain import ExplainOverview, lead_waterfall

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, np.nan, 5.0]})
    contribs = np.array([[0.1, -0.5], [0.3, 0.2], [-0.9, 0.05]])
    leads = pd.DataFrame({"lead_id": ["L3", "L1", "L2"], "prob_mql_30d": [0.2, 0.1, 0.05], "tier": ["A", "B", "C"]})
    view = ExplainOverview("m1", 3, pd.DataFrame(), {}, leads, X, contribs, ["a", "b"], ["L1", "L2", "L3"], {})
    assert view.lead_ids == ["L3", "L1", "L2"] and view.lead_label("L3") == "L3 · Tier A · 20.0%"
    wf = lead_waterfall(view, "L3")  # row 2 of X: the largest |contribution| first
    assert list(wf.feature) == ["a", "b"] and list(wf.contribution) == [-0.9, 0.05] and list(wf.value) == [3.0, 5.0]
    with pytest.raises(LeadScoringError, match="L9 is not among the 3 scored open leads"):
        lead_waterfall(view, "L9")


def test_an_owner_column_reads_by_the_sgas_name_not_a_salesforce_id(monitored):
    """The first start's champion (logistic: one column per owning SGA) on the SHAP page's global importance."""
    from core.scoring.explain import explain_overview

    s, w, _ = monitored
    view = explain_overview(w, s)
    owners = [f for f in view.features if f.startswith("Owner_")]
    assert owners and all(view.label(f).startswith("Owner: ") and "005" not in view.label(f) for f in owners)
    assert not view.importance.label.str.startswith("Owner_").any()
    assert view.label("TotalAssetsInMillions") == "TotalAssetsInMillions"
    # ordered cohorts read in their order (not by mean probability); metros, unordered, highest mean first
    from core.modeling.data import AUM_SEGMENTS

    aum = list(view.cohorts["AUM tier"].cohort)
    assert aum == [a for a in AUM_SEGMENTS if a in aum] and len(aum) >= 3
    growth = list(view.cohorts["Growth trajectory"].cohort)
    assert growth == [g for g in ("shrinking", "steady (0–10%)", "growing (>10%)", "unknown") if g in growth]
    assert view.cohorts["Metro"].mean_probability.is_monotonic_decreasing


def test_a_score_as_of_a_past_day_does_not_leave_the_next_plain_score_in_the_past(scored_copy):
    """`score --as-of` rebuilds the live features as of that day; the next `score` (no --as-of: the loaded export's
    time, per the CLI contract) rebuilds them as of the export again instead of scoring the past day's leads."""
    from core.features.build import default_as_of, is_current, latest_feature_set
    from core.scoring.score import score_leads

    settings, wh = scored_copy
    with wh.reader() as s:
        export = default_as_of(s)
    now, _ = score_leads(wh, settings)
    assert pd.Timestamp(now.as_of) == export and is_current(wh, latest_feature_set(wh))
    past, _ = score_leads(wh, settings, as_of=export - pd.Timedelta(days=40))
    assert pd.Timestamp(past.as_of) == export - pd.Timedelta(days=40) and not is_current(wh, latest_feature_set(wh))
    again, _ = score_leads(wh, settings)
    assert pd.Timestamp(again.as_of) == export and again.n_scored == now.n_scored
    assert latest_feature_set(wh).as_of == export


def test_an_output_path_that_cannot_be_written_is_said_before_the_work(scored_copy, tmp_path, monkeypatch, capsys):
    """Every verb that writes a file checks the path first (a folder, an unwritable place) and exits 2 in words;
    a backtest does not train for minutes and then fail on --out. A new nested path is made."""
    from core.cli import main

    settings, wh = scored_copy
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(settings.data_dir))
    db = ["--db", str(settings.warehouse_path)]
    folder = tmp_path / "a_folder"
    folder.mkdir()
    for argv in (["score", "--out", str(folder)], ["push-scores", "--dry-run", str(folder)],
                 ["export-training-table", str(folder)], ["backtest", "--test-from", "2025-06-01", "--out", str(folder)],
                 ["reconcile", "--missing-crds", str(folder)], ["feature-catalog", "--out", str(folder)]):
        code = main([*db, *argv])
        err = capsys.readouterr().err
        assert code == 2 and "is a folder; give a file path" in err and str(folder) in err, (argv, err)
    with wh.reader() as s:  # refused before anything ran: no failed push or backtest recorded
        assert s.query("select count(*) as n from ops.audit_log where action in ('backtest', 'salesforce_push') "
                       "and outcome <> 'ok'").n[0] == 0
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main([*db, "score", "--out", str(blocker / "scores.csv")]) == 2  # its folder would be a file
    assert "cannot make its folder" in capsys.readouterr().err
    nested = tmp_path / "new" / "deeper" / "scores.csv"
    assert main([*db, "score", "--out", str(nested)]) == 0
    assert pd.read_csv(nested).columns[:3].tolist() == ["lead_id", "prob_mql_30d", "tier"]


def test_the_boosts_effect_is_read_against_sampling_noise():
    from core.scoring.tiers import boost_effect

    assert boost_effect({"tier_a_precision": 0.2, "tier_a_leads": 100}) == (None, False)  # an older model
    # 10% of 400 with boosts, 20% of 400 without: 2 SE of the difference is ~4.9 points, the drop is 10
    text, hurt = boost_effect({"tier_a_precision": 0.10, "tier_a_leads": 400,
                               "tier_a_precision_unboosted": 0.20, "tier_a_leads_unboosted": 400})
    assert hurt and "They lowered it by 10.0 points." in text and "`priority_boost = 0`" in text
    # 18% vs 20% of 100 each: 2 SE is ~11 points, a 2-point drop is noise
    text, hurt = boost_effect({"tier_a_precision": 0.18, "tier_a_leads": 100,
                               "tier_a_precision_unboosted": 0.20, "tier_a_leads_unboosted": 100})
    assert not hurt and "lowered it by 2.0 points — within sampling noise." in text
    text, hurt = boost_effect({"tier_a_precision": 0.30, "tier_a_leads": 500,
                               "tier_a_precision_unboosted": 0.20, "tier_a_leads_unboosted": 500})
    assert not hurt and "raised it by 10.0 points." in text and "0 turns them off" in text
    text, _ = boost_effect({"tier_a_precision": 0.2001, "tier_a_leads": 500,
                            "tier_a_precision_unboosted": 0.2, "tier_a_leads_unboosted": 499})
    assert "They did not change it — within sampling noise." in text


def _day(date, tier, rank, prob, adjusted=None, model="m1", level="full_model", drivers=(), backfilled=False):
    return {"score_date": date, "prob_mql_30d": prob, "adjusted": prob if adjusted is None else adjusted,
            "tier": tier, "rank": rank, "model_version": model, "fallback_level": level, "backfilled": backfilled,
            "drivers": list(drivers)}


def test_each_tier_change_names_the_first_cause_that_explains_it(settings):
    """A different model, the CRM-only fallback, the lead's own data (with the reasons that came and went), a
    priority boost, its outcome window closing, and otherwise the other leads around it; an unchanged tier says
    nothing."""
    from core.scoring.lead_history import tier_changes

    contacted = pd.Timestamp("2025-05-01 09:00", tz="UTC")  # its 30-day window closes 31 May 2025
    days = pd.DataFrame([
        _day("2025-05-05", "A", 10, 0.050, drivers=["Leads a team"]),
        _day("2025-05-06", "A", 12, 0.050, drivers=["Leads a team"]),                       # same tier: no sentence
        _day("2025-05-07", "B", 200, 0.030, model="m2"),                                    # a new model
        _day("2025-05-08", "C", 900, 0.030, model="m2", level="crm_marketpro_model"),       # the fallback
        _day("2025-05-09", "B", 300, 0.040, model="m2", level="crm_marketpro_model"),       # its own data
        _day("2025-05-10", "A", 20, 0.040, 0.140, model="m2", level="crm_marketpro_model"),  # a boost
        _day("2025-06-02", "C", 800, 0.040, 0.140, model="m2", level="crm_marketpro_model"),  # its window closed
        _day("2025-06-09", "B", 350, 0.040, 0.140, model="m2", level="crm_marketpro_model"),  # the others moved
    ])
    days.loc[4, "drivers"] = ["Holds the CFP designation"]
    days.loc[3, "drivers"] = ["Leads a team"]
    said = tier_changes(days, contacted, settings, {"m2": "Gradient boosting, trained 1 May 2025"})
    assert len(said) == 6
    assert said[0].startswith("7 May 2025: Tier A → B — a different model scored it (Gradient boosting, trained")
    assert said[0].endswith(": 5.0% → 3.0%.")
    assert "scored by the champion's CRM-only model instead of the champion model" in said[1]
    assert "its own data changed, same model (3.0% → 4.0%)" in said[2]
    assert "new reason: Holds the CFP designation" in said[2] and "no longer: Leads a team" in said[2]
    assert "its priority boost changed (ranked at 4.0% → 14.0%)" in said[3]
    assert said[4].startswith("2 Jun 2025: Tier A → C — its 30-day outcome window closed on 31 May 2025")
    assert "rank 800 → 350: other leads outranked it" in said[5]
    # the tier window off (0 days): the same move reads as the other leads'
    off = tier_changes(days, contacted, with_overrides(settings, tier_window_days=0), {})
    assert "other leads outranked it" in off[4] and "window" not in off[4]


def test_a_leads_story_reads_its_scoring_days_and_bad_ids_are_clear_errors(monitored, capsys):
    """The first start's #1 lead by its 15-character Id or its Lightning address: the same 18-character lead, its
    newest day equal to the list in place, its days in order; the CLI prints it (and its JSON); an Id that is not
    one, or not in the export, exits 2 with a sentence."""
    from core.cli import main
    from core.scoring.lead_history import lead_history

    s, w, _ = monitored
    top = w.read("select lead_id, tier, rank, prob_mql_30d, score_date from ml.lead_scores order by rank limit 1").iloc[0]
    story = lead_history(w, s, top.lead_id[:15])
    assert story.lead_id == top.lead_id
    again = lead_history(w, s, f"https://acme.lightning.force.com/lightning/r/Lead/{top.lead_id}/view")
    assert again.lead_id == top.lead_id and again.days.equals(story.days)
    last = story.days.iloc[-1]
    assert (last.tier, int(last["rank"]), last.score_date) == (top.tier, int(top["rank"]), top.score_date)
    assert abs(last.prob_mql_30d - top.prob_mql_30d) < 1e-9 and last.drivers and not last.backfilled
    assert story.days.score_date.is_monotonic_increasing and story.days.backfilled.iloc[:-1].all()
    assert story.now.startswith("Last scored ") and "Tier A, rank 1," in story.now
    assert story.outcome.startswith(("Open: contacted", "MQL booked", "No MQL within"))
    assert top.lead_id in story.headline and " at " in story.headline
    # a lead whose tier moved says why, once per change
    moved = w.read("select lead_id from ml.score_history group by lead_id having count(distinct tier) > 1 "
                   "order by lead_id limit 1").lead_id[0]
    changed = lead_history(w, s, moved)
    tiers = changed.days.tier.tolist()
    assert len(changed.changes) == sum(a != b for a, b in zip(tiers, tiers[1:])) >= 1
    code = main(["--db", str(s.warehouse_path), "lead", top.lead_id, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["lead_id"] == top.lead_id and out["days"][-1]["rank"] == 1
    assert set(out) >= {"outcome", "now", "changes", "experiments", "days", "company", "title", "owner_name"}
    assert main(["--db", str(s.warehouse_path), "lead", top.lead_id]) == 0
    assert "## Scoring days" in capsys.readouterr().out
    for bad, said in (("12345", "holds no Salesforce Lead Id"), ("00Q5f0000009999", "No Lead 00Q5f0000009999")):
        with pytest.raises(LeadScoringError, match=said):
            lead_history(w, s, bad)
        assert main(["--db", str(s.warehouse_path), "lead", bad]) == 2
        assert said in capsys.readouterr().err
