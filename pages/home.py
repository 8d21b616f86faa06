"""Pipeline home: what data is loaded, how well it reconciles, and what needs attention."""

import json

import pandas as pd
import plotly.express as px
import streamlit as st

from core.daily import run_daily
from core.pipeline import pipeline_state
from core.salesforce.result import sync_words
from core.scoring.score import fallback_words
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
def _state(_wh, key: str) -> dict:
    return pipeline_state(_wh)


with user_errors():
    state = _state(eng.wh, str(eng.settings.warehouse_path))
    rec = state["reconciliation"] or {}
    last_t = state["territory_loads"][0] if state["territory_loads"] else None
    last_l = state["lead_loads"][0] if state["lead_loads"] else None
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Territory snapshot", month_label(state["current_month"]) if state["current_month"] else "none loaded")
    c2.metric("Unique reps", f"{state['unique_reps']:,}")
    c3.metric("Contacted leads", f"{state['contacted_leads']:,}")
    c4.metric("CRD match rate", f"{rec['match_rate']:.1%}" if rec.get("match_rate") is not None else "n/a")

    mon = state["monitoring"]
    if mon["level"] in ("alert", "critical"):
        st.error(f"Monitoring: **{mon['level'].upper()}** — {mon['open_alerts']:,} open alert(s). See Analyst → Monitoring.")
    elif mon["level"] == "warn":
        st.warning(f"Monitoring: **WARN** — {mon['open_alerts']:,} open alert(s). See Analyst → Monitoring.")
    for alert in state["alerts"]:
        st.warning(alert)
    if not state["alerts"] and rec:
        st.success("Reconciliation: every coverage threshold is met.")

    left, right = st.columns(2)
    with left:
        st.subheader("Last territory load")
        if last_t:
            st.write(f"**{month_label(last_t['snapshot_month'])}** · {last_t['files']}")
            st.caption(f"{int(last_t['rows_read']):,} rows read · {int(last_t['rows_loaded']):,} loaded · "
                       f"{int(last_t['rows_quarantined']):,} quarantined · by {last_t['loaded_by']}, {when(last_t['loaded_at'])}")
        else:
            st.info("No territory files loaded yet: RevOps → Upload exports.")
        st.subheader("Last lead load")
        if last_l:
            st.write(f"**{last_l['file_name']}** · exported {when(last_l['export_at'])}")
            st.caption(f"{last_l['rows_read']:,} rows read · {last_l['rows_loaded']:,} loaded · "
                       f"{last_l['rows_quarantined']:,} quarantined · by {last_l['loaded_by']}, {when(last_l['loaded_at'])}")
        else:
            st.info("No Salesforce Lead export loaded yet.")
    with right:
        st.subheader("Snapshots kept for point-in-time joins")
        months = pd.DataFrame(state["snapshot_months"])
        if not months.empty:
            months["month"] = months.snapshot_month.map(month_label)
            st.plotly_chart(px.bar(months, x="month", y="reps", height=260, labels={"month": "", "reps": "Reps"})
                            .update_xaxes(type="category"), width="stretch")
        st.subheader("Champion model and last run")
        model = state["champion_model"]
        st.write(f"{model['model_id']} ({model['kind']}, gates {'passed' if model['gates_passed'] else 'forced'})"
                 if model else "No champion: scoring falls back to the heuristic rule.")
        run = state["last_run"]
        if run:
            counts = json.loads(run["counts_json"] or "{}")
            wb = sync_words(counts.get("write_back", "not configured"))
            wb_text = f"{wb} ({counts['push_succeeded']:,} landed)" if "push_succeeded" in counts else wb
            if run["outcome"] == "ok":
                st.caption(f"Last run {when(run['started_at'])}: ok — {counts.get('scored', 0):,} scored with "
                           f"{fallback_words(counts.get('fallback_level'))}; Salesforce write-back: {wb_text}")
            elif run["outcome"] == "write_back_failed":
                st.warning(f"Last run {when(run['started_at'])}: scores are fresh, but the Salesforce write-back failed — "
                           f"{run['error']}. See Salesforce sync.")
            else:
                st.error(f"Last run {when(run['started_at'])}: {run['outcome']} — {run['error']} (previous scores kept)")
        for kind, sync in state["salesforce_last"].items():
            if kind in ("pull", "push"):
                st.caption(f"Last Salesforce {kind} {when(sync['started_at'])} by {sync['actor']}: {sync_words(sync['outcome'])} — "
                           f"{sync['rows_succeeded']:,} of {sync['rows_intended']:,} "
                           f"{'rows loaded' if kind == 'pull' else 'rows landed'}, {sync['rows_failed']:,} failed, "
                           f"{sync['rows_deferred']:,} deferred")

    if state["territory_loads"]:
        st.subheader("Recent territory loads")
        loads = pd.DataFrame(state["territory_loads"])
        loads["loaded_at"], loads["snapshot_month"] = loads.loaded_at.map(when), loads.snapshot_month.map(month_label)
        table(loads, "territory_loads.csv", column_config={
            "snapshot_month": "Month", "files": "Files", "loaded_by": "Loaded by", "loaded_at": "Loaded",
            "rows_read": st.column_config.NumberColumn("Rows read", format="localized"),
            "rows_loaded": st.column_config.NumberColumn("Rows loaded", format="localized"),
            "rows_quarantined": st.column_config.NumberColumn("Rows quarantined", format="localized"),
            "load_id": None})
