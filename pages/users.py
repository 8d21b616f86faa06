"""Users (admin): who may sign in, with which role; disable, re-enable, reset passwords, remove."""

import streamlit as st

from core import users as u
from core.auth import ROLES
from core.words import role_words
from pages._shared import dataframe, engine, flash, require, show_flash, user_errors

eng = engine()
who = require("manage_users")
st.title("Users")
show_flash()

frame = u.users_frame(eng.users)
dataframe(frame, {
    "user": "User", "role": "Role", "status": "Status"})
names = frame.user.tolist()


def done(message: str) -> None:
    flash(message)
    st.rerun()  # the list above is read again: what was just saved shows at once


add, manage = st.columns(2)
with add, st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user or change a role")
    name = st.text_input("User name (or e-mail for single sign-on)")
    role = st.selectbox("Role", ROLES, index=1, format_func=role_words)
    password = st.text_input("Password (8+ characters)", type="password")
    if st.form_submit_button("Save user", type="primary"):
        with user_errors():
            done(u.save_user(eng.users, eng.wh, name.strip(), password, role, actor=who))
with manage:
    st.subheader("Manage a user")
    target = st.selectbox("User", names, index=None, placeholder="Pick a user", key="manage_user")
    if target:
        disabled = frame.set_index("user").status[target] == "disabled"
        c1, c2 = st.columns(2)
        with user_errors():
            if c1.button("Enable" if disabled else "Disable", key="toggle_user"):
                done(u.set_disabled(eng.users, eng.wh, target, not disabled, actor=who))
            if c2.button("Remove", key="remove_user", disabled=target == who.username,
                         help="You cannot remove yourself" if target == who.username else None):
                done(u.remove_user(eng.users, eng.wh, target, actor=who))
            with st.form("reset_password", clear_on_submit=True):
                new = st.text_input(f"New password for {target}", type="password")
                if st.form_submit_button("Reset password"):
                    done(u.reset_password(eng.users, eng.wh, target, new, actor=who))

st.subheader("What each role may do")
st.caption("Enforced by the engine for every action, from the control panel and the command line alike.")
matrix = u.permission_matrix()
dataframe(matrix, {
    "action": st.column_config.TextColumn("Action", width="large"),
    **{role_words(r): st.column_config.CheckboxColumn(role_words(r)) for r in ROLES}})
