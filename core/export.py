"""Writing CSVs for people: every text cell that a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from core.errors import LeadScoringError

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    if isinstance(value, str) and value.startswith(_TRIGGERS):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    return safe_frame(df).to_csv(index=False).encode("utf-8")


def output_path(value: str | Path, what: str = "the output") -> Path:
    """A file path a command may write: not a directory, in a folder that exists or can be made and written to.
    Checked before the work (a backtest's minutes are not lost to a typo in ``--out``); the folder is made."""
    path = Path(value).expanduser()
    if path.is_dir():
        raise LeadScoringError(f"{what} {value}: is a folder; give a file path, e.g. {path / 'output.csv'}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeadScoringError(f"{what} {value}: cannot make its folder {path.parent} ({exc.strerror}); choose a "
                               "folder you can write to.") from exc
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise LeadScoringError(f"{what} {value}: not writable; choose a folder you can write to.")
    return path


@contextmanager
def _writing(path: str | Path, what: str):
    """The checked path (:func:`output_path`) to write; a failure to write is the user's error, in words."""
    path = output_path(path, what)
    try:
        yield path
    except OSError as exc:
        raise LeadScoringError(f"{what} {path}: could not be written ({exc.strerror}); choose another place.") from exc


def write_text_file(text: str, path: str | Path, what: str = "the output") -> Path:
    with _writing(path, what) as p:
        p.write_text(text, encoding="utf-8")
    return p


def write_csv(df: pd.DataFrame, path: str | Path, what: str = "the output") -> Path:
    """``df`` as a CSV for people (formula-like cells neutralised), streamed to the file."""
    with _writing(path, what) as p:
        safe_frame(df).to_csv(p, index=False)
    return p


def markdown_table(frame) -> str:
    """A pipe table for Markdown reports (no tabulate dependency): header, rule, one line per row."""
    cols = [str(c) for c in frame.columns]
    cell = lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
