"""The Monitoring page's business-impact tabs (spec §9.1): conversion by first-score tier and discovery data, and
SGA adoption — whether the lists are worked in score order."""

import streamlit as st

from core.monitoring import charts
from core.monitoring.adoption import ADOPTION_DAYS, adoption
from pages._shared import table, user_errors


def conversion_tab(v, f: dict) -> None:
    conv = v.conversion
    if conv.empty:
        st.info("No matured leads yet (or the last run predates this view: run monitoring now).")
        return
    st.caption("Leads whose 30-day window has closed, by the tier of their first score; \"discovery data\" = "
               "matched to a MarketPro rep. Bars and lines carry 95% intervals (Wilson).")
    for fig in (charts.conversion_over_time(f["conversion"]), charts.conversion_by_discovery(v.conversion_pooled)):
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
    rate = {c: st.column_config.NumberColumn(label, format="percent") for c, label in
            (("rate", "MQL rate"), ("low", "95% low"), ("high", "95% high"))}
    table(conv, "conversion_by_tier.csv", {**rate, "tier": "Tier", "discovery": "Which leads", "leads": "Matured leads",
                                           "mqls": "MQLs"})


@st.cache_data(ttl=60, show_spinner="Counting the dials after each list…")
def _adoption(_wh, key: str, days: int):
    return adoption(_wh, days)


def adoption_tab(eng) -> None:
    days = st.slider("Follow-up dial within (days of reaching the list)", 1, 14, ADOPTION_DAYS, key="adoption_days")
    with user_errors():
        a = _adoption(eng.wh, str(eng.settings.warehouse_path), days)
        st.info(a.sentence())
        st.caption("Each week's new leads (first scored within 8 days of contact) in three bands by score. Lists "
                   "worked in score order dial the top band more and sooner; lists nobody reads show three equal "
                   "lines. A follow-up dial is a Salesforce Task with TaskSubtype = Call after the contact dial, "
                   "before any MQL.")
        fig = charts.adoption_over_time(a.trend, a.days, a.go_live, a.trend_kind)
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
        pct = {c: st.column_config.NumberColumn(label, format="percent") for c, label in
               (("top_share", "Top 20% dialed"), ("bottom_share", "Bottom 40% dialed"))}
        st.markdown(f"**By SGA** — new leads of the last {a.weeks} weeks of lists, by the Lead's owner")
        table(a.by_sga, "adoption_by_sga.csv", {
            **pct, "sga": "SGA", "leads": "New leads", "top_leads": "Top 20% leads", "bottom_leads": "Bottom 40% leads",
            "ratio": st.column_config.NumberColumn("Top vs bottom", format="%.1f×",
                                                   help="How many times as often the top band was dialed; shown "
                                                        "from 10 leads in each band")})
        with st.expander(f"{a.trend_kind.capitalize()} by {a.trend_kind}"):
            table(a.trend_table(), f"adoption_by_{a.trend_kind}.csv", {
                "period": st.column_config.DateColumn("Week of" if a.trend_kind == "week" else "Month",
                                                      format="D MMM YYYY" if a.trend_kind == "week" else "MMM YYYY"),
                "band": "Score band",
                "leads": "New leads", "dialed": "Dialed",
                **{c: st.column_config.NumberColumn(label, format="percent") for c, label in
                   (("share", "Dialed share"), ("low", "95% low"), ("high", "95% high"),
                    ("backfilled_share", "Backfilled (before go-live)"))},
                "dials_per_lead": st.column_config.NumberColumn("Dials per lead", format="%.2f"),
                "median_hours": st.column_config.NumberColumn("Median hours to first dial", format="%.0f")})
