"""Labels, point-in-time snapshots, every engineered feature on hand-computed rows, the leakage guard."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import pandas as pd
import pytest

from core.errors import LeadScoringError
from core.features.build import build_features, drop_build, feature_matrix, latest_feature_set, training_table
from core.config import with_overrides
from core.features.catalog import Feature, STATIC_FEATURES, catalog_markdown
from core.ingest.leads import load_lead_file
from core.ingest.territories import load_territory_files
from core.quality.feature_quality import class_summary, leakage_report, scorecard
from tests.conftest import LEAD_HEADER, REP_HEADER, ROOT, lead, rep, write_csv

AS_OF = "2025-03-31T12:00:00Z"


# The export these leads come from was taken after AS_OF (an as-of after the export is refused): every Lead was
# last modified by then at the latest.
EXPORTED = "2025-04-05T00:00:00.000+0000"


def _load(settings, wh, tmp_path, reps_by_month: dict[str, list[dict]], leads: list[dict],
          exported: str | None = EXPORTED):
    for month, reps in reps_by_month.items():
        path = write_csv(tmp_path / month / f"discovery_t1_{month.replace('-', '_')}.csv", REP_HEADER, reps)
        load_territory_files(wh, settings, [path])
    if exported:
        leads = [{**r, "LastModifiedDate": max(r.get("LastModifiedDate") or "", exported)} for r in leads]
    load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, leads))


def _features(wh) -> pd.DataFrame:
    return wh.read("select * from ml.lead_features order by lead_id").set_index("lead_id")


def test_label_window_edges(settings, wh, tmp_path):
    c = "2025-01-06T10:00:00.000+0000"
    leads = [
        lead("00QA", 11, contacted=c, mql="2025-02-05T10:00:00.000+0000"),   # exactly 30 days -> positive
        lead("00QB", 12, contacted=c, mql="2025-02-05T10:00:01.000+0000"),   # 30 days + 1 s -> negative
        lead("00QC", 13, contacted=c, mql="2025-01-01T10:00:00.000+0000"),   # MQL before contact -> defect
        lead("00QD", 14, contacted="2025-03-15T10:00:00.000+0000"),          # < 30 days before as_of -> censored
        lead("00QE", 15, contacted="2025-03-15T10:00:00.000+0000", mql="2025-03-16T10:00:00.000+0000"),  # censored too
        lead("00QF", 16, contacted=c, mql="2025-01-06T10:00:00.000+0000"),   # same second -> positive
        lead("00QG", 17, contacted="2025-04-02T10:00:00.000+0000"),          # after as_of -> not in the matrix
        lead("00QH", 18, contacted=""),                                       # never contacted -> not in population
    ]
    _load(settings, wh, tmp_path, {"2025-01": [rep(1)]}, leads)
    build = build_features(wh, settings, AS_OF)
    labels = wh.read("select lead_id, label_status, label from ml.lead_labels order by lead_id")
    assert dict(zip(labels.lead_id, labels.label_status)) == {
        "00QA": "positive", "00QB": "negative", "00QC": "defect_mql_before_contact", "00QD": "censored",
        "00QE": "censored", "00QF": "positive", "00QG": "contacted_after_as_of"}
    assert build.status_counts == {"positive": 2, "negative": 1, "defect_mql_before_contact": 1, "censored": 2}
    assert set(training_table(wh).lead_id) == {"00QA", "00QB", "00QF"}


def test_as_of_defaults_to_export_time(settings, wh, tmp_path):
    _load(settings, wh, tmp_path, {"2025-01": [rep(1)]},
          [lead("00QA", 1, modified="2025-02-10T08:00:00.000+0000")], exported=None)
    build = build_features(wh, settings)
    assert str(build.as_of) == "2025-02-10 08:00:00+00:00"
    # nothing after the export is known: an as-of past it would label the last 30 days' leads "no MQL"
    with pytest.raises(LeadScoringError, match=r"--as-of 2025-03-01 00:00 UTC is after the loaded Lead export "
                                               r"\(2025-02-10 08:00 UTC\)"):
        build_features(wh, settings, "2025-03-01")
    assert str(build_features(wh, settings, "2025-02-10T08:00:00Z").as_of) == "2025-02-10 08:00:00+00:00"


def test_a_named_build_sits_beside_the_live_one(settings, wh, tmp_path):
    """A build as of a past day (a backtest's, a first champion's) never replaces what scoring reads."""
    _load(settings, wh, tmp_path, {"2025-01": [rep(1)]},
          [lead("00QA", 11, contacted="2025-01-06T10:00:00.000+0000", mql="2025-01-20T10:00:00.000+0000"),
           lead("00QB", 12, contacted="2025-03-20T10:00:00.000+0000")])
    live = build_features(wh, settings, AS_OF)
    past = build_features(wh, settings, "2025-01-15T00:00:00Z", into="past")
    assert past.name == "past" and live.name == ""
    assert past.status_counts == {"censored": 1}  # on 15 Jan the first lead's window had not closed
    assert live.status_counts == {"positive": 1, "censored": 1}
    assert feature_matrix(wh).label_status.tolist() == ["positive", "censored"]  # the live rows, untouched
    assert feature_matrix(wh, build="past").lead_id.tolist() == ["00QA"]
    assert latest_feature_set(wh).feature_set_id == live.feature_set_id  # only the live build is recorded
    with wh.reader() as s:
        assert s.scalar("select max(as_of) from ml.lead_labels") == pd.Timestamp(AS_OF)
    drop_build(wh, "past")
    with pytest.raises(LeadScoringError, match="'past' does not exist"):
        feature_matrix(wh, build="past")
    with pytest.raises(ValueError, match="lower-case"):
        build_features(wh, settings, into="x; drop table ml.lead_features")
    assert len(feature_matrix(wh)) == 2


def test_snapshot_chosen_by_contact_month(settings, wh, tmp_path):
    _load(settings, wh, tmp_path,
          {"2025-01": [rep(1, TotalAssetsInMillions="100"), rep(2), rep(3)],
           "2025-03": [rep(1, TotalAssetsInMillions="300"), rep(2, TotalAssetsInMillions="300"), rep(3)]},
          [lead("00QJ", 1, contacted="2025-02-15T10:00:00.000+0000"),
           lead("00QM", 2, contacted="2025-03-02T10:00:00.000+0000"),
           lead("00QD", 3, contacted="2024-12-20T10:00:00.000+0000")])
    build_features(wh, settings, AS_OF)
    f = _features(wh)
    assert f.loc["00QJ", ["snapshot_month", "TotalAssetsInMillions"]].tolist() == ["2025-01", 100.0]
    assert f.loc["00QM", ["snapshot_month", "TotalAssetsInMillions"]].tolist() == ["2025-03", 300.0]
    assert f.loc["00QD", "snapshot_month"] == "2025-01" and bool(f.loc["00QD", "snapshot_at_risk"])
    report = leakage_report(wh, settings)
    assert report.at_risk_before_first_snapshot == 1 and report.leakage_records == 1
    # a vendor whose monthly export lands on the 10th: the lead contacted on 2 March read March's reps a week
    # before that snapshot existed; it reads January's (the newest before), and the build's fingerprint moves
    late = with_overrides(settings, territory_known_day=10)
    again = build_features(wh, late, AS_OF)
    f = _features(wh)
    assert f.loc["00QM", "snapshot_month"] == "2025-01" and f.loc["00QM", "TotalAssetsInMillions"] != 300.0
    assert f.loc["00QJ", "snapshot_month"] == "2025-01"
    assert "known from day 10 of that month" in leakage_report(wh, late).markdown()
    assert again.fingerprint != build_features(wh, settings, AS_OF).fingerprint
    from core.config import load_settings

    for bad in ("0", "29", '"10"', "true"):  # read from the config file, refused with what to put instead
        (tmp_path / "bad.toml").write_text(f"territory_known_day = {bad}\n")
        with pytest.raises(LeadScoringError, match="'territory_known_day' is .*1 to 28"):
            load_settings(tmp_path / "bad.toml")


def test_leads_converted_in_their_window_without_an_mql_stamp_are_reported(settings, wh, tmp_path, capsys):
    """In many orgs a Lead converts when the discovery call is booked: a negative label on a Lead Salesforce
    converted within the outcome window is an MQL the stage stamp may have missed. Reported with examples; a
    conversion after the window, or of a positive lead, is not."""
    contact = "2025-01-06T10:00:00.000+0000"
    _load(settings, wh, tmp_path, {"2025-01": [rep(1), rep(2), rep(3), rep(4)]},
          [lead("00QA", 1, contact, IsConverted="true", ConvertedDate="2025-01-20"),   # converted, no MQL stamp
           lead("00QB", 2, contact, mql="2025-01-09T10:00:00.000+0000", IsConverted="true",
                ConvertedDate="2025-01-09"),                                           # an MQL, converted
           lead("00QC", 3, contact, IsConverted="true", ConvertedDate="2025-03-01"),   # converted after the window
           lead("00QD", 4, contact, IsConverted="false")])
    build_features(wh, settings, AS_OF)
    report = leakage_report(wh, settings)
    assert report.converted_without_mql == 1 and report.converted_examples[0]["lead_id"] == "00QA"
    assert report.converted_examples[0]["converted_on"] == "2025-01-20"
    assert "| converted within the outcome window but no MQL stamp (labelled negative) | 1 |" in report.markdown()
    assert "1 lead(s) labelled negative were converted in Salesforce" in report.markdown()
    from core.cli import main

    assert main(["--db", str(settings.warehouse_path), "leakage-report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converted_without_mql"] == 1


def test_leads_whose_status_says_mql_without_the_stamp_are_reported(settings, wh, tmp_path):
    """A flow added later, or a lead that skipped a stage, leaves Status 'MQL' (or 'Meeting Booked') without the
    Stage_Entered_Call_Scheduled__c stamp: labelled negative, an MQL the model learns as a failure. Counted with
    examples; a stamped MQL or another status is not."""
    contact = "2025-01-06T10:00:00.000+0000"
    _load(settings, wh, tmp_path, {"2025-01": [rep(1), rep(2), rep(3), rep(4)]},
          [lead("00QA", 1, contact, Status="MQL"),
           lead("00QB", 2, contact, Status="Meeting Booked"),
           lead("00QC", 3, contact, mql="2025-01-09T10:00:00.000+0000", Status="MQL"),
           lead("00QD", 4, contact, Status="Nurture")])
    build_features(wh, settings, AS_OF)
    report = leakage_report(wh, settings)
    assert report.status_mql_without_stamp == 2
    assert [(e["lead_id"], e["status"]) for e in report.status_mql_examples] == [("00QA", "MQL"), ("00QB", "Meeting Booked")]
    assert "| Status says MQL but no MQL stamp (labelled negative) | 2 |" in report.markdown()
    assert "2 lead(s) labelled negative have a Status that says a discovery call was booked" in report.markdown()


def test_leads_first_dialled_by_another_sga_than_their_owner_are_reported(settings, wh, tmp_path):
    """The owner features read the Lead's owner at export. With call activity loaded, the report compares it with
    the SGA who first dialled the lead in its first week: reassigned after contact, the owner describes what
    followed. Under the share, a line; over it, the warning."""
    from core.ingest.activities import load_activity_file

    contact = "2025-01-06T10:00:00.000+0000"
    owners = {"00QA": "005A", "00QB": "005A", "00QC": "005B", "00QD": "005B"}
    _load(settings, wh, tmp_path, {"2025-01": [rep(i) for i in range(1, 5)]},
          [lead(i, n, contact, OwnerId=o) for n, (i, o) in enumerate(owners.items(), start=1)])
    build_features(wh, settings, AS_OF)

    def dials(first_dialers: dict) -> None:
        rows = [{"Id": f"00T{i}", "WhoId": lid, "OwnerId": who, "CreatedDate": at, "LastModifiedDate": at,
                 "TaskSubtype": "Call"}
                for i, (lid, who, at) in enumerate(
                    [(lid, who, "2025-01-07T10:00:00Z") for lid, who in first_dialers.items()]
                    + [("00QA", "005Z", "2025-01-20T10:00:00Z")])]  # a later dial by another SGA does not count
        load_activity_file(wh, settings, write_csv(tmp_path / "tasks.csv", list(rows[0]), rows))

    dials({"00QA": "005A", "00QB": "005A", "00QC": "005B", "00QD": "005B"})
    report = leakage_report(wh, settings)
    assert (report.dialled_leads, report.owner_not_first_dialer) == (4, 0)
    assert "Owner at contact: 0 of 4 leads dialled" in report.markdown() and "reassigned" not in report.markdown()
    dials({"00QA": "005A", "00QB": "005Q", "00QC": "005Q"})  # two leads moved to another owner since
    report = leakage_report(wh, settings)
    assert (report.dialled_leads, report.owner_not_first_dialer) == (3, 2)
    assert "(67%) were first dialled by an SGA other than" in report.markdown()
    assert "Leads were reassigned after contact" in report.markdown()


def test_a_queue_owner_is_never_an_sga_and_cannot_mark_recycled_leads(settings, wh, tmp_path, capsys):
    """Recycling moves the Leads that did not book to a queue after contact. Read as the owner, the queue was the
    strongest single feature of a probe (AUC 0.79, every lead in it negative) and described what followed the
    contact. A queue-owned Lead reads the owner of the Lead contacted just before it (after it, for the first);
    no one-hot, target-encoded level or first-dialer comparison names the queue, and the report counts them."""
    from core.cli import main

    queue = "00G5f000004QuEuEAK"
    contacts = {"00QA": ("2025-01-06T09:00:00Z", queue), "00QB": ("2025-01-06T10:00:00Z", "005A"),
                "00QC": ("2025-01-06T11:00:00Z", queue), "00QD": ("2025-01-06T12:00:00Z", queue),
                "00QE": ("2025-01-06T13:00:00Z", "005B"), "00QF": ("2025-01-06T14:00:00Z", queue)}
    _load(settings, wh, tmp_path, {"2025-01": [rep(i) for i in range(1, 7)]},
          [lead(i, n, at, OwnerId=o) for n, (i, (at, o)) in enumerate(contacts.items(), start=1)])
    build = build_features(wh, settings, AS_OF)
    owners = wh.read("select lead_id, owner_at_contact from ml.lead_labels order by lead_id")
    assert owners.owner_at_contact.tolist() == ["005A", "005A", "005A", "005A", "005B", "005B"]
    assert sorted(build.levels["Owner"]) == ["005A", "005B"]
    f = _features(wh)
    assert f.cat_Owner.tolist() == ["005A", "005A", "005A", "005A", "005B", "005B"]
    assert not any(c.startswith("Owner_00G") for c in f.columns)
    report = leakage_report(wh, settings)
    assert report.queue_owned_leads == 4
    assert "4 contacted lead(s) are owned by a queue in the export (an Id starting 00G)" in report.markdown()
    assert main(["--db", str(settings.warehouse_path), "leakage-report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queue_owned_leads"] == 4


def test_a_free_text_salesforce_state_is_compared_as_a_state_code(settings, wh, tmp_path):
    """A Salesforce State is free text in most orgs: 'New York', 'n.y.' and 'NY' are one state, and feed health's
    Salesforce-vs-MarketPro check counted the first two as conflicts with a branch in NY. Only Texas conflicts."""
    reps = [rep(i, Branch_State="NY") for i in range(1, 5)]
    states = {"00QA": "New York", "00QB": "n.y.", "00QC": "NY ", "00QD": "Texas"}
    _load(settings, wh, tmp_path, {"2025-01": reps},
          [lead(i, n, State=st) for n, (i, st) in enumerate(states.items(), start=1)])
    build_features(wh, settings, AS_OF)
    checks = wh.read("select lead_id, state_conflict from ml.lead_source_checks order by lead_id")
    assert dict(zip(checks.lead_id, checks.state_conflict)) == {"00QA": False, "00QB": False, "00QC": False, "00QD": True}


def test_complete_months_skip_a_month_still_missing_a_territory():
    from core.ingest.territories import complete_months, missing_territories

    all3 = {"T1", "T2", "T3"}
    assert complete_months({"2025-01": all3, "2025-02": {"T1"}, "2025-03": all3}) == ["2025-01", "2025-03"]
    assert complete_months({"2025-01": {"T2"}, "2025-02": {"T1", "T2"}}) == ["2025-01", "2025-02"]
    # T3 no longer delivered: the month without it counts once the next month repeats its territories
    assert complete_months({"2025-01": all3, "2025-02": {"T1", "T2"}}) == ["2025-01"]
    assert complete_months({"2025-01": all3, "2025-02": {"T1", "T2"}, "2025-03": {"T1", "T2"}}) == \
        ["2025-01", "2025-02", "2025-03"]
    assert missing_territories({"2025-01": all3, "2025-02": {"T1"}}, "2025-02") == ["T2", "T3"]
    # once March repeats February's territories, February is complete and nothing is missing any more
    assert missing_territories({"2025-01": all3, "2025-02": {"T1"}, "2025-03": {"T1"}}, "2025-02") == []
    assert missing_territories({"2025-01": all3}, "2024-12") == [] and complete_months({}) == []


def test_a_month_whose_other_territories_are_not_loaded_yet_is_not_read(settings, wh, tmp_path):
    """T1's February file arrives before T2's. Leads contacted in February keep reading January — both
    territories — until T2 is loaded for February; before, the T2 advisors' leads matched no rep at all."""
    def month(m, territory, reps):
        path = write_csv(tmp_path / m / f"discovery_{territory.lower()}_{m.replace('-', '_')}.csv", REP_HEADER, reps)
        return load_territory_files(wh, settings, [path])

    month("2025-01", "T1", [rep(1, TotalAssetsInMillions="100")])
    month("2025-01", "T2", [rep(2, TotalAssetsInMillions="200")])
    early = month("2025-02", "T1", [rep(1, TotalAssetsInMillions="110")])
    assert early.summary["warnings"] == [
        "2025-02 holds T1 only: T2 is not loaded for 2025-02 yet. Until it is, leads contacted in 2025-02 or later "
        "keep reading the last month with every territory, so no territory's reps go missing. Load T2 for 2025-02 "
        "when the file arrives."]
    assert "**warning** 2025-02 holds T1 only" in early.markdown()
    leads = [lead("00QA", 1, contacted="2025-02-10T10:00:00.000+0000", modified=EXPORTED),
             lead("00QB", 2, contacted="2025-02-11T10:00:00.000+0000", modified=EXPORTED)]
    load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, leads))
    build_features(wh, settings, AS_OF)
    f = _features(wh)
    assert f.snapshot_month.tolist() == ["2025-01", "2025-01"]
    assert f.TotalAssetsInMillions.tolist() == [100.0, 200.0] and f.Has_Discovery_Data.tolist() == [1, 1]
    assert "warnings" not in month("2025-02", "T2", [rep(2, TotalAssetsInMillions="220")]).summary
    build_features(wh, settings, AS_OF)
    f = _features(wh)
    assert f.snapshot_month.tolist() == ["2025-02", "2025-02"] and f.TotalAssetsInMillions.tolist() == [110.0, 220.0]


