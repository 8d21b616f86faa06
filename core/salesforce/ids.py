"""Salesforce record Ids in one form: the 18-character case-safe Id.

Reports export 15-character Ids (case-sensitive); the API returns 18-character ones whose last three
characters encode, for each block of five, which letters are upper case. Everything the engine stores or
sends uses the 18-character form, so a lead loaded from a report and then pulled from the API is one lead.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


_ALPHABET_BYTES = np.frombuffer(_ALPHABET.encode(), dtype=np.uint8)
# Position of each byte value in the suffix alphabet (-1: not a suffix character).
_SUFFIX_INDEX = np.full(256, -1, dtype=np.int8)
_SUFFIX_INDEX[_ALPHABET_BYTES] = np.arange(32)


def to18_array(values) -> np.ndarray:
    """:func:`to18` over an array, Series or Arrow array of strings (None/NaN kept)."""
    return to18_arrow(values).to_numpy(zero_copy_only=False)


def to18_arrow(values) -> pa.Array:
    """:func:`to18` over a column of strings, vectorised in numpy and Arrow (no Python object per Id: the Ids
    of an export are mostly distinct, and a call per Id cost a quarter of a Lead load)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        s = pd.Series(values, dtype=object)
        values = pa.array(s.where(s.map(lambda v: isinstance(v, str)), None), type=pa.string())
    out = values.cast(pa.string())
    trimmed = pc.utf8_trim_whitespace(out)
    length, alnum = pc.binary_length(trimmed), pc.ascii_is_alnum(trimmed)  # cheaper than a regex per width
    for width, fix in ((15, _with_suffix), (18, _case_restored)):
        mask = pc.fill_null(pc.and_(pc.equal(length, width), alnum), False)
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        if not len(rows):
            continue
        ids = trimmed.take(pa.array(rows))  # ASCII, exactly ``width`` bytes each: one contiguous buffer
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset: ids.offset + len(ids) + 1]
        chars = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]].reshape(len(rows), width)
        fixed = np.ascontiguousarray(fix(chars))
        new_offsets = np.arange(0, 18 * len(rows) + 1, 18, dtype=np.int32)
        replacement = pa.StringArray.from_buffers(len(rows), pa.py_buffer(new_offsets), pa.py_buffer(fixed.tobytes()))
        out = replacement if len(rows) == len(out) else pc.replace_with_mask(out, mask, replacement)
    return out


def _suffix_bits(head: np.ndarray) -> np.ndarray:
    """(n, 3) suffix-alphabet positions of 15-character Ids given as an (n, 15) byte matrix."""
    upper = ((head >= 65) & (head <= 90)).reshape(len(head), 3, 5).view(np.uint8)
    bits = np.zeros((len(head), 3), dtype=np.uint8)
    for i in range(5):
        bits |= upper[:, :, i] << i
    return bits


def _with_suffix(chars: np.ndarray) -> np.ndarray:
    return np.concatenate([chars, _ALPHABET_BYTES[_suffix_bits(chars)]], axis=1)


def _case_restored(chars: np.ndarray) -> np.ndarray:
    """18-character Ids read case-insensitively get their case back from the suffix (see _restore_case); an Id
    whose suffix is not in the alphabet is kept as it is."""
    n = len(chars)
    tail = chars[:, 15:] - 32 * ((chars[:, 15:] >= 97) & (chars[:, 15:] <= 122)).view(np.uint8)
    bits = _SUFFIX_INDEX[tail]
    ok = (bits >= 0).all(axis=1)
    bits = np.maximum(bits, 0).astype(np.uint8)
    wanted = np.empty((n, 3, 5), dtype=np.uint8)
    for i in range(5):
        wanted[:, :, i] = (bits >> i) & 1
    wanted = wanted.reshape(n, 15)
    head = chars[:, :15]
    is_upper = ((head >= 65) & (head <= 90)).view(np.uint8)
    is_lower = ((head >= 97) & (head <= 122)).view(np.uint8)
    restored = head - 32 * (is_lower & wanted) + 32 * (is_upper & (1 - wanted))
    return np.where(ok[:, None], np.concatenate([restored, tail], axis=1), chars)


# Tables keyed by a Lead Id that outlive a load: the write-back ledgers, the score history and experiment
# assignments. A warehouse that stored 15-character Ids before this release is migrated once (idempotent).
STORED_ID_TABLES = (("ops.sf_writeback_ledger", "lead_id"), ("ops.sf_push_failures", "lead_id"),
                    ("ops.experiment_assignments", "lead_id"), ("ml.score_history", "lead_id"),
                    ("ml.lead_first_scores", "lead_id"), ("ml.shadow_scores", "lead_id"))


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
