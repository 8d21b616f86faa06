"""Plotly figures of a monitoring run (no streamlit here: the page only places them). Months read as months,
rates as percentages, matured and estimated cohorts are drawn differently so nobody mistakes one for the other."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.features.owners import relabel
from core.modeling.data import AUM_SEGMENTS

SEGMENT_ORDER = list(AUM_SEGMENTS)
LEVEL_LABELS = {"ok": "OK", "warn": "WARN", "alert": "ALERT", "critical": "CRITICAL"}
KIND_LABELS = {
    "feature_drift": "Feature drift", "snapshot_drift": "Territory month drift", "score_drift": "Score drift",
    "coverage": "Discovery coverage", "feed_range": "Implausible values", "feed_late": "Missing export",
    "calibration": "Calibration", "precision": "Tier A precision", "pipeline_failed": "Pipeline failure",
    "attribution": "Attribution drift", "retrain_due": "Retrain trigger", "schema_change": "Schema change",
    "source_conflict": "Salesforce vs MarketPro", "boost_share": "Priority boost share",
}


def _month_axis(fig: go.Figure, axis: str = "x") -> go.Figure:
    fig.update_layout(**{f"{axis}axis": dict(tickformat="%b %Y", dtick="M1")})
    return fig


def psi_heatmap(drift: pd.DataFrame, top: int = 30, title: str = "", labels: dict | None = None) -> go.Figure | None:
    """Features (the ``top`` that moved most) × months, coloured by PSI; 0.2 and 0.3 are the spec's lines. A feature
    in ``labels`` is shown by its label."""
    d = drift[drift.period.str.match(r"^\d{4}-\d{2}$")]
    if d.empty:
        return None
    d = relabel(d, labels or {})
    grid = d.pivot_table(index="feature", columns="period", values="psi", aggfunc="max")
    grid = grid.loc[grid.max(axis=1).sort_values(ascending=False).index[:top]]
    grid.columns = [pd.Timestamp(f"{c}-01").strftime("%b %Y") for c in grid.columns]
    fig = px.imshow(grid, aspect="auto", color_continuous_scale=[(0, "#f7f7f7"), (0.2 / 0.6, "#fde68a"),
                                                                 (0.3 / 0.6, "#f97316"), (1, "#b91c1c")],
                    zmin=0, zmax=0.6, labels={"color": "PSI", "x": "", "y": ""}, title=title)
    fig.update_layout(height=max(320, 18 * len(grid) + 120), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def score_over_time(q: pd.DataFrame) -> go.Figure | None:
    if q.empty:
        return None
    x = pd.to_datetime(q.period + "-01")
    fig = go.Figure([
        go.Scatter(x=x, y=q.p90, name="90th percentile", line=dict(dash="dot")),
        go.Scatter(x=x, y=q.p50, name="median"),
        go.Scatter(x=x, y=q["mean"], name="mean"),
        go.Scatter(x=x, y=q.p10, name="10th percentile", line=dict(dash="dot")),
    ])
    fig.update_layout(title="Predicted MQL probability of newly contacted leads, by contact month", yaxis_tickformat=".1%",
                      height=340, margin=dict(l=10, r=10, t=40, b=10))
    return _month_axis(fig)


LABELLED_WEEKS = 12  # past this many matured weeks the "MQLs / Tier A leads" labels collide: hover shows them


def precision_by_week(cohorts: pd.DataFrame, baseline: float | None = None,
                      floor: float | None = None) -> go.Figure | None:
    """Matured weeks: observed Tier A precision (solid). Not yet matured: estimated, hollow with its interval.
    With the champion's held-out ``baseline`` and the CRITICAL alert's ``floor``: a line at each, named in the
    legend below the chart."""
    if cohorts.empty:
        return None
    c = cohorts.assign(week=pd.to_datetime(cohorts.cohort_start))
    m, e = c[c.matured & c.tier_a_precision.notna()], c[~c.matured & c.tier_a_precision.notna()]
    labelled = len(m) <= LABELLED_WEEKS
    fig = go.Figure()
    fig.add_scatter(x=m.week, y=m.tier_a_precision, mode="markers+text" if labelled else "markers",
                    name="matured (observed)", opacity=0.8,
                    marker=dict(color="#2563eb", size=(6 + 3 * m.tier_a_leads.clip(upper=10)).tolist()),
                    text=[f"{int(round(p * n))}/{n}" for p, n in zip(m.tier_a_precision, m.tier_a_leads)],
                    textposition="top center", customdata=m[["tier_a_leads", "leads", "positives"]],
                    hovertemplate="week of %{x|%d %b %Y}<br>Tier A precision %{y:.1%}: %{text} MQLs / Tier A leads"
                                  "<br>%{customdata[2]} MQLs among %{customdata[1]} leads<extra></extra>")
    if "tier_a_low" in e:
        fig.add_scatter(x=e.week, y=e.tier_a_precision, mode="markers", name="not matured (estimated)",
                        marker=dict(symbol="circle-open", size=10, color="#9333ea"),
                        error_y=dict(type="data", symmetric=False, array=e.tier_a_high - e.tier_a_precision,
                                     arrayminus=e.tier_a_precision - e.tier_a_low))
    lines = [(baseline, "dash", "#16a34a", "champion's held-out Tier A precision {:.1%}"),
             (floor, "dot", "#dc2626", "CRITICAL below {:.1%} (last 4 matured weeks, significant)")]
    for y, dash, colour, name in lines:  # named in the legend: a label on the line would sit on the dots
        if y is not None:
            fig.add_hline(y=y, line_dash=dash, line_color=colour)
            fig.add_scatter(x=[None], y=[None], mode="lines", line=dict(dash=dash, color=colour),
                            name=name.format(y))
    how = "labels" if labelled else "hover a dot for"
    fig.update_layout(title=f"Tier A precision by weekly contact cohort ({how}: MQLs / Tier A leads)",
                      yaxis_tickformat=".0%", yaxis_rangemode="tozero", height=400,
                      margin=dict(l=10, r=10, t=40, b=10), xaxis=dict(tickformat="%d %b %Y"),
                      legend=dict(orientation="h", yanchor="top", y=-0.15, x=0))
    return fig


def precision_by_segment(seg: pd.DataFrame) -> go.Figure | None:
    if seg.empty or "matured" not in seg:
        return None
    s = seg[seg.matured & seg.tier_a_precision.notna()].assign(week=lambda d: pd.to_datetime(d.cohort_start))
    if s.empty:
        return None
    fig = px.scatter(s, x="week", y="tier_a_precision", color="segment", size="tier_a_leads",
                     category_orders={"segment": SEGMENT_ORDER},
                     labels={"week": "", "tier_a_precision": "Tier A precision", "segment": "AUM segment",
                             "tier_a_leads": "Tier A leads"}, title="Matured Tier A precision by AUM segment")
    fig.update_layout(yaxis_tickformat=".0%", height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def distribution(d) -> go.Figure:
    """A :class:`core.monitoring.drilldown.Distribution`: the month's share per frozen bin beside the reference's,
    each bin's part of the PSI on hover."""
    b = d.bins
    fig = go.Figure([
        go.Bar(x=b.bin, y=b.reference_share, name=d.reference, marker_color="#94a3b8",
               hovertemplate="%{x}: %{y:.1%} of the reference<extra></extra>"),
        go.Bar(x=b.bin, y=b.month_share, name=d.current, marker_color="#2563eb",
               customdata=b.psi_term, hovertemplate="%{x}: %{y:.1%} of the month (adds %{customdata:.3f} "
                                                    "to the PSI)<extra></extra>")])
    fig.update_layout(barmode="group", yaxis_tickformat=".0%", height=380, margin=dict(l=10, r=10, t=40, b=10),
                      title=f"{d.column}: PSI {d.psi:.2f} over {d.rows:,} rows, in the reference's frozen bins",
                      xaxis=dict(type="category", tickangle=-30),
                      legend=dict(orientation="h", y=-0.35))
    return fig


