"""How names read on a page: column headers and which integer columns are counts. Pure; pages use it for tables."""

from __future__ import annotations

import re

_ORDINAL = re.compile(r"year|rank|(^|_)id$|week|month|day|decile|bin|version|seed|depth", re.IGNORECASE)


def header(name) -> str:
    """A column name as a header: 'rows_quarantined' → 'Rows quarantined'. A Salesforce API name
    ('Lead_Score__c') stays as it is: it is what RevOps finds in Setup."""
    if str(name).endswith("__c"):
        return str(name)
    return str(name).replace("_", " ").strip().capitalize()


def is_count(name) -> bool:
    """An integer column that counts things (shown with thousands separators), not a year, rank, id or week."""
    return not _ORDINAL.search(str(name))
