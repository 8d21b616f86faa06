"""The fixed input contract (MarketPro territory columns, Salesforce Lead fields), read from the CSVs
shipped in ``core/contract/`` (verbatim copies of ``shared/contract``; a test keeps them in step).

Also the header matching used by ingestion: tolerant of case, spaces, punctuation and a UTF-8 BOM.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CONTRACT_DIR = Path(__file__).resolve().parent / "contract"

# The six spellings of "no value" seen in real exports (spec §5.0.3), compared case-insensitively after trim.
# Missing-value spellings (compared upper-cased). "#N/A" is Excel's: a lookup that found nothing, saved as text.
NA_TOKENS = ("", "NA", "N/A", "#N/A", "NULL", "NONE")

# Lead fields without which labels or joins are impossible.
REQUIRED_LEAD_COLUMNS = (
    "Id",
    "FA_CRD__c",
    "CreatedDate",
    "Stage_Entered_Contacting__c",
    "Stage_Entered_Call_Scheduled__c",
    "LastModifiedDate",
)

# Task fields without which a dial cannot be counted.
REQUIRED_TASK_COLUMNS = ("Id", "WhoId", "CreatedDate", "LastModifiedDate")


@dataclass(frozen=True)
class Column:
    name: str  # as in the contract, e.g. "Owner.Name"
    type: str
    required: bool
    known_at_contact: bool
    meaning: str

    @property
    def sql_name(self) -> str:
        """Column name in warehouse tables (dots are not allowed in identifiers)."""
        return re.sub(r"[^0-9A-Za-z_]", "_", self.name)

    @property
    def is_pii(self) -> bool:
        return self.type == "pii"

    @property
    def is_crd(self) -> bool:
        return self.type == "id" and "CRD" in self.name.upper()


def normalize_header(name: str) -> str:
    """Header key used for matching: BOM, case, spaces and punctuation removed."""
    return re.sub(r"[^0-9a-z]", "", name.replace("\ufeff", "").strip().lower())


@lru_cache(maxsize=None)
def marketpro_columns() -> tuple[Column, ...]:
    with open(CONTRACT_DIR / "marketpro_columns.csv", newline="", encoding="utf-8") as fh:
        return tuple(
            Column(r["column"], r["type"], r["required"].strip().lower() == "yes", True, r["meaning"])
            for r in csv.DictReader(fh)
        )


@lru_cache(maxsize=None)
def salesforce_columns() -> tuple[Column, ...]:
    with open(CONTRACT_DIR / "salesforce_lead_columns.csv", newline="", encoding="utf-8") as fh:
        return tuple(
            Column(
                r["column"],
                r["type"],
                r["column"] in REQUIRED_LEAD_COLUMNS,
                r["known_at_contact"].strip().lower() == "yes",
                r["meaning"],
            )
            for r in csv.DictReader(fh)
        )


@lru_cache(maxsize=None)
def task_columns() -> tuple[Column, ...]:
    """Salesforce Task fields (call activity): a dial is a Task with TaskSubtype = Call."""
    with open(CONTRACT_DIR / "salesforce_task_columns.csv", newline="", encoding="utf-8") as fh:
        return tuple(
            Column(r["column"], r["type"], r["column"] in REQUIRED_TASK_COLUMNS, False, r["meaning"])
            for r in csv.DictReader(fh)
        )


@lru_cache(maxsize=None)
def writeback_fields() -> tuple[dict, ...]:
    with open(CONTRACT_DIR / "salesforce_writeback_fields.csv", newline="", encoding="utf-8") as fh:
        return tuple(dict(r) for r in csv.DictReader(fh))


def match_headers(headers: list[str], columns: tuple[Column, ...]) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Map contract column name -> position in ``headers``; also return unknown (header, position) pairs.

    When a header appears twice, the first occurrence wins and the second is kept as an extra column. Extra
    names are unique, so no column's values are dropped: a blank header (Excel's trailing commas) is named
    "(unnamed column N)" by its position, a repeated one gets its position ("RepCRD (column 4)").
    """
    by_key = {normalize_header(c.name): c.name for c in columns}
    found: dict[str, int] = {}
    extras: list[tuple[str, int]] = []
    used: set[str] = set()
    for pos, header in enumerate(headers):
        name = by_key.get(normalize_header(header))
        if name is not None and name not in found:
            found[name] = pos
            continue
        label = header.replace("\ufeff", "").strip() or f"(unnamed column {pos + 1})"
        if label in used or label in found:
            label = f"{label} (column {pos + 1})"
        used.add(label)
        extras.append((label, pos))
    return found, extras
