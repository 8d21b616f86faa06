"""One lead's story, for whoever is asked about it — "why did this lead drop to Tier B?", "was it ever on the
list?", "what did the model see?": who it is (firm, title, place, owner; the warehouse holds no names, emails or
phones), where its 30-day outcome window stands, every day it was scored (probability, the figure the list is
ordered by, rank, tier, model and reasons) and, wherever its tier changed from one scoring day to the next, the
first cause that explains it, checked in this order: a different model, the CRM-only fallback, its own data (same
model, another probability: a new territory month or Lead field), a priority boost, its outcome window closing
(leads still inside theirs rank first) — else other leads and capacity moved around it.

Read by Tier lists → Find a lead and ``python -m core lead ID [--json]``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import as_utc
from core.modeling.registry import label_of
from core.salesforce.ids import to18
from core.monitoring.charts import TIER_COLORS
from core.scoring.score import fallback_words, place
from core.warehouse import Warehouse
from core.warehouse.sql import literal
from core.words import day

# a Lead Id as people paste it: the Id, or the record's address (Lightning or Classic)
_LEAD_ID = re.compile(r"(?<![A-Za-z0-9])(00Q[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)(?![A-Za-z0-9])")
# a probability move smaller than this reads as "the same" (stored probabilities are rounded to 6 decimals)
SAME = 5e-4
HISTORY_COLUMNS = ["score_date", "prob_mql_30d", "adjusted", "tier", "rank", "model_version", "fallback_level",
                   "backfilled", "drivers"]


@dataclass(frozen=True)
class LeadHistory:
    lead_id: str
    company: str | None
    title: str | None
    location: str | None
    owner_name: str | None
    lead_status: str | None
    contacted_at: pd.Timestamp | None
    outcome: str  # where the 30-day window stands, in a sentence
    days: pd.DataFrame  # HISTORY_COLUMNS, oldest first; drivers as a list of sentences
    changes: list[str] = field(default_factory=list)  # one sentence per tier change
    experiments: list[str] = field(default_factory=list)
    models: dict = field(default_factory=dict)  # model_version -> words

    @property
    def headline(self) -> str:
        who = " at ".join(v for v in (self.title, self.company) if v) or "An advisor"
        where = f" ({self.location})" if self.location else ""
        owner = f" · owner {self.owner_name}" if self.owner_name else ""
        return f"{who}{where}{owner} · Lead {self.lead_id}"

    @property
    def now(self) -> str:
        """The newest scoring day in a sentence, or why there is none."""
        if self.days.empty:
            return ("Never scored: the engine scores contacted leads that are still open."
                    if self.contacted_at is not None else "Never scored: the engine scores a lead from its first contact.")
        r = self.days.iloc[-1]
        boost = f" (ranked at {r.adjusted:.1%} with its priority boost)" if r.adjusted - r.prob_mql_30d > SAME else ""
        return (f"Last scored {day(r.score_date)}: Tier {r.tier}, rank {int(r['rank']):,}, {r.prob_mql_30d:.1%} chance "
                f"of an MQL in 30 days{boost}, by {self.models.get(r.model_version, r.model_version)}"
                + (" (backfilled)" if r.backfilled else "") + ".")

    def to_json(self) -> dict:
        days = self.days.assign(rank=self.days["rank"].astype("Int64"))
        return {"lead_id": self.lead_id, "company": self.company, "title": self.title, "location": self.location,
                "owner_name": self.owner_name, "lead_status": self.lead_status,
                "contacted_at": None if self.contacted_at is None else self.contacted_at.isoformat(),
                "outcome": self.outcome, "now": self.now, "changes": self.changes, "experiments": self.experiments,
                "days": [{k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in row.items()}
                         for row in days.astype(object).to_dict(orient="records")]}

    def markdown(self) -> str:
        lines = [f"# {self.headline}", "", f"- {self.outcome}", f"- {self.now}"]
        lines += [f"- Experiment: {e}" for e in self.experiments]
        if self.changes:
            lines += ["", "## Tier changes", ""] + [f"- {c}" for c in self.changes]
        if not self.days.empty:
            lines += ["", "## Scoring days", "", "| day | tier | rank | P(MQL ≤ 30 d) | ranked at | model | backfilled |",
                      "|---|---|---:|---:|---:|---|---|"]
            lines += [f"| {day(r.score_date)} | {r.tier} | {int(r['rank']):,} | {r.prob_mql_30d:.1%} | {r.adjusted:.1%} | "
                      f"{self.models.get(r.model_version, r.model_version)} | {'yes' if r.backfilled else 'no'} |"
                      for _, r in self.days.iterrows()]
            reasons = self.days.drivers.iloc[-1]
            if reasons:
                lines += ["", f"## Reasons on {day(self.days.score_date.iloc[-1])}", ""] + [f"- {d}" for d in reasons]
        return "\n".join(lines)


def lead_id_from(text: str) -> str:
    """The 18-character Lead Id in what a user pasted (an Id or a record's address)."""
    found = _LEAD_ID.search(str(text or "").strip())
    if not found:
        raise LeadScoringError(f"'{str(text or '').strip()[:80]}' holds no Salesforce Lead Id: paste the 15- or "
                               "18-character Id from the Lead's record (it starts with 00Q), or the record's address.")
    return to18(found.group(1))


def lead_history(wh: Warehouse, settings: Settings, text: str) -> LeadHistory:
    lead_id = lead_id_from(text)
    with wh.reader() as s:
        if not s.table_exists("marts.dim_leads"):
            raise LeadScoringError("No Lead export is loaded yet: load one on Upload exports (or pull from Salesforce).")
        if not s.table_exists("ml.lead_labels"):
            raise LeadScoringError("Leads are loaded but not scored yet: run the daily pipeline (Pipeline home) first.")
        profile = s.query_model("scoring/lead_profile.sql", lead_id=literal(lead_id))
        if profile.empty:
            raise LeadScoringError(f"No Lead {lead_id} in the loaded Lead export: check the Id, or load a newer "
                                   "export on Upload exports.")
        days = (s.query_model("scoring/lead_history.sql", lead_id=literal(lead_id))
                if s.table_exists("ml.score_history") else pd.DataFrame(columns=HISTORY_COLUMNS))
        arms = (s.query(f"select experiment, arm, assigned_at from ops.experiment_assignments "
                        f"where lead_id = {literal(lead_id)} order by assigned_at")
                if s.table_exists("ops.experiment_assignments") else pd.DataFrame())
    p = profile.iloc[0]
    text_or_none = lambda v: None if v is None or pd.isna(v) or not str(v).strip() else str(v)  # noqa: E731
    location = text_or_none(place(profile.city, profile.state).iloc[0])
    contacted = None if pd.isna(p.contacted_at) else as_utc(p.contacted_at)
    days = days.assign(drivers=[[d for d in str(v or "").split("; ") if d] for v in days.drivers],
                       backfilled=days.backfilled.fillna(False).astype(bool))[HISTORY_COLUMNS].reset_index(drop=True)
    models = {v: label_of(wh, v) for v in days.model_version.dropna().unique()}
    experiments = [f"{r.experiment}: {r.arm} arm (assigned {day(r.assigned_at)})" for r in arms.itertuples()]
    if text_or_none(p.experiment_tag) and not experiments:
        experiments.append(f"{p.experiment_tag} (recorded in Salesforce's Experimentation_Tag__c)")
    return LeadHistory(lead_id, text_or_none(p.company), text_or_none(p.title), location, text_or_none(p.owner_name),
                       text_or_none(p.status), contacted, _outcome(p, contacted, settings.label_window_days), days,
                       tier_changes(days, contacted, settings, models), experiments, models)


def _outcome(p, contacted: pd.Timestamp | None, window_days: int) -> str:
    if contacted is None:
        return "Not contacted yet (no Stage_Entered_Contacting__c): the engine scores a lead from its first contact."
    closes = contacted + pd.Timedelta(days=window_days)
    mql = None if pd.isna(p.mql_at) else as_utc(p.mql_at)
    status = str(p.label_status)
    if status == "positive":
        return (f"MQL booked {day(mql)}, {(mql - contacted).days} days after its contact on {day(contacted)}: a "
                f"positive outcome.")
    if status == "negative":
        later = f"; an MQL came later, on {day(mql)}" if mql is not None and mql >= closes else ""
        return f"No MQL within {window_days} days of its contact on {day(contacted)} (window closed {day(closes)}){later}."
    if status == "defect_mql_before_contact":
        return (f"Its MQL time ({day(mql)}) is before its contact ({day(contacted)}): a data defect in the export, "
                "left out of training and of the outcome counts.")
    return (f"Open: contacted {day(contacted)}, its {window_days}-day window closes {day(closes)} (data as of "
            f"{day(p.as_of)}).")


def tier_changes(days: pd.DataFrame, contacted: pd.Timestamp | None, settings: Settings, models: dict) -> list[str]:
    """A sentence for each scoring day whose tier differs from the day before, naming the first cause that explains
    it (see the module)."""
    out = []
    window = settings.tier_window
    rows = days.dropna(subset=["tier"]).reset_index(drop=True)
    for (_, a), (_, b) in zip(rows.iloc[:-1].iterrows(), rows.iloc[1:].iterrows()):
        if a.tier == b.tier:
            continue
        moved = f"{a.prob_mql_30d:.1%} → {b.prob_mql_30d:.1%}"
        if a.model_version != b.model_version:
            why = f"a different model scored it ({models.get(b.model_version, b.model_version)}): {moved}"
        elif a.fallback_level != b.fallback_level:
            why = f"scored by {fallback_words(b.fallback_level)} instead of {fallback_words(a.fallback_level)}: {moved}"
        elif abs(b.prob_mql_30d - a.prob_mql_30d) > SAME:
            why = f"its own data changed, same model ({moved})" + _reasons_moved(a.drivers, b.drivers)
        elif abs(b.adjusted - a.adjusted) > SAME:
            why = f"its priority boost changed (ranked at {a.adjusted:.1%} → {b.adjusted:.1%})"
        elif window and contacted is not None and \
                pd.Timestamp(a.score_date, tz="UTC") < contacted + window <= pd.Timestamp(b.score_date, tz="UTC") + pd.Timedelta(days=1):
            why = (f"its {window.days}-day outcome window closed on {day(contacted + window)}: leads still inside "
                   f"theirs rank first (same {b.prob_mql_30d:.1%})")
        else:
            why = (f"same {b.prob_mql_30d:.1%}, rank {int(a['rank']):,} → {int(b['rank']):,}: other leads outranked it, "
                   "or the capacity changed")
        flag = " (backfilled)" if b.backfilled else ""
        out.append(f"{day(b.score_date)}{flag}: Tier {a.tier} → {b.tier} — {why}.")
    return out


def _reasons_moved(before: list[str], after: list[str]) -> str:
    if not before or not after:  # backfilled days carry no reasons
        return ""
    new, gone = [d for d in after if d not in before], [d for d in before if d not in after]
    parts = ([f"new reason: {'; '.join(new[:2])}"] if new else []) + ([f"no longer: {'; '.join(gone[:2])}"] if gone else [])
    return f"; {' — '.join(parts)}" if parts else ""


def history_chart(story: LeadHistory) -> go.Figure | None:
    """Probability per scoring day, each day's dot in its tier's colour (hollow when backfilled), and the figure the
    list is ordered by where a priority boost lifts it. None when the lead was never scored."""
    d = story.days
    if d.empty:
        return None
    x = pd.to_datetime(d.score_date)
    fig = go.Figure()
    if (d.adjusted - d.prob_mql_30d > SAME).any():
        fig.add_trace(go.Scatter(x=x, y=d.adjusted, name="ranked at (with its priority boost)", mode="lines",
                                 line=dict(color="#6b7280", dash="dot"), hovertemplate="%{x|%d %b %Y}: ranked at %{y:.1%}"
                                                                                       "<extra></extra>"))
    fig.add_trace(go.Scatter(x=x, y=d.prob_mql_30d, name="P(MQL within 30 days)", mode="lines",
                             line=dict(color="#94a3b8"), hoverinfo="skip"))
    for tier, colour in TIER_COLORS.items():
        for backfilled in (False, True):
            m = (d.tier == tier) & (d.backfilled == backfilled)
            if m.any():
                fig.add_trace(go.Scatter(
                    x=x[m], y=d.prob_mql_30d[m], mode="markers", name=f"Tier {tier}" + (" (backfilled)" if backfilled else ""),
                    marker=dict(color=colour, size=10, symbol="circle-open" if backfilled else "circle",
                                line=dict(width=2, color=colour)),
                    customdata=d["rank"][m], hovertemplate=f"%{{x|%d %b %Y}}: Tier {tier}, rank %{{customdata:,}}, "
                                                           "P(MQL) %{y:.1%}<extra></extra>"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), yaxis=dict(tickformat=".0%", rangemode="tozero",
                      title="Probability"), xaxis=dict(tickformat="%d %b %Y"), legend=dict(orientation="h", y=-0.2),
                      title=dict(text="Scoring days (hollow dots: backfilled, never on a list an SGA saw)",
                                 font=dict(size=14)))
    return fig
