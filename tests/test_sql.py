"""Every model in sql/ parses as BigQuery and runs on DuckDB; the transpile pitfalls we rely on are pinned."""

from __future__ import annotations

import json
import duckdb
import pytest
import sqlglot

from core.contract import marketpro_columns, salesforce_columns
from core.features.build import build_features, feature_columns_sql
from core.features.catalog import all_features
from core.warehouse.parsing import model_fragments
from core.warehouse.sql import SQL_DIR, literal, template_slots, read_model, render, to_bigquery, to_duckdb

ALL_MODELS = sorted(str(p.relative_to(SQL_DIR)) for p in SQL_DIR.rglob("*.sql"))


def _values_for(rel: str) -> dict:
    from core.contract import task_columns

    cols, key = (salesforce_columns(), "Id") if "lead" in rel or "salesforce" in rel else (marketpro_columns(), "RepCRD")
    if "task" in rel:
        cols, key = task_columns(), "Id"
    values = model_fragments(cols, key, ["Firm_Website"])
    values.update(load_id=literal("x"), null_rate_columns="count(*) as n", table_name="marts.dim_leads",
                  as_of="TIMESTAMP '2025-10-01 00:00:00+00'", window_seconds=30 * 86400, source_sql="l.LeadSource",
                  top_k=5, feature_columns=feature_columns_sql(all_features({})), window_days=30,
                  raw_table="raw.salesforce_leads", typed_rows="staging.lead_typed",
                  staged_table="staging.stg_salesforce_leads", snapshot_date="DATE '2025-01-01'",
                  scratch_kind="table", scratch_view="view", other_rows="staging.o", month_ranks="staging.r",
                  typed_staged_names="t.RepCRD", bin="cast(Title as string)", out_of_range="false", period="snapshot_month", counts="countif(Title is null) as m0",
                  months="snapshot_month in ('2025-01')", since="TIMESTAMP '2025-04-01 00:00:00+00'",
                  not_fingerprinted="label, label_status", backfilled="backfilled", where="true", build="",
                  aum="f.TotalAssetsInMillions", discovery="f.Has_Discovery_Data", near_contact_days=8,
                  lead_state="l.State", lead_id=literal("00Q000000000001AAA"), branch_state="r.Branch_State", known_shift=9, days=7,
                  first_scores="(select 'x' as lead_id, '2025-01-01' as score_date, 0.1 as prob, 'A' as tier, "
                               "'m' as model_version, false as backfilled)")
    return values


def test_models_exist():
    assert len(ALL_MODELS) >= 12


@pytest.mark.parametrize("rel", ALL_MODELS)
def test_every_model_parses_as_bigquery(rel):
    text = render(read_model(rel), **_values_for(rel))
    assert not template_slots(text)
    statements = sqlglot.parse(text, read="bigquery")
    assert statements and all(s is not None for s in statements)
    assert to_bigquery(text, "proj", "ls_")  # qualifies as project.dataset.table


def test_every_model_executes_on_duckdb(loaded_demo):
    """The ingestion models ran when the demo loaded; run the read models here against that warehouse."""
    settings, wh, _, _ = loaded_demo
    build_features(wh, settings)  # runs marts/lead_labels, lead_snapshot_choice, feature_levels, lead_features,
    # lead_source_checks
    executed = {"marts/lead_labels.sql", "marts/lead_snapshot_choice.sql", "marts/feature_levels.sql",
                "marts/lead_features.sql", "marts/lead_source_checks.sql","ops/create_tables.sql", "staging/typed.sql", "staging/stg_territory_reps.sql",
                "staging/quarantine.sql", "marts/dim_rep_snapshots.sql",
                "staging/territory_month_rows.sql",
                "staging/stg_salesforce_leads.sql", "marts/dim_leads.sql",
                # the call-activity models: run for real in test_activity_models_execute_on_duckdb
                "staging/stg_salesforce_tasks.sql", "staging/task_quarantine.sql",
                "marts/fact_tasks.sql", "marts/lead_dials.sql",
                # kept with every score-history write: run for real in tests/test_monitoring.py
                "marts/lead_first_scores.sql",
                # reads the call activity, which this warehouse lacks: run for real in tests/test_monitoring.py
                "monitoring/adoption.sql",
                # one lead's story: run for real on the first start in tests/test_scoring.py
                "scoring/lead_profile.sql", "scoring/lead_history.sql"}
    with wh.reader() as s:
        for rel in ALL_MODELS:
            if rel.startswith(("quality/", "monitoring/")) and rel not in executed:
                s.query_model(rel, **_values_for(rel))
                executed.add(rel)
    assert executed == set(ALL_MODELS)


