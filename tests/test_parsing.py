"""Every contract type and each messy-export edge, parsed through the real SQL models on DuckDB."""

from __future__ import annotations

import math

import pytest

from core.ingest.territories import load_territory_files
from tests.conftest import REP_HEADER, rep, write_csv


def _load(settings, wh, tmp_path, rows, name="discovery_t1_2025_01.csv", **kw):
    path = write_csv(tmp_path / name, REP_HEADER, rows, **kw)
    result = load_territory_files(wh, settings, [path])
    reps = wh.read("select * from staging.stg_territory_reps order by line")
    return result, reps


@pytest.mark.parametrize("token", ["", "NA", "N/A", "#N/A", "null", "NULL", "None"])
def test_each_na_spelling_is_null_and_not_quarantined(settings, wh, tmp_path, token):
    result, reps = _load(settings, wh, tmp_path, [rep(1, TotalAssetsInMillions=token, Is_Team_Lead=token, Title=token)])
    assert reps.TotalAssetsInMillions.isna().all()
    assert reps.Is_Team_Lead.isna().all()
    assert reps.Title.isna().all()
    assert result.quarantine.empty


@pytest.mark.parametrize("raw,expected", [
    ("$1,234.50", 1234.5), (" 450.5 ", 450.5), ("$ 12", 12.0), ("1,000,000", 1_000_000.0), ("-3.5", -3.5),
])
def test_money(settings, wh, tmp_path, raw, expected):
    _, reps = _load(settings, wh, tmp_path, [rep(1, TotalAssetsInMillions=raw)])
    assert reps.TotalAssetsInMillions.iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize("raw,expected", [("12.5%", 12.5), ("12.5", 12.5), ("-4%", -4.0), ("1,200%", 1200.0)])
def test_percent(settings, wh, tmp_path, raw, expected):
    _, reps = _load(settings, wh, tmp_path, [rep(1, AUMGrowthRate_1Year=raw)])
    assert reps.AUMGrowthRate_1Year.iloc[0] == pytest.approx(expected)


@pytest.mark.parametrize("raw,expected", [("1,234", 1234), ("12", 12), ("12.0", 12), (" 7 ", 7)])
def test_counts(settings, wh, tmp_path, raw, expected):
    _, reps = _load(settings, wh, tmp_path, [rep(1, Number_Employees=raw)])
    assert int(reps.Number_Employees.iloc[0]) == expected


def test_fractional_count_is_quarantined_not_rounded(settings, wh, tmp_path):
    # DuckDB would round SAFE_CAST('3.5' AS INT64) to 4 while BigQuery gives NULL: we give NULL everywhere.
    result, reps = _load(settings, wh, tmp_path, [rep(1, Number_Employees="3.5")])
    assert reps.Number_Employees.isna().all()
    q = result.quarantine
    assert q[["column_name", "raw_value", "reason"]].values.tolist() == [["Number_Employees", "3.5", "not a whole number"]]


@pytest.mark.parametrize("column,raw", [
    ("TotalAssetsInMillions", "1,5"), ("AUMGrowthRate_1Year", "12,5%"), ("Number_Employees", "1,20"),
    ("TotalAssetsInMillions", "NaN"), ("TotalAssetsInMillions", "inf"), ("TotalAssetsInMillions", "1e309"),
])
def test_decimal_commas_and_non_finite_numbers_are_quarantined_not_misread(settings, wh, tmp_path, column, raw):
    """A comma only groups thousands: '1,5' (a decimal comma) was read as 15, ten times the value. 'NaN' and
    'inf' were stored as NaN and infinity, which DuckDB sorts above every number (a NaN AUM met 'AUM over
    $500M'). Each is an empty cell now, quarantined with its text; '1,234,567.5' still reads as it should."""
    result, _ = _load(settings, wh, tmp_path, [rep(1, **{column: raw}), rep(2, **{column: "1,234,567"})])
    got = wh.read(f"select {column} is null as blank, {column} as v from staging.stg_territory_reps order by line")
    assert got.blank.tolist() == [True, False] and got.v.iloc[1] == 1_234_567
    assert result.quarantine[["line", "column_name", "raw_value"]].values.tolist() == [[2, column, raw]]


def test_city_name_in_numeric_column_is_quarantined_with_line(settings, wh, tmp_path):
    result, reps = _load(settings, wh, tmp_path, [rep(1), rep(2, Miles_Distance_Home_To_Branch="Osseo")])
    assert len(reps) == 2 and math.isnan(reps.Miles_Distance_Home_To_Branch.iloc[1])
    q = result.quarantine.iloc[0]
    assert (q.file_name, q.line, q.column_name, q.raw_value) == (
        "discovery_t1_2025_01.csv", 3, "Miles_Distance_Home_To_Branch", "Osseo")
    assert result.files[0].cells_quarantined == 1 and result.rows_loaded == 2


@pytest.mark.parametrize("raw", ["123.0", " 00123 ", "123", "0000123.00"])
def test_crd_spellings_normalise(settings, wh, tmp_path, raw):
    _, reps = _load(settings, wh, tmp_path, [rep(raw)])
    assert reps.RepCRD.tolist() == ["123"]


