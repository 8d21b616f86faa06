"""Global and cohort explanations of the champion (spec §6.5): mean |contribution| per feature, cohort
tables by AUM tier, growth trajectory and metro, and one lead's contributions for a waterfall."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS
from core.features.owners import owner_labels
from core.modeling.data import AUM_SEGMENTS, aum_segment, model_inputs
from core.modeling.registry import label_of, load_champion
from core.scoring.score import current_scores, open_leads
from core.warehouse import Warehouse


@dataclass(frozen=True)
class ExplainOverview:
    """The champion's contributions over today's scored open leads: global importance, cohort tables, and per
    lead (in ``lead_ids`` order, highest score first) what a waterfall needs."""

    model_id: str
    n: int  # scored open leads explained
    importance: pd.DataFrame  # feature, label, mean_abs_contribution, mean_contribution (top features)
    cohorts: dict[str, pd.DataFrame]  # "AUM tier" / "Growth trajectory" / "Metro" → cohort, leads, mean_probability, tier_a
    leads: pd.DataFrame  # lead_id, prob_mql_30d, tier: highest score first
    X: pd.DataFrame  # the model inputs, one row per lead in ``row_ids`` order
    contributions: np.ndarray  # leads × features, log-odds
    features: list[str]
    row_ids: list[str]  # the lead id of each row of X / contributions
    labels: dict  # feature → how it reads on a chart: an owner's one-hot column by the SGA's name, not a Salesforce id
    model_label: str = ""  # the champion in words: "Gradient boosting, trained 3 Dec 2026, 10:02 UTC"

    def label(self, feature: str) -> str:
        return self.labels.get(feature, feature)

    @property
    def lead_ids(self) -> list[str]:
        return self.leads.lead_id.tolist()

    @cached_property
    def _labels(self) -> dict[str, str]:
        return {i: f"{i} · Tier {t} · {p:.1%}" for i, t, p in
                zip(self.leads.lead_id, self.leads.tier, self.leads.prob_mql_30d)}

    def lead_label(self, lead_id: str) -> str:
        """How a lead reads in a picker: its id, tier and probability ('00Q… · Tier A · 12.3%')."""
        return self._labels.get(lead_id, lead_id)


def explain_overview(wh: Warehouse, settings: Settings, top: int = 30) -> ExplainOverview:
    model = load_champion(wh)  # raises a clear error when there is none (the heuristic has no contributions)
    scores = current_scores(wh)
    as_of = pd.Timestamp(scores.score_date.iloc[0], tz="UTC") + pd.Timedelta(hours=23, minutes=59)
    leads = open_leads(wh, settings, as_of)
    leads = leads[leads.lead_id.isin(scores.lead_id)].reset_index(drop=True)
    if leads.empty:
        raise LeadScoringError("The scored leads are no longer in the feature table: run the daily pipeline again.")
    X = model_inputs(leads, [c for c in leads.columns if c not in META_COLUMNS + ("owner_id", "owner_name")])
    contribs = model.contributions(X)
    labels = _owner_labels(model.features, leads)
    importance = (pd.DataFrame({"feature": model.features, "label": [labels.get(f, f) for f in model.features],
                                "mean_abs_contribution": np.abs(contribs).mean(axis=0),
                                "mean_contribution": contribs.mean(axis=0)})
                  .sort_values("mean_abs_contribution", ascending=False).head(top).reset_index(drop=True))
    joined = leads[["lead_id"]].merge(scores[["lead_id", "prob_mql_30d", "tier"]], on="lead_id")
    g1 = X["AUM_Growth_Rate_1Year"]
    trajectories = ("shrinking", "steady (0–10%)", "growing (>10%)", "unknown")
    trajectory = np.select([g1 < 0, g1 <= 10, g1 > 10], trajectories[:3], trajectories[3])
    metro = pd.Series("other / unknown", index=X.index)
    for c in [c for c in X.columns if c.startswith("Home_MetropolitanArea_")]:
        metro[X[c] == 1] = c.removeprefix("Home_MetropolitanArea_").replace("_", " ")

    def cohort(key, order: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Ordered cohorts (AUM tiers, trajectories) in their order; unordered ones (metros) highest mean first."""
        df = joined.assign(cohort=np.asarray(key))
        out = (df.groupby("cohort").agg(leads=("lead_id", "size"), mean_probability=("prob_mql_30d", "mean"),
                                        tier_a=("tier", lambda t: int((t == "A").sum()))).reset_index())
        if order:
            return out.sort_values("cohort", key=lambda c: c.map(order.index), kind="stable").reset_index(drop=True)
        return out.sort_values("mean_probability", ascending=False, kind="stable").reset_index(drop=True)

    return ExplainOverview(
        model.model_id, len(leads), importance,
        {"AUM tier": cohort(aum_segment(X["TotalAssetsInMillions"]), AUM_SEGMENTS),
         "Growth trajectory": cohort(trajectory, trajectories), "Metro": cohort(metro)},
        joined.sort_values("prob_mql_30d", ascending=False, kind="mergesort").reset_index(drop=True),
        X, contribs, list(model.features), leads.lead_id.tolist(), labels, label_of(wh, model.model_id))


