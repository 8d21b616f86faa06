"""Control panel entry point: sign-in, first-start demo data, and the role-aware page router."""

from __future__ import annotations

import os

import streamlit as st

from core.auth import PERMISSIONS
from core.errors import LeadScoringError
from core.pipeline import bootstrap_demo, has_data
from core.words import role_words
from pages._shared import engine, progress_callback

st.set_page_config(page_title="Lead Scoring Engine", page_icon=":material/target:", layout="wide")

try:
    eng = engine()
except LeadScoringError as exc:
    def cannot_start(message: str = str(exc)) -> None:
        st.title("Lead Scoring Engine")
        st.error(message)

    # a one-page navigation: without one Streamlit lists the raw files of pages/ in the sidebar
    st.navigation([st.Page(cannot_start, title="Lead Scoring Engine")], position="hidden").run()
    st.stop()

def first_start() -> None:
    """On an empty warehouse: the demo data, a first champion and scores, with visible progress. It runs inside a
    page (not before the navigation exists), so the sidebar never lists raw page files meanwhile."""
    if has_data(eng.wh) or os.environ.get("LEADSCORE_NO_DEMO") == "1":
        return
    with st.status("First start: preparing the demo data, a first model and scores…", expanded=True) as status:
        bar = st.progress(0.0)
        try:
            bootstrap_demo(eng.wh, eng.settings, progress_callback(status, bar))
            status.update(label="Demo data loaded and reconciled; a first champion trained; leads scored",
                          state="complete")
        except LeadScoringError as exc:
            status.update(label="Demo data could not be prepared", state="error")
            st.error(str(exc))


def login_page(target: str | None = None) -> None:
    first_start()
    st.title("Lead Scoring Engine")
    st.caption("Sign in to the control panel." + (" You will go on to the page you asked for." if target else ""))
    sso = _has_secrets() and "auth" in st.secrets
    with st.form("login"):
        username = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        who = eng.users.verify(username.strip(), password)
        from core import audit

        if who is None:
            audit.record_now(eng.wh, _anon(username), "login", "", "failed")
            st.error("This account is disabled: ask an admin to enable it." if eng.users.is_disabled(username.strip())
                     else "Unknown user name or wrong password.")
        else:
            st.session_state.actor = who
            if target:
                st.session_state.after_login = target
            audit.record_now(eng.wh, who, "login")
            st.rerun()
    with st.expander("First start: where is the admin password?"):
        st.markdown("On the first start the engine creates the user **admin** with a random password and prints it "
                    "once to the console (terminal or service log) of whoever started the control panel. To choose "
                    "it yourself, set the environment variable `LEADSCORE_ADMIN_PASSWORD` before the first start. "
                    "An admin adds other users under Admin → Users, or from the command line: "
                    "`python -m core users add NAME --role revops`.")
    if sso:
        if st.button("Sign in with single sign-on"):
            st.login()
        if getattr(st.user, "is_logged_in", False):
            role = eng.users.users().get(st.user.email)
            if role:
                from core.auth import Actor

                st.session_state.actor = Actor(st.user.email, role)
                st.rerun()
            st.error(f"{st.user.email} has no role yet: ask an admin to add it under Admin → Users.")


def _has_secrets() -> bool:
    try:
        return bool(st.secrets)
    except Exception:  # noqa: BLE001 - no secrets file is the normal case
        return False


def _anon(username: str):
    from core.auth import Actor

    return Actor(username or "(blank)", "anonymous")


PAGE_PATHS = ("home", "upload", "reconciliation", "salesforce_sync", "tiers", "features", "train", "shap_cohorts",
              "monitoring", "experiments", "audit_log", "users")


def _login_for(path: str):
    def page() -> None:
        login_page(path)
    return page


actor = st.session_state.get("actor")
if actor is None:
    # Every page's address leads to the sign-in form (never "Page not found"), and on to that page after it.
    st.navigation([st.Page(login_page, title="Sign in", icon=":material/login:", default=True)]
                  + [st.Page(_login_for(p), title="Sign in", icon=":material/login:", url_path=p) for p in PAGE_PATHS],
                  position="hidden").run()
    st.stop()

with st.sidebar:
    st.markdown(f"**{actor.username}** · {role_words(actor.role)}")
    if st.button("Sign out"):
        st.session_state.pop("actor", None)
        st.rerun()

sections = {"Overview": [st.Page("pages/home.py", title="Pipeline home", icon=":material/home:", default=True)]}
revops = []
if actor.role in PERMISSIONS["replace_data"]:
    revops.append(st.Page("pages/upload.py", title="Upload exports", icon=":material/upload_file:"))
revops.append(st.Page("pages/reconciliation.py", title="Reconciliation QA", icon=":material/fact_check:"))
revops.append(st.Page("pages/salesforce_sync.py", title="Salesforce sync", icon=":material/sync:"))
sections["RevOps"] = revops
sections["SGA manager"] = [st.Page("pages/tiers.py", title="Tier lists", icon=":material/format_list_numbered:")]
sections["Analyst"] = [st.Page("pages/features.py", title="Features & data quality", icon=":material/insights:"),
                       st.Page("pages/train.py", title="Train & compare", icon=":material/model_training:"),
                       st.Page("pages/shap_cohorts.py", title="SHAP & cohorts", icon=":material/bar_chart:"),
                       st.Page("pages/monitoring.py", title="Monitoring", icon=":material/monitor_heart:"),
                       st.Page("pages/experiments.py", title="Experiments", icon=":material/science:")]
if actor.role == "admin":
    sections["Admin"] = [
        st.Page("pages/audit_log.py", title="Audit log", icon=":material/history:"),
        st.Page("pages/users.py", title="Users", icon=":material/group:"),
    ]
nav = st.navigation(sections)
wanted = st.session_state.pop("after_login", None)
if wanted:
    page = next((p for pages in sections.values() for p in pages if p.url_path == wanted), None)
    if page is not None and page.url_path != nav.url_path:
        st.switch_page(page)
nav.run()