def test_activity_models_execute_on_duckdb(settings, wh, small_demo):
    """Task export -> typed, quarantined, deduplicated Tasks -> dials per lead inside the outcome window."""
    from core.ingest.activities import lead_dials, load_activity_file
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_files

    load_territory_files(wh, settings, sorted(small_demo.glob("discovery_t*_*.csv")))
    load_lead_file(wh, settings, small_demo / "salesforce_leads.csv")
    build_features(wh, settings)
    result = load_activity_file(wh, settings, small_demo / "salesforce_tasks.csv")
    assert result.rows_read == result.rows_loaded + result.rows_quarantined and result.rows_quarantined == 2
    assert result.summary["duplicates_resolved"] > 0 and result.summary["dials"] < result.summary["tasks"]
    with wh.reader() as s:
        dials = lead_dials(s, 30)
        contacted = s.scalar("select count(*) from ml.lead_labels where contacted_at is not null")
        # no dial is counted after the window, after the MQL or after as_of
        late = s.scalar(
            "select count(*) from marts.fact_tasks as t join ml.lead_labels as l on t.lead_id = l.lead_id "
            "where t.is_dial and t.created_at >= timestamp_add(l.contacted_at, interval 30 day)")
    assert len(dials) == contacted and dials.dials.min() >= 0 and 1.5 < dials.dials.mean() < 5
    assert late > 0  # follow-up calls after the window exist in the export and are left out above


def test_bigquery_qualification_keeps_ctes_alone():
    sql = "with reps as (select * from marts.dim_reps_current) select * from reps join raw.file_loads using (load_id)"
    out = to_bigquery(sql, "p", "ls_")[0]
    assert "`p`.`ls_marts`.`dim_reps_current`" in out.replace('"', "`") or "p.ls_marts.dim_reps_current" in out
    assert "p.ls_raw.file_loads" in out.replace("`", "")
    assert "FROM reps" in out


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone='UTC'")
    yield c
    c.close()


def run(con, bq_sql):
    return con.execute(to_duckdb(bq_sql)[-1]).fetchall()


def test_pitfall_safe_cast_decimal_to_int64_differs(con):
    # DuckDB rounds where BigQuery returns NULL: counts are therefore parsed as FLOAT64 and checked.
    assert run(con, "select safe_cast('3.5' as int64)") == [(4,)]


def test_pitfall_plus0000_offsets_normalised(con):
    from core.contract import Column
    from core.warehouse.parsing import parsed

    col = Column("t", "timestamp", False, True, "")
    got = run(con, f"select cast({parsed(col, literal('2025-03-04T15:22:10.000+0000'))} as string)")
    assert got == [("2025-03-04 15:22:10+00",)]


def test_pitfall_division_by_zero_not_used():
    # x / 0 is inf on DuckDB and an error on BigQuery; no model divides with '/'.
    for rel in ALL_MODELS:
        text = read_model(rel)
        assert " / " not in text, rel


def test_pitfall_regexp_replace_is_global(con):
    assert run(con, r"select regexp_replace('a,b,c', r',', '')") == [("abc",)]


