"""Tier lists (SGA managers): who to call first, how many fit today's capacity, and why each lead is there."""

import json

import pandas as pd
import streamlit as st

from core.modeling.registry import label_of
from core.monitoring.view import boost_warnings
from core.scoring.capacity import get_capacity, set_capacity
from core.words import day
from core.scoring.score import call_list, fallback_words, old_export, stale_lists, statuses_that_read_closed
from core.salesforce.config import salesforce_config
from pages._lead_history import find_a_lead
from pages._shared import actor, after_write, dataframe, engine, table, user_errors, when

eng = engine()
who = actor()
st.title("Tier lists")

with user_errors():
    scores = call_list(eng.wh)
    cap = get_capacity(eng.wh, eng.settings)
    first = scores.iloc[0]
    if first.fallback_level != "full_model":
        st.warning(f"Scored with {fallback_words(first.fallback_level)} ({first.model_version}): no champion model "
                   "could be used. Analysts can train and promote one under Train & compare.")
    for sentence in boost_warnings(eng.wh, scores):
        st.warning(sentence)
    if behind := stale_lists(eng.wh):
        st.warning(f"Not today's lists: {behind} (on Pipeline home: Run daily pipeline).")
    if old := old_export(eng.wh):
        st.warning(old)
    if closed := statuses_that_read_closed(eng.wh, eng.settings):
        st.warning(closed)
    tiers = scores.tier.value_counts()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Daily capacity", f"{cap.daily:,}", help=cap.words())
    c2.metric(f"Tier A (capacity × {eng.settings.tier_a_factor:g})", f"{tiers.get('A', 0):,}")
    c3.metric("Tier B", f"{tiers.get('B', 0):,}")
    c4.metric("Tier C", f"{tiers.get('C', 0):,}")
    window = eng.settings.tier_window
    scored_by = fallback_words(first.fallback_level).capitalize() if first.fallback_level == "heuristic_rule" else \
        label_of(eng.wh, first.model_version)
    st.caption(f"{scored_by} · scored {when(first.scored_at)} · data as of "
               f"{day(first.score_date)}" + (f" · leads contacted in the last {window.days} days (their MQL window "
                                             "still open) rank first; older open leads fill the capacity left"
                                             if window else ""))
    instance = (salesforce_config(eng.settings).instance_url or "").rstrip("/")
    record_url = lambda lead_id: f"{instance}/lightning/r/Lead/{lead_id}/view"  # noqa: E731

    find_a_lead(eng)
    f1, f2 = st.columns(2)
    owners = sorted(scores.owner_name.dropna().unique())
    pick_owner = f1.multiselect("Owner", owners)
    pick_tier = f2.multiselect("Tier", ["A", "B", "C"], default=["A"])
    view = scores[scores.tier.isin(pick_tier or ["A", "B", "C"])]
    if pick_owner:
        view = view[view.owner_name.isin(pick_owner)]
    view = view.assign(top_drivers=view.drivers_json.map(lambda d: "; ".join(x["text"] for x in json.loads(d)[:3])))
    shown = view[["rank", "tier", "company", "title", "location", "owner_name", "contacted_at", "prob_mql_30d",
                  "adjusted", "top_drivers", "boost_reasons", "lead_id"]]
    if instance:  # leads link to their Salesforce record
        shown = shown.assign(lead_id=shown.lead_id.map(record_url))
    table(shown, "tier_list.csv", column_config={
        "rank": st.column_config.NumberColumn("Rank", format="%d"), "tier": "Tier", "company": "Firm",
        "title": "Title", "location": "Location",
        "lead_id": (st.column_config.LinkColumn("Lead", display_text=r"/Lead/([^/]+)/view") if instance
                    else st.column_config.TextColumn("Lead")),
        "owner_name": "Owner", "contacted_at": st.column_config.DatetimeColumn("Contacted", format="D MMM YYYY"),
        "prob_mql_30d": st.column_config.ProgressColumn("P(MQL ≤ 30 d)", min_value=0, max_value=1, format="percent"),
        "adjusted": st.column_config.NumberColumn("Ranked at", format="percent",
                                                  help="P(MQL) plus any priority boost (spec §5.8): the order of the list"),
        "top_drivers": st.column_config.TextColumn("Why (top 3)", width="large"),
        "boost_reasons": st.column_config.TextColumn("Priority boost")})

    st.subheader("Lead cards")
    for row in view.head(12).itertuples():
        with st.container(border=True):
            advisor = " at ".join(str(v) for v in (row.title, row.company) if pd.notna(v)) or "An advisor"
            where = f" ({row.location})" if pd.notna(row.location) else ""
            record = f"[Lead {row.lead_id}]({record_url(row.lead_id)})" if instance else f"Lead {row.lead_id}"
            st.markdown(f"**#{row.rank} · Tier {row.tier} · {advisor}{where}** — {row.prob_mql_30d:.1%} chance of an "
                        f"MQL in 30 days · {row.owner_name} · contacted {day(row.contacted_at)} · {record}")
            drivers = json.loads(row.drivers_json)
            for d in drivers[:3]:
                st.write(f"• {d['text']}")
            if row.boost_reasons:
                points = (row.adjusted - row.prob_mql_30d) * 100  # the boost in force when the lead was scored
                st.caption(f"Priority boost (ranked at {row.adjusted:.0%}: +{points:.0f} points for "
                           f"{row.boost_reasons.count('; ') + 1} rule(s), spec §5.8): {row.boost_reasons}")
            with st.expander("Why this lead?"):
                if drivers:
                    why = pd.DataFrame({"Reason": [d["text"] for d in drivers],
                                        "Weight": ["rule of thumb" if d.get("contribution") is None
                                                   else f"+{d['contribution']:.2f}" for d in drivers]})
                    dataframe(why)
                    st.caption("Weight: how much the reason raises the lead's log-odds of booking a call.")
                else:
                    st.write("No positive driver stands out: the score comes from the base rate.")

    if who.can("edit_capacity"):
        with st.form("capacity"):
            st.subheader("Capacity")
            sgas = st.number_input("SGAs working today", 1, 500, cap.sga_count)
            dials = st.number_input("Dials per SGA per day", 1, 500, cap.dials_per_day)
            if st.form_submit_button("Save capacity"):
                new = set_capacity(eng.wh, who, sgas, dials)
                after_write()
                st.success(f"Capacity is now {new.daily:,} a day; tiers follow at the next run.")
