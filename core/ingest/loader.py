"""Steps shared by every file load: read and archive each file, arrange it by the contract, and account
for every row (rows read = loaded + quarantined) in raw.file_loads."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa

from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.ingest.accounting import FileAccount
from core.salesforce.ids import SALESFORCE_ID_COLUMNS, to18_array
from core.ingest.reader import archive_file, contract_table, read_text_csv, unknown_headers
from core.warehouse import Session
from core.warehouse.sql import literal

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    pass


def read_files(paths, settings: Settings, kind: str, columns, meta_for, kind_label: str, progress: Progress):
    """Read, archive and arrange each file. Returns (accounts, one Arrow table, invalid rows, extra names)."""
    texts, accounts = [], []
    for i, path in enumerate(Path(p) for p in paths):
        progress(0.05 + 0.35 * i / max(len(paths), 1), f"Reading {path.name}")
        text = read_text_csv(path)
        if text.table.num_rows == 0 and not text.invalid_rows:
            raise LeadScoringError(f"{path.name}: the file has a header but no data rows. Nothing was loaded.")
        digest, archived = archive_file(path, settings.archive_dir, kind)
        texts.append((path, text))
        meta = meta_for(path)
        accounts.append(FileAccount(
            file_name=path.name, sha256=digest, archive_path=str(archived), encoding=text.encoding,
            rows_read=text.rows_read, territory=meta.get("territory"), snapshot_month=meta.get("snapshot_month"),
            extra_columns=unknown_headers(text, columns),
        ))
    extra_names = list(dict.fromkeys(h for a in accounts for h in a.extra_columns))
    tables = [contract_table(text, columns, meta_for(path), kind_label, extra_names) for path, text in texts]
    invalid = [(path.name, text.invalid_rows) for path, text in texts]
    return accounts, normalise_ids(pa.concat_tables(tables)), invalid, extra_names


def normalise_ids(table: pa.Table) -> pa.Table:
    """Salesforce record Ids in their 18-character case-safe form (reports export 15), so a report file and
    an API pull of the same leads are the same leads. The archived raw file keeps what was sent."""
    for name in SALESFORCE_ID_COLUMNS:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, pa.array(to18_array(table.column(i).to_pylist()), type=pa.string()))
    return table


def quarantine_invalid_rows(s: Session, load_id: str, invalid: list[tuple[str, list[dict]]]) -> None:
    """Rows the CSV reader could not split into the header's fields: kept whole in the quarantine."""
    rows = [(name, r) for name, rs in invalid for r in rs]
    if not rows:
        return
    s.load("staging.quarantine", pd.DataFrame({
        "load_id": [load_id] * len(rows),
        "file_name": [n for n, _ in rows],
        "line": pd.array([r["line"] for _, r in rows], dtype="Int64"),
        "column_name": ["(whole row)"] * len(rows),
        "raw_value": [r["raw_value"] for _, r in rows],
        "reason": [r["reason"] for _, r in rows],
    }), mode="append")


def write_accounts(s: Session, load_id: str, kind: str, accounts: list[FileAccount], staged_table: str,
                   actor: Actor, export_at=None) -> None:
    """Fill rows loaded / quarantined per file from the warehouse and record them in raw.file_loads."""
    loaded = s.query(
        f"select file_name, count(*) as n from {staged_table} where load_id = {literal(load_id)} group by file_name"
    ).set_index("file_name")["n"]
    cells = s.query(
        f"select file_name, count(*) as n from staging.quarantine where load_id = {literal(load_id)} "
        "and column_name != '(whole row)' and not starts_with(reason, 'row not loaded') group by file_name"
    ).set_index("file_name")["n"]
    now = datetime.now(timezone.utc)
    rows = []
    for f in accounts:
        f.rows_loaded = int(loaded.get(f.file_name, 0))
        f.rows_quarantined = f.rows_read - f.rows_loaded
        f.cells_quarantined = int(cells.get(f.file_name, 0))
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


def load_quarantine(s: Session, load_id: str) -> pd.DataFrame:
    return s.query(
        "select file_name, line, column_name, raw_value, reason from staging.quarantine "
        f"where load_id = {literal(load_id)} order by file_name, line"
    )
