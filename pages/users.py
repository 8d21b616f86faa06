"""Users (admin): who may sign in and with which role."""

import pandas as pd
import streamlit as st

from core import audit
from core.auth import PERMISSIONS, ROLES
from pages._shared import engine, require, user_errors

eng = engine()
who = require("manage_users")
st.title("Users")

users = eng.users.users()
st.dataframe(pd.DataFrame(sorted(users.items()), columns=["user", "role"]), hide_index=True, width="stretch")
st.caption("What each role may do (enforced by the engine, not only hidden here):")
st.dataframe(pd.DataFrame([{"permission": p, **{r: ("✓" if r in allowed else "") for r in ROLES}}
                           for p, allowed in PERMISSIONS.items()]), hide_index=True, width="stretch")

with st.form("add_user", clear_on_submit=True):
    st.subheader("Add or update a user")
    name = st.text_input("User name (or e-mail for single sign-on)")
    role = st.selectbox("Role", ROLES, index=1)
    password = st.text_input("Password (8+ characters)", type="password")
    if st.form_submit_button("Save user", type="primary"):
        with user_errors():
            eng.users.add(name.strip(), password, role, actor=who)
            audit.record_now(eng.wh, who, "save_user", name.strip(), "ok", {"role": role})
            st.success(f"Saved {name} as {role}.")