@pytest.mark.parametrize("raw", ["CRD# 4521873", "crd#4521873", "CRD 4521873", "CRD: 4521873", "CRD No. 4521873",
                                 "#4521873", "4521873 (CRD)", "4,521,873", "CRD# 04521873.0"])
def test_crd_typed_by_hand_is_still_the_number(settings, wh, tmp_path, raw):
    """SGAs type the CRD into Salesforce as they read it off BrokerCheck ('CRD# 4521873'), and a sheet formatted as
    a number groups it ('4,521,873'): each was a quarantined cell and a Lead that never matched its advisor."""
    from core.ingest.leads import load_lead_file
    from tests.conftest import LEAD_HEADER, lead

    result = load_lead_file(wh, settings, write_csv(tmp_path / "salesforce_leads.csv", LEAD_HEADER,
                                                    [lead("00Q000000000001", raw)]))
    assert result.quarantine.empty
    assert wh.read("select FA_CRD__c from marts.dim_leads").FA_CRD__c.tolist() == ["4521873"]


@pytest.mark.parametrize("raw", ["4521873, 1234567", "45-21873", "x4521873", "CRD# 12a", "1,2345", "CRD# 0"])
def test_crd_text_that_is_not_one_number_stays_quarantined(settings, wh, tmp_path, raw):
    """Two CRDs in one cell, a dash, a letter: no one number is meant, so none is guessed."""
    from core.ingest.leads import load_lead_file
    from tests.conftest import LEAD_HEADER, lead

    result = load_lead_file(wh, settings, write_csv(tmp_path / "salesforce_leads.csv", LEAD_HEADER,
                                                    [lead("00Q000000000001", raw)]))
    assert result.quarantine.reason.tolist() == ["not a CRD number (digits, optionally with .0 or a CRD# prefix)"]
    assert wh.read("select FA_CRD__c from marts.dim_leads").FA_CRD__c.isna().all()


@pytest.mark.parametrize("raw,expected", [("Yes", True), ("Y", True), ("TRUE", True), ("1", True), ("yes", True),
                                          ("No", False), ("N", False), ("FALSE", False), ("0", False)])
def test_booleans(settings, wh, tmp_path, raw, expected):
    _, reps = _load(settings, wh, tmp_path, [rep(1, Has_Disclosure=raw)])
    assert bool(reps.Has_Disclosure.iloc[0]) is expected


def test_unknown_boolean_is_quarantined(settings, wh, tmp_path):
    result, reps = _load(settings, wh, tmp_path, [rep(1, Has_Disclosure="maybe")])
    assert reps.Has_Disclosure.isna().all()
    assert result.quarantine.reason.tolist() == ["not a yes/no value (Yes/No/Y/N/TRUE/FALSE/1/0)"]


def test_lists_normalise_separators(settings, wh, tmp_path):
    _, reps = _load(settings, wh, tmp_path, [rep(1, Licenses="Series 7,Series 65 ;  Series 66")])
    assert reps.Licenses.iloc[0] == "Series 7; Series 65; Series 66"


def test_utf8_bom_file(settings, wh, tmp_path):
    _, reps = _load(settings, wh, tmp_path, [rep(1, FirstName="Renée", Title="Principal")], encoding="utf-8-sig")
    assert reps.RepCRD.tolist() == ["1"] and reps.Title.tolist() == ["Principal"]


def test_crlf_file(settings, wh, tmp_path):
    result, reps = _load(settings, wh, tmp_path, [rep(1, CRM_Used="Redtail"), rep(2, CRM_Used="Junxure")], newline="\r\n")
    assert reps.CRM_Used.tolist() == ["Redtail", "Junxure"]  # no stray \r on the last column
    assert result.rows_read == 2


def test_latin1_file(settings, wh, tmp_path):
    result, reps = _load(settings, wh, tmp_path, [rep(1, RIAFirmName="Peña Société LLC")], encoding="latin-1")
    assert reps.RIAFirmName.tolist() == ["Peña Société LLC"]
    assert result.files[0].encoding == "latin-1"


def test_pii_values_never_reach_the_warehouse(settings, wh, tmp_path):
    _, reps = _load(settings, wh, tmp_path, [rep(1, FirstName="Dana", LastName="Okafor", Email="dana@x.example")])
    assert {"FirstName", "LastName", "Email"}.isdisjoint(reps.columns)
    assert reps[["has_FirstName", "has_Email"]].iloc[0].tolist() == [True, True]
    dumped = reps.astype(str).to_string()
    assert "Okafor" not in dumped and "dana@x.example" not in dumped