TIER_COLORS = {"A": "#166534", "B": "#d97706", "C": "#6b7280"}


def conversion_over_time(conv: pd.DataFrame) -> go.Figure | None:
    """Observed MQL rate of matured leads by contact month, one line per first-score tier (all leads), each month
    with its 95% interval (a month of two Tier A leads reads as the guess it is)."""
    if conv.empty:
        return None
    c = conv[conv.discovery == "all"].assign(month=lambda d: pd.to_datetime(d.period + "-01"))
    fig = go.Figure()
    for tier in ("A", "B", "C"):
        t = c[c.tier == tier]
        if t.empty:
            continue
        fig.add_scatter(x=t.month, y=t.rate, mode="lines+markers", name=f"Tier {tier}",
                        line=dict(color=TIER_COLORS[tier]), customdata=t[["mqls", "leads", "low", "high"]],
                        error_y=dict(type="data", symmetric=False, array=t.high - t.rate, arrayminus=t.rate - t.low,
                                     thickness=1, width=3),
                        hovertemplate=f"Tier {tier}, " + "%{x|%b %Y}: %{y:.1%} (%{customdata[0]} MQLs of "
                                      "%{customdata[1]} leads; 95% interval %{customdata[2]:.1%}–%{customdata[3]:.1%})"
                                      "<extra></extra>")
    fig.update_layout(title="MQL rate of matured leads by first-score tier and contact month",
                      yaxis_tickformat=".0%", yaxis_rangemode="tozero", height=340, margin=dict(l=10, r=10, t=40, b=10))
    return _month_axis(fig)


