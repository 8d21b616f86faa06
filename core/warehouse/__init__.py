"""The only code that knows DuckDB from BigQuery. ``open_warehouse(settings)`` picks the backend."""

from __future__ import annotations

from core.config import Settings
from core.warehouse.base import Session, Warehouse


def open_warehouse(settings: Settings, init: bool = True) -> Warehouse:
    if settings.backend == "bigquery":
        from core.warehouse.bigquery_backend import BigQueryWarehouse

        wh: Warehouse = BigQueryWarehouse(
            settings.bigquery_project, settings.bigquery_dataset_prefix, settings.bigquery_endpoint,
            settings.bigquery_location, settings.extra.get("bigquery_load_method", "load_job"),
            max_bytes_billed=settings.bigquery_max_bytes_billed,
        )
    else:
        from core.warehouse.duckdb_backend import DuckDBWarehouse

        wh = DuckDBWarehouse(settings.warehouse_path, settings.lock_timeout_seconds,
                             settings.extra.get("duckdb_memory_limit", "2GB"))
    if init:
        wh.init()
    return wh


__all__ = ["open_warehouse", "Warehouse", "Session"]