def test_trim_is_skipped_only_where_trim_would_change_nothing():
    """The guard in front of TRIM (both ends printable ASCII, not a space) returns exactly what TRIM does, on
    the engine: spaces, tabs, no-break and other Unicode spaces, accents at the ends, empty and NULL."""
    import duckdb

    from core.warehouse.parsing import trimmed
    from core.warehouse.sql import to_duckdb

    values = ["abc", " abc", "abc ", "\tabc\t", "\u00a0abc\u00a0", "\u3000a", "é", " é ", "", " ", "!", "~", "a b",
              "~x!", "\u2007x", "~é!", "\x7fa", "a\x7f", "\x7f", "~\x7fa", "!", "\x1fa", "a\x1f", "\n a", "\t", None]
    con = duckdb.connect()
    con.execute("create table v as select unnest(?) as x", [values])
    got = con.execute(to_duckdb(f"SELECT x, {trimmed('x')} AS fast, TRIM(x) AS plain FROM v")[0]).fetchall()
    assert len(got) == len(values)
    assert all(fast == plain for _, fast, plain in got), got


def test_guarded_number_list_and_crd_parsing_equal_the_plain_expressions():
    """The REPLACE chains, the list regex and the CRD '.0' regex are skipped when the text has nothing they
    could change: the results are those of the unguarded expressions, value by value."""
    import duckdb

    from core.contract import Column
    from core.warehouse.parsing import parsed
    from core.warehouse.sql import to_duckdb

    from core.warehouse.parsing import CRD_MARKED, THOUSANDS

    values = ["1234.5", "$1,234.50", "12.5%", "1 000", "-3", "", "abc", "1,2;3", "a ; b,c", "a;b", "x , y", "007", "123.000",
              "0.0", "12.5.0", "1e3", "$", "CRD# 12.0", "#7.50", "1,5", "12,5%", "1,234,567.5", "NaN", "-inf", "1e309", None]

    def number(stripped: str) -> str:  # unguarded: every rewrite on every value
        return f"CASE WHEN STRPOS(x, ',') > 0 AND NOT REGEXP_CONTAINS(x, r'{THOUSANDS}') THEN NULL " \
               f"ELSE SAFE_CAST({stripped} AS FLOAT64) END"

    plain = {
        "money_millions": number("REPLACE(REPLACE(REPLACE(x, '$', ''), ',', ''), ' ', '')"),
        "percent": number("REPLACE(REPLACE(REPLACE(x, '%', ''), ',', ''), ' ', '')"),
        "number": number("REPLACE(REPLACE(x, ',', ''), ' ', '')"),
        "list": r"REGEXP_REPLACE(x, r'\s*[;,]\s*', '; ')",
        "crd": r"CASE WHEN REGEXP_CONTAINS(x, r'^[0-9]+(\.0+)?$') THEN NULLIF(LTRIM(REGEXP_REPLACE(x, r'\.0+$', ''), '0'), '') "
               f"WHEN REGEXP_CONTAINS(UPPER(x), r'{CRD_MARKED}') "
               r"THEN NULLIF(LTRIM(REGEXP_EXTRACT(REPLACE(x, ',', ''), r'([0-9]+)'), '0'), '') END",
    }
    con = duckdb.connect()
    con.execute("create table v as select unnest(?) as x", [values])
    for kind, reference in plain.items():
        column = Column("RepCRD", "id", True, True, "") if kind == "crd" else Column("X", kind, False, True, "")
        assert column.is_crd == (kind == "crd")
        got = con.execute(to_duckdb(f"SELECT x, {parsed(column, 'x')} AS fast, {reference} AS slow FROM v")[0]).fetchall()
        same = lambda a, b: a == b or (a is None and b is None) or (  # noqa: E731 ('NaN' parses; the typed step drops it)
            isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        assert all(same(fast, slow) for _, fast, slow in got), (kind, got)


def test_duckdb_reads_compact_offsets_as_the_rewrite_would():
    """On DuckDB timestamps are cast without the '+HHMM' -> '+HH:MM' rewrite BigQuery needs: value by value
    the same instant (or the same NULL) as with it, and the DuckDB session says it may skip it."""
    import duckdb

    from core.contract import Column
    from core.warehouse.duckdb_backend import DuckDBSession
    from core.warehouse.parsing import parsed
    from core.warehouse.sql import to_duckdb

    assert DuckDBSession.compact_offsets
    values = ["2025-09-27T19:33:42.000+0000", "2025-09-27T19:33:42.000-0530", "2025-09-27 19:33:42+0530",
              "2025-09-27T19:33:42+1400", "2025-09-27T19:33:42-0000", "2025-09-27T19:33+0230", "2025-09-27T19:33:42Z",
              "2025-09-27T19:33:42+05:30", "2025-09-27T19:33:42", "2025-09-27", "2025-09-27T19:33:42+12345",
              "2025-09-27T19:33:42+123", "2025-09-27+0100", "abc+1234", "+1234", "", None]
    column = Column("CreatedDate", "timestamp", True, False, "")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("create table v as select unnest(?) as x", [values])
    got = con.execute(to_duckdb(
        f"SELECT x, {parsed(column, 'x', compact_offsets=True)} AS fast, {parsed(column, 'x')} AS slow FROM v")[0]).fetchall()
    assert len(got) == len(values)
    assert all(fast == slow for _, fast, slow in got), got
    assert sum(fast is not None for _, fast, _ in got) >= 8
