"""Tier lists → Find a lead: one lead's story (core.scoring.lead_history) — where its outcome window stands, every
scoring day, and why its tier changed."""

import pandas as pd
import streamlit as st

from core.scoring.lead_history import history_chart, lead_history
from pages._shared import table, user_errors


def find_a_lead(eng) -> None:
    with st.expander("Find a lead: where it stands, and why its tier changed",
                     expanded=bool(st.session_state.get("find_lead", "").strip())):
        asked = st.text_input("Lead Id or Salesforce record address", placeholder="00Q… (15 or 18 characters)",
                              key="find_lead", help="Paste the Lead's Id or its Salesforce address.")
        if asked.strip():
            _story(eng, asked)


def _story(eng, asked: str) -> None:
    with user_errors():
        story = lead_history(eng.wh, eng.settings, asked)
        st.markdown(f"**{story.headline}**")
        st.write(story.outcome)
        st.write(story.now)
        for e in story.experiments:
            st.caption(f"Experiment: {e}")
        fig = history_chart(story)
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
        for change in story.changes:
            st.write(f"• {change}")
        if story.days.empty:
            return
        days = story.days.assign(score_date=pd.to_datetime(story.days.score_date),
                                 model=story.days.model_version.map(story.models),
                                 drivers=story.days.drivers.map("; ".join))
        table(days[["score_date", "tier", "rank", "prob_mql_30d", "adjusted", "model", "backfilled", "drivers"]]
              .iloc[::-1], f"lead_{story.lead_id}_history.csv", {
                  "score_date": st.column_config.DateColumn("Scored on", format="D MMM YYYY"), "tier": "Tier",
                  "rank": st.column_config.NumberColumn("Rank", format="%d"),
                  "prob_mql_30d": st.column_config.NumberColumn("P(MQL ≤ 30 d)", format="percent"),
                  "adjusted": st.column_config.NumberColumn("Ranked at", format="percent"),
                  "model": "Model", "backfilled": st.column_config.CheckboxColumn("Backfilled"),
                  "drivers": st.column_config.TextColumn("Reasons that day", width="large")})
