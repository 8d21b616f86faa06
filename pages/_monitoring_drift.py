"""The Monitoring page's Drift tab: the PSI heatmaps, the score over time, and a look inside one feature's month
(its share per frozen bin against the training rows)."""

import streamlit as st

from core.monitoring import charts
from core.monitoring.drilldown import feature_distribution
from pages._shared import month_label, user_errors


def drift_tab(eng, f: dict) -> None:
    st.caption("PSI of each month's newly contacted leads against bins frozen from the training rows "
               "(0.2 WARN, 0.3 ALERT when several independent features move; a cell below its noise level never alerts).")
    for fig in (charts.psi_heatmap(f["drift"], title="Features that moved most, by contact month"),
                charts.psi_heatmap(f["groups"].rename(columns={"group": "feature"}), title="Feature groups (mean PSI)"),
                charts.score_over_time(f["score_quantiles"])):
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
    d = f["drift"]
    d = d[d.period.str.match(r"^\d{4}-\d{2}$")] if not d.empty else d
    if d.empty:
        return
    st.subheader("Look inside a feature's month")
    worst = d.sort_values("psi", ascending=False, kind="stable").drop_duplicates("feature")
    c1, c2 = st.columns(2)
    feature = c1.selectbox("Feature (most moved first)", list(worst.feature))
    months = sorted(d[d.feature == feature].period, reverse=True)
    top = worst.set_index("feature").period[feature]
    month = c2.selectbox("Contact month", months, index=months.index(top), format_func=month_label,
                         help="Defaults to the month this feature moved most.")
    with user_errors():
        st.plotly_chart(charts.distribution(feature_distribution(eng.wh, feature, month)), width="stretch")
