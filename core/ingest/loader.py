"""Steps shared by every file load: read and archive each file, arrange it by the contract, and account
for every row (rows read = loaded + quarantined) in raw.file_loads."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from core.auth import DEMO_LOADER, Actor
from core.config import Settings
from core.contract import match_headers, normalize_header
from core.errors import LeadScoringError
from core.faults import checkpoint
from core.ingest.accounting import SENTENCES, FileAccount, LoadResult
from core.ingest.reader import (StreamedFile, archive_file, check_required, contract_batch, contract_table,
                                open_text_csv, read_text_csv)
from core.operation import Operation, operation
from core.salesforce.ids import SALESFORCE_ID_COLUMNS, to18_arrow
from core.warehouse import Session
from core.warehouse.parsing import TRUE_TOKENS, model_fragments, quote_ident
from core.warehouse.sql import literal

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    pass


def read_files(paths, settings: Settings, kind: str, columns, meta_for, kind_label: str, progress: Progress,
               live_pull: str = ""):
    """Read, archive and arrange each file. Returns (accounts, rows, invalid rows, extra names): ``rows`` is one
    Arrow table when the files are small, or :class:`StreamedRows` (read in batches as it is staged) when they
    are larger than ``ingest_stream_mb`` in total — the same rows, in bounded memory. ``live_pull``: the command
    that pulls this kind from the org instead, offered when a header lacks a required column."""
    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LeadScoringError(f"{', '.join(twice)}: two files of the same name in one load. Every row is accounted "
                               "for by file name and line, so rename one of them (or load them separately); "
                               "nothing was loaded.")
    stream_mb = float(settings.extra.get("ingest_stream_mb", 64))
    if sum(p.stat().st_size for p in paths if p.is_file()) > stream_mb * 1e6:
        return _stream_files(paths, settings, kind, columns, meta_for, kind_label, progress, live_pull)
    texts, accounts = [], []
    for i, path in enumerate(paths):
        progress(0.05 + 0.35 * i / max(len(paths), 1), f"Reading {path.name}")
        text = read_text_csv(path)
        if text.table.num_rows == 0 and not text.invalid_rows:
            raise LeadScoringError(f"{path.name}: the file has a header but no data rows. Nothing was loaded.")
        digest, archived = archive_file(path, settings.archive_dir, kind, compress=pulled(path, settings))
        texts.append((path, text))
        accounts.append(_account(path, text, digest, archived, meta_for(path), columns))
        check_required(path, text.headers, columns, kind_label, live_pull)
    extra_names = list(dict.fromkeys(h for a in accounts for h in a.extra_columns))
    tables = [contract_table(text, columns, meta_for(path), kind_label, extra_names) for path, text in texts]
    invalid = [(path.name, text.invalid_rows) for path, text in texts]
    return accounts, normalise_ids(pa.concat_tables(tables)), invalid, extra_names


def pulled(path: Path, settings: Settings) -> bool:
    """A file the engine wrote from a Salesforce pull (``data/pulls``): archived compressed (:func:`archive_file`)."""
    return Path(path).resolve().parent == (Path(settings.data_dir) / "pulls").resolve()


def _account(path: Path, text, digest: str, archived: Path, meta: dict, columns) -> FileAccount:
    found, extras = match_headers(text.headers, columns)
    return FileAccount(
        file_name=path.name, sha256=digest, archive_path=str(archived), encoding=text.encoding,
        rows_read=text.rows_read, territory=meta.get("territory"), snapshot_month=meta.get("snapshot_month"),
        extra_columns=[h for h, _ in extras], missing_columns=[c.name for c in columns if c.name not in found],
    )


def _stream_files(paths, settings, kind, columns, meta_for, kind_label, progress, live_pull):
    files, accounts = [], []
    for i, path in enumerate(paths):
        progress(0.05 + 0.35 * i / max(len(paths), 1), f"Checking and archiving {path.name}")
        f = open_text_csv(path)
        check_required(path, f.headers, columns, kind_label, live_pull)
        digest, archived = archive_file(path, settings.archive_dir, kind, f.sha256, compress=pulled(path, settings))
        files.append(f)
        accounts.append(_account(path, f, digest, archived, meta_for(path), columns))
    extra_names = list(dict.fromkeys(h for a in accounts for h in a.extra_columns))
    rows = StreamedRows([(f, meta_for(f.path)) for f in files], columns, kind_label, extra_names,
                        int(settings.extra.get("ingest_block_bytes", 4 << 20)))
    return accounts, rows, [(f.path.name, f.invalid_rows) for f in files], extra_names


class StreamedRows:
    """One load's files arranged by the contract and read in batches whenever they are staged: peak memory is
    a few blocks, not the files. Row counts and malformed rows fill in as the batches are read; ``settle``
    copies them into the accounts once staged."""

    def __init__(self, files: list[tuple[StreamedFile, dict]], columns, kind_label: str, extra_names: list[str],
                 block_size: int):
        self.files, self.columns, self.kind_label = files, columns, kind_label
        self.extra_names, self.block_size = extra_names, block_size

    def _arranged(self, f: StreamedFile, meta: dict, data, lines) -> pa.Table:
        return normalise_ids(contract_batch(data, f.path, f.headers, self.columns, meta, self.kind_label,
                                            self.extra_names, lines))

    @property
    def schema(self) -> pa.Schema:
        f, meta = self.files[0]
        empty = pa.table({f"c{i}": pa.array([], pa.string()) for i in range(len(f.headers))})
        return contract_batch(empty, f.path, f.headers, self.columns, meta, self.kind_label, self.extra_names,
                              np.array([], dtype=np.int64)).schema

    def batches(self):
        schema = self.schema
        for f, meta in self.files:
            for batch, lines in f.batches(self.block_size):
                yield from self._arranged(f, meta, batch, lines).cast(schema).to_batches()

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, self.batches())

    def read_all(self) -> pa.Table:
        return self.reader().read_all()

    def settle(self, accounts: list[FileAccount]) -> None:
        for (f, _), account in zip(self.files, accounts):
            if f.rows_read == 0:
                raise LeadScoringError(f"{f.path.name}: the file has a header but no data rows. Nothing was loaded.")
            account.rows_read = f.rows_read


def settle(rows, accounts: list[FileAccount]) -> None:
    """After staging: rows read per file are known for streamed files too."""
    if isinstance(rows, StreamedRows):
        rows.settle(accounts)


def normalise_ids(table: pa.Table) -> pa.Table:
    """Salesforce record Ids in their 18-character case-safe form (reports export 15), so a report file and
    an API pull of the same leads are the same leads. The archived raw file keeps what was sent."""
    for name in SALESFORCE_ID_COLUMNS:
        if name in table.column_names:
            i = table.column_names.index(name)
            table = table.set_column(i, name, to18_arrow(table.column(i)))
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
                   actor: Actor, export_at=None, where: str = "true") -> None:
    """Fill rows loaded / quarantined per file from the warehouse (the load's rows in ``staged_table`` where
    ``where``) and record them in raw.file_loads."""
    loaded = s.query(
        f"select file_name, count(*) as n from {staged_table} where {where} and load_id = {literal(load_id)} "
        "group by file_name"
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


# Salesforce's system field of a soft-deleted record: Data Loader's "Export All" (and a queryAll) writes the recycle
# bin's records beside the live ones — deleted Leads, and the losing side of every merge — flagged IsDeleted = true.
DELETED_FIELD = "isdeleted"


def quarantine_deleted(s: Session, load_id: str, typed_rows: str, extra_names: list[str],
                       spec: "SalesforceExport") -> str | None:
    """Rows of records deleted in Salesforce (an ``IsDeleted`` column, not a contract one, says true) are not
    loaded: each is quarantined with the reason and taken out of the load's typed rows before anything reads them.
    Loaded, a merged duplicate would stand beside its master as a lead of its own (scored, written back to a record
    that no longer exists, counted in experiments). Returns the load summary's sentence, or None."""
    header = next((n for n in extra_names if normalize_header(n) == DELETED_FIELD
                   and re.fullmatch(r"[A-Za-z][A-Za-z _.-]*", n)), None)  # 'IsDeleted', 'ISDELETED', 'Is Deleted'
    if header is None:
        return None
    value = f"json_value(extra_json, '$.\"{header}\"')"
    flag = f"upper(trim({value})) in ({TRUE_TOKENS})"
    n = s.scalar(f"select count(*) from {typed_rows} where {flag}")
    if not n:
        return None
    record = spec.record
    s.execute(
        "insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason) "
        f"select load_id, file_name, line, {literal(header)}, {value}, "
        f"'row not loaded: the {record} is deleted in Salesforce ({header} = true)' from {typed_rows} where {flag}")
    s.execute(f"delete from {typed_rows} where {flag}")
    return (f"{n:,} row(s) are {record}s deleted in Salesforce ({header} = true: an 'Export All' file includes the "
            f"recycle bin and the losing side of merged records): not loaded, listed in the quarantine."
            + (f" {spec.export_all_advice}" if spec.export_all_advice else ""))


