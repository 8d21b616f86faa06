"""Global and cohort explanations of the champion (spec §6.5): mean |contribution| per feature, cohort
tables by AUM tier, growth trajectory and metro, and one lead's contributions for a waterfall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS
from core.modeling.data import aum_segment
from core.modeling.registry import load_champion
from core.scoring.score import current_scores, open_leads
from core.warehouse import Warehouse


def explain_overview(wh: Warehouse, settings: Settings, top: int = 30) -> dict:
    model = load_champion(wh)  # raises a clear error when there is none (the heuristic has no contributions)
    scores = current_scores(wh)
    as_of = pd.Timestamp(scores.score_date.iloc[0], tz="UTC") + pd.Timedelta(hours=23, minutes=59)
    leads = open_leads(wh, settings, as_of)
    leads = leads[leads.lead_id.isin(scores.lead_id)].reset_index(drop=True)
    if leads.empty:
        raise LeadScoringError("The scored leads are no longer in the feature table: run the daily pipeline again.")
    X = leads[[c for c in leads.columns if c not in META_COLUMNS + ("owner_id", "owner_name")]].apply(pd.to_numeric, errors="coerce")
    contribs = model.contributions(X)
    importance = (pd.DataFrame({"feature": model.features, "mean_abs_contribution": np.abs(contribs).mean(axis=0),
                                "mean_contribution": contribs.mean(axis=0)})
                  .sort_values("mean_abs_contribution", ascending=False).head(top).reset_index(drop=True))
    joined = leads[["lead_id"]].merge(scores[["lead_id", "prob_mql_30d", "tier"]], on="lead_id")
    g1 = X["AUM_Growth_Rate_1Year"]
    trajectory = np.select([g1 < 0, g1 <= 10, g1 > 10], ["shrinking", "steady (0–10%)", "growing (>10%)"], "unknown")
    metro = pd.Series("other / unknown", index=X.index)
    for c in [c for c in X.columns if c.startswith("Home_MetropolitanArea_")]:
        metro[X[c] == 1] = c.removeprefix("Home_MetropolitanArea_").replace("_", " ")

    def cohort(key) -> pd.DataFrame:
        df = joined.assign(cohort=np.asarray(key))
        return (df.groupby("cohort").agg(leads=("lead_id", "size"), mean_probability=("prob_mql_30d", "mean"),
                                         tier_a=("tier", lambda t: int((t == "A").sum())))
                .reset_index().sort_values("mean_probability", ascending=False))

    return {
        "model_id": model.model_id, "n": len(leads), "importance": importance,
        "cohorts": {"AUM tier": cohort(aum_segment(X["TotalAssetsInMillions"])), "Growth trajectory": cohort(trajectory),
                    "Metro": cohort(metro)},
        "lead_ids": joined.sort_values("prob_mql_30d", ascending=False).lead_id.tolist(),
        "_X": X, "_contribs": contribs, "_features": model.features, "_leads": leads.lead_id.tolist(),
    }


def lead_waterfall(overview: dict, lead_id: str, top: int = 12) -> pd.DataFrame:
    i = overview["_leads"].index(lead_id)
    row = pd.DataFrame({"feature": overview["_features"], "contribution": overview["_contribs"][i],
                        "value": overview["_X"].loc[i, overview["_features"]].to_numpy()})
    row = row.reindex(row.contribution.abs().sort_values(ascending=False).index).head(top)
    return row.reset_index(drop=True)
