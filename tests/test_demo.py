"""The demo generator: contract-exact files with the mess of real exports, a truth file kept apart."""

from __future__ import annotations

import csv

import pandas as pd

from core.contract import marketpro_columns, salesforce_columns, task_columns
from core.demo import generate
from tests.conftest import ROOT


def test_files_follow_the_contract(small_demo):
    names = sorted(p.name for p in small_demo.iterdir() if p.is_file())
    assert names == ["discovery_t1_2025_10.csv", "discovery_t2_2025_10.csv", "discovery_t3_2025_10.csv",
                     "salesforce_leads.csv", "salesforce_tasks.csv"]
    with open(small_demo / "salesforce_tasks.csv", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == [c.name for c in task_columns()]
    for name, enc in [("discovery_t1_2025_10.csv", "utf-8-sig"), ("discovery_t2_2025_10.csv", "utf-8"),
                      ("discovery_t3_2025_10.csv", "latin-1")]:
        with open(small_demo / name, encoding=enc, newline="") as fh:
            header = next(csv.reader(fh))
        expected = [c.name for c in marketpro_columns()]
        assert header[: len(expected)] == expected
    with open(small_demo / "salesforce_leads.csv", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == [c.name for c in salesforce_columns()]


def test_the_mess_of_real_exports_is_there(small_demo):
    t1 = (small_demo / "discovery_t1_2025_10.csv").read_bytes()
    t2 = (small_demo / "discovery_t2_2025_10.csv").read_bytes()
    t3 = (small_demo / "discovery_t3_2025_10.csv").read_bytes()
    assert t1.startswith(b"\xef\xbb\xbf") and b"\r\n" in t2 and b"\r\n" not in t1
    assert any(b > 127 for b in t3) and b"\xc3" not in t3  # Latin-1, not UTF-8
    text = t1.decode("utf-8-sig") + t2.decode()
    for token in [",NA,", ",N/A,", ",null,", ",NULL,", ",None,", ",,", "$", "%", '"1,', ".0,", " 00", "Osseo"]:
        assert token in text, token
    rows = pd.read_csv(small_demo / "discovery_t1_2025_10.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert set(rows.Has_Disclosure) >= {"Yes", "Y", "TRUE", "1", "No", "N", "FALSE", "0"}


def test_truth_kept_apart_and_consistent(small_demo):
    truth = pd.read_csv(small_demo / "truth" / "demo_truth.csv")
    leads = pd.read_csv(small_demo / "salesforce_leads.csv", dtype=str, keep_default_na=False)
    from core.salesforce.ids import to18

    assert set(truth.lead_id) <= {to18(i) for i in leads.Id}  # the truth uses the engine's 18-character Ids
    contacted = truth[truth.contacted]
    assert 0.035 < contacted.true_prob_mql_30d.mean() < 0.047
    assert (small_demo / "truth" / "GENERATIVE_MODEL.md").exists()


def test_engine_never_reads_the_truth():
    offenders = [p for p in (ROOT / "core").rglob("*.py")
                 if p.name != "demo.py" and ("demo_truth" in p.read_text() or "true_prob" in p.read_text())]
    assert offenders == []


def test_same_seed_same_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, "small", 7)
    generate(b, "small", 7)
    assert (a / "salesforce_leads.csv").read_bytes() == (b / "salesforce_leads.csv").read_bytes()
    assert (a / "discovery_t2_2025_10.csv").read_bytes() == (b / "discovery_t2_2025_10.csv").read_bytes()


def test_demo_effects_visible_in_data(small_demo):
    leads = pd.read_csv(small_demo / "salesforce_leads.csv", dtype=str, keep_default_na=False)
    contacted = leads[leads.Stage_Entered_Contacting__c != ""]
    assert 0.5 < len(contacted) / len(leads) < 0.65
    c = pd.to_datetime(contacted.Stage_Entered_Contacting__c, utc=True)
    m = pd.to_datetime(contacted.Stage_Entered_Call_Scheduled__c.replace("", None), utc=True)
    days = (m - c).dt.total_seconds() / 86400
    assert (days < 0).any()                       # MQL stamped before contact: a defect to count
    assert (days > 30).any()                      # late MQLs outside the window
    export = pd.to_datetime(leads.LastModifiedDate, utc=True).max()
    assert (c > export - pd.Timedelta(days=30)).any()  # right-censored recent contacts
