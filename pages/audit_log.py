"""Audit log (admin): every sign-in, load and action, with who, when and how it ended."""

import streamlit as st

from core import audit
from pages._shared import engine, require, table, user_errors, when

eng = engine()
require("read_audit")
st.title("Audit log")
with user_errors():
    left, middle, right = st.columns([1, 3, 2])
    limit = left.number_input("Newest events", 50, 10_000, 500, step=50)
    picked = middle.multiselect("Only these actions", audit.logged_actions(eng.wh), format_func=audit.action_words,
                                placeholder="All actions")
    outcomes = right.multiselect("Only these outcomes", audit.logged_outcomes(eng.wh), format_func=audit.outcome_words,
                                 placeholder="Every outcome", help="Failed and refused actions are logged too.")
    log = audit.log_view(eng.wh, limit, picked, outcomes)
    table(log, "audit_log.csv", column_config={
        "at": st.column_config.DatetimeColumn("When", format="D MMM YYYY, HH:mm:ss"),
        "actor": "Who", "role": "Role", "action": "Action", "target": "Target", "outcome": "Outcome",
        "detail": st.column_config.TextColumn("Detail", width="large"),
        "event_id": st.column_config.TextColumn("Event id", width="small"),
    })
    if len(log):
        event = st.selectbox("Read one event in full", log.index, index=None, placeholder="Pick an event",
                             format_func=lambda i: f"{when(log['at'][i])} · {log.action[i]} · {log.actor[i]}"
                                                   + (f" · {log.target[i]}" if log.target[i] else ""))
        if event is not None:
            items = audit.event_detail(eng.wh, log.event_id[event])
            st.markdown("\n".join(f"- **{k}**: {v}" if k else f"- {v}" for k, v in items) or "No detail recorded.")
