"""Steps shared by every file load: read and archive each file, arrange it by the contract, and account
for every row (rows read = loaded + quarantined) in raw.file_loads."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow as pa

from core import audit
from core.auth import Actor, authorize, cli_actor
from core.config import Settings
from core.errors import LeadScoringError
from core.faults import checkpoint
from core.ingest.accounting import FileAccount, LoadResult
from core.ingest.reader import archive_file, contract_table, read_text_csv, unknown_headers
from core.salesforce.ids import SALESFORCE_ID_COLUMNS, to18_array
from core.warehouse import Session
from core.warehouse.parsing import model_fragments
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


@dataclass(frozen=True)
class SalesforceExport:
    """One kind of Salesforce export (Leads, Tasks): where its rows go and what finishes the load."""
    kind: str  # raw.file_loads kind: "leads" | "activities"
    label: str  # in messages: "Salesforce Lead"
    columns: Callable[[], tuple]
    raw_table: str
    typed_view: str
    staged_table: str
    staged_model: str
    extra_quarantine: tuple[str, ...]  # further quarantine models of this kind
    audit_action: str
    dedup_step: str  # progress message of the finish step
    finish: Callable[[Session], dict]  # builds the marts and returns the load summary
    checkpoint: str | None = None  # fault-injection point after staging


def load_salesforce_export(wh, settings: Settings, path, spec: SalesforceExport, actor: Actor | None = None,
                           progress: Progress = no_progress):
    """A full Salesforce export replaces its tables in one writer: read and archive the file, type every cell,
    quarantine what cannot load, run the kind's finish step, account for every row and audit the load (a
    failure is audited too, and leaves the previous load in place)."""
    actor = actor or cli_actor()
    authorize(actor, "replace_data")
    started = time.perf_counter()
    path = Path(path)
    load_id = uuid.uuid4().hex[:12]
    cols = spec.columns()
    accounts, raw, invalid, extra_names = read_files(
        [path], settings, spec.kind, cols, lambda p: {"load_id": load_id, "file_name": p.name}, spec.label, progress)
    tables = {"raw_table": spec.raw_table, "typed_view": spec.typed_view, "staged_table": spec.staged_table}
    frags = {**model_fragments(cols, "Id", extra_names), **tables}
    progress(0.5, "Parsing and checking every cell")
    try:
        with wh.writer(f"{spec.kind} load") as s:
            s.stage(spec.raw_table, raw)
            s.run_model("staging/salesforce_typed.sql", **frags)
            s.run_model(spec.staged_model, **frags)
            s.run_model("staging/salesforce_quarantine.sql", load_id=literal(load_id), **frags)
            for model in spec.extra_quarantine:
                s.run_model(model, load_id=literal(load_id), **frags)
            quarantine_invalid_rows(s, load_id, invalid)
            if spec.checkpoint:
                checkpoint(spec.checkpoint)
            progress(0.75, spec.dedup_step)
            summary = spec.finish(s)
            export_at = s.scalar(
                f"select greatest(max(CreatedDate), max(LastModifiedDate)) from {spec.staged_table}")
            write_accounts(s, load_id, spec.kind, accounts, spec.staged_table, actor, export_at)
            quarantine = load_quarantine(s, load_id)
            summary["export_at (as_of)"] = str(export_at)
            s.execute(f"drop view if exists {spec.typed_view}")
            s.unstage(spec.raw_table)
            result = LoadResult(load_id, spec.kind, accounts, quarantine, time.perf_counter() - started, summary)
            audit.record(s, actor, spec.audit_action, path.name, "ok", {
                "load_id": load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
                "rows_quarantined": result.rows_quarantined, **{k: str(v) for k, v in summary.items()},
            })
    except Exception as exc:
        with contextlib.suppress(Exception):
            audit.record_now(wh, actor, spec.audit_action, path.name, "failed",
                             {"load_id": load_id, "error": f"{type(exc).__name__}: {exc}"})
        raise
    result.seconds = time.perf_counter() - started
    progress(1.0, "Done")
    return result
