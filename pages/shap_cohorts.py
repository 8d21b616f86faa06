"""SHAP & cohorts (analysts): what drives the champion overall, by cohort, and for one lead."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.scoring.explain import explain_overview, lead_waterfall
from pages._shared import actor, engine, table, user_errors

eng = engine()
actor()
st.title("SHAP & cohorts")

with user_errors():
    view = explain_overview(eng.wh, eng.settings)
    st.caption(f"Champion {view['model_id']} · {view['n']:,} scored open leads · contributions on the log-odds scale")
    imp = view["importance"]
    st.subheader("Global importance (top 30, mean |contribution|)")
    st.plotly_chart(px.bar(imp, x="mean_abs_contribution", y="feature", orientation="h", height=720)
                    .update_yaxes(autorange="reversed"), width="stretch")
    tabs = st.tabs(list(view["cohorts"]))
    for tab, (name, frame) in zip(tabs, view["cohorts"].items()):
        with tab:
            left, right = st.columns([1, 1])
            with left:
                table(frame, f"cohort_{name.replace(' ', '_').lower()}.csv",
                      column_config={"mean_probability": st.column_config.NumberColumn(format="percent")})
            right.plotly_chart(px.bar(frame, x="cohort", y="mean_probability", height=320)
                               .update_yaxes(tickformat=".0%"), width="stretch")
    st.subheader("One lead")
    lead = st.selectbox("Lead (highest score first)", view["lead_ids"][:500])
    wf = lead_waterfall(view, lead)
    st.plotly_chart(go.Figure(go.Waterfall(orientation="h", y=wf.feature, x=wf.contribution,
                                           text=[f"{v:.3g}" if v == v else "missing" for v in wf.value]))
                    .update_layout(height=460, yaxis={"autorange": "reversed"}), width="stretch")
