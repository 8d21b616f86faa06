"""“Why this lead?”: the top positive contributions to a lead's score, as short sentences from the feature
catalog with a peer comparison (spec §11.2). A missing value is never presented as a fact."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.features import catalog
from core.features.catalog import CATEGORY_SENTENCES, STATIC_FEATURES, is_categorical

_DEFINITIONS = {f.name: f for f in STATIC_FEATURES}


_ONE_HOT_LABELS = {"Home_MetropolitanArea": "Lives in the {} metro", "Custodian": "Custodian: {}", "CRM": "Uses {} as CRM",
                   "LeadSource": "Lead source: {}", "Lead_List": "From the {} list", "Agency": "Sourced by {}"}
_SUFFIX = re.compile(r" \((from |presence only|levels |SGA effect|log transform|flagged)[^)]*\)$")


@dataclass(frozen=True)
class Peers:
    """Per-feature median and sorted values of the scored batch, computed once (comparisons are O(log n))."""
    median: dict
    sorted_values: dict

    @classmethod
    def of(cls, X: pd.DataFrame) -> "Peers":
        med, srt = {}, {}
        for c in X.columns:
            v = pd.to_numeric(X[c], errors="coerce").dropna().to_numpy(dtype=float)
            med[c] = float(np.median(v)) if len(v) else None
            srt[c] = np.sort(v)
        return cls(med, srt)

    def share_above(self, name: str, value: float) -> float:
        v = self.sorted_values.get(name)
        if v is None or not len(v):
            return 0.5
        return 1 - np.searchsorted(v, value, side="right") / len(v)


def sentence(name: str, value, peers: Peers) -> str | None:
    """One plain sentence for a feature value, or None when the value is missing (never a fact)."""
    if value is None or pd.isna(value):
        return None
    if is_categorical(name):  # a raw category: its level, in words (the owning SGA is never a reason)
        template = CATEGORY_SENTENCES.get(name)
        return template.format(str(value)) if template else None
    value = float(value) + 0.0  # -0.0 reads as 0 ("Growing 0% a year", never "-0%")
    med = peers.median.get(name)
    if name in ("TotalAssetsInMillions", "Log_TotalAssets"):
        aum = value if name == "TotalAssetsInMillions" else float(np.expm1(value))
        top = peers.share_above(name, value)
        return f"${aum:,.0f}M AUM" + (f", top {max(top, 0.01):.0%} of leads" if top <= 0.25 else "")
    if name == "AUM_Growth_Rate_1Year":
        trend = f"Growing {value:.0f}% a year" if value >= 0 else f"Assets shrinking {-value:.0f}% a year"
        return trend + (f" vs {med:+.0f}% for peers" if med is not None else "")
    if name == "Disclosure_Severity":
        kinds = {4: "A termination", 3: "A regulatory", 2: "A criminal or financial", 1: "A customer-dispute"}
        return f"{kinds[int(value)]} disclosure on record" if int(value) in kinds else None
    if name == "Date_Of_Hire_At_Current_Firm_Years":
        return f"{value:.1f} years at firm" + (" (peak move window)" if 3 <= value <= 7 else "")
    if name == "Firm_Moves_10yr":
        return f"{value:.0f} firm moves in 10 years" + (f" (peers {med:.0f})" if med is not None else "")
    if name == "HNW_Client_Ratio":
        return f"{value:.0%} of clients are high-net-worth" + (f" (peers {med:.0%})" if med is not None else "")
    if name == "Is_Weekend_Contact":
        return "Contacted on a weekend (weekend contacts convert about 2x)" if value == 1 else None
    for prefix, template in _ONE_HOT_LABELS.items():
        if name.startswith(prefix + "_") and name not in _DEFINITIONS:
            return template.format(name[len(prefix) + 1:].replace("_", " ")) if value == 1 else None
    if name.startswith("Owner_") or name.endswith("_Missing"):
        return None  # who owns the lead, or that data is missing, is not a reason to call it
    feature = _DEFINITIONS.get(name)
    label = _SUFFIX.sub("", feature.definition) if feature else name.replace("_", " ")
    if feature is not None and feature.kind == "flag":
        return label if value == 1 else None
    return f"{label}: {value:,.3g}" + (f" (peers {med:,.3g})" if med is not None else "")


WINDOW = 2  # candidates per driver kept: the k * WINDOW largest contributions are put into words first


def _sentences(name: str, column: pd.Series, rows: np.ndarray, peers: Peers) -> np.ndarray:
    """The sentence for ``column`` at ``rows``, each distinct value worded once (flags, levels and counts
    repeat across leads). A category's words come from its text; a number's from its value (-0.0 is 0)."""
    if is_categorical(name):
        raw = column.to_numpy(dtype=object)[rows]
        keys = pd.Series(raw).map(lambda v: None if v is None or pd.isna(v) else str(v))
        codes, uniques = pd.factorize(keys, use_na_sentinel=True)
        words = [sentence(name, u, peers) for u in uniques]
    else:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)[rows] + 0.0
        uniques, codes = np.unique(values, return_inverse=True)
        words = [sentence(name, u, peers) for u in uniques.tolist()]
    table = np.array(words + [None], dtype=object)
    return table[np.where(np.asarray(codes) < 0, len(words), codes)]


def topic(name: str) -> str:
    """What a reason speaks of: a feature computed from one other feature alone (a flag, a log) speaks of that
    feature, so a lead's reasons never say one thing twice ("3 or more firm moves in 10 years"; "3 firm moves in
    10 years"). A feature from other columns (a designation flag from the designations text) is its own topic."""
    f = _DEFINITIONS.get(name)
    return f.sources[0] if f is not None and len(f.sources) == 1 and f.sources[0] in _DEFINITIONS else name


