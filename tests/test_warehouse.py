"""The embedded warehouse: schemas, the cross-process writer lock, reads during writes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from core.errors import LeadScoringError, WarehouseBusyError
from core.warehouse.duckdb_backend import DuckDBWarehouse
from tests.conftest import ROOT

HOLD = """
import sys, time
sys.path.insert(0, sys.argv[2])
from core.warehouse.duckdb_backend import DuckDBWarehouse
wh = DuckDBWarehouse(sys.argv[1])
with wh.writer("a long monthly load") as s:
    s.execute("create table if not exists ops.held (x int64)")
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def test_schemas_created(wh):
    with wh.reader() as s:
        schemas = {r[0] for r in s.con.execute("select schema_name from information_schema.schemata").fetchall()}
    assert {"raw", "staging", "marts", "ml", "ops"} <= schemas


def test_second_writer_gets_busy_error_naming_the_holder(settings, wh):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.warehouse_path), str(ROOT), "3"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        impatient = DuckDBWarehouse(settings.warehouse_path, lock_timeout=0.3)
        with pytest.raises(WarehouseBusyError, match="busy with 'a long monthly load'.*try again"):
            with impatient.writer("second"):
                pass
    finally:
        proc.wait(10)
    # Once the holder is done, writes go through.
    with DuckDBWarehouse(settings.warehouse_path).writer("after") as s:
        s.execute("create table ops.after_lock as select 1 as x")


def test_reader_waits_for_a_short_write_then_reads(settings, wh):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(settings.warehouse_path), str(ROOT), "1"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert wh.read("select count(*) as n from ops.held").n.iloc[0] == 0
        assert time.monotonic() - started < 15
    finally:
        proc.wait(10)


def test_concurrent_writers_in_threads_serialise(settings, wh):
    errors = []

    def write(i):
        try:
            with wh.writer(f"t{i}") as s:
                s.execute(f"create table ops.t{i} as select {i} as x")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert not errors
    with wh.reader() as s:
        assert all(s.table_exists(f"ops.t{i}") for i in range(4))


def test_reader_on_missing_warehouse_explains(tmp_path):
    with pytest.raises(LeadScoringError, match="does not exist yet"):
        with DuckDBWarehouse(tmp_path / "none.duckdb").reader():
            pass


def test_failed_write_rolls_back(wh):
    with pytest.raises(RuntimeError):
        with wh.writer("doomed") as s:
            s.execute("create table ops.doomed as select 1 as x")
            raise RuntimeError("boom")
    with wh.reader() as s:
        assert not s.table_exists("ops.doomed")


def test_two_cron_runs_and_a_session_at_once_do_not_corrupt(loaded_demo, tmp_path):
    """Two `run-daily` processes (cron overlapping itself) plus reads and a write from this process."""
    import json
    import os
    import shutil

    settings, _, _, _ = loaded_demo
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    env = {**os.environ, "LEADSCORE_DATA_DIR": str(data), "LEADSCORE_LOCK_TIMEOUT": "60"}
    procs = [subprocess.Popen([sys.executable, "-m", "core", "run-daily"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    wh = DuckDBWarehouse(data / "warehouse.duckdb", lock_timeout=60)
    reads = 0
    while any(p.poll() is None for p in procs) and reads < 200:
        reads += int(wh.read("select count(*) as n from marts.dim_leads").n.iloc[0] > 0)
    with wh.writer("session write") as s:
        s.execute("create table ops.session_mark as select 1 as x")
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    runs = wh.read("select outcome, counts_json from ops.runs order by started_at")
    assert runs.outcome.tolist() == ["ok", "ok"]
    scored = {json.loads(c)["scored"] for c in runs.counts_json}
    assert len(scored) == 1  # both runs saw the same, consistent warehouse
    history = wh.read("select score_date, count(*) as n, count(distinct lead_id) as d from ml.score_history group by 1")
    assert (history.n == history.d).all()  # the same day was replaced, never duplicated
    assert reads > 0


def test_reading_block_shares_one_connection_and_yields_it_to_writers(wh):
    """Inside wh.reading() every reader of the thread uses one connection; a writer closes it first (its lock
    released), the next reader reopens and sees the write; a writer inside a reader session still refuses."""
    with wh.reading():
        with wh.reader() as a:
            first = a.con
            assert not a.table_exists("ops.shared_probe")  # the catalog is read once for the shared connection
        with wh.reader() as b:
            assert b.con is first and b.query("select 1 as x").x.iloc[0] == 1
            assert not b.table_exists("ops.shared_probe") and "tables" in b.catalog
        with wh.writer("inside reading") as w:
            w.execute("create table ops.shared_probe as select 7 as x")
        with wh.reader() as c:  # a new connection, a new catalog: the writer's table is there
            assert c.con is not first and c.query("select x from ops.shared_probe").x.iloc[0] == 7
            assert c.table_exists("ops.shared_probe") and c.columns("ops.shared_probe") == {"x"}
        with pytest.raises(RuntimeError, match="inside a reader session"):
            with wh.reader():
                with wh.writer("nested"):
                    pass
    # the block closed its connection and released the shared lock: a writer gets through
    with wh.writer("after the block") as s:
        s.execute("drop table ops.shared_probe")


def test_query_plain_reads_integers_with_nulls_as_floats(wh):
    with wh.writer("probe") as s:
        s.execute("create table ops.plain_probe as select 1 as x union all select cast(null as int64) union all select 3")
    with wh.reader() as s:
        plain, nullable = s.query_plain("select x from ops.plain_probe"), s.query("select x from ops.plain_probe")
    assert str(plain.x.dtype) == "float64" and plain.x.isna().sum() == 1
    assert plain.x.fillna(-1).tolist() == nullable.x.astype("float64").fillna(-1).tolist()


def test_no_connection_draws_a_progress_bar_on_stdout(wh):
    """A query past 2 s makes DuckDB draw a progress bar on stdout, which corrupted `monitor --json` output (a new
    champion's territory months counted in one scan): every connection, reading or writing, has it off."""
    with wh.writer("test") as s:
        assert s.con.execute("select current_setting('enable_progress_bar')").fetchone()[0] is False
    with wh.reader() as s:
        assert s.con.execute("select current_setting('enable_progress_bar')").fetchone()[0] is False