def _owner_labels(features: list[str], leads: pd.DataFrame) -> dict[str, str]:
    """``Owner_<OwnerId>`` (the owning SGA's one-hot column) → "Owner: <name>" where the leads name the owner."""
    if "owner_id" not in leads or "owner_name" not in leads:
        return {}
    return owner_labels(features, dict(zip(leads.owner_id.astype(str), leads.owner_name)))


def lead_waterfall(overview: ExplainOverview, lead_id: str, top: int = 12) -> pd.DataFrame:
    """One lead's largest contributions (feature, contribution, value), largest |contribution| first."""
    if lead_id not in overview.row_ids:
        raise LeadScoringError(f"Lead {lead_id} is not among the {overview.n:,} scored open leads: pick one listed.")
    i = overview.row_ids.index(lead_id)
    row = pd.DataFrame({"feature": overview.features, "contribution": overview.contributions[i],
                        "value": overview.X.loc[i, overview.features].to_numpy()})
    row = row.reindex(row.contribution.abs().sort_values(ascending=False).index).head(top)
    return row.reset_index(drop=True)


# --- Analyst views with `shap` -------------------------------------------------------------------------

@dataclass(frozen=True)
class ShapViews:
    """The analyst's SHAP views of a sample of scored open leads (see :func:`shap_views`)."""

    model_id: str
    n: int  # sampled leads
    linear: bool  # a logistic champion: exact linear SHAP, no interactions
    summary: pd.DataFrame  # lead_id, feature, shap, value, value_percentile (top features): a beeswarm
    top_features: list[str]
    partner: dict[str, str | None]  # per top feature, the feature it interacts with most
    pairs: pd.DataFrame  # feature, with, mean_abs_interaction
    levels: pd.DataFrame  # feature, level, leads, mean_contribution (raw categories)
    values: np.ndarray  # sample × features SHAP values
    Z: pd.DataFrame  # the sample as the model reads it (encoded)
    Xs: pd.DataFrame  # the sample's raw inputs
    base_value: float


def shap_views(overview: ExplainOverview, wh: Warehouse, sample: int = 2000, interaction_sample: int = 400,
               top: int = 15, seed: int = 42) -> ShapViews:
    """SHAP views of the champion booster over (a sample of) the scored open leads, computed with
    ``shap.TreeExplainer`` (the same numbers as xgboost's own ``pred_contribs``):

    - ``summary``: long table (lead, feature, shap, value, value percentile) for a beeswarm of the ``top``
      features by mean |SHAP|;
    - ``dependence``: per top feature, the feature with the strongest SHAP interaction (colouring);
    - ``pairs``: the strongest interaction pairs, mean |SHAP interaction| (xgboost's ``pred_interactions``,
      which also works for categorical inputs where shap's own interaction path does not);
    - ``levels``: for every raw category, the mean contribution per level (a category's contribution is
      shown per level, never as an encoded number).
    """
    model = load_champion(wh)
    X = overview.X
    idx = np.sort(np.random.default_rng(seed).choice(len(X), min(sample, len(X)), replace=False))
    Xs = X.iloc[idx].reset_index(drop=True)
    features = list(model.features)
    linear = model.booster is None
    explanation, Z = _explanation(model, Xs, features, linear)
    values = np.asarray(explanation.values)
    order = list(np.argsort(-np.abs(values).mean(axis=0))[:top])
    summary = _beeswarm(Xs, Z, values, features, order, np.asarray(overview.row_ids)[idx])
    strength = np.zeros((len(features), len(features))) if linear else \
        _interaction_strength(model, Z.iloc[:min(interaction_sample, len(Z))])
    pairs = [{"feature": features[a], "with": features[b], "mean_abs_interaction": float(strength[a, b])}
             for a in range(len(features)) for b in range(a + 1, len(features)) if strength[a, b] > 0]
    pairs = pd.DataFrame(pairs, columns=["feature", "with", "mean_abs_interaction"]).sort_values(
        "mean_abs_interaction", ascending=False).head(top).reset_index(drop=True)
    partner = {features[j]: features[int(np.argmax(strength[j]))] if strength[j].max() > 0 else None for j in order}
    levels = _level_contributions(Xs, values, [] if linear else features)  # a logistic model takes no raw categories
    return ShapViews(model.model_id, len(Xs), linear, summary, [features[j] for j in order], partner, pairs, levels,
                     values, Z, Xs,
                     float(np.ravel(explanation.base_values)[0]) if explanation.base_values is not None else 0.0)