BAND_COLORS = {"Top 20%": "#166534", "Middle 40%": "#d97706", "Bottom 40%": "#6b7280"}


def adoption_over_time(trend: pd.DataFrame, days: int, go_live: str | None, kind: str = "week") -> go.Figure | None:
    """Share of each period's new leads with a follow-up dial within ``days`` days, one line per score band, with
    95% intervals; the weeks before ``go_live`` (backfilled lists nobody saw) shaded as the baseline."""
    if trend.empty:
        return None
    w = trend.assign(week=pd.to_datetime(trend.period))
    when = "week of %{x|%d %b %Y}" if kind == "week" else "%{x|%b %Y}"
    fig = go.Figure()
    for band, color in BAND_COLORS.items():
        b = w[w.band == band]
        fig.add_scatter(x=b.week, y=b.share, mode="lines+markers", name=band, line=dict(color=color),
                        customdata=b[["dialed", "leads", "low", "high"]],
                        error_y=dict(type="data", symmetric=False, array=b.high - b.share, arrayminus=b.share - b.low,
                                     thickness=1, width=3),
                        hovertemplate=f"{band}, {when}: " + "%{y:.0%} (%{customdata[0]} of "
                                      "%{customdata[1]} new leads; 95% interval %{customdata[2]:.0%}–%{customdata[3]:.0%})"
                                      "<extra></extra>")
    half = pd.Timedelta(days=3 if kind == "week" else 15)
    end = pd.Timestamp(go_live) if go_live else w.week.max() + 2 * half
    if end > w.week.min():
        fig.add_vrect(x0=w.week.min() - half, x1=end - half, fillcolor="#e5e7eb",
                      opacity=0.5, line_width=0, annotation_text="backfilled lists (before go-live): the baseline",
                      annotation_position="top left")
    fig.update_layout(title=f"New leads with a follow-up dial within {days} days of reaching the list, by score band "
                            f"and {kind}",
                      yaxis_tickformat=".0%", yaxis_rangemode="tozero", height=360, margin=dict(l=10, r=10, t=40, b=10),
                      legend_title_text="Score among the week's new leads")
    return fig


