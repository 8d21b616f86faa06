"""Audit log (admin): every sign-in, load and action, with who, when and how it ended."""

import streamlit as st

from core import audit
from pages._shared import engine, require, table, user_errors

eng = engine()
require("read_audit")
st.title("Audit log")
with user_errors():
    log = audit.recent(eng.wh, limit=st.number_input("Rows", 50, 10_000, 500, step=50))
    actions = sorted(log.action.unique()) if not log.empty else []
    picked = st.multiselect("Actions", actions, default=actions)
    log = log[log.action.isin(picked)] if picked else log
    first = [c for c in ("at", "actor", "role", "action", "target", "outcome", "detail") if c in log.columns]
    log = log[first + [c for c in log.columns if c not in first]]  # the event id last: what a reader needs first
    table(log, "audit_log.csv", column_config={
        "at": st.column_config.DatetimeColumn("When", format="D MMM YYYY, HH:mm:ss"),
        "actor": "Who", "role": "Role", "action": "Action", "target": "Target", "outcome": "Outcome",
        "detail": st.column_config.TextColumn("Detail", width="large"),
        "event_id": st.column_config.TextColumn("Event id", width="small"),
    })
