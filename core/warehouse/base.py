"""The warehouse interface the engine talks to; the DuckDB and BigQuery backends implement it.

SQL handed to a session is always BigQuery dialect. Sessions are short: open, do one unit of work,
close, so the embedded DuckDB file is never held longer than a step needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager

import pandas as pd
import pyarrow as pa

from core.warehouse.sql import read_model, render


def sql_type(series: pd.Series) -> str:
    """The BigQuery type of a DataFrame column (the one SQL dialect; transpiled for DuckDB)."""
    return {"i": "INT64", "u": "INT64", "f": "FLOAT64", "b": "BOOL", "M": "TIMESTAMP"}.get(series.dtype.kind, "STRING")


class Session(ABC):
    #: How a step's intermediate tables are created and where they live. BigQuery: ordinary tables in the
    #: staging dataset, dropped by the step. DuckDB overrides with its session-private temporary tables, which
    #: are never written to the database file (a persistent intermediate costs a compressed write and a
    #: checkpoint: a third of a territory load) and spill to disk past the memory limit like any table.
    scratch_kind = "table"
    scratch_schema = "staging"
    #: Whether SAFE_CAST(... AS TIMESTAMP) reads a '+HHMM' offset as '+HH:MM' (BigQuery refuses it).
    compact_offsets = False

    @property
    def scratch_view_kind(self) -> str:
        """How a step's intermediate views are created: ``view`` or ``temp view``, like its tables."""
        return self.scratch_kind.replace("table", "view")

    def scratch(self, name: str) -> str:
        """The qualified name of the intermediate table ``name``."""
        return f"{self.scratch_schema}.{name}"

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a BigQuery-dialect script (one or more statements)."""

    @abstractmethod
    def query(self, sql: str) -> pd.DataFrame:
        """Run one BigQuery-dialect SELECT and return its rows."""

    def query_plain(self, sql: str) -> pd.DataFrame:
        """Like :meth:`query`, with plain NumPy dtypes where a backend would build nullable ones (an integer
        column with NULLs arrives as float64 with NaN): for wide numeric reads whose consumer wants floats."""
        return self.query(sql)

    @abstractmethod
    def load(self, table: str, data: pa.Table | pd.DataFrame, mode: str = "replace") -> None:
        """Write rows into ``schema.table`` (mode 'replace' or 'append')."""

    @abstractmethod
    def table_exists(self, table: str) -> bool: ...

    def stage(self, table: str, data) -> None:
        """Make ``data`` queryable as ``table`` for this session only: the input of staging/typed.sql, which
        reads it exactly once (rows read in batches may be streamed through that one statement)."""
        self.load(table, data, mode="replace")

    def unstage(self, table: str) -> None:
        self.execute(f"drop table if exists {table}")

    def columns(self, table: str) -> set[str]:
        """The table's column names, lower-cased."""
        return {c.lower() for c in self.query(f"select * from {table} limit 0").columns}

    def add_column(self, table: str, column: str, sql_type: str) -> None:
        """Schema evolution for tables written by an older release: add ``column`` when the table lacks it."""
        if self.table_exists(table) and column.lower() not in self.columns(table):
            self.execute(f"alter table {table} add column {column} {sql_type}")

    def add_columns_of(self, table: str, frame: pd.DataFrame) -> None:
        """Schema evolution before an append: each column of ``frame`` the table lacks is added (NULL in the rows
        already there), typed as :func:`sql_type` types it."""
        if not self.table_exists(table):
            return
        have = self.columns(table)
        for column in frame.columns:
            if column.lower() not in have:
                self.add_column(table, column, sql_type(frame[column]))

    @abstractmethod
    def replace_partitions(self, table: str, source: str, where: str) -> None:
        """Replace the rows of ``table`` matching ``where`` (a BigQuery predicate on its partition column)
        with every row of the table ``source`` (same columns, staged beforehand), as one atomic step: the
        monthly replace."""

    def scalar(self, sql: str):
        df = self.query(sql)
        return None if df.empty else df.iat[0, 0]

    def run_model(self, relpath: str, **values) -> None:
        """Render and execute one SQL model file from ``sql/``."""
        self.execute(render(read_model(relpath), **values))

    def query_model(self, relpath: str, **values) -> pd.DataFrame:
        return self.query(render(read_model(relpath), **values))

    def query_model_plain(self, relpath: str, **values) -> pd.DataFrame:
        return self.query_plain(render(read_model(relpath), **values))


class Warehouse(ABC):
    kind: str

    @abstractmethod
    def reader(self) -> AbstractContextManager[Session]: ...

    @abstractmethod
    def writer(self, what: str = "a write") -> AbstractContextManager[Session]:
        """A session whose statements commit together or not at all (where the backend allows)."""

    @abstractmethod
    def create_schemas(self) -> None: ...

    @contextmanager
    def reading(self):
        """A block whose reader() sessions may share one connection (the embedded backend's saving; a no-op for
        backends whose sessions cost nothing to open)."""
        yield

    def init(self) -> None:
        """Create schemas and the engine's bookkeeping tables; safe to call on every start."""
        self.create_schemas()
        with self.writer("initialise warehouse") as s:
            s.run_model("ops/create_tables.sql")

    def read(self, sql: str) -> pd.DataFrame:
        with self.reader() as s:
            return s.query(sql)

    def read_model(self, relpath: str, **values) -> pd.DataFrame:
        with self.reader() as s:
            return s.query_model(relpath, **values)
