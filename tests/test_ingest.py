"""Loading behaviour: header tolerance, errors naming file and column, exact row accounting, unknown
columns kept, atomic monthly replace under injected failures and kills, and the de-duplication rules."""

from __future__ import annotations

import json
import gzip
import io
import os
import subprocess
import sys

import pytest
import pandas as pd


from core.config import with_overrides
from core.contract import salesforce_columns
from core.errors import LeadScoringError
from core.faults import InjectedFault
from core.ingest.leads import load_lead_file
from core.ingest.territories import load_territory_files, month_of, territory_of
from core.ingest.reader import sha256_of
from tests.conftest import LEAD_HEADER, REP_HEADER, ROOT, lead, rep, write_csv


def test_headers_tolerate_case_spaces_and_bom(settings, wh, tmp_path):
    header = ["\ufeff repcrd ", "TOTAL ASSETS IN MILLIONS", "aum growth rate 1year", "Branch State"]
    path = tmp_path / "discovery_t2_2025_01.csv"
    path.write_text(",".join(header) + "\n7,$12.5,3%,TX\n", encoding="utf-8")
    load_territory_files(wh, settings, [path])
    row = wh.read("select RepCRD, TotalAssetsInMillions, AUMGrowthRate_1Year, Branch_State from marts.dim_reps_current")
    assert row.iloc[0].tolist() == ["7", 12.5, 3.0, "TX"]


def test_contract_columns_a_file_lacks_are_named_not_loaded_as_empty_silently(settings, wh, tmp_path):
    """A vendor export that dropped TotalAssetsInMillions loads (only RepCRD is required), every AUM empty: the
    load names the columns it lacks, in the files table and in the CLI's report."""
    header = [h for h in REP_HEADER if h not in ("TotalAssetsInMillions", "Number_Employees")]
    result = load_territory_files(wh, settings, [write_csv(tmp_path / "discovery_t1_2025_01.csv", header, [rep(1)])])
    assert result.files[0].missing_columns == ["TotalAssetsInMillions", "Number_Employees"]
    assert result.files_frame().missing_columns.tolist() == ["TotalAssetsInMillions, Number_Employees"]
    assert ("- **missing** discovery_t1_2025_01.csv lacks 2 contract column(s), loaded as empty: "
            "TotalAssetsInMillions, Number_Employees") in result.markdown()
    full = load_territory_files(wh, settings, [write_csv(tmp_path / "discovery_t1_2025_02.csv", REP_HEADER, [rep(1)])])
    assert full.files[0].missing_columns == [] and "**missing**" not in full.markdown()


def test_a_territory_month_with_far_fewer_reps_than_the_month_before_is_warned(settings, wh, tmp_path):
    """Reps come and go a few at a time; a T1 file holding under 70% of last month's T1 reps is a truncated or
    filtered vendor file, and its missing advisors' leads would go unmatched: the load says so."""
    def month(m: str, n: int):
        path = write_csv(tmp_path / f"discovery_t1_{m.replace('-', '_')}.csv", REP_HEADER, [rep(i) for i in range(1, n + 1)])
        return load_territory_files(wh, settings, [path])

    assert "warnings" not in month("2025-01", 200).summary
    assert "warnings" not in month("2025-02", 185).summary  # 8% fewer: reps leave
    warned = month("2025-03", 60)
    assert warned.summary["warnings"] == [
        "T1 2025-03 holds 60 reps against 185 in 2025-02 (-68%): a truncated or filtered vendor file? Leads contacted "
        "from 2025-03 on whose advisor is missing from it go unmatched. Load the full T1 file for 2025-03 (it "
        "replaces that month's T1)."]
    assert "- **warning** T1 2025-03 holds 60 reps" in warned.markdown()
    from core.pipeline import pipeline_state

    assert pipeline_state(wh).load_warnings == {"territory": warned.summary["warnings"]}  # kept in sight on home
    assert "warnings" not in month("2025-03", 180).summary  # the full file replaces it
    assert pipeline_state(wh).load_warnings == {}


def test_missing_required_column_names_file_and_column_and_loads_nothing(settings, wh, tmp_path):
    path = tmp_path / "discovery_t1_2025_01.csv"
    path.write_text("Rep_Id,TotalAssetsInMillions\n1,2\n")
    with pytest.raises(LeadScoringError, match=r"discovery_t1_2025_01\.csv: required column\(s\) RepCRD"):
        load_territory_files(wh, settings, [path])
    assert wh.read("select count(*) as n from raw.file_loads").n.iloc[0] == 0


def test_missing_lead_columns_named(settings, wh, tmp_path):
    path = write_csv(tmp_path / "leads.csv", ["Id", "FA_CRD__c"], [{"Id": "00Q1", "FA_CRD__c": "1"}])
    with pytest.raises(LeadScoringError, match="CreatedDate, Stage_Entered_Contacting__c, Stage_Entered_Call_Scheduled__c, LastModifiedDate"):
        load_lead_file(wh, settings, path)


def test_a_report_export_with_field_labels_is_told_how_to_export_instead(settings, wh, tmp_path):
    """A Salesforce report export names columns by label ('Lead ID', 'FA CRD'): the error says so and how to
    export the records with API names; a file missing a column for another reason gets no such hint."""
    from core.ingest.activities import load_activity_file

    labels = ["Lead ID", "FA CRD", "Created Date", "Stage Entered Contacting", "Stage Entered Call Scheduled",
              "Last Modified Date"]
    path = write_csv(tmp_path / "report.csv", labels, [{"Lead ID": "00Q1", "FA CRD": "1"}])
    with pytest.raises(LeadScoringError) as err:
        load_lead_file(wh, settings, path)
    assert "The header has field labels ('Lead ID', 'FA CRD', 'Stage Entered Contacting')" in str(err.value)
    assert "`python -m core load-leads --from-salesforce`" in str(err.value)
    tasks = write_csv(tmp_path / "tasks.csv", ["Task ID", "Who ID", "Created Date"], [{"Task ID": "00T1"}])
    with pytest.raises(LeadScoringError, match=r"field labels \('Task ID'.*load-activities --from-salesforce"):
        load_activity_file(wh, settings, tasks)
    plain = write_csv(tmp_path / "leads.csv", ["Id", "FA_CRD__c"], [{"Id": "00Q1", "FA_CRD__c": "1"}])
    with pytest.raises(LeadScoringError) as err:
        load_lead_file(wh, settings, plain)
    assert "field labels" not in str(err.value)


@pytest.mark.parametrize("content,message", [
    (b"", "empty"), (b"RepCRD,TotalAssetsInMillions\n", "no data rows"), (b"\n\n", "empty or its first line is blank"),
])
def test_empty_and_header_only_files(settings, wh, tmp_path, content, message):
    path = tmp_path / "discovery_t1_2025_01.csv"
    path.write_bytes(content)
    with pytest.raises(LeadScoringError, match=message):
        load_territory_files(wh, settings, [path])