# A date column whose values mostly fail to parse is a file in another format, not a few bad cells: Salesforce
# report exports write dates in the user's locale and time zone ('10/11/2024 10:58 PM'). Loaded, every lead would
# lose its creation or contact time (no population, no labels, as_of unknown) behind a quarantine of thousands of
# cells. Past UNREADABLE_MIN_VALUES failures, a column where failures outnumber parsed values refuses the file.
UNREADABLE_MIN_VALUES = 10


def refuse_unreadable_dates(s: Session, load_id: str, typed_rows: str, columns, file_name: str,
                            spec: "SalesforceExport") -> None:
    """Raise (the load's writer rolls back: nothing loaded) when a timestamp or date column of the file mostly
    failed to parse, naming the column, the count and an example, and how to export it again."""
    dated = [c for c in columns if c.type in ("timestamp", "date") and not c.is_pii]
    if not dated:
        return
    names = ", ".join(literal(c.sql_name) for c in dated)
    bad = s.query(f"select column_name, count(*) as n, min(raw_value) as example from staging.quarantine "
                  f"where load_id = {literal(load_id)} and column_name in ({names}) group by column_name "
                  f"having count(*) >= {UNREADABLE_MIN_VALUES} order by column_name")
    if bad.empty:
        return
    parsed = s.query("select " + ", ".join(f"count({quote_ident(c)}) as {quote_ident(c)}" for c in bad.column_name)
                     + f" from {typed_rows}").iloc[0]
    worst = [r for r in bad.itertuples() if r.n > int(parsed[r.column_name])]
    if not worst:
        return
    r = worst[0]
    kinds = {c.sql_name: c.type for c in dated}
    want = "UTC ISO-8601 timestamps like 2024-10-11T22:58:02.000+0000" if kinds[r.column_name] == "timestamp" else \
        "dates like 2024-10-11"
    others = f" ({', '.join(w.column_name for w in worst[1:])} too)" if len(worst) > 1 else ""
    pull = f", or pull it live: `python -m core {spec.live_pull}`" if spec.live_pull else ""
    head = (f"{file_name}: {r.n:,} of {r.n + int(parsed[r.column_name]):,} values of {r.column_name}{others} are not "
            f"{want}: {r.example!r}, for one.")
    if all(kinds[w.column_name] == "date" for w in worst):
        # only date columns: Excel reads 2024-10-11 as a date and saves it back as 10/11/2024 (ISO timestamps with a
        # 'T' stay text in Excel, so they come through)
        raise LeadScoringError(
            f"{head} Excel rewrites dates like this when an export is opened and saved again: load the file as Data "
            f"Loader, Workbench or the API wrote it, without saving it from Excel{pull}. Nothing was loaded.")
    raise LeadScoringError(
        f"{head} A Salesforce report export writes dates in the user's locale and time zone; export the "
        f"{spec.label} records with Data Loader, Workbench or the API, which write ISO-8601 in UTC{pull}. "
        "Nothing was loaded.")


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
    staged_table: str  # the load's loadable rows (keys): a scratch view of the typed rows, by this name
    staged_model: str
    extra_quarantine: tuple[str, ...]  # further quarantine models of this kind
    audit_action: str
    dedup_step: str  # progress message of the finish step
    finish: Callable[[Session, dict], dict]  # builds the marts from the typed rows (fragments) -> load summary
    checkpoint: str | None = None  # fault-injection point after staging
    row_keys: tuple[str, ...] = ()  # columns besides Id a row cannot load without (see model_fragments)
    live_pull: str = ""  # the command that pulls this export from the org instead (named in errors)
    export_table: str = ""  # the mart the finish step replaces: which load is current (see refuse_older_export)
    # what the load's warning advises when an 'Export All' file carries deleted records (see quarantine_deleted)
    export_all_advice: str = ""
    # a load that lacks many of the loaded records is refused (see refuse_fewer_records): a filtered export
    fewer_guard: bool = False

    @property
    def record(self) -> str:
        """The Salesforce object as messages name it: "Lead" for "Salesforce Lead"."""
        return self.label.split()[-1]


