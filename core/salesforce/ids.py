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