def test_pitfall_countif_of_no_rows_is_zero_as_on_bigquery():
    """DuckDB's COUNT_IF over no rows is NULL where BigQuery's COUNTIF is 0: the transpiler makes it 0 (a window's
    COUNT_IF, over a frame that is never empty, is left as it is)."""
    c = duckdb.connect()
    c.execute("create table t (x int, g int)")
    assert c.execute(to_duckdb("select count(*) as n, countif(x > 1) as m from t")[-1]).fetchall() == [(0, 0)]
    c.execute("insert into t values (1, 1), (2, 1)")
    assert c.execute(to_duckdb("select countif(x > 1) as m from t")[-1]).fetchall() == [(1,)]
    window = to_duckdb("select countif(x > 1) over (partition by g) as m from t")[-1]
    assert "COALESCE" not in window and c.execute(window).fetchall() == [(1,), (1,)]


def test_to_json_string_of_struct(con):
    assert run(con, "select to_json_string(struct('x' as `Firm Website`))") == [('{"Firm Website":"x"}',)]


def test_the_row_fingerprint_idiom_is_duckdbs_row_hash(con):
    """sql/monitoring/feature_periods.sql hashes whole rows in a form BigQuery and its emulator run (no
    FARM_FINGERPRINT there); on DuckDB it becomes hash(row) instead of building each row's JSON text. The
    fingerprint of a set of rows is the XOR of theirs: any changed value changes it, the row order does not."""
    idiom = "cast(concat('0x', substr(to_hex(md5(to_json_string(t))), 1, 15)) as int64)"
    assert "HASH(t)" in to_duckdb(f"select {idiom} from x as t")[0]
    assert "HASH({'i': t.i, 'f': t.f})" in to_duckdb(f"select {idiom.replace('(t)', '(struct(t.i, t.f))')} from x as t")[0]
    # only a row or a struct is rewritten: a column's hash stays the portable expression
    assert "HASH" not in to_duckdb(idiom.replace("to_json_string(t)", "to_json_string(t.a)").join(["select ", " from x as t"]))[0]
    con.execute("create table x as select * from (values (1, 'a', 2.5), (2, 'b', null)) as v(i, s, f)")
    fp = lambda: run(con, f"select bit_xor({idiom}) from x as t")[0][0]  # noqa: E731
    before = fp()
    con.execute("create or replace table x as select * from x order by i desc")
    assert fp() == before
    con.execute("update x set f = 2.6 where i = 1")
    assert fp() != before


def test_unnest_split(con):
    rows = run(con, "select count(*) from (select 'a;b;' as f) as s cross join unnest(split(s.f, ';')) as c where c != ''")
    assert rows == [(2,)]


def test_large_scripts_are_transpiled_once_across_processes(tmp_path, monkeypatch):
    """A model's transpiled statements are kept on disk by a hash of the script: a new process reads them
    back instead of transpiling again; an unreadable entry is transpiled again and rewritten; small scripts
    (ad-hoc queries) are never stored."""
    from core.warehouse import sql as S

    monkeypatch.setenv("LEADSCORE_SQL_CACHE", str(tmp_path))
    script = render(read_model("staging/typed.sql"), **_values_for("staging/typed.sql"))
    assert len(script) >= S.DISK_CACHE_MIN_CHARS
    S.to_duckdb.cache_clear()
    first = S.to_duckdb(script)
    entries = list(tmp_path.glob("*.json"))
    assert len(entries) == 1 and first == S._transpile(script)
    S.to_duckdb.cache_clear()
    calls = []
    monkeypatch.setattr(S, "_transpile", lambda sql: calls.append(sql) or ("select 1",))
    assert S.to_duckdb(script) == first and not calls  # read back, not transpiled
    entries[0].write_text("{not json", encoding="utf-8")
    S.to_duckdb.cache_clear()
    assert S.to_duckdb(script) == ("select 1",) and len(calls) == 1  # transpiled again and rewritten
    assert json.loads(entries[0].read_text(encoding="utf-8")) == ["select 1"]
    S.to_duckdb.cache_clear()
    S.to_duckdb("select 2")
    assert len(list(tmp_path.glob("*.json"))) == 1
    S.to_duckdb.cache_clear()
