"""SHAP & cohorts (analysts): what drives the champion overall, by cohort, and for one lead."""

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.scoring.explain import ShapViews, dependence_frame, explain_overview, lead_waterfall, shap_views
from pages._shared import actor, engine, table, user_errors


def _shap_tabs(sv: ShapViews, label) -> None:
    """The four shap views (beeswarm summary, dependence, interaction pairs, categories by level)."""
    st.caption(f"Exact linear SHAP values (a logistic champion) on {sv.n:,} sampled open leads; a linear model "
               "has no interactions." if sv.linear else
               f"shap.TreeExplainer on {sv.n:,} sampled open leads; interactions from xgboost's exact TreeSHAP "
               "interaction values. A category's contribution is shown per level.")
    t_sum, t_dep, t_int, t_lvl = st.tabs(["Summary (beeswarm)", "Dependence", "Interactions", "Categories by level"])
    with t_sum:
        s = sv.summary.copy()
        pos = {f: i for i, f in enumerate(sv.top_features)}
        s["row"] = s.feature.map(pos) + np.random.default_rng(0).uniform(-0.35, 0.35, len(s))
        fig = px.scatter(s, x="shap", y="row", color="value_percentile", color_continuous_scale="RdBu_r", opacity=0.6,
                         hover_data={"feature": True, "value": True, "row": False},
                         labels={"shap": "SHAP value (log-odds)", "value_percentile": "Feature value<br>(percentile)"},
                         height=60 + 38 * len(pos))
        fig.update_yaxes(tickvals=list(pos.values()), ticktext=[label(f) for f in pos], autorange="reversed", title="")
        fig.update_traces(marker={"size": 4})
        st.plotly_chart(fig, width="stretch")
    with t_dep:
        feature = st.selectbox("Feature", sv.top_features, key="dep_feature")
        dep, partner = dependence_frame(sv, feature)
        fig = px.scatter(dep, x="value", y="shap", color="partner_percentile" if partner else None,
                         color_continuous_scale="RdBu_r", opacity=0.6, height=440,
                         labels={"value": feature, "shap": "SHAP value (log-odds)",
                                 "partner_percentile": f"{partner}<br>(percentile)" if partner else ""})
        st.plotly_chart(fig, width="stretch")
        st.caption(f"Coloured by {partner}, the feature it interacts with most." if partner else "No interaction found.")
    with t_int:
        if sv.pairs.empty:
            st.info("No interactions: the champion adds up one term per feature.")
        table(sv.pairs, "shap_interaction_pairs.csv", column_config={
            "feature": "Feature", "with": "Interacts with",
            "mean_abs_interaction": st.column_config.NumberColumn("Mean |interaction| (log-odds)", format="%.4f")})
    with t_lvl:
        cats = sorted(sv.levels.feature.unique()) if len(sv.levels) else []
        if not cats:
            st.info("The champion uses no raw categories.")
        else:
            cat = st.selectbox("Category", cats, key="lvl_feature")
            lv = sv.levels[sv.levels.feature == cat].head(30)
            st.plotly_chart(px.bar(lv, x="mean_contribution", y="level", orientation="h", hover_data=["leads"],
                                   height=120 + 22 * len(lv),
                                   labels={"mean_contribution": "Mean contribution (log-odds)", "level": ""})
                            .update_yaxes(autorange="reversed"), width="stretch")


eng = engine()
actor()
st.title("SHAP & cohorts")

with user_errors():
    view = explain_overview(eng.wh, eng.settings)
    st.caption(f"Champion: {view.model_label} · {view.n:,} scored open leads · contributions on the log-odds scale")
    imp = view.importance
    st.subheader("Global importance (top 30, mean |contribution|)")
    st.plotly_chart(px.bar(imp, x="mean_abs_contribution", y="label", orientation="h", height=720,
                           labels={"mean_abs_contribution": "Mean |contribution| (log-odds)", "label": ""})
                    .update_yaxes(autorange="reversed"), width="stretch")

    st.subheader("SHAP views")
    _shap_tabs(shap_views(view, eng.wh), view.label)

    tabs = st.tabs(list(view.cohorts))
    for tab, (name, frame) in zip(tabs, view.cohorts.items()):
        with tab:
            left, right = st.columns([1, 1])
            with left:
                table(frame, f"cohort_{name.replace(' ', '_').lower()}.csv", column_config={
                    "cohort": name, "mean_probability": st.column_config.NumberColumn("Mean P(MQL ≤ 30 d)", format="percent"),
                    "tier_a": st.column_config.NumberColumn("Tier A leads", format="localized")})
            right.plotly_chart(px.bar(frame, x="cohort", y="mean_probability", height=320,
                                      labels={"cohort": name, "mean_probability": "Mean P(MQL ≤ 30 d)"})
                               .update_yaxes(tickformat=".1%"), width="stretch")
    st.subheader("One lead")
    lead = st.selectbox("Lead (highest score first)", view.lead_ids[:500], format_func=view.lead_label)
    wf = lead_waterfall(view, lead)
    st.plotly_chart(go.Figure(go.Waterfall(orientation="h", y=wf.feature, x=wf.contribution,
                                           text=[str(v) if isinstance(v, str) else (f"{v:.3g}" if v == v else "missing")
                                                 for v in wf.value]))
                    .update_layout(height=460, yaxis={"autorange": "reversed"}), width="stretch")