def test_cli_user_error_exits_2_without_traceback(tmp_path):
    path = tmp_path / "discovery_t1_2025_01.csv"
    path.write_text("Rep_Id\n1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "core", "--db", str(tmp_path / "w.duckdb"), "load-territories", str(path)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "LEADSCORE_DATA_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "RepCRD" in proc.stderr and "discovery_t1_2025_01.csv" in proc.stderr
    assert "Traceback" not in proc.stderr


def _xlsx_bytes() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buf.getvalue()


@pytest.mark.parametrize("content, message", [
    (lambda: gzip.compress(b"RepCRD\n1\n"), "gzip-compressed"),
    (_xlsx_bytes, "Excel .xlsx workbook"),
    (lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel .xls"),
    (lambda: bytes(range(256)) * 4, "binary file"),
    (lambda: "RepCRD\n1\n".encode("utf-16"), "UTF-16"),
    (lambda: b"RepCRD;FirstName;LastName\n1;Dana;Lee\n", "separated by semicolons"),  # a European-locale Excel CSV
    (lambda: b"RepCRD\tFirstName\tLastName\n1\tDana\tLee\n", "separated by tabs"),
])
def test_compressed_spreadsheet_and_binary_uploads_exit_2_with_what_to_do(tmp_path, content, message):
    path = tmp_path / "discovery_t1_2025_01.csv"  # renamed: the name says CSV, the content does not
    path.write_bytes(content())
    proc = subprocess.run(
        [sys.executable, "-m", "core", "--db", str(tmp_path / "w.duckdb"), "load-territories", str(path)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "LEADSCORE_DATA_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "discovery_t1_2025_01.csv" in proc.stderr and "Nothing was loaded" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_title_block_above_the_header_is_named_with_the_line_the_header_is_on(settings, wh, tmp_path):
    """A vendor's export (or a formatted report) can open with a title, a generation stamp and a blank line:
    the refusal says on which line the header is and what to delete, for territory and Lead files alike."""
    reps = write_csv(tmp_path / "body.csv", REP_HEADER, [rep(1), rep(2)]).read_text()
    path = tmp_path / "discovery_t1_2025_01.csv"
    path.write_text("MarketPro Discovery Data Export\nGenerated 2025-01-01 08:00 UTC,,\n\n" + reps)
    with pytest.raises(LeadScoringError, match=r"header is on line 4, below 3 line\(s\) of title "
                                               r"\('MarketPro Discovery Data Export'\)") as e:
        load_territory_files(wh, settings, [path])
    assert "nothing was loaded" in str(e.value)
    leads = write_csv(tmp_path / "body2.csv", LEAD_HEADER, [lead("00Q000000000001", 1)]).read_text()
    path = tmp_path / "salesforce_leads.csv"
    path.write_text("Lead export,\n" + leads)
    with pytest.raises(LeadScoringError, match=r"header is on line 2, below 1 line\(s\) of title"):
        load_lead_file(wh, settings, path)
    path.write_text("RepCRD,Title\n1,x\n")  # a header simply without the columns: no line is invented
    with pytest.raises(LeadScoringError) as e:
        load_lead_file(wh, settings, path)
    assert "title" not in str(e.value)


def test_a_file_given_to_the_wrong_load_is_named_for_what_it_is(settings, wh, small_demo, tmp_path):
    """The Task export uploaded as the Lead export (or the other way round, or a territory file) said only which
    columns were missing; it now says what the file is and which load takes it."""
    from core.ingest.activities import load_activity_file

    with pytest.raises(LeadScoringError, match=r"It looks like a Salesforce Task export \(11 of its 11 columns\): "
                                               r"load it with `load-activities FILE`"):
        load_lead_file(wh, settings, small_demo / "salesforce_tasks.csv")
    with pytest.raises(LeadScoringError, match=r"It looks like a Salesforce Lead export .*`load-leads FILE`"):
        load_activity_file(wh, settings, small_demo / "salesforce_leads.csv")
    territory = sorted(small_demo.glob("discovery_t1_*.csv"))[0]
    with pytest.raises(LeadScoringError, match=r"It looks like a MarketPro territory export .*`load-territories FILE`"):
        load_lead_file(wh, settings, territory)
    leads_as_territory = tmp_path / "discovery_t1_2025_10.csv"
    leads_as_territory.write_bytes((small_demo / "salesforce_leads.csv").read_bytes())
    with pytest.raises(LeadScoringError, match=r"It looks like a Salesforce Lead export"):
        load_territory_files(wh, settings, [leads_as_territory])
    with pytest.raises(LeadScoringError) as e:  # a header that is no known export: no guess
        load_lead_file(wh, settings, write_csv(tmp_path / "other.csv", ["Id", "Name"], [{"Id": "1", "Name": "x"}]))
    assert "It looks like" not in str(e.value)


def test_cli_bad_flag_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "core", "load-territories", "x.csv", "--month", "January"],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "LEADSCORE_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 2 and "YYYY-MM" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("streamed", [False, True], ids=["whole-file", "streamed"])
def test_row_accounting_is_exact_including_ragged_rows(settings, tmp_path, streamed):
    from core.warehouse import open_warehouse

    if streamed:  # read in batches, in threads: the malformed row still gets its exact line
        settings = with_overrides(settings, extra={**settings.extra, "ingest_stream_mb": 0})
    wh = open_warehouse(settings)
    path = write_csv(tmp_path / "discovery_t1_2025_01.csv", REP_HEADER,
                     [rep(1), rep(2), rep("", Title="no crd"), rep("abc"), rep(5, Number_Employees="x")])
    with open(path, "a") as fh:
        fh.write("6,only,three\n")  # a row with too few fields
    result = load_territory_files(wh, settings, [path])
    f = result.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined, f.cells_quarantined) == (6, 3, 3, 1)
    q = result.quarantine.sort_values("line")
    assert q.line.tolist() == [4, 5, 6, 7]
    assert q.reason.tolist() == [
        "row not loaded: RepCRD is empty", "row not loaded: RepCRD is not a CRD number",
        "not a whole number", f"row has 3 fields, expected {len(REP_HEADER)}: row not loaded",
    ]
    stored = wh.read("select rows_read, rows_loaded, rows_quarantined, cells_quarantined, sha256 from raw.file_loads")
    assert stored.iloc[0, :4].tolist() == [6, 3, 3, 1]
    assert stored.sha256.iloc[0] == sha256_of(path)


def test_raw_file_archived_with_checksum(settings, wh, tmp_path):
    path = write_csv(tmp_path / "discovery_t3_2025_01.csv", REP_HEADER, [rep(1)])
    result = load_territory_files(wh, settings, [path])
    archived = settings.archive_dir / "territory"
    files = list(archived.iterdir())
    assert len(files) == 1 and sha256_of(files[0]) == result.files[0].sha256 == sha256_of(path)


def test_unknown_columns_are_kept_as_json(settings, wh, tmp_path):
    path = write_csv(tmp_path / "discovery_t1_2025_01.csv", REP_HEADER + ["Firm_Website", "Notes"],
                     [rep(1, Firm_Website="a.example", Notes="call back")])
    result = load_territory_files(wh, settings, [path])
    extra = wh.read("select extra_json from staging.stg_territory_reps").extra_json.iloc[0]
    assert json.loads(extra) == {"Firm_Website": "a.example", "Notes": "call back"}
    assert result.files[0].extra_columns == ["Firm_Website", "Notes"]


def test_blank_and_repeated_headers_keep_every_value_under_a_unique_name(settings, wh, tmp_path):
    """Excel's trailing commas give blank headers; a column exported twice repeats one: each extra column keeps
    its values under its own name (one JSON key per name would have kept only the last blank column)."""
    header = REP_HEADER + ["RepCRD", "", ""]
    path = tmp_path / "discovery_t1_2025_01.csv"
    row = rep(1)
    path.write_text(",".join(header) + "\n" + ",".join([str(row.get(h, "")) for h in REP_HEADER] + ["1", "x", "y"]) + "\n",
                    encoding="utf-8")
    result = load_territory_files(wh, settings, [path])
    n = len(REP_HEADER)
    names = ["RepCRD (column %d)" % (n + 1), "(unnamed column %d)" % (n + 2), "(unnamed column %d)" % (n + 3)]
    assert result.files[0].extra_columns == names
    extra = wh.read("select extra_json from staging.stg_territory_reps").extra_json.iloc[0]
    assert json.loads(extra) == dict(zip(names, ["1", "x", "y"]))


def test_month_and_territory_from_file_names():
    from pathlib import Path

    assert territory_of(Path("discovery_t2_2025_03.csv")) == "T2"
    assert month_of(Path("discovery_t2_2025_03.csv")) == "2025-03"
    assert month_of(Path("x.csv"), "2024-12") == "2024-12"
    with pytest.raises(LeadScoringError, match="--territory"):
        territory_of(Path("export.csv"))


def test_files_from_different_months_are_refused(settings, wh, tmp_path):
    a = write_csv(tmp_path / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1)])
    b = write_csv(tmp_path / "discovery_t2_2025_02.csv", REP_HEADER, [rep(2)])
    with pytest.raises(LeadScoringError, match="different months"):
        load_territory_files(wh, settings, [a, b])
    # one --month for files dated apart would mix two months' reps in one snapshot
    with pytest.raises(LeadScoringError, match=r"carry different months \(2025-01, 2025-02\), and --month 2025-01 "
                                               r"would load them all as 2025-01.*nothing was loaded"):
        load_territory_files(wh, settings, [a, b], month="2025-01")
    # an undated file among dated ones (the Upload page's one-month path): the fix is a name, not a CLI flag
    c = write_csv(tmp_path / "territory_export.csv", REP_HEADER, [rep(3)])
    with pytest.raises(LeadScoringError) as err:
        load_territory_files(wh, settings, [a, b, c], month="2025-01")
    assert "the month given, 2025-01, would load them all as 2025-01. Name territory_export.csv with its month, " \
        "like discovery_t1_2025_01.csv" in str(err.value) and "--month" not in str(err.value)
    assert not _exists(wh, "raw.file_loads") or wh.read("select count(*) as n from raw.file_loads").n.iloc[0] == 0
    # a misnamed single file is still taken as the month it is said to be
    assert load_territory_files(wh, settings, [b], month="2025-03").summary["snapshot_month"] == "2025-03"


