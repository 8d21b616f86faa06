"""Reading an export file as text, exactly: every cell as the string it was, every row accounted for.

UTF-8, UTF-8 with BOM and Latin-1 files are accepted; CRLF or LF line ends; quoted values may run over
several lines (Salesforce's Address and text areas do). Rows with the wrong number of fields are not dropped
silently: they come back as ``invalid_rows`` for the quarantine. A row's number is its record's, as a spreadsheet
numbers it (the header is 1), not the file's physical line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from core.contract import Column, match_headers, normalize_header
from core.errors import LeadScoringError


@dataclass
class TextFile:
    path: Path
    encoding: str
    headers: list[str]
    table: pa.Table  # one string column per header position: c0, c1, ...
    invalid_rows: list[dict] = field(default_factory=list)  # {line, raw_value, reason}

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.invalid_rows)

    def lines(self) -> np.ndarray:
        """The record number of each row of ``table``: the header is 1, and the invalid rows' numbers are
        skipped (a cell quarantined after a ragged row names its own row, not the one before it)."""
        return record_numbers(1, self.table.num_rows, [r["line"] for r in self.invalid_rows])


def record_numbers(last: int, n: int, skipped) -> np.ndarray:
    """The record numbers of the ``n`` rows read after record ``last``: the next numbers that are not
    ``skipped`` (the rows that were not read, being invalid)."""
    bad = np.asarray(sorted(b for b in skipped if b is not None and b > last), dtype=np.int64)
    candidates = np.arange(last + 1, last + 1 + n + len(bad), dtype=np.int64)
    return candidates[~np.isin(candidates, bad)][:n] if len(bad) else candidates


def open_archived(path: Path):
    """An archive copy (:func:`archive_file`) read back, in binary, as the file it was: through gzip when the
    engine compressed it."""
    return gzip.open(path, "rb") if Path(path).suffix == ".gz" else open(path, "rb")


def sha256_of(path: Path, archived: bool = False) -> str:
    """The file's checksum; ``archived``: an archive copy's, as the file was when loaded (:func:`open_archived`)."""
    h = hashlib.sha256()
    with open_archived(path) if archived else open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_file(path: Path, archive_dir: Path, kind: str, digest: str | None = None,
                 compress: bool = False) -> tuple[str, Path]:
    """Copy the raw file into the content-addressed archive; return (sha256 of the file as read, archived path).
    With ``compress`` the copy is gzip (``.gz``, fastest level): for the files the engine writes itself from a
    Salesforce pull, which a daily run would otherwise add to the archive whole every day (at full scale ~47 MB a
    day of Leads and Tasks; ~4x smaller compressed, ~0.15 s each); an uploaded file is kept byte for byte."""
    digest = digest or sha256_of(path)
    dest = archive_dir / kind / f"{digest[:16]}_{path.name}{'.gz' if compress else ''}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        if compress:
            with open(path, "rb") as src, gzip.open(tmp, "wb", compresslevel=1) as out:
                shutil.copyfileobj(src, out, 1 << 20)
        else:
            shutil.copyfile(path, tmp)
        tmp.replace(dest)
    return digest, dest


# Leading bytes of files that are not CSV text, as users actually upload them (renamed or exported wrongly).
_SIGNATURES = (
    (b"\x1f\x8b", "a gzip-compressed file", "Decompress it (e.g. `gunzip`) and load the .csv inside."),
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook",
     "If it is a workbook, open it and save the sheet as CSV (UTF-8); if it is a .zip, extract the .csv inside."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls workbook", "Open it and save the sheet as CSV (UTF-8)."),
    (b"BZh", "a bzip2-compressed file", "Decompress it and load the .csv inside."),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "Decompress it and load the .csv inside."),
    (b"(\xb5/\xfd", "a zstd-compressed file", "Decompress it and load the .csv inside."),
    (b"PAR1", "a Parquet file", "Export the data as CSV instead."),
    (b"%PDF", "a PDF document", "Export the data as CSV instead."),
)


def sniff_not_csv(path: Path) -> None:
    """Refuse a file that is not CSV text, by its content (not its name), with what to do instead."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    for magic, what, fix in _SIGNATURES:
        if head.startswith(magic):
            raise LeadScoringError(f"{path.name}: this is {what}, not a CSV text file. {fix} Nothing was loaded.")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LeadScoringError(f"{path.name}: this is a binary file (it contains NUL bytes), not a CSV text file. "
                               "Export the data as CSV (UTF-8) and load that. Nothing was loaded.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LeadScoringError(f"{path.name}: the file is UTF-16 text. Save it as CSV UTF-8 (Excel: 'CSV UTF-8 "
                               "(Comma delimited)') and load it again. Nothing was loaded.")


def _header(path: Path) -> tuple[list[str], str]:
    with open(path, "rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise LeadScoringError(f"{path.name}: the file is empty or its first line is blank. Export it again with a header row.")
    if first.startswith(b"\xef\xbb\xbf"):
        enc, text = "utf-8-sig", first.decode("utf-8-sig")
    else:
        try:
            enc, text = "utf-8", first.decode("utf-8")
        except UnicodeDecodeError:
            enc, text = "latin-1", first.decode("latin-1")
    try:
        headers = next(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise LeadScoringError(f"{path.name}: the first line is not a CSV header ({exc}). Check the file is a CSV "
                               "export. Nothing was loaded.") from exc
    return [h.strip() for h in headers], enc


def _checked_header(path: Path) -> tuple[list[str], str]:
    """The checks every read starts with (exists, not empty, CSV text), then the header and its encoding."""
    if path.is_dir():
        raise LeadScoringError(f"{path}: is a folder, not a file. Pass the CSV export file itself.")
    if not path.exists():
        raise LeadScoringError(f"{path}: no such file. Check the path and try again.")
    if path.stat().st_size == 0:
        raise LeadScoringError(f"{path.name}: the file is empty (0 bytes). Export it again.")
    sniff_not_csv(path)
    return _header(path)


def read_text_csv(path: str | Path) -> TextFile:
    path = Path(path)
    headers, header_enc = _checked_header(path)
    names = [f"c{i}" for i in range(len(headers))]
    last_error = None
    for encoding in (("utf8",) if header_enc != "latin-1" else ()) + ("latin1",):
        try:
            table, invalid = _read(path, names, encoding, threads=True)
            if any(r["line"] is None for r in invalid):
                # Multi-threaded reads cannot number malformed rows: read again in one thread for exact lines.
                table, invalid = _read(path, names, encoding, threads=False)
        except pa.ArrowInvalid as exc:
            last_error = exc
            if "utf8" in str(exc).lower():
                continue
            raise LeadScoringError(f"{path.name}: could not be read as CSV ({exc}). Check the file is a CSV export.") from exc
        used = "latin-1" if encoding == "latin1" else header_enc
        return TextFile(path, used, headers, table, invalid)
    raise LeadScoringError(f"{path.name}: could not be decoded as UTF-8 or Latin-1 ({last_error}). Re-export as UTF-8.")


def _options(names: list[str], encoding: str, threads: bool, invalid: list[dict], block_size: int | None = None):
    def on_invalid(row):
        reason = f"row has {row.actual_columns} fields, expected {row.expected_columns}: row not loaded"
        lines = (row.text or "").count("\n") + 1
        if lines > 1:  # a quote left open joins every line up to the next quote into this one row
            reason += (f"; it runs over {lines} lines of the file — if a quote (\") in it is never closed, the rows "
                       "on those lines are inside it: close the quote and load the file again")
        invalid.append({"line": row.number, "raw_value": (row.text or "")[:500], "reason": reason})
        return "skip"

    read = pacsv.ReadOptions(column_names=names, skip_rows=1, encoding=encoding, use_threads=threads)
    if block_size:
        read.block_size = block_size
    return dict(
        read_options=read,
        # newlines_in_values: a quoted value over several lines (an Address) is one value. Without it a block
        # boundary inside such a value made Arrow give up on the whole file ("parser got out of sync with
        # chunker"); with it, reading a clean 59 MB territory file took 0.19 s against 0.15 s.
        parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )


def _read(path: Path, names: list[str], encoding: str, threads: bool) -> tuple[pa.Table, list[dict]]:
    invalid: list[dict] = []
    table = pacsv.read_csv(path, **_options(names, encoding, threads, invalid))
    return table, invalid


@dataclass
class StreamedFile:
    """A CSV export read in batches (bounded memory, any size): its header and encoding are known up front;
    ``rows`` and ``invalid_rows`` fill as the batches are read."""
    path: Path
    encoding: str
    headers: list[str]
    sha256: str
    rows: int = 0
    invalid_rows: list[dict] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.rows + len(self.invalid_rows)

    def batches(self, block_size: int) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
        """Each batch with its rows' record numbers (see :meth:`TextFile.lines`); each call reads the file again
        from the start (and recounts). One thread: Arrow's streaming reader parses a block at a time either way
        (a 59 MB file took 0.20 s with threads or without), and only then does a malformed row get its number —
        known before the batch that follows it, so every batch's numbers are exact."""
        self.rows = 0
        self.invalid_rows.clear()
        names = [f"c{i}" for i in range(len(self.headers))]
        arrow_encoding = "latin1" if self.encoding == "latin-1" else "utf8"
        reader = pacsv.open_csv(self.path, **_options(names, arrow_encoding, False, self.invalid_rows, block_size))
        last = 1
        for batch in reader:
            if batch.num_rows:
                lines = record_numbers(last, batch.num_rows, [r["line"] for r in self.invalid_rows])
                last = int(lines[-1])
                self.rows += batch.num_rows
                yield batch, lines


def open_text_csv(path: str | Path) -> StreamedFile:
    """Check a file the way :func:`read_text_csv` does, in one pass that also takes its checksum and decides
    its encoding (UTF-8 when every byte decodes, else Latin-1), without holding it in memory."""
    path = Path(path)
    headers, header_enc = _checked_header(path)
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = header_enc != "latin-1"
    # The checksum of each chunk is taken in a second thread (hashlib releases the GIL) while this one checks
    # its UTF-8; ASCII chunks (outside a split character) are valid UTF-8 without decoding.
    with open(path, "rb") as fh, ThreadPoolExecutor(1) as hasher:
        hashed = None
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            if hashed is not None:
                hashed.result()
            hashed = hasher.submit(h.update, chunk)
            if utf8 and not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
        if hashed is not None:
            hashed.result()
        if utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8 = False
    return StreamedFile(path, header_enc if utf8 else "latin-1", headers, h.hexdigest())


def contract_table(text: TextFile, columns: tuple[Column, ...], meta: dict, kind_label: str,
                   extra_names: list[str]) -> pa.Table:
    """Arrange a file's text columns by the contract: missing optional columns become NULL; unknown
    columns land in ``x__i`` by their position in ``extra_names`` (the load's union of unknown headers).
    Required columns missing raise the project error."""
    return contract_batch(text.table, text.path, text.headers, columns, meta, kind_label, extra_names, text.lines())


def check_required(path: Path, headers: list[str], columns: tuple[Column, ...], kind_label: str,
                   live_pull: str = "") -> None:
    found, _ = match_headers(headers, columns)
    missing = [c.name for c in columns if c.required and c.name not in found]
    if missing and len(headers) == 1:  # one header field: the file is separated by something other than commas
        sep = max((";", "\t", "|"), key=headers[0].count)
        if headers[0].count(sep):
            what = {";": "semicolons", "\t": "tabs", "|": "pipes"}[sep]
            raise LeadScoringError(
                f"{path.name}: the header is one field separated by {what} ({headers[0][:60]!r}…), not commas. "
                "Save the export as 'CSV UTF-8 (Comma delimited)' (Excel in many European locales writes semicolons) "
                "and load it again. Nothing was loaded.")
    if missing:
        raise LeadScoringError(
            f"{path.name}: required column(s) {', '.join(missing)} not found in the header. "
            f"A {kind_label} export must include them (header matching ignores case, spaces and punctuation); "
            "nothing was loaded." + (_header_below(path, columns) or _other_kind(headers, columns)
                                     or _labels_hint(headers, missing, kind_label, live_pull))
        )


# The other exports, each with its own load: a file given to the wrong one is named for what it is.
OTHER_KINDS = (
    ("MarketPro territory", "marketpro", "`load-territories FILE` (Upload exports: Territory CSVs)"),
    ("Salesforce Lead", "leads", "`load-leads FILE` (Upload exports: Salesforce Lead export)"),
    ("Salesforce Task", "tasks", "`load-activities FILE` (Upload exports: Salesforce Task export)"),
)


def _other_kind(headers: list[str], columns: tuple[Column, ...]) -> str:
    """" It looks like a … export: load it with …" when the header holds every required column of another kind
    and most of its contract, or ""."""
    from core.contract import marketpro_columns, salesforce_columns, task_columns

    kinds = {"marketpro": marketpro_columns, "leads": salesforce_columns, "tasks": task_columns}
    for label, key, how in OTHER_KINDS:
        cols = kinds[key]()
        if {c.name for c in cols} == {c.name for c in columns}:
            continue
        found, _ = match_headers(headers, cols)
        if all(c.name in found for c in cols if c.required) and len(found) >= 0.5 * len(cols):
            return f" It looks like a {label} export ({len(found)} of its {len(cols)} columns): load it with {how}."
    return ""


HEADER_SEARCH_LINES = 20


def _header_below(path: Path, columns: tuple[Column, ...]) -> str:
    """A vendor's or a formatted report's export can open with a title block ("MarketPro Discovery Data Export",
    "Generated …", a blank line) above its header: said, with the line the header is on, when one of the first
    lines holds every required column."""
    required = [c for c in columns if c.required]
    with open(path, "rb") as fh:
        lines = [fh.readline() for _ in range(HEADER_SEARCH_LINES)]
    for number, raw in enumerate(lines[1:], start=2):
        try:
            fields = next(csv.reader([raw.decode("utf-8-sig", errors="replace")]), [])
        except csv.Error:
            continue
        found, _ = match_headers([f.strip() for f in fields], required)
        if fields and len(found) == len(required):
            title = lines[0].decode("utf-8-sig", errors="replace").strip().strip(",")[:60]
            return (f" The header is on line {number}, below {number - 1} line(s) of title ({title!r}): delete the "
                    "lines above the header (or export without the title block) and load it again.")
    return ""


def _labels_hint(headers: list[str], missing: list[str], kind_label: str, live_pull: str) -> str:
    """A Salesforce report export names its columns by field label ("Lead ID", "FA CRD", "Stage Entered
    Contacting"), where Data Loader, Workbench and the API write the API names the contract uses. Only for kinds
    that can be pulled live (``live_pull``: a Salesforce export)."""
    if not live_pull:
        return ""
    record = kind_label.split()[-1].lower()  # "Salesforce Lead": its Id's label is "Lead ID"
    labels = {normalize_header(re.sub(r"__c$", "", m)) if m != "Id" else f"{record}id" for m in missing}
    seen = [h for h in headers if normalize_header(h) in labels]
    if not seen:
        return ""
    return (f" The header has field labels ({', '.join(repr(h) for h in seen[:3])}), as a Salesforce report export "
            "writes them: export the records with Data Loader, Workbench or the API, which write API names (e.g. "
            f"{', '.join(missing[:2])}) and ISO-8601 UTC times, or pull them live: `python -m core {live_pull}`.")


def contract_batch(data: pa.Table | pa.RecordBatch, path: Path, headers: list[str], columns: tuple[Column, ...],
                   meta: dict, kind_label: str, extra_names: list[str], lines: np.ndarray) -> pa.Table:
    """:func:`contract_table` for any run of a file's rows; ``lines`` holds their record numbers (the ``line``
    column, as for the whole file)."""
    check_required(path, headers, columns, kind_label)
    found, extras = match_headers(headers, columns)
    n = data.num_rows
    arrays, fields = [], []
    for key, value in meta.items():
        arrays.append(_repeated(value, n))
        fields.append(key)
    arrays.append(pa.array(np.asarray(lines, dtype=np.int64)))
    fields.append("line")
    for c in columns:
        arrays.append(data.column(f"c{found[c.name]}") if c.name in found else pa.nulls(n, type=pa.string()))
        fields.append(c.sql_name)
    mine = {h: pos for h, pos in extras}
    for i, name in enumerate(extra_names):
        arrays.append(data.column(f"c{mine[name]}") if name in mine else pa.nulls(n, type=pa.string()))
        fields.append(f"x__{i}")
    return pa.Table.from_arrays(arrays, names=fields)


def _repeated(value: str | None, n: int) -> pa.Array:
    """One string repeated ``n`` times, built in Arrow (a Python list of n items costs 25x more per batch)."""
    if value is None:
        return pa.nulls(n, type=pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())).cast(pa.string())