def test_engineered_features_on_hand_computed_rows(settings, wh, tmp_path):
    reps = [
        rep(1, TotalAssetsInMillions="600", Number_Investment_Advisory_Clients="200", Number_Employees="12",
            Number_IAReps="0", Number_Clients_HNW_Individuals="150", AUMGrowthRate_1Year="250%",
            AUMGrowthRate_5Year="-80", Date_Became_Rep_Number_Of_Years="20", Date_Of_Hire_At_Current_Firm_Years="5",
            Firm_Moves_10yr="3", Miles_Distance_Home_To_Branch="60", Percent_Clients_US="95",
            Assets_In_Millions_Individuals="450", Assets_In_Millions_HNW="900", Designations="CFP; ChFC",
            Licenses="Series 7, Series 65", Has_Disclosure="No", Business_Model="Fee-Based (Hybrid)"),
        rep(2, TotalAssetsInMillions="", Number_Investment_Advisory_Clients="0", Number_Employees="0",
            AUMGrowthRate_1Year="", AUMGrowthRate_5Year="10"),
        # an export in the wrong unit: AUM in dollars, a client count holding an id (catalog PLAUSIBLE_RANGES)
        rep(3, TotalAssetsInMillions="2087300000", Number_Investment_Advisory_Clients="1900000000",
            Number_Employees="10", AUMGrowthRate_1Year="5"),
    ]
    leads = [lead("00Q1", 1, contacted="2025-01-05T23:30:00.000+0000", CreatedDate="2025-01-01T23:30:00.000+0000"),
             lead("00Q2", 2, contacted="2025-01-06T00:10:00.000+0000"),
             lead("00Q3", 999, contacted="2025-01-07T10:00:00.000+0000", CreatedDate="2025-01-20T09:00:00.000+0000"),
             lead("00Q4", 3, contacted="2025-01-08T10:00:00.000+0000"),
             lead("00Q5", 4, contacted="2025-01-06")]  # a Date field: Monday, whatever the time zone
    _load(settings, wh, tmp_path, {"2025-01": reps + [rep(4)]}, leads)
    build_features(wh, settings, AS_OF)
    f = _features(wh)
    a, b, none = f.loc["00Q1"], f.loc["00Q2"], f.loc["00Q3"]
    assert a.AUM_per_Client == 3.0 and a.AUM_per_Employee == 50.0
    assert pd.isna(a.AUM_per_IARep)                               # zero denominator -> NULL, never inf
    assert a.AUM_Growth_Rate_1Year == 200 and a.AUM_Growth_Rate_5Year == -50  # capped
    assert a.Growth_Momentum == 200 * -50 / 100 and a.Growth_Acceleration == 200 + 10
    assert a.Positive_Growth_Trajectory == 0 and a.Accelerating_Growth == 1
    assert a.Firm_Stability_Score == 0.25 and a.Is_Veteran_Advisor == 1 and a.High_Turnover_Flag == 1
    assert a.HNW_Client_Ratio == 0.75 and a.Premium_Positioning == 1 and a.Mass_Market_Focus == 0
    assert a.HNW_Asset_Concentration == 1.0 and a.Individual_Asset_Ratio == 0.75  # capped at 1
    assert a.Remote_Work_Indicator == 1 and a.Local_Advisor == 0 and a.Has_Scale == 1
    assert a.Has_CFP == 1 and a.Has_CFA == 0 and a.Has_ChFC == 1 and a.Has_Series_65 == 1 and a.Has_Series_66 == 0
    assert a.Business_Model_Hybrid == 1 and a.Quality_Score == 1.0  # CFP, no disclosure, HNW 0.75, growth > 0
    assert a.Log_TotalAssets == pytest.approx(math.log(601))
    assert a.Day_of_Contact == 7 and a.Is_Weekend_Contact == 1        # Sunday 23:30 UTC
    assert a.Lead_Age_At_Contact_Days == 4.0
    assert pd.isna(f.loc["00Q3", "Lead_Age_At_Contact_Days"])  # created after its contact (an import): no age
    assert b.Day_of_Contact == 1 and b.Is_Weekend_Contact == 0        # Monday 00:10 UTC
    for name in ["AUM_per_Client", "AUM_per_Employee", "Clients_per_Employee", "TotalAssetsInMillions",
                 "Growth_Momentum", "Positive_Growth_Trajectory", "Premium_Positioning"]:
        assert pd.isna(b[name]), name                              # nulls and zero denominators stay NULL
    assert b.AUM_Missing == 1 and b.Growth_1Y_Missing == 1
    assert none.Has_Discovery_Data == 0 and none.Discovery_Fields_Missing == 1
    assert pd.isna(none.Has_CFP) and pd.isna(none.Has_Disclosure)  # no match is not "no CFP"
    bad = f.loc["00Q4"]  # implausible values are read as missing by every feature; the warehouse keeps them as sent
    for name in ["TotalAssetsInMillions", "Log_TotalAssets", "AUM_per_Client", "AUM_per_Employee",
                 "Number_Investment_Advisory_Clients", "Clients_per_Employee"]:
        assert pd.isna(bad[name]), name
    assert bad.AUM_Missing == 1 and bad.AUM_Growth_Rate_1Year == 5 and bad.Number_Employees == 10
    assert wh.read("select TotalAssetsInMillions from marts.dim_rep_snapshots where RepCRD = 3").iloc[0, 0] == 2087300000
    # in the sales team's time zone, Monday 00:10 UTC is Sunday 16:10 in California: a weekend contact
    build_features(wh, with_overrides(settings, business_timezone="America/Los_Angeles"), AS_OF)
    local = _features(wh)
    assert local.loc["00Q2", ["Day_of_Contact", "Is_Weekend_Contact"]].tolist() == [7, 1]
    assert local.loc["00Q1", "Day_of_Contact"] == 7 and local.loc["00Q4", "Day_of_Contact"] == 3  # Wed 02:00 local
    assert f.loc["00Q5", "Day_of_Contact"] == 1 and local.loc["00Q5", ["Day_of_Contact", "Is_Weekend_Contact"]].tolist() == [1, 0]


