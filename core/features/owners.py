"""The owning SGA's one-hot features (``Owner_<OwnerId>``: the SGA effect) in words. A Salesforce user id is not
something a reader recognises; the owner's name, as the Lead export carries it, is."""

from __future__ import annotations

import re

import pandas as pd

OWNER_PREFIX = "Owner_"
_OWNER_FEATURE = re.compile(r"\bOwner_([0-9A-Za-z]{15,18})\b")


def owner_labels(features, names: dict[str, str]) -> dict[str, str]:
    """``Owner_<OwnerId>`` → "Owner: <name>" for each such feature whose owner ``names`` (OwnerId → name) knows;
    two owners of one name keep their ids beside it, so no two features share a label."""
    ids = {f: f[len(OWNER_PREFIX):] for f in features if f.startswith(OWNER_PREFIX)}
    known = {f: names[i] for f, i in ids.items() if isinstance(names.get(i), str) and names[i]}
    shared = pd.Series(list(known.values()), dtype=object).value_counts()
    return {f: f"Owner: {n}" + (f" ({ids[f]})" if shared[n] > 1 else "") for f, n in known.items()}


def owner_names(s) -> dict[str, str]:
    """OwnerId → the owner's name, from the loaded leads (one spelling per owner); empty before a lead load."""
    if not s.table_exists("marts.dim_leads"):
        return {}
    df = s.query("select OwnerId as owner_id, max(Owner_Name) as owner_name from marts.dim_leads "
                 "where OwnerId is not null and Owner_Name is not null group by OwnerId")
    return dict(zip(df.owner_id.astype(str), df.owner_name.astype(str)))


def owners_in_words(text, names: dict[str, str]) -> str:
    """'Owner_005A0000001005AAA moved' → 'Owner: Harper Quinn moved' where the owner is known."""
    return _OWNER_FEATURE.sub(lambda m: f"Owner: {names[m.group(1)]}" if names.get(m.group(1)) else m.group(0),
                              str(text))


def relabel(frame: pd.DataFrame, labels: dict[str, str], column: str = "feature") -> pd.DataFrame:
    """``frame`` with ``column`` read through ``labels`` (a name without a label stays as it is)."""
    if frame.empty or column not in frame or not labels:
        return frame
    return frame.assign(**{column: frame[column].map(lambda v: labels.get(v, v))})
