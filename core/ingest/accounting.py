"""What a load did, file by file: rows read = rows loaded + rows quarantined, and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import pandas as pd


@dataclass
class FileAccount:
    file_name: str
    sha256: str
    archive_path: str
    encoding: str
    rows_read: int
    rows_loaded: int = 0
    rows_quarantined: int = 0
    cells_quarantined: int = 0
    territory: str | None = None
    snapshot_month: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    # contract columns the file's header lacks: loaded as empty (a required one refuses the file instead)
    missing_columns: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined


FIRST_COLUMNS = ("file_name", "territory", "snapshot_month", "rows_read", "rows_loaded", "rows_quarantined",
                 "cells_quarantined")


# Summary keys that hold sentences for the reader (a list each), with the word that leads them in the CLI's report.
SENTENCES = {"implausible_values": "implausible", "warnings": "warning"}


@dataclass
class LoadResult:
    load_id: str
    kind: str  # "territory" | "leads"
    files: list[FileAccount]
    quarantine: pd.DataFrame  # file_name, line, column_name, raw_value, reason
    seconds: float
    summary: dict = field(default_factory=dict)  # e.g. unique_reps, salesforce_leads, export_at

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def files_frame(self) -> pd.DataFrame:
        rows = [{k: v for k, v in asdict(f).items() if k != "archive_path"} for f in self.files]
        for r in rows:
            r["extra_columns"] = ", ".join(r["extra_columns"])
            r["missing_columns"] = ", ".join(r["missing_columns"])
        # what a reader looks for first (which file, which month, the counts), any other field, the checksum last
        names = [f.name for f in fields(FileAccount) if f.name not in ("archive_path", "sha256")]
        return pd.DataFrame(rows, columns=[*FIRST_COLUMNS, *(n for n in names if n not in FIRST_COLUMNS), "sha256"])

    def markdown(self) -> str:
        lines = [
            f"Load {self.load_id} ({self.kind}) in {self.seconds:.1f} s",
            "",
            "| file | territory | month | rows read | loaded | quarantined rows | quarantined cells | sha256 |",
            "|---|---|---|---:|---:|---:|---:|---|",
        ]
        for f in self.files:
            lines.append(
                f"| {f.file_name} | {f.territory or ''} | {f.snapshot_month or ''} | {f.rows_read:,} | "
                f"{f.rows_loaded:,} | {f.rows_quarantined:,} | {f.cells_quarantined:,} | {f.sha256[:12]} |"
            )
        lines.append(
            f"| **total** | | | {self.rows_read:,} | {self.rows_loaded:,} | {self.rows_quarantined:,} | "
            f"{sum(f.cells_quarantined for f in self.files):,} | |"
        )
        lines.append("")
        lines.append(
            f"Rows read {self.rows_read:,} = loaded {self.rows_loaded:,} + quarantined {self.rows_quarantined:,}"
            + ("" if all(f.balanced for f in self.files) else "  **(MISMATCH — report this as a bug)**")
        )
        for key, value in self.summary.items():
            if key in SENTENCES:
                lines += [f"- **{SENTENCES[key]}** {v}" for v in value]
                continue
            lines.append(f"- {key}: {value:,}" if isinstance(value, int) else f"- {key}: {value}")
        for f in self.files:
            if f.missing_columns:
                lines.append(f"- **missing** {f.file_name} lacks {len(f.missing_columns)} contract column(s), loaded "
                             f"as empty: {', '.join(f.missing_columns)}")
        extras = sorted({c for f in self.files for c in f.extra_columns})
        if extras:
            lines.append(f"- unknown columns kept in extra_json: {', '.join(extras)}")
        if not self.quarantine.empty:
            top = self.quarantine.groupby(["column_name", "reason"]).size().sort_values(ascending=False).head(10)
            lines.append("")
            lines.append("Quarantine by column (top 10):")
            for (col, reason), n in top.items():
                lines.append(f"- {col}: {n:,} × {reason}")
        return "\n".join(lines)