def test_a_business_timezone_that_is_no_time_zone_is_refused(tmp_path, monkeypatch):
    from core.config import load_settings

    config = tmp_path / "leadscore.toml"
    monkeypatch.setenv("LEADSCORE_CONFIG", str(config))
    for bad in ("EST5", "America/Nowhere", "'; drop", 5):
        config.write_text(f"business_timezone = {json.dumps(bad)}\n")
        with pytest.raises(LeadScoringError, match="Config 'business_timezone' is .*IANA time zone name"):
            load_settings()
    config.write_text('business_timezone = "America/Chicago"\n')
    assert load_settings().business_timezone == "America/Chicago"


def test_planted_post_contact_feature_is_refused(settings, wh, tmp_path):
    _load(settings, wh, tmp_path, {"2025-01": [rep(1)]}, [lead("00Q1", 1)])
    leak = Feature("Disposition_Flag", "planted", "a leak", "CASE WHEN l.Disposition__c = 'Call Booked' THEN 1 ELSE 0 END",
                   ("Disposition__c",), "flag", False)
    with pytest.raises(LeadScoringError, match="Disposition_Flag reads Disposition__c, which is set after contact"):
        build_features(wh, settings, AS_OF, extra_features=(leak,))
    pii = Feature("Email_Domain", "planted", "PII", "l.has_Email", ("Email",), "flag", False)
    with pytest.raises(LeadScoringError, match="Email, which is PII"):
        build_features(wh, settings, AS_OF, extra_features=(pii,))


