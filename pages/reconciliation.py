"""Reconciliation QA: CRD match rates by territory, firm-data coverage, duplicates, null rates, alerts."""

import plotly.express as px
import streamlit as st

from core.quality.reconcile import latest_report, missing_crds, null_rate_frame, reconcile, to_markdown
from pages._shared import actor, after_write, engine, month_label, table, user_errors, when, why_not

eng = engine()
who = actor()
st.title("Reconciliation QA")

with user_errors():
    if st.button("Re-run reconciliation", disabled=not who.can("reconcile"), help=why_not(who, "reconcile")):
        reconcile(eng.wh, eng.settings, who)
        after_write()
    report = latest_report(eng.wh) or (reconcile(eng.wh, eng.settings, who) if who.can("reconcile") else None)
    if report is None:
        st.info("No reconciliation report yet. It is produced after each territory or Lead upload; a RevOps user "
                "or an admin can also run it here.")
        st.stop()
    st.caption(f"Report of {when(report.created_at)} · snapshot {month_label(report.snapshot_month)}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Match rate (contacted leads)", f"{report.match_rate:.1%}" if report.match_rate is not None else "n/a",
              help="Share of contacted leads whose CRD matches a rep in the current snapshot (target > 70%).")
    c2.metric("Reps with firm data", f"{report.firm_data_rate_matched:.1%}" if report.firm_data_rate_matched is not None else "n/a")
    c3.metric("CRDs not in MarketPro", f"{report.salesforce_crds_missing_from_marketpro:,}",
              help="Salesforce Leads' CRDs found in no territory file of the snapshot (listed below).")
    c4.metric("Duplicate CRDs in Salesforce", f"{report.duplicate_crds_salesforce:,}")
    for alert in report.alerts:
        st.warning(alert)

    left, right = st.columns(2)
    terr = report.territory_frame()
    with left:
        st.subheader("Match rate by territory")
        if not terr.empty:
            fig = px.bar(terr, x="territory", y="match_rate", text_auto=".1%", range_y=[0, 1], height=320,
                         labels={"territory": "", "match_rate": "CRD match rate"})
            fig.update_yaxes(tickformat=".0%")
            fig.add_hline(y=eng.settings.min_territory_match_rate, line_dash="dot")
            st.plotly_chart(fig, width="stretch")
            st.caption(f"Dotted line: the {eng.settings.min_territory_match_rate:.0%} target.")
    nulls = null_rate_frame(report)
    with right:
        st.subheader("Null rate per column")
        source = st.radio("Source", ["MarketPro", "Salesforce"], horizontal=True, label_visibility="collapsed")
        view = nulls[nulls.source == source].sort_values("null_rate", ascending=False)
        st.plotly_chart(px.bar(view, x="null_rate", y="column", orientation="h", height=520, range_x=[0, 1],
                               labels={"null_rate": "Share empty", "column": ""})
                        .update_yaxes(autorange="reversed").update_xaxes(tickformat=".0%"), width="stretch")

    st.subheader("Parse failures")
    failures = report.failures_frame()
    if failures.empty:
        st.caption("None.")
    else:
        table(failures, "parse_failures.csv")  # table() gives every column a human header
    st.subheader("Contacted leads whose CRD is not in MarketPro")
    missing = missing_crds(eng.wh)
    table(missing, "salesforce_crds_missing_from_marketpro.csv", height=260)
    with st.expander("Full report (Markdown)"):
        st.markdown(to_markdown(report))
