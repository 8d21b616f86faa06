"""BigQuery backend: the same SQL models, qualified as ``project.{prefix}schema.table``.

Credentials are Google's standard ones (application default credentials or
GOOGLE_APPLICATION_CREDENTIALS); an ``endpoint`` (e.g. a local emulator) uses anonymous credentials.
BigQuery has no cross-statement transaction for load jobs, so a writer session here is a sequence of
statements; see the README for what is and is not verified against real BigQuery.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import pandas as pd
import pyarrow as pa

from core.errors import LeadScoringError
from core.warehouse.base import Session, Warehouse, sql_type
from core.warehouse.sql import SCHEMAS, check_identifier, literal, to_bigquery


def _client(project: str, endpoint: str | None, location: str):
    from google.cloud import bigquery

    if endpoint:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=project, credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint), location=location,
        )
    return bigquery.Client(project=project, location=location)


class BigQuerySession(Session):
    def __init__(self, wh: "BigQueryWarehouse"):
        self.wh = wh

    def _qualify(self, sql: str) -> tuple[str, ...]:
        return to_bigquery(sql, self.wh.project, self.wh.prefix)

    def _table_id(self, table: str) -> str:
        schema, _, name = check_identifier(table).rpartition(".")
        return f"{self.wh.project}.{self.wh.prefix}{schema}.{name}"

    def execute(self, sql: str) -> None:
        for stmt in self._qualify(sql):
            self.wh.result(stmt)

    def query(self, sql: str) -> pd.DataFrame:
        stmts = self._qualify(sql)
        for stmt in stmts[:-1]:
            self.wh.result(stmt)
        # Results arrive as Arrow record batches: through the BigQuery Storage Read API (parallel streams) on
        # real BigQuery, through the REST pages on an emulator endpoint, which has no Storage API.
        return self.wh.result(stmts[-1]).to_dataframe(bqstorage_client=self.wh.storage_client(),
                                                      create_bqstorage_client=False)

    def estimate_bytes(self, sql: str) -> int:
        """Bytes BigQuery would scan for ``sql`` (a dry run: free, nothing executes)."""
        return sum(int(self.wh.run(stmt, dry_run=True).total_bytes_processed or 0) for stmt in self._qualify(sql))

    def replace_partitions(self, table: str, source: str, where: str) -> None:
        """One ``CREATE OR REPLACE TABLE … AS SELECT`` keeping the table's partitioning and clustering: the
        rows outside ``where`` plus the new rows. A single statement is atomic in BigQuery — if it fails,
        the table is exactly as it was; there is never a moment with the old month deleted and the new one
        not yet inserted. It rewrites the table (billed at the table's size, once a month), which DELETE +
        INSERT would not, but those are two jobs with a gap between them."""
        t = self.wh.client.get_table(self._table_id(table))
        cols = ", ".join(f"`{f.name}`" for f in t.schema)
        self.execute(
            f"create or replace table {table} {_layout_clause(t)} as "
            f"select {cols} from {table} where ({where}) is not true "
            f"union all select {cols} from {check_identifier(source)}"
        )

    def load(self, table: str, data, mode: str = "replace") -> None:
        data = data.read_all() if hasattr(data, "read_all") else data
        df = data.to_pandas() if isinstance(data, pa.Table) else data
        table_id = self._table_id(table)
        if self.wh.load_method == "insert":
            self._load_by_insert(table, table_id, df, mode)
            return
        from google.cloud import bigquery

        disposition = "WRITE_TRUNCATE" if mode == "replace" else "WRITE_APPEND"
        job = self.wh.client.load_table_from_dataframe(
            df, table_id, job_config=bigquery.LoadJobConfig(write_disposition=disposition)
        )
        job.result()

    def _load_by_insert(self, table: str, table_id: str, df: pd.DataFrame, mode: str) -> None:
        """Small loads through SQL INSERT (emulators accept neither load jobs nor streaming inserts)."""
        cols = list(df.columns)
        rows = ["(" + ", ".join(_bq_literal(v) for v in rec) + ")" for rec in df.itertuples(index=False, name=None)]
        col_list = ", ".join(f"`{c}`" for c in cols)
        if mode == "replace" or not self.table_exists(table):
            schema = ", ".join(f"`{c}` {sql_type(df[c])}" for c in cols)
            self.wh.result(f"CREATE OR REPLACE TABLE `{table_id}` ({schema})")
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            self.wh.result(f"INSERT INTO `{table_id}` ({col_list}) VALUES {', '.join(chunk)}")

    def table_exists(self, table: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.wh.client.get_table(self._table_id(table))
            return True
        except NotFound:
            return False


def _layout_clause(table) -> str:
    """The PARTITION BY / CLUSTER BY clause that recreates ``table``'s layout (a CREATE OR REPLACE must
    repeat it: BigQuery refuses to replace a table with a different partitioning)."""
    parts = []
    tp = table.time_partitioning
    if tp is not None and tp.field:
        kind = {f.name: f.field_type for f in table.schema}.get(tp.field, "DATE").upper()
        unit = (tp.type_ or "DAY").upper()
        if kind == "DATE":
            parts.append(f"partition by {tp.field}" if unit == "DAY" else f"partition by date_trunc({tp.field}, {unit})")
        else:
            parts.append(f"partition by timestamp_trunc({tp.field}, {unit})")
    if table.clustering_fields:
        parts.append("cluster by " + ", ".join(table.clustering_fields))
    return " ".join(parts)


def _bq_literal(value) -> str:
    if value is None or (not isinstance(value, (str, bytes)) and pd.isna(value)):
        return "NULL"
    if isinstance(value, pd.Timestamp):
        ts = value.tz_convert("UTC") if value.tzinfo else value
        return f"TIMESTAMP '{ts.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):  # e.g. a noise level with no reference rows
        return f"CAST('{'+' if value > 0 else '-'}inf' AS FLOAT64)"
    return literal(value)


class BigQueryWarehouse(Warehouse):
    kind = "bigquery"

    def __init__(self, project: str | None, prefix: str = "", endpoint: str | None = None,
                 location: str = "US", load_method: str = "load_job", max_bytes_billed: int = 50 * 1024 ** 3):
        if not project:
            raise LeadScoringError(
                "backend = 'bigquery' needs bigquery_project in the config (or LEADSCORE_BQ_PROJECT)."
            )
        self.project, self.prefix, self.endpoint = project, prefix, endpoint
        self.load_method = load_method
        self.max_bytes_billed = int(max_bytes_billed)
        self.client = _client(project, endpoint, location)
        self._storage = None

    def storage_client(self):
        """The BigQuery Storage Read API client that query results are downloaded with (Arrow batches in
        parallel streams, far faster than REST pages for the training and scoring reads); None on an emulator
        endpoint (no Storage API there: results come through the REST pages) or without the package."""
        if self.endpoint:
            return None
        if self._storage is None:
            try:
                from google.cloud import bigquery_storage
            except ImportError:
                return None
            self._storage = bigquery_storage.BigQueryReadClient(credentials=self.client._credentials)
        return self._storage

    def run(self, sql: str, dry_run: bool = False):
        """The one door to BigQuery query jobs: every job carries ``maximum_bytes_billed`` (the cost guard)."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(maximum_bytes_billed=self.max_bytes_billed, dry_run=dry_run,
                                         use_query_cache=not dry_run)
        return self.client.query(sql, job_config=config)

    def result(self, sql: str):
        """Run one statement and wait; a job over the byte limit becomes the project's error, naming the limit."""
        from google.api_core.exceptions import BadRequest, Forbidden

        try:
            return self.run(sql).result()
        except (BadRequest, Forbidden) as exc:
            if "bytesbilledlimitexceeded" in str(exc).lower() or "bytes billed" in str(exc).lower():
                raise LeadScoringError(
                    f"BigQuery refused a query that would bill more than bigquery_max_bytes_billed "
                    f"({self.max_bytes_billed:,} bytes). Raise the limit in the config if the data really grew, "
                    "or check the query for a missing partition filter.") from None
            raise

    @contextmanager
    def reader(self):
        yield BigQuerySession(self)

    @contextmanager
    def writer(self, what: str = "a write"):
        yield BigQuerySession(self)

    def create_schemas(self) -> None:
        for schema in SCHEMAS:
            self.client.create_dataset(f"{self.project}.{self.prefix}{schema}", exists_ok=True)
