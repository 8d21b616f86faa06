"""Plotly figures of an experiment readout (no streamlit: the page only places them)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.experiments.readout import Readout


def sequential(r: Readout) -> go.Figure | None:
    """Cumulative z of the decision statistic by contact week against the OBF-type boundary."""
    c = r.cumulative
    if c.empty:
        return None
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=c["week"], y=c["z"], mode="lines+markers", name="Cumulative z (lift)"))
    fig.add_trace(go.Scatter(x=c["week"], y=c["boundary"], mode="lines", name="Efficacy boundary",
                             line=dict(dash="dash", color="#16a34a")))
    fig.add_trace(go.Scatter(x=c["week"], y=-c["boundary"], mode="lines", name="Harm boundary",
                             line=dict(dash="dash", color="#dc2626")))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="z",
                      xaxis=dict(tickformat="%d %b %Y"), legend=dict(orientation="h", y=-0.2))
    return fig


def cumulative_effect(r: Readout) -> go.Figure | None:
    c = r.cumulative
    if c.empty:
        return None
    fig = go.Figure([
        go.Scatter(x=c["week"], y=c["ci_high"], mode="lines", line=dict(width=0), showlegend=False),
        go.Scatter(x=c["week"], y=c["ci_low"], mode="lines", line=dict(width=0), fill="tonexty",
                   fillcolor="rgba(37,99,235,0.15)", name="95% interval"),
        go.Scatter(x=c["week"], y=c["effect"], mode="lines+markers", name="Cumulative lift", line=dict(color="#2563eb")),
    ])
    fig.add_hline(y=0, line_color="#6b7280")
    low, high = max(float(c["ci_low"].min()), -1.0), min(float(c["ci_high"].max()), 4.0)  # a lift below -100% is not one
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(tickformat="+.0%", title="Lift", range=[low - 0.05, high + 0.05]),
                      xaxis=dict(tickformat="%d %b %Y"), legend=dict(orientation="h", y=-0.2))
    return fig


def forest(r: Readout) -> go.Figure | None:
    s = r.strata.dropna(subset=["effect"]) if not r.strata.empty else r.strata
    if s.empty:
        return None
    labels = [f"{b}: {lv} (n={t + c:,})" for b, lv, t, c in zip(s["by"], s["level"], s["treatment_leads"], s["control_leads"])]
    fig = go.Figure(go.Scatter(
        x=s["effect"], y=labels, mode="markers",
        error_x=dict(type="data", symmetric=False, array=s["ci_high"] - s["effect"], arrayminus=s["effect"] - s["ci_low"]),
        marker=dict(size=9, color="#2563eb")))
    overall = r.stats.lift.effect if r.stats else None
    fig.add_vline(x=0, line_color="#6b7280")
    if overall is not None:
        fig.add_vline(x=overall, line_dash="dot", line_color="#16a34a", annotation_text="overall")
    fig.update_layout(height=max(260, 34 * len(s) + 80), margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(tickformat="+.0%", title="Lift (95% interval)"), yaxis=dict(autorange="reversed"))
    return fig


def power_curve(curve: pd.DataFrame, mde: float) -> go.Figure:
    fig = go.Figure(go.Scatter(x=curve["mde"], y=curve["power"], mode="lines", name="Power"))
    fig.add_hline(y=0.8, line_dash="dash", line_color="#6b7280", annotation_text="80%")
    fig.add_vline(x=mde, line_dash="dot", line_color="#2563eb", annotation_text="planned lift")
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(tickformat="+.0%", title="True lift"), yaxis=dict(tickformat=".0%", title="Power"))
    return fig


def balance(r: Readout, top: int = 25) -> go.Figure | None:
    b = r.balance.head(top)
    if b.empty:
        return None
    fig = go.Figure(go.Bar(x=b["smd"], y=b["label"] if "label" in b else b["feature"], orientation="h", marker_color=[
        "#dc2626" if v > 0.1 else "#f59e0b" if v > 0.05 else "#16a34a" for v in b["abs_smd"]]))
    for x in (-0.05, 0.05):
        fig.add_vline(x=x, line_dash="dash", line_color="#6b7280")
    fig.update_layout(height=max(280, 20 * len(b) + 80), margin=dict(l=10, r=10, t=30, b=10),
                      xaxis_title="Standardised mean difference (treatment − control)", yaxis=dict(autorange="reversed"))
    return fig
