"""Experiments: design (power, strata, split), the list, and the readout of one experiment — cumulative
effect against its sequential boundary, per-stratum forest plot, SRM and balance, guardrails, power."""

import pandas as pd
import streamlit as st

from core.experiments import charts
from core.experiments.design import Power, list_experiments, power_curve, stop_experiment
from core.experiments.readout import readout
from core.words import CHECK_WORDS, DECISION_HELP, DECISION_WORDS
from pages._experiment_design import METRICS, design_section
from pages._shared import actor, dataframe, engine, show_flash, table, user_errors, when, write_button

eng = engine()
who = actor()
st.title("Experiments")
show_flash()


@st.cache_data(ttl=30, show_spinner="Reading experiments…")
def _list(_wh, key: str) -> pd.DataFrame:
    return list_experiments(_wh)


@st.cache_data(ttl=30, show_spinner="Reading out the experiment…")
def _readout(_wh, key: str, name: str):
    return readout(_wh, eng.settings, name)


def pct(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:+.1%}"


with user_errors():
    exps = _list(eng.wh, str(eng.settings.warehouse_path))

design_section(eng, who, expanded=exps.empty)

if exps.empty:
    st.info("No experiments yet. Design one above, or tag leads in Salesforce with Experimentation_Tag__c = NAME:ARM.")
    st.stop()

listing = exps.assign(status=exps["status"].str.capitalize())
table(listing[["name", "source", "status", "arms", "leads", "start_at", "planned_end_at"]], "experiments.csv",
      {"name": "Experiment", "start_at": st.column_config.DatetimeColumn("First contact", format="D MMM YYYY"),
       "planned_end_at": st.column_config.DatetimeColumn("Planned end", format="D MMM YYYY"),
       "leads": st.column_config.NumberColumn("Leads", format="%d")})

names = exps["name"].tolist()
with_leads = [i for i, n in enumerate(exps["leads"].tolist()) if n > 0]
chosen = st.selectbox("Read out", names, index=with_leads[0] if with_leads else 0)
row = exps[exps["name"] == chosen].iloc[0]
if row.get("kind") in ("engine", "rollout") and row.get("status") == "running":
    write_button(who, f"Stop {chosen}", "design_experiments", lambda: stop_experiment(eng.wh, chosen, actor=who),
                 f"{chosen} stopped: no new leads are assigned.")