def test_planted_leaking_column_flagged_by_the_report(settings, wh, tmp_path, capsys):
    """A column the catalog does not define, or one that predicts the label too well, is flagged."""
    leads = [lead(f"00Q{i}", 100 + i, mql="2025-01-07T10:00:00.000+0000" if i % 3 == 0 else "") for i in range(30)]
    _load(settings, wh, tmp_path, {"2025-01": [rep(1)]}, leads)
    build_features(wh, settings, AS_OF)
    assert leakage_report(wh, settings).clean
    with wh.writer("plant") as s:
        s.execute("create or replace table ml.lead_features as select *, label as Days_To_MQL_Known from ml.lead_features")
    report = leakage_report(wh, settings)
    assert not report.clean and not report.to_json()["clean"]
    assert report.columns_not_in_catalog == ["Days_To_MQL_Known"]
    assert report.suspicious_features[0]["feature"] == "Days_To_MQL_Known"
    from core.cli import main  # the CLI's JSON keeps the contract's keys; the text is the report's markdown

    assert main(["--db", str(settings.warehouse_path), "leakage-report", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] is False and out["columns_not_in_catalog"] == ["Days_To_MQL_Known"]
    assert set(out) == {f.name for f in fields(report)} | {"clean"}
    assert main(["--db", str(settings.warehouse_path), "leakage-report"]) == 0
    assert capsys.readouterr().out.strip() == report.markdown() and "**ATTENTION**" in report.markdown()


def test_pii_never_in_the_training_table(settings, wh, tmp_path):
    _load(settings, wh, tmp_path, {"2025-01": [rep(1, FirstName="Dana", Email="dana@x.example")]},
          [lead("00Q1", 1, FirstName="Robin", LastName="Zed", Email="robin@zed.example", MobilePhone="+1-555-0100")])
    build_features(wh, settings, AS_OF)
    table = training_table(wh)
    assert table.columns[:3].tolist() == ["lead_id", "contacted_at", "label"]
    text = table.to_csv()
    for value in ["Dana", "dana@x.example", "Robin", "Zed", "robin@zed.example", "555-0100"]:
        assert value not in text
    pii = {"FirstName", "LastName", "Name", "Email", "MobilePhone", "Address", "Status", "Disposition__c"}
    assert pii.isdisjoint(table.columns)


def test_scorecard_on_tiny_fixture():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 100.0, None], "y": [None, None, None, None, 1.0, 2.0]})
    card = scorecard(df, ["x", "y"]).set_index("feature")
    assert card.loc["x", "null_rate"] == round(1 / 6, 4) and card.loc["x", "median"] == 3.0
    assert card.loc["x", "min"] == 1.0 and card.loc["x", "max"] == 100.0
    assert card.loc["x", "outlier_share"] == 0.2  # 100 lies beyond Q3 + 3 IQR
    assert card.loc["y", "warning"] == "more than 50% missing" and card.loc["x", "warning"] == ""


