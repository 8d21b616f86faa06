"""Salesforce record Ids in one form: the 18-character case-safe Id.

Reports export 15-character Ids (case-sensitive); the API returns 18-character ones whose last three
characters encode, for each block of five, which letters are upper case. Everything the engine stores or
sends uses the 18-character form, so a lead loaded from a report and then pulled from the API is one lead.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID15 = re.compile(r"^[a-zA-Z0-9]{15}$")
_ID18 = re.compile(r"^[a-zA-Z0-9]{18}$")

# Contract columns holding Salesforce record Ids (not CRDs, not the prospect id).
SALESFORCE_ID_COLUMNS = ("Id", "WhoId", "OwnerId", "ConvertedOpportunityId")


def to18(value):
    """The 18-character form of a 15- or 18-character Id; anything else is returned unchanged."""
    if not isinstance(value, str):
        return value
    v = value.strip()
    if _ID18.match(v):
        return _restore_case(v)
    if not _ID15.match(v):
        return value
    return v + suffix(v)


def suffix(id15: str) -> str:
    out = []
    for block in range(3):
        bits = 0
        for i, ch in enumerate(id15[block * 5: block * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        out.append(_ALPHABET[bits])
    return "".join(out)


def _restore_case(id18: str) -> str:
    """An 18-character Id read case-insensitively (e.g. lower-cased by a spreadsheet): the suffix says which
    letters of the first 15 are upper case."""
    head, tail = id18[:15], id18[15:].upper()
    if any(c not in _ALPHABET for c in tail):
        return id18
    chars = list(head)
    for block, c in enumerate(tail):
        bits = _ALPHABET.index(c)
        for i in range(5):
            j = block * 5 + i
            if chars[j].isalpha():
                chars[j] = chars[j].upper() if bits >> i & 1 else chars[j].lower()
    return "".join(chars) + tail


def to18_array(values) -> np.ndarray:
    """Vectorised :func:`to18` over an array or Series of strings (None/NaN kept)."""
    s = pd.Series(values, dtype=object)
    uniq = pd.unique(s.dropna())
    mapping = {u: to18(u) for u in uniq}
    return s.map(mapping).where(s.notna(), None).to_numpy(dtype=object)


# Tables keyed by a Lead Id that outlive a load: the write-back ledgers, the score history and experiment
# assignments. A warehouse that stored 15-character Ids before this release is migrated once (idempotent).
STORED_ID_TABLES = (("ops.sf_writeback_ledger", "lead_id"), ("ops.sf_push_failures", "lead_id"),
                    ("ops.experiment_assignments", "lead_id"), ("ml.score_history", "lead_id"),
                    ("ml.shadow_scores", "lead_id"))


def migrate_stored_ids(s) -> int:
    """Rewrite 15-character Lead Ids in the stored tables to their 18-character form; returns rows changed.
    The ledger's value hashes do not involve the Id, so nothing is resent because of the migration."""
    changed = 0
    for table, col in STORED_ID_TABLES:
        if not s.table_exists(table):
            continue
        old = s.query(f"select distinct {col} as id15 from {table} where length({col}) = 15")["id15"]
        mapping = pd.DataFrame({"id15": old, "id18": [to18(v) for v in old]})
        mapping = mapping[mapping.id15 != mapping.id18]
        if mapping.empty:
            continue
        s.load("staging.id_map", mapping)
        changed += int(s.scalar(f"select count(*) from {table} where {col} in (select id15 from staging.id_map)"))
        s.execute(f"update {table} set {col} = m.id18 from staging.id_map as m where {table}.{col} = m.id15")
        s.execute("drop table if exists staging.id_map")
    return changed