def conversion_by_discovery(pooled: pd.DataFrame) -> go.Figure | None:
    """Pooled MQL rate per tier, leads with and without discovery data side by side, with 95% intervals."""
    p = pooled[pooled.discovery != "all"] if not pooled.empty else pooled
    if p.empty:
        return None
    span = " to ".join(pd.Timestamp(f"{m}-01").strftime("%b %Y") for m in (p.first_month.iloc[0], p.last_month.iloc[0]))
    fig = px.bar(p.assign(tier=lambda d: "Tier " + d.tier), x="tier", y="rate", color="discovery", barmode="group",
                 category_orders={"tier": ["Tier A", "Tier B", "Tier C"],
                                  "discovery": ["with discovery data", "no discovery data"]},
                 color_discrete_map={"with discovery data": "#2563eb", "no discovery data": "#cbd5e1"},
                 error_y=p.high - p.rate, error_y_minus=p.rate - p.low, custom_data=["mqls", "leads"],
                 labels={"tier": "", "rate": "MQL rate", "discovery": "MarketPro match"},
                 title=f"MQL rate by tier and discovery data (matured leads contacted {span})")
    fig.update_traces(hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} MQLs of %{customdata[1]} leads)<extra></extra>")
    fig.update_layout(yaxis_tickformat=".0%", height=340, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def calibration(cal: pd.DataFrame) -> go.Figure | None:
    if cal.empty:
        return None
    c = cal.assign(month=pd.to_datetime(cal.period + "-01").dt.strftime("%b %Y"))
    fig = px.scatter(c, x="predicted", y="observed", color="segment", size="leads",
                     hover_data=[h for h in ("month", "positives", "rescored") if h in c],  # rescored: since this release
                     category_orders={"segment": SEGMENT_ORDER},
                     labels={"predicted": "Predicted MQL rate", "observed": "Observed MQL rate", "segment": "AUM segment",
                             "positives": "MQLs", "rescored": "Leads on no list (scored as of contact)"},
                     title="Calibration of matured leads, by month and AUM segment (on the line = calibrated)")
    top = float(max(c.predicted.max(), c.observed.max(), 0.01)) * 1.1
    fig.add_shape(type="line", x0=0, y0=0, x1=top, y1=top, line=dict(dash="dash", color="grey"))
    fig.update_layout(xaxis_tickformat=".0%", yaxis_tickformat=".0%", height=380, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def attribution_ranks(ranks: pd.DataFrame, top: int = 10, labels: dict | None = None) -> go.Figure | None:
    if ranks.empty:
        return None
    ranks = relabel(ranks, labels or {})
    last = ranks[ranks.period == ranks.period.max()].nsmallest(top, "rank").feature
    weekly = ranks.period.str.len().max() > 7
    r = ranks[ranks.feature.isin(last)].assign(when=lambda d: pd.to_datetime(d.period if weekly else d.period + "-01"))
    fig = px.line(r, x="when", y="rank", color="feature", markers=True,
                  labels={"when": "", "rank": "Rank by mean |SHAP| (1 = most important)", "feature": "Feature"},
                  title=f"Attribution: rank of today's top {top} features by contact {'week' if weekly else 'month'}")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10))
    return fig if weekly else _month_axis(fig)


def null_rates(nulls: pd.DataFrame, top: int = 15) -> go.Figure | None:
    if nulls.empty:
        return None
    grid = nulls.pivot_table(index="column", columns="period", values="null_rate")
    grid = grid.loc[grid.max(axis=1).sort_values(ascending=False).index[:top]]
    grid.columns = [pd.Timestamp(f"{c}-01").strftime("%b %Y") for c in grid.columns]
    fig = px.imshow(grid, aspect="auto", color_continuous_scale="Blues", zmin=0, zmax=1,
                    labels={"color": "Share empty", "x": "", "y": ""}, title="Empty cells per territory month")
    fig.update_layout(height=max(300, 18 * len(grid) + 120), margin=dict(l=10, r=10, t=40, b=10),
                      coloraxis_colorbar=dict(tickformat=".0%"))
    return fig


def coverage(cov: pd.DataFrame) -> go.Figure | None:
    if cov.empty:
        return None
    c = cov.assign(month=pd.to_datetime(cov.month + "-01"))
    fig = px.line(c, x="month", y="coverage", markers=True, labels={"month": "", "coverage": "Matched to a MarketPro rep"},
                  title="Discovery coverage of contacted leads by month (WARN below 60%)")
    fig.add_hline(y=0.6, line_dash="dash", line_color="#f97316")
    fig.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1.05], height=300, margin=dict(l=10, r=10, t=40, b=10))
    return _month_axis(fig)


def boost_shares(shares: pd.DataFrame) -> go.Figure | None:
    """Per contact month, the share of leads meeting each priority rule (solid) against the training rows' share
    (dotted, same colour)."""
    if shares is None or shares.empty:
        return None
    d = shares.assign(month=pd.to_datetime(shares.period + "-01"))
    palette = px.colors.qualitative.Plotly
    fig = go.Figure()
    for i, (rule, part) in enumerate(d.groupby("rule", sort=False)):
        colour = palette[i % len(palette)]
        fig.add_trace(go.Scatter(x=part.month, y=part.share, name=rule, mode="lines+markers", line=dict(color=colour),
                                 customdata=part[["boosted", "leads"]],
                                 hovertemplate="%{x|%b %Y}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,} leads)"))
        if part.reference.notna().any():
            fig.add_trace(go.Scatter(x=part.month, y=part.reference, name=f"{rule} (training)", mode="lines",
                                     line=dict(color=colour, dash="dot"), showlegend=False,
                                     hovertemplate="training rows: %{y:.1%}"))
    fig.update_layout(title="Leads meeting a priority rule (spec §5.8), by contact month; dotted: the training rows",
                      yaxis_tickformat=".0%", height=400, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.3, yanchor="top"))
    return _month_axis(fig)