def top_drivers(contribs: np.ndarray, features: list[str], X: pd.DataFrame, k: int = 10,
                peers_from: pd.DataFrame | None = None) -> list[list[dict]]:
    """Per row, up to ``k`` positive contributions (largest first; ties in feature order) that have a sentence,
    each with its sentence, one per :func:`topic` (so a row may keep fewer than ``k``). Peer comparisons use ``peers_from`` (all scored leads) when given, else ``X``.

    Vectorised: each row's ranking is read in windows of ``k * WINDOW`` contributions, all rows' windows
    worded together, feature by feature; only rows that still lack ``k`` sentences (many of the largest
    contributions have none: who owns the lead, a missing-data flag, a flag at 0) read the next window."""
    n = len(X)
    if not features or n == 0:
        return [[] for _ in range(n)]
    contribs = np.asarray(contribs)
    numeric = [c for c in features if not is_categorical(c)]
    peers = Peers.of((peers_from if peers_from is not None else X)[numeric])
    order = np.argsort(-contribs, axis=1, kind="stable")
    width = min(len(features), k * WINDOW)
    found = np.zeros(n, dtype=np.int64)
    active = np.arange(n)
    kept = []  # (row, rank, feature, contribution, sentence) arrays, window by window
    for lo in range(0, len(features), width):
        top = order[active, lo:lo + width]
        c = np.take_along_axis(contribs[active], top, axis=1)
        text = np.full(top.shape, None, dtype=object)
        rows, cols = np.nonzero(c > 0)
        feats = top[rows, cols]
        by = np.argsort(feats, kind="stable")
        for group in np.split(by, np.flatnonzero(np.diff(feats[by])) + 1):
            if len(group):
                name = features[int(feats[group[0]])]
                text[rows[group], cols[group]] = _sentences(name, X[name], active[rows[group]], peers)
        has = np.not_equal(text, None)
        keep = has & (found[active, None] + np.cumsum(has, axis=1) <= k)
        kr, kc = np.nonzero(keep)
        kept.append((active[kr], lo + kc, top[kr, kc], c[kr, kc], text[kr, kc]))
        found[active] += keep.sum(axis=1)
        more = (found[active] < k) & (c[:, -1] > 0)  # still short, and the window ended on a positive
        active = active[more]
        if not len(active):
            break
    row, rank, feat, value, words = (np.concatenate(parts) for parts in zip(*kept))
    ordered = np.lexsort((rank, row))
    # one reason per topic and lead, the strongest: a flag or a log of a feature says what the feature says
    topics = np.asarray([topic(f) for f in features], dtype=object)[feat[ordered]]
    ordered = ordered[~pd.DataFrame({"row": row[ordered], "topic": topics}).duplicated().to_numpy()]
    row = row[ordered]
    names = np.asarray(features, dtype=object)[feat[ordered]].tolist()
    values = np.round(value[ordered].astype(np.float64), 4).tolist()
    drivers = [{"feature": f, "contribution": v, "text": t} for f, v, t in zip(names, values, words[ordered].tolist())]
    bounds = np.searchsorted(row, np.arange(n + 1)).tolist()
    return [drivers[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _wording_id() -> str:
    """A hash of the code that words the drivers: this module and the feature catalog (labels, units, category
    sentences). Scoring reuses a lead's stored drivers only under the same id, so a release that rewords a reason
    rewords every lead on its first run, not only the leads whose features changed since."""
    h = hashlib.sha256()
    for module in (__file__, catalog.__file__):
        try:
            h.update(Path(module).read_bytes())
        except OSError:  # no source at hand (a frozen build): the id still changes with the package version
            h.update(module.encode())
    return h.hexdigest()[:12]


WORDING_ID = _wording_id()