def test_demo_reproduces_the_intended_effects(loaded_demo):
    settings, wh, _, _ = loaded_demo
    build_features(wh, settings)
    summary = class_summary(wh.read("select * from ml.lead_features"))
    assert 0.03 < summary["positive_rate"] < 0.05
    assert summary["weekend_rate"] > 1.6 * summary["weekday_rate"]
    tiers = {r["group"]: r["rate"] for r in summary["by_aum_tier"]}
    assert tiers["<$100M"] > tiers[">$500M"]
    assert leakage_report(wh, settings).clean


def test_feature_catalog_doc_is_current():
    assert (ROOT / "docs" / "feature_catalog.md").read_text(encoding="utf-8") == catalog_markdown()
    assert len(STATIC_FEATURES) >= 80


def test_catalog_search_matches_any_column_case_insensitively():
    from core.features.catalog import catalog_frame, search_catalog

    cat = catalog_frame()
    hits = search_catalog(cat, "  hnw ")
    assert len(hits) and all("hnw" in " ".join(map(str, r)).lower() for r in hits.values)
    assert "HNW_Client_Ratio" in set(hits.feature)
    assert len(search_catalog(cat, "")) == len(cat)
    assert search_catalog(cat, "(no such [feature").empty  # plain text, not a regex


@pytest.mark.parametrize("source", ["Experimentation_Tag__c", "Status", "Savvy_Lead_Score__c"])
def test_leakage_guard_blocks_post_contact_columns_such_as_the_experiment_tag(source):
    """An experiment arm is a treatment, not a property of the advisor: it can never feed a feature."""
    from core.errors import LeadScoringError
    from core.features.catalog import blocked_sources, check_no_leakage

    assert source in blocked_sources()
    planted = Feature("Planted", "Test", "reads a blocked column", f"l.{source}", (source,), "category", False)
    with pytest.raises(LeadScoringError, match=source):
        check_no_leakage([planted])


