"""Why a PSI moved: one column's distribution in one month against the champion's frozen reference bins, bin by
bin (NannyML's distribution view) — a lead feature in a contact month against the training rows, or a MarketPro
column in a territory month against the month the champion was trained on. Read on demand for the one column and
month a user picks, counted in the reference's own bins, so the bins' PSI terms add up to the heatmap's cell."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import LeadScoringError
from core.modeling.registry import champion_row
from core.monitoring import periods as P
from core.monitoring.psi import bin_labels, counts_in, psi_terms
from core.monitoring.reference import load_reference, month_counts
from core.warehouse import Warehouse
from core.warehouse.sql import check_identifier


@dataclass(frozen=True)
class Distribution:
    column: str
    month: str
    reference: str  # what the reference shares are of, as a reader says it
    current: str  # what the month's shares are of
    rows: int  # the month's rows (leads or reps)
    psi: float
    bins: pd.DataFrame  # bin (label, in the reference's order), reference_share, month_share, psi_term


def _month(month: str) -> str:
    if not re.fullmatch(r"\d{4}-\d{2}", str(month)):
        raise LeadScoringError(f"Month {month!r}: write it as YYYY-MM, e.g. 2025-06.")
    return str(month)


def _champion_reference(wh: Warehouse) -> dict:
    row = champion_row(wh)
    if row is None:
        raise LeadScoringError("No champion model yet: train and promote one, then run monitoring.")
    return load_reference(row["artifact_dir"], row["model_id"])


def _label(month: str) -> str:
    return pd.Timestamp(f"{month}-01").strftime("%b %Y")


def _compare(prof: dict, cur: np.ndarray) -> tuple[pd.DataFrame, float]:
    """Shares per frozen bin and each bin's PSI term (shares floored as PSI floors them)."""
    ref = np.asarray(prof["counts"], dtype=float)
    r, c = ref / max(ref.sum(), 1), cur / max(cur.sum(), 1)
    terms = psi_terms(ref, cur)
    return pd.DataFrame({"bin": bin_labels(prof), "reference_share": r, "month_share": c, "psi_term": terms}), \
        float(terms.sum())


def feature_distribution(wh: Warehouse, feature: str, month: str) -> Distribution:
    """``feature``'s shares per frozen bin among the leads contacted in ``month`` (YYYY-MM), next to the training
    rows' shares."""
    month = _month(month)
    reference = _champion_reference(wh)
    prof = reference["features"].get(feature)
    if prof is None:
        raise LeadScoringError(f"{feature} is not in the champion's reference: pick a feature the drift heatmap shows.")
    lo, hi = P.month_range(month)
    with wh.reader() as s:
        if check_identifier(feature).lower() not in s.columns("ml.lead_features"):
            raise LeadScoringError(f"{feature} is in the champion's reference but not in today's features (a schema "
                                   "change): rebuild features or retrain.")
        values = s.query_plain(f"select {feature} as v from ml.lead_features where contacted_at >= "
                               f"{P.ts_literal(lo)} and contacted_at < {P.ts_literal(hi)}").v
    cur = counts_in(prof, values)
    bins, psi = _compare(prof, cur)
    span = " to ".join(f"{pd.Timestamp(t):%b %Y}" for t in (reference["contacted_from"], reference["contacted_to"]))
    return Distribution(feature, month, f"training rows ({span})", f"leads contacted in {_label(month)}",
                        int(cur.sum()), psi, bins)


def territory_distribution(wh: Warehouse, column: str, month: str) -> Distribution:
    """A MarketPro ``column``'s shares per frozen bin among the reps of territory ``month``, next to the month
    the champion was trained on — counted by the warehouse as monitoring counts them."""
    month = _month(month)
    snap = _champion_reference(wh).get("snapshot")
    if not snap:
        raise LeadScoringError("The champion's reference holds no territory month (none was loaded when it was "
                               "trained): load territory exports and retrain to compare months.")
    prof = snap["columns"].get(column)
    if prof is None:
        raise LeadScoringError(f"{column} is not a profiled territory column: pick one the territory heatmap shows.")
    with wh.reader() as s:
        if not s.table_exists("marts.dim_rep_snapshots"):
            raise LeadScoringError("No territory months loaded: load territory exports (Upload exports).")
        counts, _ = month_counts(s, [month], {column: prof}, {})
    cur = counts.get(column, np.zeros((1, len(prof["counts"]))))[0]
    if not cur.sum():
        raise LeadScoringError(f"No territory export is loaded for {month}: pick a month the heatmap shows.")
    bins, psi = _compare(prof, cur)
    return Distribution(column, month, f"reps of the training month ({_label(snap['month'])})",
                        f"reps in the {_label(month)} export", int(cur.sum()), psi, bins)
