"""Salesforce sync (RevOps pushes): connection, pending changes, dry run, push with progress, history, failures."""

import pandas as pd
import streamlit as st

from core.salesforce.pull import pull_activities, pull_leads
from core.salesforce.push import dry_run_bytes, push_scores
from core.salesforce.status import SyncOverview, connection_status, daily_pull_words, sync_overview
from pages._shared import actor, after_write, dataframe, engine, progress_callback, table, user_errors, why_not

eng = engine()
who = actor()
st.title("Salesforce sync")
can_push, can_pull = who.can("push_scores"), who.can("replace_data")
if (done := st.session_state.pop("sf_message", None)) is not None:
    (st.success if done[0] else st.warning)(done[1])


@st.cache_data(ttl=30, show_spinner=False)
def _overview(_wh, _settings, key: str) -> SyncOverview:
    # Hashing every scored lead's payload takes ~1 s at full scale: not on every widget rerun. Writes clear it.
    return sync_overview(_wh, _settings)


with user_errors():
    view = _overview(eng.wh, eng.settings, str(eng.settings.warehouse_path))
    cfg = view.settings

    st.subheader("Connection")
    if view.configured:
        where = cfg["instance_url"] if view.auth_method == "existing session" else cfg["login_url"]
        st.caption(f"{where} · {view.auth_method} · user {cfg['username'] or '—'} · API v{cfg['api_version']} · "
                   f"jobs of {cfg['batch_size']:,} rows · daily pull {daily_pull_words(cfg)}, "
                   f"daily push {'on' if cfg['daily_push'] else 'off'}")
        if st.button("Test connection and check the org"):
            with st.spinner("Logging in, reading the Lead and Task fields and the API allowance…"):
                status = connection_status(eng.settings, org=True)
            st.success(f"Connected to {status.instance} in {status.seconds} s: "
                       f"{status.contacted_leads:,} contacted Leads visible.")
            a1, a2 = st.columns(2)
            a1.metric("Daily API requests left", f"{status.api_remaining:,} of {status.api_max:,}")
            a2.metric("Kept for other integrations", f"{status.api_floor:,}")
            dataframe(pd.DataFrame(status.fields), {
                "field": st.column_config.TextColumn("Write-back field"),
                "api_name": st.column_config.TextColumn("API name"),
                "exists": st.column_config.CheckboxColumn("Exists"),
                "updateable": st.column_config.CheckboxColumn("Updateable by this user")})
            (st.caption if status.call_activity_ok else st.warning)(status.call_activity)
    else:
        st.info("Salesforce is not configured, so pushes are off; the dry run below still shows what would be sent. "
                "Missing: " + "; ".join(view.missing) + ". See the README section 'Salesforce'.")

    if view.stale:
        st.error(f"Pushing is blocked: {view.stale}")

    st.subheader("Pending changes")
    pending = view.pending
    if view.pending_error:
        st.warning(view.pending_error)
    else:
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Rows to send", f"{len(pending):,}")
        clears = int(pending["reason"].notna().sum()) if "reason" in pending else 0
        c2.metric("New to Salesforce", f"{int((pending.get('change') == 'new').sum()):,}",
                  f"{clears:,} to clear (left scoring)" if clears else None, delta_color="off")
        c3.metric("Already in Salesforce", f"{view.ledger_rows:,}")
        c4.metric("Open failures", f"{len(view.failures):,}")
        if len(pending):
            table(pending.drop(columns=["values_hash"]).head(1000), "salesforce_pending_preview.csv", height=260)
            st.caption("The first 1,000 rows. The dry-run file holds every row, exactly as it would be sent.")
        elif view.ledger_rows:
            st.caption("Salesforce already holds every current score.")
        else:
            st.caption("No scores to send yet: run the daily pipeline first.")

    d1, d2 = st.columns(2)
    if d1.button("Prepare dry-run file", disabled=bool(view.pending_error) or not can_push,
                 help=why_not(who, "push_scores") or view.pending_error or None):
        result, data = dry_run_bytes(eng.wh, eng.settings, who)
        after_write()  # the dry run is recorded in the history below: read it again
        st.session_state["sf_dry_run"] = data
        st.session_state["sf_message"] = (True, result.message)
        st.rerun()
    if st.session_state.get("sf_dry_run") is not None:
        d2.download_button("Download dry-run CSV", st.session_state["sf_dry_run"], file_name="salesforce_dry_run.csv",
                           mime="text/csv")

    st.subheader("Push and pull")
    why_blocked = view.blocked
    blocked = why_blocked is not None
    p1, p2, p3 = st.columns(3)
    push = p1.button("Push changed scores", type="primary", disabled=not can_push or blocked or pending.empty,
                     help=why_not(who, "push_scores") or why_blocked or ("Nothing to send" if pending.empty else None))
    retry = p2.button("Retry failed rows", disabled=not can_push or blocked or view.failures.empty,
                      help=why_not(who, "push_scores") or why_blocked or
                      ("No failed rows" if view.failures.empty else None))
    pull = p3.button("Pull contacted Leads now", disabled=not can_pull or not view.configured,
                     help=why_not(who, "replace_data") or ("Salesforce is not configured" if not view.configured
                                                           else "Every contacted Lead (the daily run pulls only "
                                                           "the changes)"))
    if push or retry:
        with st.status("Pushing to Salesforce…", expanded=True) as status:
            bar = st.progress(0.0)
            result = push_scores(eng.wh, eng.settings, who, retry_failed=retry, progress=progress_callback(status, bar))
            status.update(label=f"Push {result.outcome.label}", state="complete" if result.outcome.settled else "error")
        after_write()
        st.session_state["sf_message"] = (result.outcome.settled, result.markdown())
        st.rerun()
    fewer = p3.checkbox("Allow fewer Leads", key="pull_allow_fewer", disabled=not can_pull or not view.configured,
                        help="A pull lacking 10% or more of the contacted Leads loaded (a user who cannot see every "
                        "Lead) is refused unless this is ticked (they were deleted).")
    tasks = p3.button("Pull call activity (Tasks)", disabled=not can_pull or not view.configured,
                      help=why_not(who, "replace_data") or ("Salesforce is not configured" if not view.configured
                                                            else "Every Task, archived calls included: the dials experiments "
                                                            "count (the daily run pulls only the changes)"))
    if pull or tasks:
        with st.status("Pulling contacted Leads…" if pull else "Pulling Tasks…", expanded=True) as status:
            bar = st.progress(0.0)
            load = pull_leads(eng.wh, eng.settings, who, progress=progress_callback(status, bar), allow_fewer=fewer) \
                if pull else pull_activities(eng.wh, eng.settings, who, progress=progress_callback(status, bar))
            status.update(label=f"Pulled {load.rows_read:,} rows", state="complete")
        after_write()
        warnings = load.summary.get("warnings", [])  # fields the org lacks, deleted records, mass-stamped stages
        st.session_state["sf_message"] = (not warnings, f"Pulled: rows read {load.rows_read:,} = loaded {load.rows_loaded:,}"
                                          f" + quarantined {load.rows_quarantined:,}." + (" Run the daily pipeline to "
                                          "score them." if pull else "") + "".join(f"\n\n- {w}" for w in warnings))
        st.rerun()

    st.subheader("Recent pulls and pushes")
    if view.recent.empty:
        st.caption("None yet.")
    else:
        table(view.recent, "salesforce_syncs.csv")

    st.subheader("Failures")
    if view.failures.empty:
        st.caption("No open failures: every intended update has landed." if view.ledger_rows else
                   "No open failures. Nothing has been sent to Salesforce yet.")
    else:
        table(view.failures, "salesforce_failures.csv", height=260)
        st.caption("Each row is an update that did not land, with Salesforce's error (or why it was deferred). "
                   "'Retry failed rows' sends them again; a later push that lands them closes them.")