def load_salesforce_export(wh, settings: Settings, path, spec: SalesforceExport, actor: Actor | None = None,
                           progress: Progress = no_progress, allow_older: bool = True, allow_fewer: bool = True,
                           notes: tuple[str, ...] = ()):
    """A full Salesforce export replaces its tables in one writer: read and archive the file, type every cell,
    quarantine what cannot load, run the kind's finish step, account for every row and audit the load (a
    failure is audited too, and leaves the previous load in place). Without ``allow_older``, an export older
    than the one loaded is refused (:func:`refuse_older_export`); without ``allow_fewer``, one that lacks many of
    the contacted records loaded (:func:`refuse_fewer_records`). ``notes``: warnings the caller knows of (a pull:
    the fields the org lacks), kept with the load's own."""
    path = Path(path)
    with operation(wh, actor, "replace_data", spec.audit_action, path.name) as op:
        return _load_export(op, settings, path, spec, progress, allow_older, allow_fewer, notes)


def loaded_export_at(s: Session, kind: str = "leads", table: str = "marts.dim_leads") -> pd.Timestamp | None:
    """The export time (UTC) of the load whose rows ``table`` holds now; None before the first, or when the export
    had no dates to date it. For Leads, every verb's default as-of (:func:`core.features.build.default_as_of`)."""
    if not (s.table_exists(table) and s.table_exists("raw.file_loads")):
        return None
    value = s.scalar(f"select max(export_at) from raw.file_loads where kind = {literal(kind)} "
                     f"and load_id in (select distinct load_id from {table})")
    return None if value is None or pd.isna(value) else pd.Timestamp(value).tz_convert("UTC")