def test_every_raw_category_is_in_the_catalog_and_known_at_contact():
    from core.features.catalog import CATEGORICAL_FEATURES, CATEGORY_SENTENCES, blocked_sources, check_no_leakage

    check_no_leakage(CATEGORICAL_FEATURES)
    assert all(f.name.startswith("cat_") and f.kind == "category" for f in CATEGORICAL_FEATURES)
    assert not {s for f in CATEGORICAL_FEATURES for s in f.sources} & set(blocked_sources())
    assert CATEGORY_SENTENCES["cat_Metro"].format("Denver-Aurora-Lakewood CO") == "Lives in the Denver-Aurora-Lakewood CO metro"
    assert CATEGORY_SENTENCES["cat_Owner"] is None  # who owns a lead is never a reason to call it


def test_the_feature_overview_builds_once_for_a_builder_and_explains_itself_to_others(settings, wh, tmp_path):
    from core.auth import Actor
    from core.quality.feature_quality import feature_overview

    c = "2025-01-06T10:00:00.000+0000"
    _load(settings, wh, tmp_path, {"2025-01": [rep(1), rep(2)]},
          [lead("00QA", 1, contacted=c, mql="2025-01-09T10:00:00.000+0000", modified="2025-03-31T00:00:00.000+0000"),
           lead("00QB", 2, contacted=c)])
    with pytest.raises(LeadScoringError, match="Features have not been built since the last upload"):
        feature_overview(wh, settings, actor=Actor("sam", "sga_manager"))  # may not build: told who can
    assert latest_feature_set(wh) is None
    view = feature_overview(wh, settings, actor=Actor("ana", "analyst"))  # the first visit after a load builds
    assert latest_feature_set(wh) is not None and view.class_summary["training_rows"] == 2
    assert view.caption().startswith(f"{len(view.feature_set.features)} features built as of ")
    assert "+00:00" not in view.caption() and view.leakage.clean
    assert set(view.mostly_missing()) <= set(view.scorecard.feature)