def test_several_months_load_each_on_its_own_oldest_first_and_a_failure_says_what_loaded(settings, wh, tmp_path):
    from core.ingest.territories import load_territory_months, replacement_plan

    files = [write_csv(tmp_path / f"discovery_t{t}_2025_{m:02d}.csv", REP_HEADER, [rep(100 * m + t), rep(900 + t)])
             for m in (3, 1, 2) for t in (1, 2)]
    missing = tmp_path / "discovery_t1_2025_04.csv"
    with pytest.raises(LeadScoringError, match="discovery_t1_2025_04.csv: no such file"):
        load_territory_months(wh, settings, [*files, missing])  # every month checked before any is loaded
    assert not _exists(wh, "marts.dim_rep_snapshots")
    seen = []
    results = load_territory_months(wh, settings, files, progress=lambda f, m: seen.append(m))
    assert [r.summary["snapshot_month"] for r in results] == ["2025-01", "2025-02", "2025-03"]
    assert [r.rows_loaded for r in results] == [4, 4, 4] and seen[-1] == "3 territory months loaded"
    months = wh.read("select snapshot_month, count(*) as reps from marts.dim_rep_snapshots group by 1 order by 1")
    assert months.snapshot_month.astype(str).tolist() == ["2025-01", "2025-02", "2025-03"] and set(months.reps) == {4}
    assert replacement_plan(wh, {"discovery_t1_2025_02.csv": "T1", "discovery_t3_2025_03.csv": "T3",
                                 "export.csv": "T2"}) == [{"snapshot_month": "2025-02", "territory": "T1", "reps": 2}]
    # a month that fails stops the load there; the months before it stay, and the message names both sides
    bad = tmp_path / "discovery_t1_2025_05.csv"
    bad.write_text("Rep_Id\n1\n")
    later = [write_csv(tmp_path / f"discovery_t1_2025_{m:02d}.csv", REP_HEADER, [rep(m)]) for m in (4, 6)]
    with pytest.raises(LeadScoringError) as err:
        load_territory_months(wh, settings, [bad, *later])
    text = str(err.value)
    assert text.startswith("2025-05: discovery_t1_2025_05.csv") and "RepCRD" in text
    assert "Loaded before it, each month complete: 2025-04. Not loaded: 2025-05, 2025-06;" in text
    loaded = wh.read("select distinct snapshot_month from marts.dim_rep_snapshots").snapshot_month.astype(str)
    assert "2025-04" in set(loaded) and not {"2025-05", "2025-06"} & set(loaded)


def _exists(wh, table: str) -> bool:
    with wh.reader() as s:
        return s.table_exists(table)