def refuse_older_export(file_name: str, spec: SalesforceExport, export_at, previous) -> None:
    """An export older than the loaded one would move every label, score and tier list back in time, and the next
    write-back would send those older scores: refused unless asked for (``--allow-older``)."""
    if previous is None or export_at is None or pd.isna(export_at):
        return
    new, old = pd.Timestamp(export_at).tz_convert("UTC"), previous
    if new < old:
        raise LeadScoringError(
            f"{file_name} was exported {new:%d %b %Y %H:%M} UTC (its newest CreatedDate/LastModifiedDate), before the "
            f"{spec.label} export already loaded ({old:%d %b %Y %H:%M} UTC): loading it would move every label, score "
            "and tier list back to then, and the next write-back would send those older scores. Load the newest "
            "export; if the older file is meant (to redo a past day), load it with --allow-older (on the Upload page: "
            "'Allow an older export'). Nothing was loaded.")


# A full export replaces every record loaded: one lacking this share of the contacted records loaded (and at least
# FEWER_MIN of them) is a filtered export — a list view, a report, one owner's Leads — or a user who cannot see
# every record. Leads really deleted in Salesforce are a few in a hundred between two exports.
FEWER_SHARE = 0.10
FEWER_MIN = 50


def refuse_fewer_records(s: Session, staged: str, file_name: str, spec: SalesforceExport) -> None:
    """Raise (nothing loaded) when the export lacks FEWER_SHARE of the contacted records loaded now: loaded, the
    missing ones would leave the tier lists and the training rows, and the next write-back would clear their
    scores in Salesforce."""
    table = spec.export_table
    if not table or not s.table_exists(table):
        return
    loaded_by = s.scalar(f"select max(loaded_by) from raw.file_loads where kind = {literal(spec.kind)} "
                         f"and load_id in (select distinct load_id from {table})")
    if loaded_by == DEMO_LOADER:  # the first start's demo Leads: a team's own export replaces them
        return
    row = s.query(f"select count(*) as had, countif(n.Id is null) as missing from {table} as o "
                  f"left join (select distinct Id from {staged}) as n on n.Id = o.Id "
                  "where o.Stage_Entered_Contacting__c is not null").iloc[0]
    had, missing = int(row.had), int(row.missing)
    if missing < FEWER_MIN or missing < FEWER_SHARE * had:
        return
    record = spec.record
    if missing == had:
        raise LeadScoringError(
            f"{file_name} holds none of the {had:,} contacted {record}s loaded now: an export of another org? A "
            f"{spec.label} load replaces every {record}. To start over on another org, use an empty data folder "
            f"(LEADSCORE_DATA_DIR); to replace them anyway, load it with --allow-fewer (in the control panel: 'Allow "
            f"fewer {record}s'). Nothing was loaded.")
    raise LeadScoringError(
        f"{file_name} lacks {missing:,} of the {had:,} contacted {record}s loaded now ({missing / had:.0%}). A "
        f"{spec.label} load replaces every {record}: loaded, they would leave the tier lists and the training rows, "
        f"and the next write-back would clear their scores in Salesforce. A filtered export (a list view, a report, "
        f"one owner's {record}s) does this; export every {record} (Data Loader or Workbench without a filter, or "
        f"`python -m core {spec.live_pull}`). A live pull that sees fewer: the integration user lacks access to "
        f"some {record}s (View All on {record}). If they really were deleted, load it with --allow-fewer (in the "
        f"control panel: 'Allow fewer {record}s', on the Upload page or, for a pull, on Salesforce sync). Nothing was "
        "loaded.")


