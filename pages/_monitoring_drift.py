"""The Monitoring page's drift sections: the PSI heatmaps, the score over time, and a look inside one column's
month (its share per frozen bin against the reference) — lead features on the Drift tab, MarketPro columns of a
territory month on Feed health."""

import streamlit as st

from core.monitoring import charts
from core.monitoring.drilldown import feature_distribution
from pages._shared import month_label, user_errors


def drift_tab(eng, f: dict, labels: dict) -> None:
    st.caption("PSI of each month's newly contacted leads against bins frozen from the training rows "
               "(0.2 WARN, 0.3 ALERT when several independent features move; a cell below its noise level never alerts).")
    for fig in (charts.psi_heatmap(f["drift"], title="Features that moved most, by contact month", labels=labels),
                charts.psi_heatmap(f["groups"].rename(columns={"group": "feature"}), title="Feature groups (mean PSI)"),
                charts.score_over_time(f["score_quantiles"])):
        if fig is not None:
            st.plotly_chart(fig, width="stretch")
    look_inside(eng, f["drift"], feature_distribution, "Feature", "features", labels)


def look_inside(eng, drift, load, what: str, key: str, labels: dict | None = None) -> None:
    """Pick a column (most moved first; by its label where ``labels`` has one) and a month (where it moved most);
    chart ``load(wh, column, month)``."""
    d = drift[drift.period.str.match(r"^\d{4}-\d{2}$")] if not drift.empty else drift
    if d.empty:
        return
    st.markdown(f"**Look inside a month** — a {what.lower()}'s share per frozen bin against the reference")
    worst = d.sort_values("psi", ascending=False, kind="stable").drop_duplicates("feature")
    c1, c2 = st.columns(2)
    column = c1.selectbox(f"{what} (most moved first)", list(worst.feature), key=f"look_{key}",
                          format_func=lambda c: (labels or {}).get(c, c))
    months = sorted(d[d.feature == column].period, reverse=True)
    month = c2.selectbox("Month", months, index=months.index(worst.set_index("feature").period[column]),
                         format_func=month_label, key=f"look_{key}_month",
                         help="Defaults to the month this column moved most.")
    with user_errors():
        st.plotly_chart(charts.distribution(load(eng.wh, column, month)), width="stretch")