def test_cli_loads_several_months_of_files_month_by_month(tmp_path):
    files = [write_csv(tmp_path / f"discovery_t1_2025_{m:02d}.csv", REP_HEADER, [rep(m)]) for m in (2, 1)]
    proc = subprocess.run(
        [sys.executable, "-m", "core", "--db", str(tmp_path / "w.duckdb"), "load-territories", *map(str, files),
         "--json"], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "LEADSCORE_DATA_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [m["snapshot_month"] for m in out["months"]] == ["2025-01", "2025-02"]
    assert [m["rows_loaded"] for m in out["months"]] == [1, 1]


def test_two_files_of_one_name_in_one_load_are_refused(settings, wh, tmp_path):
    """Rows are accounted for (and ranked) by file name and line: two files named alike would collide."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_csv(tmp_path / "a" / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1)])
    b = write_csv(tmp_path / "b" / "discovery_t1_2025_01.csv", REP_HEADER, [rep(2)])
    with pytest.raises(LeadScoringError, match="discovery_t1_2025_01.csv: two files of the same name"):
        load_territory_files(wh, settings, [a, b])
    assert not wh.read("select count(*) as n from raw.file_loads").n.iloc[0]


def test_cross_territory_duplicates_keep_most_complete_record(settings, wh, tmp_path):
    t1 = write_csv(tmp_path / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1, Title="sparse")])
    t2 = write_csv(tmp_path / "discovery_t2_2025_01.csv", REP_HEADER,
                   [rep(1, Title="complete", Number_Employees="4", CRM_Used="Redtail"), rep(2)])
    load_territory_files(wh, settings, [t1, t2])
    current = wh.read("select RepCRD, coalesce(Title, '-') as t, territory from marts.dim_reps_current order by RepCRD")
    assert current.values.tolist() == [["1", "complete", "T2"], ["2", "-", "T2"]]


def test_monthly_snapshots_kept_and_current_is_newest(settings, wh, tmp_path):
    load_territory_files(wh, settings, [write_csv(tmp_path / "a" / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1), rep(2)])])
    load_territory_files(wh, settings, [write_csv(tmp_path / "b" / "discovery_t1_2025_02.csv", REP_HEADER, [rep(3)])])
    snaps = wh.read("select snapshot_month, count(*) as n from marts.dim_rep_snapshots group by 1 order by 1")
    assert snaps.values.tolist() == [["2025-01", 2], ["2025-02", 1]]
    assert wh.read("select RepCRD from marts.dim_reps_current").RepCRD.tolist() == ["3"]
    # Reloading one territory of a month replaces exactly that territory of that month.
    load_territory_files(wh, settings, [write_csv(tmp_path / "c" / "discovery_t1_2025_01.csv", REP_HEADER, [rep(9)])])
    snaps = wh.read("select snapshot_month, RepCRD from marts.dim_rep_snapshots order by 1, 2")
    assert snaps.values.tolist() == [["2025-01", "9"], ["2025-02", "3"]]


@pytest.mark.parametrize("point", ["territory_load.after_staging", "territory_load.before_swap",
                                   "territory_load.before_commit"])
def test_failure_mid_load_leaves_last_month_intact(settings, wh, tmp_path, monkeypatch, point):
    load_territory_files(wh, settings, [write_csv(tmp_path / "a" / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1), rep(2)])])
    before = wh.read("select * from marts.dim_rep_snapshots order by RepCRD")
    monkeypatch.setenv("LEADSCORE_FAULT", point)
    with pytest.raises(InjectedFault):
        load_territory_files(wh, settings, [write_csv(tmp_path / "b" / "discovery_t1_2025_02.csv", REP_HEADER, [rep(3)])])
    after = wh.read("select * from marts.dim_rep_snapshots order by RepCRD")
    assert after.equals(before)
    assert wh.read("select count(*) as n from raw.file_loads").n.iloc[0] == 1
    log = wh.read("select action, outcome from ops.audit_log order by at")
    assert log.values.tolist()[-1] == ["load_territories", "failed"]


def test_kill_mid_load_leaves_last_month_intact(settings, wh, tmp_path):
    load_territory_files(wh, settings, [write_csv(tmp_path / "a" / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1), rep(2)])])
    newer = write_csv(tmp_path / "b" / "discovery_t1_2025_02.csv", REP_HEADER, [rep(3)])
    env = {**os.environ, "LEADSCORE_FAULT": "territory_load.before_commit", "LEADSCORE_FAULT_MODE": "kill",
           "LEADSCORE_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.run([sys.executable, "-m", "core", "load-territories", str(newer)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 137
    months = wh.read("select distinct snapshot_month from marts.dim_rep_snapshots").snapshot_month.tolist()
    assert months == ["2025-01"]
    assert wh.read("select RepCRD from marts.dim_reps_current order by 1").RepCRD.tolist() == ["1", "2"]


def test_salesforce_duplicates_keep_newest_last_modified(settings, wh, tmp_path):
    rows = [
        lead("00Q1", 100, modified="2025-02-01T00:00:00.000+0000", Title="old"),
        lead("00Q1", 100, modified="2025-03-01T00:00:00.000+0000", Title="new"),   # same Id exported twice
        lead("00Q2", 200, modified="2025-01-01T00:00:00.000+0000"),                # CRD 200 on two Leads
        lead("00Q3", 200, modified="2025-04-01T00:00:00.000+0000"),
        lead("00Q4", None),                                                         # no CRD: kept
        lead("", 300),                                                              # no Id: quarantined
    ]
    result = load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, rows))
    kept = wh.read("select Id, Title from marts.dim_leads order by Id")
    assert kept.Id.tolist() == ["00Q1", "00Q3", "00Q4"]
    assert kept.Title.iloc[0] == "new"
    dups = wh.read("select Id, reason from staging.lead_duplicates order by Id")
    assert dups.values.tolist() == [
        ["00Q1", "duplicate Id: an export row with a newer LastModifiedDate was kept"],
        ["00Q2", "duplicate FA_CRD__c: another Lead with the same CRD was kept (the contacted one, else the newest)"],
    ]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (6, 5, 1)
    assert str(result.summary["export_at (as_of)"]).startswith("2025-04-01")


def test_records_deleted_in_salesforce_are_quarantined_not_loaded(settings, wh, tmp_path):
    """Data Loader's 'Export All' writes the recycle bin beside the live records, flagged IsDeleted (here in Data
    Loader's capitals). A merge deletes its losing Lead, last modified after the master: loaded, it won the CRD
    de-duplication and the live Lead was dropped. Deleted rows are quarantined with the reason, the load says so,
    and every row is still accounted for; the same for Tasks."""
    from core.ingest.activities import load_activity_file

    header = [*LEAD_HEADER, "ISDELETED", "MASTERRECORDID"]
    rows = [lead("00Q1", 100, modified="2025-02-01T00:00:00.000+0000", ISDELETED="false"),
            lead("00Q2", 100, modified="2025-02-03T00:00:00.000+0000", ISDELETED="true", MASTERRECORDID="00Q1"),
            lead("00Q3", 300, ISDELETED="TRUE"), lead("00Q4", 400, ISDELETED="")]
    result = load_lead_file(wh, settings, write_csv(tmp_path / "leads_export_all.csv", header, rows))
    assert wh.read("select Id from marts.dim_leads order by Id").Id.tolist() == ["00Q1", "00Q4"]
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    q = result.quarantine.sort_values("line")
    assert q.line.tolist() == [3, 4] and set(q.column_name) == {"ISDELETED"}
    assert set(q.reason) == {"row not loaded: the Lead is deleted in Salesforce (ISDELETED = true)"}
    assert result.files[0].cells_quarantined == 0
    warning = result.summary["warnings"][0]
    assert warning.startswith("2 row(s) are Leads deleted in Salesforce") and "load-leads --from-salesforce" in warning
    assert "with 'Export' (not 'Export All')" in warning
    assert "- **warning** 2 row(s) are Leads deleted" in result.markdown()
    from core.pipeline import pipeline_state

    assert pipeline_state(wh).load_warnings["leads"] == [warning]  # the home page shows it after the load
    at = {"CreatedDate": "2025-01-07T10:00:00Z", "LastModifiedDate": "2025-01-07T10:00:00Z", "TaskSubtype": "Call"}
    tasks = write_csv(tmp_path / "tasks.csv", ["Id", "WhoId", *at, "Is Deleted"], [  # a header with a space
        {"Id": "00T1", "WhoId": "00Q1", **at, "Is Deleted": "0"}, {"Id": "00T2", "WhoId": "00Q1", **at, "Is Deleted": "1"}])
    loaded = load_activity_file(wh, settings, tasks)
    assert loaded.summary["dials"] == 1 and loaded.rows_quarantined == 1
    assert loaded.summary["warnings"][0].startswith("1 row(s) are Tasks deleted in Salesforce (Is Deleted = true")
    assert "'Export All' is the right Task export" in loaded.summary["warnings"][0]  # archived calls
    plain = load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, rows[:1]))
    assert "warnings" not in plain.summary and plain.rows_quarantined == 0


def test_calls_a_dialer_logs_as_plain_tasks_are_named_not_silently_uncounted(settings, wh, tmp_path):
    """Salesforce sets TaskSubtype when a Task is created, and a dialer syncing calls through the API without it
    gets TaskSubtype = Task with Type = Call. The contract's dial is TaskSubtype = Call, so those calls were simply
    not dials: MQLs per 100 dials read high without a word. The load says how many and what to change; a file
    without a single dial says the readout falls back to MQLs per lead."""
    from core.ingest.activities import load_activity_file

    at = {"CreatedDate": "2025-01-07T10:00:00Z", "LastModifiedDate": "2025-01-07T10:00:00Z"}
    rows = [{"Id": f"00T{i}", "WhoId": "00Q1", **at, "TaskSubtype": "Task", "Type": "Call"} for i in range(12)]
    rows.append({"Id": "00T99", "WhoId": "00Q1", **at, "TaskSubtype": "Call", "Type": ""})
    loaded = load_activity_file(wh, settings, write_csv(tmp_path / "tasks.csv", list(rows[0]), rows))
    assert loaded.summary["dials"] == 1
    [warning] = loaded.summary["warnings"]
    assert warning.startswith("12 Tasks have Type = Call but a TaskSubtype other than Call") and "TaskSubtype = Call" in warning
    emails = [{"Id": f"00T{i}", "WhoId": "00Q1", **at, "TaskSubtype": "Email", "Type": "Email"} for i in range(3)]
    loaded = load_activity_file(wh, settings, write_csv(tmp_path / "emails.csv", list(emails[0]), emails))
    assert loaded.summary["warnings"] == ["None of the 3 Tasks is a dial (TaskSubtype = Call, or Type = Call with "
                                          "TaskSubtype blank): experiment readouts use the MQL rate per lead instead "
                                          "of MQLs per 100 dials."]
    few = rows[:9] + rows[-1:]  # a handful of odd Tasks is not a tool's habit
    assert "warnings" not in load_activity_file(wh, settings, write_csv(tmp_path / "few.csv", list(rows[0]), few)).summary
    # a sync installed in March adds January's calls: created weeks after their ActivityDate
    calls = [{"Id": f"00T{i}", "WhoId": "00Q1", "CreatedDate": "2025-03-01T10:00:00Z", "LastModifiedDate":
              "2025-03-01T10:00:00Z", "ActivityDate": "2025-01-07", "TaskSubtype": "Call"} for i in range(3)]
    calls += [{**calls[0], "Id": f"00TL{i}", "CreatedDate": "2025-03-02T10:00:00Z", "ActivityDate": "2025-03-01"}
              for i in range(20)]  # logged the next day: on time
    [late] = load_activity_file(wh, settings, write_csv(tmp_path / "synced.csv", list(calls[0]), calls)).summary["warnings"]
    assert late.startswith("3 of the 23 dials were created in Salesforce more than 7 days after their ActivityDate "
                           "(the first on 01 Mar 2025)")
    assert "warnings" not in load_activity_file(wh, settings, write_csv(tmp_path / "on_time.csv", list(calls[0]),
                                                                        calls[3:])).summary


def test_a_stage_stamp_shared_to_the_second_by_many_leads_is_named(settings, wh, tmp_path):
    """A flow added after the fact, backfilled by a mass update, stamps thousands of Leads 'contacted' at the
    job's second: their labels, territory month and day-of-contact features are that day's. The load names the
    column, the time and the count; outreach spread over time, or a cadence of a few dozen at once, is not named."""
    job = "2024-03-15T02:13:00.000+0000"
    spread = [lead(f"00Q{i:04d}", i, f"2025-01-{1 + i % 28:02d}T{8 + i % 10:02d}:{i % 60:02d}:00.000+0000",
                   mql="2025-02-01T10:00:00.000+0000" if i % 25 == 0 else "") for i in range(300)]
    backfilled = [lead(f"00QB{i:04d}", 1000 + i, job) for i in range(120)]
    result = load_lead_file(wh, settings, write_csv(tmp_path / "salesforce_leads.csv", LEAD_HEADER, spread + backfilled))
    [warning] = result.summary["warnings"]
    assert warning.startswith("120 of the 420 Leads with a Stage_Entered_Contacting__c share it to the second "
                              "(15 Mar 2024 02:13:00 UTC (120 Leads))")
    assert "mass update or a data migration" in warning
    cadence = [lead(f"00QB{i:04d}", 1000 + i, job) for i in range(99)]
    result = load_lead_file(wh, settings, write_csv(tmp_path / "salesforce_leads2.csv", LEAD_HEADER, spread + cadence),
                            allow_fewer=True)
    assert "warnings" not in result.summary


def test_a_task_export_without_the_archived_calls_is_named(settings, wh, tmp_path):
    """Salesforce archives a closed Task a year after its date, and Data Loader's 'Export' leaves it out: the
    Leads contacted more than a year before the file keep next to no dials. The load says so and how to export;
    with the old calls in the file ('Export All'), nothing is said."""
    from core.ingest.activities import load_activity_file

    old = [lead(f"00QO{i:03d}", 100 + i, "2023-06-05T10:00:00.000+0000") for i in range(60)]
    new = [lead(f"00QN{i:03d}", 500 + i, "2025-01-06T10:00:00.000+0000") for i in range(20)]
    load_lead_file(wh, settings, write_csv(tmp_path / "salesforce_leads.csv", LEAD_HEADER, old + new))

    def dial(i, who, at):
        return {"Id": f"00T{i}", "WhoId": who, "CreatedDate": at, "LastModifiedDate": at, "TaskSubtype": "Call"}

    recent = [dial(f"N{i}", r["Id"], "2025-01-08T10:00:00Z") for i, r in enumerate(new * 3)]
    loaded = load_activity_file(wh, settings, write_csv(tmp_path / "tasks.csv", list(recent[0]), recent))
    [warning] = loaded.summary["warnings"]
    assert warning.startswith("The 60 Leads contacted before 09 Jan 2024 (a year before the newest Task) have 0.00 "
                              "dials each, those contacted since 3.00") and "'Export All'" in warning
    everything = recent + [dial(f"O{i}", r["Id"], "2023-06-07T10:00:00Z") for i, r in enumerate(old * 2)]
    loaded = load_activity_file(wh, settings, write_csv(tmp_path / "tasks_all.csv", list(recent[0]), everything))
    assert "warnings" not in loaded.summary


def _dedup_reference(rows: list[dict]) -> list[list]:
    """The de-duplication by its definition: rank every Lead row by Id (newest LastModifiedDate, then the later
    line), then the survivors by CRD (the contacted Lead, then the newest, then the smaller Id)."""
    df = pd.DataFrame(rows).assign(line=range(2, len(rows) + 2))
    df["modified"] = pd.to_datetime(df.LastModifiedDate.replace("", None), utc=True)
    df["crd"] = df.FA_CRD__c.replace("", None)
    df["contacted"] = df.Stage_Entered_Contacting__c.ne("")
    by_id = df.sort_values(["modified", "line"], ascending=False, na_position="last").drop_duplicates("Id")
    ranked = by_id[by_id.crd.notna()].sort_values(["contacted", "modified", "Id"], ascending=[False, False, True],
                                                  na_position="last")
    kept = set(by_id[by_id.crd.isna()].line) | set(ranked.drop_duplicates("crd").line)
    counts = df.Id.value_counts()
    kept_ids = set(df[df.line.isin(kept)].Id)
    return [[int(r.line), "duplicate Id: an export row with a newer LastModifiedDate was kept"
             if counts[r.Id] > 1 and r.Id in kept_ids else
             "duplicate FA_CRD__c: another Lead with the same CRD was kept (the contacted one, else the newest)"]
            for r in df[~df.line.isin(kept)].sort_values("line").itertuples()]


def test_lead_dedup_equals_ranking_every_lead(settings, wh, tmp_path):
    """Only repeated Ids and CRDs are ranked: the kept Leads and each dropped row's reason are those of ranking
    every Lead — ties, NULL dates, three copies of an Id, an Id whose newest copy loses to a newer Lead with
    the same CRD, repeated blank CRDs, and a contacted Lead kept over a newer uncontacted one with its CRD (a
    list imported again: kept as the newest, it dropped the contacted Lead and its label)."""
    m = lambda d: f"2025-0{d}-01T00:00:00.000+0000"  # noqa: E731
    rows = [
        lead("00Q1", 100, modified=m(2)), lead("00Q1", 100, modified=m(3)), lead("00Q1", 100, modified=""),
        lead("00Q2", 200, modified=m(1)), lead("00Q3", 200, modified=m(4)), lead("00Q9", 200, modified=m(4)),
        lead("00Q5", 500, modified=m(2)), lead("00Q5", 500, modified=m(5)), lead("00Q6", 500, modified=m(6)),
        lead("00Q7", 700, modified=m(3)), lead("00Q7", 700, modified=m(3)),
        lead("00Q4", None), lead("00Q8", None), lead("00Q8", None, modified=m(7)), lead("00QA", 900),
        lead("00QB", 1100, contacted="", modified=m(8)), lead("00QC", 1100, modified=m(2)),
        lead("00QD", 1200, contacted="", modified=m(8)), lead("00QE", 1200, contacted="", modified=m(9)),
    ]
    load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, rows))
    with wh.reader() as s:
        dropped = s.query("select line, reason from staging.lead_duplicates order by line")
        kept = s.query("select Id, line from marts.dim_leads order by line")
    assert sorted([*kept.line, *dropped.line]) == list(range(2, len(rows) + 2))  # every row kept or dropped
    assert dropped.values.tolist() == _dedup_reference(rows)
    assert len(kept) == 9 and set(dropped.reason.str.split(":").str[0]) == {"duplicate Id", "duplicate FA_CRD__c"}
    assert {"00QC", "00QE"} <= set(kept.Id) and not {"00QB", "00QD"} & set(kept.Id)


def test_lead_timestamps_and_flags(settings, wh, tmp_path):
    rows = [lead("00Q1", 1, contacted="2025-01-04T23:30:00.000+0000", mql="2025-01-05 08:00:00",
                 IsConverted="true", LinkedIn_Profile_Apollo__c="https://linkedin.example/x"),
            lead("00Q2", 2, contacted="04/01/2025", IsConverted="false")]
    result = load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, rows))
    got = wh.read("select Id, Stage_Entered_Contacting__c as c, Stage_Entered_Call_Scheduled__c as m, IsConverted, "
                  "has_LinkedIn_Profile_Apollo__c as li from marts.dim_leads order by Id")
    assert str(got.c.iloc[0]) == "2025-01-04 23:30:00+00:00" and str(got.m.iloc[0]) == "2025-01-05 08:00:00+00:00"
    assert got.IsConverted.tolist() == [True, False] and got.li.tolist() == [True, False]
    assert got.c.isna().tolist() == [False, True]
    assert result.quarantine[["line", "column_name", "raw_value"]].values.tolist() == [
        [3, "Stage_Entered_Contacting__c", "04/01/2025"]]


def test_a_report_export_with_locale_dates_is_refused_and_the_last_load_stays(settings, wh, tmp_path):
    """Dates mostly unreadable (a Salesforce report export: locale format, user time zone) refuse the file with
    the column, the count, an example and how to export it; a few bad cells are still only quarantined."""
    good = [lead(f"00Q{i:03d}", 100 + i) for i in range(12)]
    load_lead_file(wh, settings, write_csv(tmp_path / "leads.csv", LEAD_HEADER, good))
    report = [lead(f"00Q{i:03d}", 100 + i, contacted="01/06/2025 10:00 AM", CreatedDate="01/01/2025 9:00 AM")
              for i in range(11)] + [lead("00Q999", 999)]
    with pytest.raises(LeadScoringError) as err:
        load_lead_file(wh, settings, write_csv(tmp_path / "report.csv", LEAD_HEADER, report))
    message = str(err.value)
    assert message.startswith("report.csv: 11 of 12 values of CreatedDate (Stage_Entered_Contacting__c too) are not "
                              "UTC ISO-8601 timestamps") and "'01/01/2025 9:00 AM'" in message
    assert "load-leads --from-salesforce" in message and message.endswith("Nothing was loaded.")
    assert wh.read("select count(*) as n from marts.dim_leads").n.iloc[0] == 12
    assert wh.read("select count(*) as n from raw.file_loads").n.iloc[0] == 1
    few = good[:3] + [lead("00Q900", 900, contacted="01/06/2025 10:00 AM")]  # one bad cell: quarantined
    result = load_lead_file(wh, settings, write_csv(tmp_path / "few.csv", LEAD_HEADER, few))
    assert result.rows_loaded == 4 and result.quarantine.column_name.tolist() == ["Stage_Entered_Contacting__c"]
    # a Task export saved again from Excel: its ISO timestamps stay text, its dates become 1/7/2025
    from core.ingest.activities import load_activity_file

    at = {"CreatedDate": "2025-01-07T10:00:00.000Z", "LastModifiedDate": "2025-01-07T10:00:00.000Z",
          "ActivityDate": "1/7/2025", "TaskSubtype": "Call"}
    excel = [{"Id": f"00T{i:03d}", "WhoId": "00Q001", **at} for i in range(12)]
    with pytest.raises(LeadScoringError, match=r"tasks.csv: 12 of 12 values of ActivityDate are not dates like "
                                               r"2024-10-11: '1/7/2025', for one. Excel rewrites dates like this"):
        load_activity_file(wh, settings, write_csv(tmp_path / "tasks.csv", list(excel[0]), excel))


def test_an_export_older_than_the_loaded_one_is_refused_unless_asked_for(settings, wh, tmp_path, capsys):
    """An older export would move labels, scores and tiers back in time (and the next write-back would send them):
    refused with both export times, the last load kept; --allow-older loads it; a newer one always loads."""
    from core.cli import main

    newer = [lead("00Q1", 1, modified="2025-03-01T00:00:00.000+0000")]
    older = [lead("00Q1", 1, modified="2025-02-01T00:00:00.000+0000"), lead("00Q2", 2, modified="2025-02-01T00:00:00.000+0000")]
    load_lead_file(wh, settings, write_csv(tmp_path / "newer.csv", LEAD_HEADER, newer))
    path = write_csv(tmp_path / "older.csv", LEAD_HEADER, older)
    with pytest.raises(LeadScoringError, match=r"older.csv was exported 01 Feb 2025 00:00 UTC .* already loaded "
                                               r"\(01 Mar 2025 00:00 UTC\).*--allow-older.*Nothing was loaded"):
        load_lead_file(wh, settings, path)
    assert wh.read("select count(*) as n from marts.dim_leads").n.iloc[0] == 1
    assert main(["--db", str(settings.warehouse_path), "load-leads", str(path)]) == 2
    assert "--allow-older" in capsys.readouterr().err
    assert main(["--db", str(settings.warehouse_path), "load-leads", str(path), "--allow-older"]) == 0
    assert wh.read("select count(*) as n from marts.dim_leads").n.iloc[0] == 2
    load_lead_file(wh, settings, write_csv(tmp_path / "newest.csv", LEAD_HEADER, newer))  # newer again: loads


def test_an_export_lacking_many_loaded_leads_is_refused_unless_asked_for(settings, wh, tmp_path, capsys):
    """A filtered export (one owner's list view, a report) replaces every Lead: the missing ones would leave the
    tier lists and have their scores cleared in Salesforce. Lacking 10% or more of the contacted Leads loaded (and
    at least 50), it is refused, the last load kept; --allow-fewer loads it; a few deletions always load."""
    from core.cli import main

    leads = [lead(f"00Q{i:03d}", 1000 + i) for i in range(400)]
    load_lead_file(wh, settings, write_csv(tmp_path / "all.csv", LEAD_HEADER, leads))
    few_gone = write_csv(tmp_path / "merged.csv", LEAD_HEADER, leads[:-30])  # 30 merged away: 7.5%, loads
    assert load_lead_file(wh, settings, few_gone).rows_loaded == 370
    one_owner = write_csv(tmp_path / "my_leads.csv", LEAD_HEADER, leads[:100])
    with pytest.raises(LeadScoringError, match=r"my_leads.csv lacks 270 of the 370 contacted Leads loaded now \(73%\)"
                                               r".*clear their scores in Salesforce.*--allow-fewer.*Nothing was loaded"):
        load_lead_file(wh, settings, one_owner)
    assert wh.read("select count(*) as n from marts.dim_leads").n.iloc[0] == 370
    assert main(["--db", str(settings.warehouse_path), "load-leads", str(one_owner)]) == 2
    assert "View All on Lead" in capsys.readouterr().err
    assert main(["--db", str(settings.warehouse_path), "load-leads", str(one_owner), "--allow-fewer"]) == 0
    assert wh.read("select count(*) as n from marts.dim_leads").n.iloc[0] == 100
    other = write_csv(tmp_path / "other_org.csv", LEAD_HEADER, [lead(f"00R{i:03d}", 5000 + i) for i in range(80)])
    with pytest.raises(LeadScoringError, match=r"holds none of the 100 contacted Leads loaded now: an export of another"):
        load_lead_file(wh, settings, other)
    # the first start's demo Leads are replaced by a team's own export without a question
    from core.auth import DEMO_LOADER, Actor

    load_lead_file(wh, settings, write_csv(tmp_path / "demo.csv", LEAD_HEADER, leads), actor=Actor(DEMO_LOADER, "system"))
    assert load_lead_file(wh, settings, other).rows_loaded == 80


def test_a_lead_export_whose_stage_stamps_are_all_empty_says_so(settings, wh, tmp_path):
    """The stage stamps are the population and the label: present but empty in every row (the export user cannot
    read the field), nothing could be learned, silently. The load says which, and how to check."""
    nobody = [lead(f"00Q{i:03d}", 1000 + i, contacted="") for i in range(30)]
    result = load_lead_file(wh, settings, write_csv(tmp_path / "no_contact.csv", LEAD_HEADER, nobody))
    assert result.summary["contacted_leads"] == 0
    assert result.summary["warnings"][0].startswith("None of the 30 Leads has a Stage_Entered_Contacting__c time")
    no_mql = [lead(f"00Q{i:03d}", 1000 + i, f"2025-01-{1 + i % 28:02d}T{8 + i % 10:02d}:{i % 60:02d}:00.000+0000")
              for i in range(250)]  # contacted over a month (250 at one second would be a mass update)
    result = load_lead_file(wh, settings, write_csv(tmp_path / "no_mql.csv", LEAD_HEADER, no_mql))
    assert result.summary["warnings"] == [
        "None of the 250 contacted Leads has a Stage_Entered_Call_Scheduled__c time: every label would be negative "
        "(no MQL). Check that the field is filled in your org and readable by the user who exported it."]
    some = no_mql[:-1] + [lead("00Q999", 9999, mql="2025-01-09T10:00:00.000+0000")]
    assert "warnings" not in load_lead_file(wh, settings, write_csv(tmp_path / "ok.csv", LEAD_HEADER, some)).summary


def test_demo_data_loads_with_exact_accounting(loaded_demo):
    _, wh, terr, leads = loaded_demo
    for f in terr.files + leads.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined
    assert {f.encoding for f in terr.files} == {"utf-8-sig", "utf-8", "latin-1"}
    assert terr.rows_quarantined >= 1 and not terr.quarantine.empty


def test_quarantine_table_counts_agree_with_the_row_and_cell_accounting(loaded_demo):
    """One vocabulary: each quarantine entry is either a whole row (not loaded) or one cell (loaded as empty),
    and the table holds exactly as many entries as the accounting counts, per file."""
    _, _, territories, _ = loaded_demo
    q = territories.quarantine
    for f in territories.files:
        mine = q[q.file_name == f.file_name]
        assert len(mine) == f.rows_quarantined + f.cells_quarantined, f.file_name
    assert territories.rows_quarantined >= 1 and len(q) > territories.rows_quarantined


def test_implausible_values_are_loaded_but_named_in_the_load_summary(settings, wh, tmp_path):
    """A real SEC export put AUM in dollars into TotalAssetsInMillions and client counts of 1.9 billion; the
    load keeps what was sent and says so — column, count and an example."""
    path = write_csv(tmp_path / "discovery_t1_2025_03.csv", REP_HEADER, [
        rep(1), rep(2, TotalAssetsInMillions="10000000000000"), rep(3, TotalAssetsInMillions="$2,500,000,000"),
        rep(4, Number_Investment_Advisory_Clients="1900000000")])
    result = load_territory_files(wh, settings, [path])
    assert result.rows_loaded == 4
    found = result.summary["implausible_values"]
    assert any(s.startswith("TotalAssetsInMillions: 2 value(s)") and "10,000,000,000,000" in s for s in found)
    assert any(s.startswith("Number_Investment_Advisory_Clients: 1 value(s)") and "1,900,000,000" in s for s in found)
    assert "implausible" in result.markdown()


def _load_everything(settings, small_demo, tmp):
    from core.ingest.activities import load_activity_file
    from core.ingest.leads import load_lead_file
    from core.warehouse import open_warehouse

    s = with_overrides(settings, data_dir=tmp)
    w = open_warehouse(s)
    results = [load_territory_files(w, s, sorted(small_demo.glob("discovery_t*_*.csv"))),
               load_lead_file(w, s, small_demo / "salesforce_leads.csv"),
               load_activity_file(w, s, small_demo / "salesforce_tasks.csv")]
    tables = {}
    for t in ["staging.stg_territory_reps", "marts.dim_rep_snapshots", "marts.dim_leads", "marts.fact_tasks",
              "staging.lead_duplicates", "staging.quarantine"]:
        df = w.read(f"select * from {t}")
        df = df.drop(columns=[c for c in df.columns if c == "load_id"])
        tables[t] = df.sort_values(list(df.columns)).reset_index(drop=True)
    loads = w.read("select file_name, sha256, encoding, rows_read, rows_loaded, rows_quarantined, cells_quarantined, "
                   "extra_columns from raw.file_loads order by file_name")
    return results, tables, loads


def test_streamed_ingestion_gives_exactly_the_tables_of_whole_file_ingestion(settings, small_demo, tmp_path):
    """#18: files read in batches (forced here, with 64 KiB blocks: dozens of batches per file) load exactly
    the rows, values, quarantine and accounting that whole-file reading does."""
    from core.ingest.loader import StreamedRows, read_files

    whole = _load_everything(settings, small_demo, tmp_path / "whole")
    streamed_settings = with_overrides(settings, extra={**settings.extra, "ingest_stream_mb": 0,
                                                        "ingest_block_bytes": 64 << 10})
    _, rows, _, _ = read_files([small_demo / "salesforce_leads.csv"], streamed_settings, "leads",
                               salesforce_columns(), lambda p: {"load_id": "x", "file_name": p.name}, "Lead",
                               lambda f, m: None)
    assert isinstance(rows, StreamedRows) and sum(1 for _ in rows.batches()) > 10
    streamed = _load_everything(streamed_settings, small_demo, tmp_path / "streamed")
    for a, b in zip(whole[0], streamed[0]):
        assert (a.rows_read, a.rows_loaded, a.rows_quarantined) == (b.rows_read, b.rows_loaded, b.rows_quarantined)
        assert a.rows_read == a.rows_loaded + a.rows_quarantined
    for t in whole[1]:
        pd.testing.assert_frame_equal(whole[1][t], streamed[1][t], obj=t)
    pd.testing.assert_frame_equal(whole[2], streamed[2])
    assert len(whole[1]["staging.quarantine"]) > 0 and whole[0][0].rows_quarantined > 0


def test_a_warehouse_from_before_the_partitioned_layout_is_migrated_at_the_next_load(settings, wh, tmp_path):
    """Older releases kept the snapshot mart as its own table and staging rows without snapshot_date/rep_rank:
    the next territory load rebuilds them once (ranks as the old mart chose) and loads the month."""
    jan = [write_csv(tmp_path / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1), rep(2, TotalAssetsInMillions="")]),
           write_csv(tmp_path / "discovery_t2_2025_01.csv", REP_HEADER, [rep(2, TotalAssetsInMillions="250")])]
    load_territory_files(wh, settings, jan)
    expected = wh.read("select * from marts.dim_rep_snapshots order by RepCRD")
    with wh.writer("make the old layout") as s:
        s.execute("create table staging.old_rows as select * exclude (snapshot_date, rep_rank) "
                  "from staging.stg_territory_reps")
        s.execute("drop view marts.dim_reps_current; drop view marts.dim_rep_snapshots; "
                  "drop table staging.stg_territory_reps")
        s.execute("create table staging.stg_territory_reps as select * from staging.old_rows; "
                  "create table marts.dim_rep_snapshots as select * from staging.old_rows where territory = 'T2' "
                  "or RepCRD != '2'; drop table staging.old_rows")
    load_territory_files(wh, settings, [write_csv(tmp_path / "discovery_t1_2025_02.csv", REP_HEADER, [rep(1)])])
    got = wh.read("select * from marts.dim_rep_snapshots order by snapshot_month, RepCRD")
    assert "rep_rank" in {c.lower() for c in wh.read("select * from staging.stg_territory_reps limit 0").columns}
    pd.testing.assert_frame_equal(got[got.snapshot_month == "2025-01"].reset_index(drop=True), expected)
    assert got[got.snapshot_month == "2025-02"].RepCRD.tolist() == ["1"]
    assert wh.read("select count(*) as n from marts.dim_reps_current").n[0] == 1


@pytest.mark.parametrize("case", ["utf8_split_at_chunk", "latin1_after_ascii_chunks", "ascii"])
def test_checking_pass_decides_encoding_and_checksum_across_chunks(tmp_path, case):
    """The checking pass of a large file reads 4 MiB chunks, hashes them in a second thread and skips decoding
    ASCII chunks: a UTF-8 character split across two chunks is still UTF-8, a single Latin-1 byte after
    several ASCII chunks still makes the file Latin-1, and the checksum is the file's."""
    from core.ingest.reader import open_text_csv

    chunk = 1 << 22
    head = b"Id,City\n"
    body = bytearray(b"00Q1,Springfield\n" * ((3 * chunk) // 17))
    if case == "utf8_split_at_chunk":
        at = chunk - 1  # 'é' is two bytes: the first ends chunk one, the second starts chunk two
        body[at - len(head):at - len(head) + 2] = "é".encode()
    elif case == "latin1_after_ascii_chunks":
        body[-5] = 0xE9  # 'é' in Latin-1: not valid UTF-8
    path = tmp_path / "big.csv"
    path.write_bytes(head + bytes(body))
    f = open_text_csv(path)
    assert f.sha256 == sha256_of(path)
    assert f.encoding == {"latin1_after_ascii_chunks": "latin-1"}.get(case, "utf-8")
    if case == "utf8_split_at_chunk":
        assert path.read_bytes()[chunk - 1:chunk + 1] == "é".encode()


def test_a_folder_where_a_file_belongs_and_a_file_where_a_folder_belongs_exit_2_in_words(settings, tmp_path, capsys):
    from core.cli import main

    folder = tmp_path / "exports"
    folder.mkdir()
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    for argv, words in ((["load-territories", str(folder)], "is a folder, not a file"),
                        (["load-leads", str(folder)], "is a folder, not a file"),
                        (["load-activities", str(folder)], "is a folder, not a file"),
                        (["demo-data", str(afile)], "is a file; give a folder")):
        code = main(["--db", str(settings.warehouse_path), *argv])
        err = capsys.readouterr().err
        assert code == 2 and words in err and "Traceback" not in err, (argv, err)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole-file", "streamed"])
def test_values_over_several_lines_load_in_files_larger_than_a_block(settings, tmp_path, streamed):
    """Salesforce writes an Address over several lines inside quotes. Arrow read such a file in blocks that
    could end inside a value, and then gave up on the whole file ("parser got out of sync with chunker"): a
    real org's export of a few MB failed to load. Every lead loads, once, with its own values."""
    from core.warehouse import open_warehouse

    if streamed:
        settings = with_overrides(settings, extra={**settings.extra, "ingest_stream_mb": 0, "ingest_block_bytes": 64 << 10})
    wh = open_warehouse(settings)
    n = 20000  # ~8.6 MB: the whole-file read failed from ~8 MB, the streamed one (64 KiB blocks) at any size
    address = "\n".join(["Main Street", "Suite 400", "Floor 2", "Building C", "Unit 7", "Denver, CO 80202"])
    rows = [lead(f"00Q5f00000{i:05d}", 1000 + i, Address=f"{i} {address}", City=f"City {i}",
                 Title="Partner, " + "x" * 200) for i in range(n)]
    path = write_csv(tmp_path / "salesforce_leads.csv", LEAD_HEADER, rows)
    assert path.stat().st_size > 8 << 20
    result = load_lead_file(wh, settings, path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (n, n, 0)
    got = wh.read("select FA_CRD__c, City from marts.dim_leads")
    assert dict(zip(got.FA_CRD__c, got.City)) == {str(1000 + i): f"City {i}" for i in range(n)}
    assert "address" not in {c.lower() for c in wh.read("select * from marts.dim_leads limit 0").columns}


@pytest.mark.parametrize("streamed", [False, True], ids=["whole-file", "streamed"])
def test_rows_after_a_ragged_row_keep_their_own_row_numbers(settings, tmp_path, streamed):
    """A cell quarantined after a row with the wrong number of fields names its own row (as a spreadsheet numbers
    it), not the row before it; a quote left open says how many lines it joined."""
    from core.warehouse import open_warehouse

    if streamed:  # blocks of 64 KiB: the ragged rows fall in the first blocks, the bad cells in later ones
        settings = with_overrides(settings, extra={**settings.extra, "ingest_stream_mb": 0, "ingest_block_bytes": 64 << 10})
    wh = open_warehouse(settings)
    path = tmp_path / "discovery_t1_2025_01.csv"
    body = [rep(i, RIAFirmName="Firm " + "y" * 200) for i in range(1, 2001)]
    body[1500]["Number_Employees"] = "many"  # record 1502 before the ragged rows are added
    write_csv(path, REP_HEADER, body[:10])
    with open(path, "a", newline="") as fh:
        fh.write("999999,only,three\n")  # record 12
        fh.write('"888888,an open quote\n7777,swallowed\n"6666,ends here\n')  # record 13, three lines
    with open(path, "a", newline="") as fh:
        import csv as _csv
        w = _csv.writer(fh, lineterminator="\n")
        for r in body[10:]:
            w.writerow([r.get(h, "") for h in REP_HEADER])
    result = load_territory_files(wh, settings, [path])
    f = result.files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (2002, 2000, 2)
    q = result.quarantine.sort_values("line").reset_index(drop=True)
    assert q.line.tolist() == [12, 13, 1504]  # 1502 + the two ragged records before it
    assert "runs over 3 lines of the file" in q.reason[1] and "close the quote" in q.reason[1]
    assert "runs over" not in q.reason[0]
    assert q.raw_value[2] == "many" and q.column_name[2] == "Number_Employees"
    lines = wh.read("select RepCRD, line from staging.stg_territory_reps where RepCRD in ('10', '11', '1501')")
    assert dict(zip(lines.RepCRD, lines.line)) == {"10": 11, "11": 14, "1501": 1504}