def _load_export(op: Operation, settings: Settings, path: Path, spec: SalesforceExport, progress: Progress,
                 allow_older: bool = True, allow_fewer: bool = True, notes: tuple[str, ...] = ()):
    wh, actor = op.wh, op.actor
    load_id = op.context["load_id"] = uuid.uuid4().hex[:12]
    cols = spec.columns()
    accounts, raw, invalid, extra_names = read_files(
        [path], settings, spec.kind, cols, lambda p: {"load_id": load_id, "file_name": p.name}, spec.label, progress,
        spec.live_pull)
    progress(0.5, "Parsing and checking every cell")
    with wh.writer(f"{spec.kind} load") as s:
        staged = s.scratch(spec.staged_table)
        frags = {**model_fragments(cols, "Id", extra_names, spec.row_keys, s.compact_offsets),
                 "raw_table": spec.raw_table, "staged_table": staged,
                 "scratch_kind": s.scratch_kind, "scratch_view": s.scratch_view_kind,
                 "typed_rows": s.scratch(f"{spec.kind}_typed")}
        s.stage(spec.raw_table, raw)
        s.run_model("staging/typed.sql", **frags)
        settle(raw, accounts)
        deleted = quarantine_deleted(s, load_id, frags["typed_rows"], extra_names, spec)
        s.run_model(spec.staged_model, **frags)
        s.run_model("staging/quarantine.sql", load_id=literal(load_id), **frags)
        for model in spec.extra_quarantine:
            s.run_model(model, load_id=literal(load_id), **frags)
        quarantine_invalid_rows(s, load_id, invalid)
        refuse_unreadable_dates(s, load_id, frags["typed_rows"], cols, path.name, spec)
        if spec.checkpoint:
            checkpoint(spec.checkpoint)
        progress(0.75, spec.dedup_step)
        previous = None if allow_older else loaded_export_at(s, spec.kind, spec.export_table)
        if spec.fewer_guard and not allow_fewer:
            refuse_fewer_records(s, staged, path.name, spec)
        summary = spec.finish(s, frags)
        if deleted:
            summary.setdefault("warnings", []).append(deleted)
        if notes:
            summary.setdefault("warnings", []).extend(notes)
        export_at = s.scalar(f"select greatest(max(CreatedDate), max(LastModifiedDate)) from {staged}")
        if not allow_older:
            refuse_older_export(path.name, spec, export_at, previous)
        write_accounts(s, load_id, spec.kind, accounts, staged, actor, export_at)
        quarantine = load_quarantine(s, load_id)
        summary["export_at (as_of)"] = str(export_at)
        s.execute(f"drop view if exists {staged}")
        s.execute(f"drop table if exists {frags['typed_rows']}")
        s.unstage(spec.raw_table)
        result = LoadResult(load_id, spec.kind, accounts, quarantine, op.seconds, summary)
        op.record(s, detail={
            "load_id": load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
            # sentences (a load's warnings) stay lists: the home page reads them back
            "rows_quarantined": result.rows_quarantined,
            **{k: v if k in SENTENCES else str(v) for k, v in summary.items()},
        })
    result.seconds = op.seconds
    progress(1.0, "Done")
    return result
