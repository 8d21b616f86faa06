"""Monthly MarketPro territory load: parse, quarantine, cross-territory dedup, atomic replace, snapshot.

All warehouse writes of one load happen in one transaction: a failure or a kill part-way leaves last
month's tables exactly as they were.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa

from core import audit
from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.contract import marketpro_columns
from core.errors import LeadScoringError
from core.faults import checkpoint
from core.ingest.accounting import FileAccount, LoadResult
from core.ingest.reader import archive_file, contract_table, read_text_csv
from core.warehouse import Session, Warehouse
from core.warehouse.parsing import model_fragments
from core.warehouse.sql import literal

Progress = Callable[[float, str], None]

_TERRITORY = re.compile(r"(?:^|[^a-z0-9])t([1-9])(?:[^0-9]|$)", re.IGNORECASE)
_MONTH = re.compile(r"(20\d\d)[_\-.]?(0[1-9]|1[0-2])(?:[^0-9]|$)")
_MONTH_ARG = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


def _noop(fraction: float, message: str) -> None:
    pass


def territory_of(path: Path, override: str | None = None) -> str:
    if override:
        if not re.fullmatch(r"T[1-9]", override.upper()):
            raise LeadScoringError(f"--territory {override!r} must look like T1, T2 or T3.")
        return override.upper()
    match = _TERRITORY.search(path.stem)
    if not match:
        raise LeadScoringError(
            f"{path.name}: cannot tell the territory from the file name. Name it like "
            "discovery_t1_2025_01.csv or pass --territory T1."
        )
    return f"T{match.group(1)}"


def month_of(path: Path, override: str | None = None) -> str:
    if override:
        if not _MONTH_ARG.match(override):
            raise LeadScoringError(f"--month {override!r} must be YYYY-MM, e.g. 2025-01.")
        return override
    match = _MONTH.search(path.stem)
    if not match:
        raise LeadScoringError(
            f"{path.name}: cannot tell the month from the file name. Name it like "
            "discovery_t1_2025_01.csv or pass --month YYYY-MM."
        )
    return f"{match.group(1)}-{match.group(2)}"


def _quarantine_frame(load_id: str, rows: list[dict], file_name: str) -> pd.DataFrame:
    return pd.DataFrame({
        "load_id": [load_id] * len(rows),
        "file_name": [file_name] * len(rows),
        "line": pd.array([r["line"] for r in rows], dtype="Int64"),
        "column_name": ["(whole row)"] * len(rows),
        "raw_value": [r["raw_value"] for r in rows],
        "reason": [r["reason"] for r in rows],
    })


def read_files(paths, settings: Settings, kind: str, columns, meta_for, kind_label: str, progress: Progress):
    """Read, archive and arrange each file by the contract. Returns (accounts, arrow tables, invalid rows)."""
    accounts, tables, invalid = [], [], []
    for i, raw_path in enumerate(paths):
        path = Path(raw_path)
        progress(0.05 + 0.35 * i / max(len(paths), 1), f"Reading {path.name}")
        text = read_text_csv(path)
        if text.table.num_rows == 0 and not text.invalid_rows:
            raise LeadScoringError(f"{path.name}: the file has a header but no data rows. Nothing was loaded.")
        digest, archived = archive_file(path, settings.archive_dir, kind)
        meta = meta_for(path)
        table, extras = contract_table(text, columns, meta, kind_label)
        tables.append(table)
        accounts.append(FileAccount(
            file_name=path.name, sha256=digest, archive_path=str(archived), encoding=text.encoding,
            rows_read=text.rows_read, territory=meta.get("territory"), snapshot_month=meta.get("snapshot_month"),
            extra_columns=extras,
        ))
        invalid.append((path.name, text.invalid_rows))
    return accounts, tables, invalid


def write_accounts(s: Session, load_id: str, kind: str, accounts: list[FileAccount], cells_table: str,
                   row_key_sql: str, actor: Actor, export_at=None) -> pd.DataFrame:
    """Fill rows loaded / quarantined per file from the warehouse and record them in raw.file_loads."""
    counts = s.query(
        f"select file_name, count(*) as n, countif({row_key_sql} is not null) as loaded "
        f"from {cells_table} group by file_name"
    ).set_index("file_name")
    cells = s.query(
        f"select file_name, count(*) as n from staging.quarantine where load_id = {literal(load_id)} "
        "and not starts_with(reason, 'row not loaded') group by file_name"
    ).set_index("file_name")
    now = datetime.now(timezone.utc)
    rows = []
    for f in accounts:
        loaded = int(counts.loc[f.file_name, "loaded"]) if f.file_name in counts.index else 0
        f.rows_loaded = loaded
        f.rows_quarantined = f.rows_read - loaded
        f.cells_quarantined = int(cells.loc[f.file_name, "n"]) if f.file_name in cells.index else 0
        rows.append({
            "load_id": load_id, "kind": kind, "file_name": f.file_name, "territory": f.territory,
            "snapshot_month": f.snapshot_month, "sha256": f.sha256, "archive_path": f.archive_path,
            "encoding": f.encoding, "rows_read": f.rows_read, "rows_loaded": f.rows_loaded,
            "rows_quarantined": f.rows_quarantined, "cells_quarantined": f.cells_quarantined,
            "extra_columns": ", ".join(f.extra_columns), "export_at": export_at, "loaded_at": now,
            "loaded_by": actor.username,
        })
    frame = pd.DataFrame(rows)
    frame["export_at"] = pd.to_datetime(frame["export_at"], utc=True)
    s.load("raw.file_loads", frame, mode="append")
    return frame


def load_territory_files(
    wh: Warehouse,
    settings: Settings,
    paths: list[str | Path],
    month: str | None = None,
    territory: str | None = None,
    actor: Actor | None = None,
    progress: Progress = _noop,
) -> LoadResult:
    """Load one month's territory exports (any subset of T1/T2/T3) and replace that month atomically."""
    actor = actor or cli_actor()
    authorize(actor, "replace_data")
    if not paths:
        raise LeadScoringError("No territory files given. Pass discovery_t1/t2/t3_YYYY_MM.csv files.")
    if territory and len(paths) > 1:
        raise LeadScoringError("--territory applies to a single file; name files discovery_tN_YYYY_MM.csv instead.")
    started = time.perf_counter()
    paths = [Path(p) for p in paths]
    months = {month_of(p, month) for p in paths}
    if len(months) > 1:
        raise LeadScoringError(
            f"The files belong to different months ({', '.join(sorted(months))}). Load one month at a time, "
            "or pass --month YYYY-MM to treat them as one month."
        )
    load_id = uuid.uuid4().hex[:12]
    cols = marketpro_columns()
    accounts, tables, invalid = read_files(
        paths, settings, "territory", cols,
        lambda p: {"load_id": load_id, "file_name": p.name, "territory": territory_of(p, territory),
                   "snapshot_month": month_of(p, month)},
        "MarketPro territory", progress,
    )
    frags = model_fragments(cols, "staging.territory_cells", "RepCRD")
    progress(0.45, "Parsing and checking every cell")
    try:
        with wh.writer("territory load") as s:
            s.load("raw.territory_rows", pa.concat_tables(tables))
            s.run_model("staging/territory_cells.sql", **frags)
            checkpoint("territory_load.after_parse")
            progress(0.65, "Quarantining unparseable values")
            s.run_model("staging/territory_quarantine.sql", **frags)
            for file_name, rows in invalid:
                if rows:
                    s.load("staging.quarantine", _quarantine_frame(load_id, rows, file_name), mode="append")
            s.run_model("staging/stg_territory_reps.sql", **frags)
            checkpoint("territory_load.after_staging")
            progress(0.8, "De-duplicating reps across territories and replacing the month")
            s.run_model("marts/dim_rep_snapshots.sql", **frags)
            write_accounts(s, load_id, "territory", accounts, "staging.territory_cells", "RepCRD", actor)
            quarantine = s.query(
                f"select file_name, line, column_name, raw_value, reason from staging.quarantine "
                f"where load_id = {literal(load_id)} order by file_name, line"
            )
            month_value = next(iter(months))
            summary = {
                "snapshot_month": month_value,
                "unique_reps_in_month": int(s.scalar(
                    f"select count(*) from marts.dim_rep_snapshots where snapshot_month = {literal(month_value)}")),
                "current_month": str(s.scalar("select max(snapshot_month) from marts.dim_rep_snapshots")),
            }
            checkpoint("territory_load.before_commit")
            s.execute("drop table if exists staging.territory_cells; drop table if exists raw.territory_rows")
            result = LoadResult(load_id, "territory", accounts, quarantine, time.perf_counter() - started, summary)
            audit.record(s, actor, "load_territories", ", ".join(p.name for p in paths), "ok", {
                "load_id": load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined, **summary,
            })
    except Exception as exc:
        with contextlib.suppress(Exception):
            audit.record_now(wh, actor, "load_territories", ", ".join(p.name for p in paths), "failed",
                             {"load_id": load_id, "error": f"{type(exc).__name__}: {exc}"})
        raise
    result.seconds = time.perf_counter() - started
    progress(1.0, "Done")
    return result
