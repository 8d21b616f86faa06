"""The Monitoring page's Calibration tab: predicted against observed by month and AUM segment, and the playbook's
step 3 (spec §9.3) as an action — recalibrate the champion on the newest matured leads."""

import streamlit as st

from core.modeling.recalibrate import RECALIBRATION_DAYS, recalibrate
from core.monitoring import charts
from pages._shared import after_write, flash, table, user_errors, why_not


def calibration_tab(eng, who, f: dict) -> None:
    fig = charts.calibration(f["calibration"])
    if fig is None:
        st.info("No matured leads yet.")
        return
    st.plotly_chart(fig, width="stretch")
    st.subheader("Recalibrate the champion")
    st.caption("Playbook step 3: when predictions drift from what happens but the ranking holds, refit only the "
               "champion's calibration per AUM segment on the newest matured leads. Fitted on the older half and "
               "judged on the newer half against today's calibration; registered as a new version only when it does "
               "better, to shadow or promote like any challenger. Nothing changes for the SGAs until it is promoted.")
    days = st.slider("Matured leads contacted in the last … days", 7, 365, RECALIBRATION_DAYS, key="recalibration_days",
                     help="Ending 30 days before the newest contact, so every lead's outcome is known. Needs 30 MQLs.")
    if st.button("Recalibrate", disabled=not who.can("train_promote"), help=why_not(who, "train_promote")):
        with user_errors(), st.spinner("Refitting the calibration on the newest matured leads…"):
            result = recalibrate(eng.wh, eng.settings, days, actor=who)
            st.session_state["_recalibration"] = result
            after_write()
            flash(result.sentence())
            st.rerun()
    result = st.session_state.pop("_recalibration", None)
    if result is not None:
        st.caption("The held-out newer half, by AUM segment:")
        pct = {c: st.column_config.NumberColumn(label, format="percent") for c, label in (
            ("observed", "Observed MQL rate"), ("predicted_before", "Champion predicted"),
            ("predicted_after", "Recalibrated predicted"))}
        table(result.by_segment, "recalibration_by_segment.csv",
              {**pct, "segment": "AUM segment", "leads": "Leads", "mqls": "MQLs"})
