"""The Experiments page's design section: power at the current lead volume, the power curve, and create
(analysts and admins; enforced in core)."""

import streamlit as st

from core.experiments import charts
from core.experiments.design import create_experiment, power_analysis, power_curve
from pages._shared import user_errors, write_button

METRICS = {"mqls_per_100_dials": "MQLs per 100 dials", "mql_rate": "MQL rate per lead"}


def design_section(eng, who, expanded: bool) -> None:
    with st.expander("Design a new experiment", expanded=expanded):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name (written to Salesforce as NAME:ARM)", placeholder="tiering-2026-01")
        start = c2.date_input("First contact date in the experiment")
        split = c3.slider("Treatment share", 0.05, 0.95, 0.5, 0.05)
        c4, c5 = st.columns(2)
        strata = c4.multiselect("Block within", ["aum_tier", "completeness", "metro"], ["aum_tier", "completeness", "metro"],
                                format_func={"aum_tier": "AUM tier", "completeness": "Discovery completeness",
                                             "metro": "Metro presence"}.get)
        mde = c5.slider("Smallest lift worth detecting", 0.05, 1.0, 0.2, 0.05, format="%.2f")
        if st.button("Compute power", help="Sample size and weeks at the current lead volume"):
            with user_errors():
                st.session_state["exp_power"] = power_analysis(eng.wh, eng.settings, mde=mde, split=split, strata=tuple(strata))
        p = st.session_state.get("exp_power")
        if p is not None:
            m1, m2, m3 = st.columns(3)
            m1.metric("Leads needed, simple", f"{p.leads_simple:,}", f"{p.weeks_simple:.1f} weeks", delta_color="off")
            m2.metric("Blocked", f"{p.leads_blocked:,}", f"{p.weeks_blocked:.1f} weeks", delta_color="off")
            m3.metric("Blocked + score adjustment", f"{p.leads_adjusted:,}", f"{p.weeks_adjusted:.1f} weeks", delta_color="off")
            st.caption(f"{METRICS[p.primary_metric]} now {p.baseline:.2f}; {p.weekly_leads:,.0f} contacted leads a week; "
                       f"planned duration {p.planned_weeks:.0f} weeks.")
            for note in p.notes:
                st.info(note)
            st.plotly_chart(charts.power_curve(power_curve(p), p.mde), width="stretch")
        write_button(who, "Create experiment", "design_experiments",
                     lambda: create_experiment(eng.wh, eng.settings, name.strip(), str(start), split=split,
                                               strata=",".join(strata), mde=mde, actor=who),
                     f"Experiment {name.strip()} created: the daily run assigns leads as they are scored.")