def _explanation(model, Xs: pd.DataFrame, features: list[str], linear: bool):
    """The sample's SHAP explanation and the model's input matrix. A logistic champion's SHAP values are exact and
    closed-form (coefficient × standardised value, the interventional linear SHAP), wrapped in a shap.Explanation."""
    import shap

    if linear:
        Z = Xs[features].apply(pd.to_numeric, errors="coerce")
        return shap.Explanation(values=model.contributions(Xs), data=Z.to_numpy(), feature_names=features), Z
    Z = model.prepare(Xs)
    return shap.TreeExplainer(model.booster.get_booster())(Z), Z


def _beeswarm(Xs: pd.DataFrame, Z: pd.DataFrame, values: np.ndarray, features: list[str], order: list[int],
              lead_ids: np.ndarray) -> pd.DataFrame:
    """Long table of the top features: lead, feature, SHAP value, raw value (categories as text) and percentile."""
    from core.features.catalog import is_categorical

    rows = []
    for j in order:
        name = features[j]
        raw = Xs[name]
        if is_categorical(name):
            shown = raw.astype(object).where(raw.notna(), "(missing)").astype(str).to_numpy()
            pct = pd.Series(Z[name].to_numpy()).rank(pct=True).to_numpy()
        else:
            shown = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            pct = pd.Series(shown).rank(pct=True).to_numpy()
        rows.append(pd.DataFrame({"feature": name, "shap": values[:, j], "value": shown.astype(object),
                                  "value_percentile": pct, "lead_id": lead_ids}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def _interaction_strength(model, Z: pd.DataFrame) -> np.ndarray:
    """Mean |SHAP interaction| between every pair of features (xgboost's ``pred_interactions``), diagonal zeroed."""
    import xgboost as xgb

    inter = model.booster.get_booster().predict(xgb.DMatrix(Z), pred_interactions=True)[:, :-1, :-1]
    strength = np.abs(inter).mean(axis=0)
    np.fill_diagonal(strength, 0.0)
    return strength


def _level_contributions(Xs: pd.DataFrame, values: np.ndarray, features: list[str]) -> pd.DataFrame:
    """For every raw category, the mean contribution and lead count per level, strongest first."""
    from core.features.catalog import is_categorical

    levels = []
    for j, name in enumerate(features):
        if is_categorical(name):
            lv = Xs[name].astype(object).where(Xs[name].notna(), "(missing)").astype(str)
            g = pd.DataFrame({"level": lv, "shap": values[:, j]}).groupby("level")["shap"]
            levels.append(pd.DataFrame({"feature": name, "level": g.mean().index, "leads": g.size().to_numpy(),
                                        "mean_contribution": g.mean().to_numpy()}))
    return (pd.concat(levels, ignore_index=True).sort_values(["feature", "mean_contribution"], ascending=[True, False])
            if levels else pd.DataFrame(columns=["feature", "level", "leads", "mean_contribution"]))


def dependence_frame(views: ShapViews, feature: str) -> tuple[pd.DataFrame, str | None]:
    """One feature's SHAP dependence: its value, its contribution and — for colouring — the value
    percentile of the feature it interacts with most. Returns (frame, partner name)."""
    from core.features.catalog import is_categorical

    features = list(views.Z.columns)
    j = features.index(feature)
    partner = views.partner.get(feature)
    Xs = views.Xs
    raw = Xs[feature]
    value = (raw.astype(object).where(raw.notna(), "(missing)").astype(str) if is_categorical(feature)
             else pd.to_numeric(raw, errors="coerce"))
    frame = pd.DataFrame({"value": value, "shap": views.values[:, j]})
    if partner:
        frame["partner_percentile"] = pd.Series(views.Z[partner].to_numpy()).rank(pct=True).to_numpy()
    return frame, partner