with user_errors():
    r = _readout(eng.wh, str(eng.settings.warehouse_path), chosen)
    j = r.as_json()
    if r.decision == "invalid":
        st.error(f"**Invalid readout (sample ratio mismatch)** — {r.warnings[0] if r.warnings else ''}")
    c1, c2, c3, c4 = st.columns([1.3, 1, 1, 0.8])
    c1.metric("Decision", DECISION_WORDS.get(r.decision, r.decision), r.look_name, delta_color="off",
              help=DECISION_HELP.get(r.decision))
    c2.metric(f"Lift in {METRICS[r.primary_metric]}", pct(j["effect"]),
              f"95% CI {pct(j['ci_low'])} to {pct(j['ci_high'])}", delta_color="off")
    c3.metric("Score-adjusted lift", pct(j["adjusted_effect"]),
              "n/a" if j["adjusted_ci_low"] is None else f"95% CI {pct(j['adjusted_ci_low'])} to {pct(j['adjusted_ci_high'])}",
              delta_color="off")
    c4.metric("Sample ratio check", "n/a" if j["srm_p"] is None else ("FAILED" if j["srm_p"] < 0.001 else "OK"),
              "" if j["srm_p"] is None else f"p = {j['srm_p']:.3f}", delta_color="off")
    st.caption(f"{'Recorded in Experimentation_Tag__c' if r.source == 'tag' else 'Assigned by the engine'} · as of "
               f"{when(r.as_of)} · only leads whose {eng.settings.label_window_days}-day window has closed are counted · "
               f"{j['planned']['matured_leads']:,} matured leads, {j['planned']['mql_outcomes']:,} MQLs "
               f"(spec target {j['planned']['mql_target']})")
    for w in r.warnings:
        if r.decision != "invalid" or not w.startswith("SAMPLE RATIO"):
            st.warning(w)
    arms = pd.DataFrame([{"arm": a.capitalize(), **v} for a, v in r.arms.items()])
    dataframe(arms, {
        "arm": "Arm", "leads": st.column_config.NumberColumn("Assigned leads", format="%d"),
        "matured_leads": st.column_config.NumberColumn("Matured", format="%d"),
        "dials": st.column_config.NumberColumn("Dials", format="%d"), "mqls": st.column_config.NumberColumn("MQLs", format="%d"),
        "mqls_per_100_dials": st.column_config.NumberColumn("MQLs per 100 dials", format="%.2f"),
        "mql_rate": st.column_config.NumberColumn("MQL rate", format="percent")})

    t_seq, t_strata, t_bal, t_guard, t_power = st.tabs(
        ["Sequential boundary", "Per stratum", "SRM & balance", "Guardrails", "Power"])
    with t_seq:
        bound = "no boundary before the interim" if r.boundary is None else f"|z| ≥ {r.boundary:.2f} at this look"
        z_now = "" if j["z"] is None else f" (z = {j['z']:.2f})"
        st.caption(f"Lan–DeMets O'Brien–Fleming boundaries: {bound}{z_now}; the interim reads the first two weeks' "
                   f"leads ({r.interim_fraction:.0%} of the information). Peeking between looks is not a look.")
        for fig in (charts.sequential(r), charts.cumulative_effect(r)):
            if fig is not None:
                st.plotly_chart(fig, width="stretch")
    with t_strata:
        fig = charts.forest(r)
        if fig is None:
            st.info("No matured leads per stratum yet.")
        else:
            st.plotly_chart(fig, width="stretch")
            cmh = j["cmh"] or {}
            if cmh.get("odds_ratio") is not None:
                st.caption(f"Cochran–Mantel–Haenszel across {cmh['strata_used']} strata: pooled odds ratio "
                           f"{cmh['odds_ratio']:.2f}, p = {cmh['p_value']:.3f}; heterogeneity (Breslow–Day) p = "
                           f"{'—' if cmh['heterogeneity_p'] is None else round(cmh['heterogeneity_p'], 3)}")
            table(r.strata, f"{chosen}_strata.csv", {
                "by": "Stratum", "treatment_mqls": "Treatment MQLs", "control_mqls": "Control MQLs",
                "effect": st.column_config.NumberColumn("Lift", format="percent"),
                "ci_low": st.column_config.NumberColumn("95% low", format="percent"),
                "ci_high": st.column_config.NumberColumn("95% high", format="percent")})
    with t_bal:
        srm_text = "—" if j["srm_p"] is None else f"p = {j['srm_p']:.3f}"
        st.markdown(f"**Sample ratio:** {srm_text} (chi-squared on assignment counts; below 0.001 the readout is "
                    "invalid).")
        fig = charts.balance(r)
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
    with t_guard:
        g = pd.DataFrame(r.guardrails)
        if g.empty:
            st.info("No guardrail can be read yet.")
        else:
            g["status"] = g["status"].map(CHECK_WORDS).fillna(g["status"])
            dataframe(g, {
                "guardrail": "Guardrail (spec §8.5)", "status": "Status",
                "detail": st.column_config.TextColumn("Detail", width="large")})
    with t_power:
        pw = r.design.power
        if pw:
            weeks = r.design.planned_days / 7
            st.caption(f"Power for the experiment's {weeks:.0f}-week window at {pw['weekly_leads']:,.0f} contacted leads a "
                       f"week (blocked and score-adjusted). The design asked for {pw['mde']:+.0%}, which needs "
                       f"{pw['leads_adjusted']:,} leads ({pw['weeks_adjusted']:.1f} weeks).")
            st.plotly_chart(charts.power_curve(power_curve(Power(**{**pw, "planned_weeks": weeks})), pw["mde"]),
                            width="stretch")
        else:
            st.caption("An experiment recorded in Salesforce carries no design; compute power above for a new one.")
    d1, d2 = st.columns(2)
    d1.download_button("Download readout (Markdown)", r.markdown(), file_name=f"{chosen}_readout.md", mime="text/markdown")
    d2.download_button("Download readout tables (CSV)", r.csv(), file_name=f"{chosen}_readout.csv", mime="text/csv")
