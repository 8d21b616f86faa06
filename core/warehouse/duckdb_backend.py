"""Embedded default: one DuckDB file under the data folder, guarded by a cross-process lock."""

from __future__ import annotations

import re
import threading
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from core.errors import LeadScoringError
from core.warehouse.base import Session, Warehouse
from core.warehouse.lock import file_lock
from core.warehouse.sql import SCHEMAS, check_identifier, to_duckdb

# sqlglot imports a dialect (and builds its generator) on first use: done here, with this backend's other imports,
# rather than inside the first statement of whatever the process runs (~50 ms: a fifth of a small Task load).
to_duckdb("select 1")


class DuckDBSession(Session):
    scratch_kind = "temp table"
    scratch_schema = "temp"
    compact_offsets = True  # tests/test_parsing.py checks it value by value

    def __init__(self, con: duckdb.DuckDBPyConnection, catalog: dict | None = None):
        self.con = con
        # A read connection shared by a reading() block holds the file's shared lock, so no write can change the
        # catalog while it is open: its table names and columns are looked up once (~1.3 ms per lookup otherwise).
        self.catalog = catalog

    def execute(self, sql: str) -> None:
        for stmt in to_duckdb(sql):
            self.con.execute(stmt).fetchall()  # drain (e.g. a DELETE's row count) before the next call

    def _last(self, sql: str) -> str:
        """Run every statement but the last; return the last (the SELECT whose rows are wanted)."""
        stmts = to_duckdb(sql)
        for stmt in stmts[:-1]:
            self.con.execute(stmt)
        return stmts[-1]

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(self._last(sql)).df()

    def query_plain(self, sql: str) -> pd.DataFrame:
        # Through Arrow: ~3x faster than .df() on wide integer tables, which builds nullable Int columns.
        return self.con.sql(self._last(sql)).to_arrow_table().to_pandas()

    def load(self, table: str, data, mode: str = "replace") -> None:
        check_identifier(table)
        name = "__incoming"
        self.con.register(name, data)
        try:
            if mode == "replace":
                self.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {name}").fetchall()
            elif mode == "append":
                if self.table_exists(table):
                    self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}").fetchall()
                else:
                    self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM {name}").fetchall()
            else:
                raise ValueError(f"unknown load mode {mode}")
        finally:
            self.con.unregister(name)

    def _columns(self, table: str) -> set[str]:
        # the names from the statement's description: building an empty DataFrame of a wide table cost ~2 ms more
        cur = self.con.execute(f"SELECT * FROM {check_identifier(table)} LIMIT 0")
        names = {d[0].lower() for d in cur.description}
        cur.fetchall()  # drain: the connection takes no new statement while a result is open
        return names

    def columns(self, table: str) -> set[str]:
        if self.catalog is None:
            return self._columns(table)
        known = self.catalog.setdefault("columns", {})
        if table not in known:
            known[table] = self._columns(table)
        return set(known[table])

    def replace_partitions(self, table: str, source: str, where: str) -> None:
        # Atomic through the writer's transaction: the old rows deleted and the staged ones inserted commit
        # together (or not at all).
        check_identifier(table)
        check_identifier(source)
        self.execute(f"delete from {table} where {where}")
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {source}").fetchall()

    def stage(self, table: str, data) -> None:
        # A view over the data, nothing copied: an in-memory Arrow table, or — rows read in batches (large
        # files) — the batch reader itself, which the one statement reading it (staging/typed.sql) consumes
        # as it goes: peak memory is a few blocks, and the raw text is never stored.
        check_identifier(table)
        name = "__staged_" + table.replace(".", "_")
        self.con.register(name, data.reader() if hasattr(data, "reader") else data)
        self.con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM {name}")

    def unstage(self, table: str) -> None:
        check_identifier(table)
        name = "__staged_" + table.replace(".", "_")
        self.con.execute(f"DROP VIEW IF EXISTS {table}")
        self.con.unregister(name)

    def table_exists(self, table: str) -> bool:
        schema, _, name = check_identifier(table).rpartition(".")
        if self.catalog is not None:
            if "tables" not in self.catalog:
                self.catalog["tables"] = set(self.con.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables").fetchall())
            return (schema or "main", name) in self.catalog["tables"]
        return bool(self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema or "main", name],
        ).fetchall()[0][0])


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"

    def __init__(self, path: Path, lock_timeout: float = 10.0, memory_limit: str | None = "2GB"):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        if memory_limit and not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(memory_limit), re.IGNORECASE):
            raise LeadScoringError(f"duckdb_memory_limit = {memory_limit!r}: write it like '3GB' or '512MB'.")
        self.memory_limit = memory_limit  # DuckDB spills to disk past it: bounded memory at any data size
        self._local = threading.local()  # this thread's shared read connection (see reading())

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        try:
            con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise LeadScoringError(
                f"Cannot open the warehouse {self.path} ({exc}). If another program holds it, "
                "close it and try again."
            ) from exc
        con.execute("SET TimeZone='UTC'")
        # DuckDB draws a progress bar on stdout for a query past 2 s: it would corrupt `--json` output (seen in
        # `monitor --json` when a new champion's territory months are counted in one scan)
        con.execute("SET enable_progress_bar = false")
        if self.memory_limit:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
        return con

    def _missing(self) -> None:
        if not self.path.exists():
            raise LeadScoringError(
                f"The warehouse {self.path} does not exist yet. Load territory and lead files first "
                "(python -m core load-territories ..., load-leads ...)."
            )

    @contextmanager
    def reading(self):
        """Every reader() of this thread inside the block shares one read-only connection: opened on first use,
        closed (and its lock released) before any writer() and at the end. Opening a connection to the file
        costs ~30 ms; a step that reads a dozen small tables pays it once."""
        local = self._local
        if getattr(local, "sharing", False):
            yield
            return
        local.sharing, local.shared, local.busy = True, None, 0
        try:
            yield
        finally:
            self._release_shared()
            local.sharing = False

    def _release_shared(self) -> None:
        shared = getattr(self._local, "shared", None)
        if shared is None:
            return
        if self._local.busy:
            raise RuntimeError("warehouse writer opened inside a reader session in the same thread")
        self._local.shared = None
        con, stack, _ = shared
        try:
            con.close()
        finally:
            stack.close()

    @contextmanager
    def reader(self):
        self._missing()
        local = self._local
        if getattr(local, "sharing", False):
            if local.shared is None:
                stack = ExitStack()
                stack.enter_context(file_lock(self.path, exclusive=False, timeout=max(self.lock_timeout, 30.0)))
                try:
                    local.shared = (self._connect(read_only=True), stack, {})
                except BaseException:
                    stack.close()
                    raise
            local.busy += 1
            try:
                yield DuckDBSession(local.shared[0], local.shared[2])
            finally:
                local.busy -= 1
            return
        with file_lock(self.path, exclusive=False, timeout=max(self.lock_timeout, 30.0)):
            con = self._connect(read_only=True)
            try:
                yield DuckDBSession(con)
            finally:
                con.close()

    @contextmanager
    def writer(self, what: str = "a write"):
        self._release_shared()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path, exclusive=True, timeout=self.lock_timeout, what=what):
            con = self._connect(read_only=False)
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield DuckDBSession(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    def create_schemas(self) -> None:
        with self.writer("create schemas") as s:
            for schema in SCHEMAS:
                s.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
