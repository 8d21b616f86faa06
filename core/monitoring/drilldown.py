"""Why a feature's PSI moved: its distribution in one contact month against the champion's frozen reference bins,
bin by bin (NannyML's distribution view). Read on demand for the one feature and month a user picks: one column
of one month's leads, counted in the reference's own bins, so the bins' PSI terms add up to the heatmap's cell."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import LeadScoringError
from core.modeling.registry import champion_row
from core.monitoring import periods as P
from core.monitoring.psi import PSI_FLOOR, bin_labels, counts_in
from core.monitoring.reference import load_reference
from core.warehouse import Warehouse
from core.warehouse.sql import check_identifier


@dataclass(frozen=True)
class FeatureDistribution:
    feature: str
    month: str
    reference_from: str
    reference_to: str
    rows: int  # the month's leads
    psi: float
    bins: pd.DataFrame  # bin (label, in the reference's order), reference_share, month_share, psi_term


def feature_distribution(wh: Warehouse, feature: str, month: str) -> FeatureDistribution:
    """``feature``'s shares per frozen bin among the leads contacted in ``month`` (YYYY-MM), next to the training
    rows' shares; ``psi_term`` per bin (shares floored as PSI floors them) sums to the month's PSI."""
    if not re.fullmatch(r"\d{4}-\d{2}", str(month)):
        raise LeadScoringError(f"Month {month!r}: write it as YYYY-MM, e.g. 2025-06.")
    row = champion_row(wh)
    if row is None:
        raise LeadScoringError("No champion model yet: train and promote one, then run monitoring.")
    reference = load_reference(row["artifact_dir"], row["model_id"])
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
    ref = np.asarray(prof["counts"], dtype=float)
    cur = counts_in(prof, values)
    r = ref / max(ref.sum(), 1)
    c = cur / max(cur.sum(), 1)
    rf, cf = np.maximum(r, PSI_FLOOR), np.maximum(c, PSI_FLOOR)
    terms = (cf - rf) * np.log(cf / rf) if cur.sum() and ref.sum() else np.zeros(len(ref))
    bins = pd.DataFrame({"bin": bin_labels(prof), "reference_share": r, "month_share": c, "psi_term": terms})
    return FeatureDistribution(feature, month, str(reference["contacted_from"]), str(reference["contacted_to"]),
                               int(cur.sum()), float(terms.sum()), bins)
