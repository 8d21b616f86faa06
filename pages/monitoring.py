"""Monitoring: is the champion still worth trusting? Drift against its frozen reference, matured cohorts,
calibration, attribution, feed health, alerts (acknowledge) and the champion–challenger shadow."""

import streamlit as st

from core import notify
from core.monitoring import charts, drilldown
from core.monitoring.monitor import run_monitor
from core.monitoring.shadow import promote_challenger, start_shadow, stop_shadow
from core.monitoring.store import acknowledge
from core.monitoring.view import monitoring_view
from pages._monitoring_business import adoption_tab, conversion_tab
from pages._monitoring_calibration import calibration_tab
from pages._monitoring_drift import drift_tab, look_inside
from pages._shared import (actor, after_write, engine, progress_callback, show_flash, table, user_errors, why_not,
                           write_button)

eng = engine()
who = actor()
st.title("Monitoring")
show_flash()

if st.button("Run monitoring now", type="primary", disabled=not who.can("monitor"),
             help=why_not(who, "monitor") or "Drift, matured cohorts, feed health and alerts (the daily run does this too)"):
    with user_errors(), st.status("Monitoring…", expanded=True) as status:
        bar = st.progress(0.0)
        r = run_monitor(eng.wh, eng.settings, actor=who, progress=progress_callback(status, bar), notify=True)
        status.update(label=r.headline(), state="complete")
    after_write()


@st.cache_data(ttl=30, show_spinner="Reading the latest monitoring run…")
def _view(_wh, key: str):
    return monitoring_view(_wh, eng.settings)


with user_errors():
    v = _view(eng.wh, str(eng.settings.warehouse_path))
    if v is None:
        st.info("No monitoring run yet. It runs with every daily pipeline; or press **Run monitoring now**.")
        st.stop()
    run, f = v.run, v.frames
    for col, (label, value) in zip(st.columns(4), v.headline()):
        col.metric(label, value)
    st.caption(v.caption())
    for note in run.get("notes", []):
        st.info(note)

    t_alerts, t_drift, t_perf, t_conv, t_adopt, t_cal, t_attr, t_feed, t_shadow = st.tabs(
        ["Alerts", "Drift", "Tier A precision", "Conversion by tier", "Adoption", "Calibration", "Attribution",
         "Feed health", "Shadow challenger"])
    with t_alerts:
        alerts = v.alerts
        if alerts.empty:
            st.success("No active alerts.")
        else:
            table(alerts[["Level", "What", "Subject", "message", "first_seen", "last_seen", "acknowledged_by", "playbook"]],
                  "monitoring_alerts.csv", {"message": st.column_config.TextColumn("Message", width="large"),
                                            "playbook": st.column_config.TextColumn("Playbook step (spec §9.3)")})
            inc = v.incidents
            if len(inc):
                pick = st.selectbox("Acknowledge an alert", inc.index, format_func=lambda i: inc.label[i],
                                    help="A month's drifting features are one incident: acknowledged together.")
                write_button(who, "Acknowledge", "acknowledge_alerts", lambda: acknowledge(eng.wh, inc.alert_keys[pick], who),
                             f"Acknowledged {inc.label[pick]}.")
        on, words = notify.status_words(eng.settings)
        st.caption(words)
        if on:
            write_button(who, "Send a test notification", "monitor", lambda: notify.send_test(eng.settings, who, eng.wh), "Sent.")
    with t_drift:
        drift_tab(eng, f, v.feature_labels)
    with t_perf:
        st.caption("Filled dots: weeks whose 30-day window has closed (observed; a dot grows with the week's Tier A "
                   "leads). Hollow dots: not yet matured, estimated from the calibrated probabilities with a 95% "
                   "interval.")
        for fig in (charts.precision_by_week(f["cohorts"], v.run.get("tier_a_baseline"), v.run.get("tier_a_critical_below")),
                    charts.precision_by_segment(f["by_segment"])):
            if fig is not None:
                st.plotly_chart(fig, width="stretch")
        if not v.cohorts.empty:
            pct = {c: st.column_config.NumberColumn(c.replace("_", " ").capitalize(), format="percent") for c in
                   ("observed_rate", "tier_a_precision", "tier_a_recall", "predicted_rate", "backfilled_share")}
            table(v.cohorts, "matured_cohorts.csv", {**pct, "auc_pr": st.column_config.NumberColumn("AUC-PR", format="%.3f"),
                                                       "tier_a_leads": "Tier A leads", "week": "Week of",
                                                       "mqls_before_a_list": st.column_config.NumberColumn(
                                                           "MQLs before a list", help="Booked before the lead's first "
                                                           "score, so on no call list: not in Tier A precision or "
                                                           "recall; in calibration (scored as of contact)"),
                                                       "tier_a_precision": st.column_config.NumberColumn(
                                                           "Tier A precision", format="percent"),
                                                       "tier_a_recall": st.column_config.NumberColumn(
                                                           "Tier A recall", format="percent")})
    with t_conv:
        conversion_tab(v, f)
    with t_adopt:
        adoption_tab(eng)
    with t_cal:
        calibration_tab(eng, who, f)
    with t_attr:
        fig = charts.attribution_ranks(f["attribution"], labels=v.feature_labels)
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
        else:
            st.info("Not enough recent leads for attribution.")
    with t_feed:
        st.write(v.feed_summary())
        if not v.ranges.empty:
            st.warning("Values outside the plausible range the catalog declares — usually a unit fault in the export:")
            table(v.ranges, "implausible_values.csv", {c: st.column_config.NumberColumn(c.capitalize(), format="localized")
                                                          for c in ("count", "rows", "example", "low", "high")})
        for i, fig in enumerate((charts.psi_heatmap(f["snapshot_drift"], title="Territory months against the month the "
                                                    "champion was trained on (PSI)"), charts.coverage(f["coverage"]),
                                 charts.null_rates(f["nulls"]), charts.boost_shares(f.get("boosts")))):
            if fig is not None:
                st.plotly_chart(fig, width="stretch")
            if i == 0:
                look_inside(eng, f["snapshot_drift"], drilldown.territory_distribution, "Territory column", "territory")
        for t in run["retrain"]:
            st.warning(f"Retrain trigger — **{t['trigger']}**: {t['detail']}")
    with t_shadow:
        if v.active_shadow:
            st.markdown(v.shadow.markdown() if v.shadow else
                        f"{v.labels.get(v.active_shadow.model_id, v.active_shadow.model_id)} scores in shadow since "
                        f"{v.active_shadow.started_at:%d %b %Y %H:%M} UTC; the next monitoring run compares it with "
                        "the champion.")
            if v.shadow and v.shadow.gate_passed:  # the gate is checked again, on today's leads, by the promotion
                write_button(who, "Promote the challenger", "train_promote", lambda: promote_challenger(eng.wh, eng.settings, who),
                             f"{v.shadow.challenger} passed the shadow gate and is now the champion.")
            write_button(who, "Stop the shadow", "train_promote", lambda: stop_shadow(eng.wh, who),
                         "Shadow scoring stopped.")
        else:
            st.info("No challenger in shadow. A challenger scores beside the champion in every daily run (never written "
                    "to Salesforce) and is compared on leads that mature; promotion needs ≥ 7 days and > 5% lift on both "
                    "AUC-PR and Tier A precision.")
            if len(v.challengers):
                pick = st.selectbox("Challenger", v.challengers.model_id, format_func=lambda m: v.labels.get(m, m))
                write_button(who, "Start shadow scoring", "train_promote", lambda: start_shadow(eng.wh, pick, who),
                             f"{v.labels.get(pick, pick)} now scores in shadow from the next daily run.")
