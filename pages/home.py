"""Pipeline home: what data is loaded, how well it reconciles, and what needs attention."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core.daily import run_daily
from core.pipeline import PipelineState, pipeline_state
from pages._shared import actor, after_write, engine, month_label, progress_callback, table, user_errors, when, why_not

eng = engine()
who = actor()
st.title("Pipeline home")

if st.button("Run daily pipeline", type="primary", disabled=not who.can("run_pipeline"),
             help=why_not(who, "run_pipeline") or "Features → scores → tiers (→ Salesforce when configured)"):
    with user_errors(), st.status("Running the daily pipeline…", expanded=True) as status:
        bar = st.progress(0.0)
        result = run_daily(eng.wh, eng.settings, actor=who, progress=progress_callback(status, bar))
        status.update(label=result.summary(), state="complete")
    after_write()


@st.cache_data(ttl=30, show_spinner=False)
def _state(_wh, key: str) -> PipelineState:
    return pipeline_state(_wh)


with user_errors():
    state = _state(eng.wh, str(eng.settings.warehouse_path))
    for col, (label, value) in zip(st.columns(4), state.headline()):
        col.metric(label, value)
    banner = state.monitoring_banner()
    if banner:
        (st.warning if banner[0] == "warn" else st.error)(banner[1])
    for alert in state.alerts:
        st.warning(alert)
    if not state.alerts and state.reconciliation:
        st.success("Reconciliation: every coverage threshold is met.")

    left, right = st.columns(2)
    with left:
        for title, words, empty, kinds in (
                ("Last territory load", state.territory_load_words(), "No territory files loaded yet: RevOps → Upload "
                 "exports.", ("territory",)),
                ("Last lead load", state.lead_load_words(), "No Salesforce Lead export loaded yet.", ("leads",)),
                ("Last call activity load", state.activity_load_words(), "No call activity (Salesforce Tasks) loaded "
                 "yet: experiments count dials from it (Upload exports, or Salesforce sync).", ("activities",))):
            st.subheader(title)
            if words:
                st.write(words[0])
                st.caption(words[1])
            else:
                st.info(empty)
            for warning in (w for kind in kinds for w in state.load_warnings.get(kind, ())):
                st.warning(warning)
    with right:
        st.subheader("Snapshots kept for point-in-time joins")
        months = pd.DataFrame(state.snapshot_months)
        if not months.empty:
            months["month"] = months.snapshot_month.map(month_label)
            st.plotly_chart(px.bar(months, x="month", y="reps", height=260, labels={"month": "", "reps": "Reps"})
                            .update_xaxes(type="category"), width="stretch")
        st.subheader("Champion model and last run")
        st.write(state.champion_words())
        last = state.last_run_words()
        if last:
            {"ok": st.caption, "warning": st.warning, "error": st.error}[last[0]](last[1])
        for line in state.sync_lines():
            st.caption(line)

    if state.territory_loads:
        st.subheader("Recent territory loads")
        loads = pd.DataFrame(state.territory_loads)
        loads["loaded_at"], loads["snapshot_month"] = loads.loaded_at.map(when), loads.snapshot_month.map(month_label)
        table(loads, "territory_loads.csv", column_config={
            "snapshot_month": "Month", "files": "Files", "loaded_by": "Loaded by", "loaded_at": "Loaded",
            "rows_read": st.column_config.NumberColumn("Rows read", format="localized"),
            "rows_loaded": st.column_config.NumberColumn("Rows loaded", format="localized"),
            "rows_quarantined": st.column_config.NumberColumn("Rows quarantined", format="localized"),
            "load_id": None})
