"""SGA adoption (spec §9.1, business impact): are the call lists worked in score order?

A score helps only if SGAs call the leads it ranks high first. Each week's new leads — first scored within
NEAR_CONTACT_DAYS of contact, the day they first reached a call list — are split by their score into the top
20%, the middle 40% and the bottom 40% of that week; for each band: the share of leads that had a follow-up dial
(a Salesforce Task with TaskSubtype = Call, ``marts.fact_tasks``) within ``days`` days of reaching the list, with a
95% Wilson interval, dials per lead and the median hours to the first dial (``sql/monitoring/adoption.sql``).
Lists worked in score order dial the top band more, and sooner; a list nobody reads shows three equal lines.
The trend is drawn by month where a typical week's band holds fewer than MIN_TREND_LEADS new leads. Per SGA
(the Lead's owner), over the last ``weeks`` weeks: the top band's share against the bottom band's.

Within-week bands, not tiers: tiers follow the day's capacity (where new leads are fewer than Tier A's places,
every new lead is Tier A), and older leads fill Tiers B and C, so a tier comparison would measure how recent a
lead is. Weeks whose first scores were backfilled (the first start's backtest) are lists nobody saw: they show
how the team's dialling lined up with the model's order before the engine went live, the baseline to read
adoption against. Read on demand by the Monitoring page; nothing is added to a monitoring run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from core.errors import LeadScoringError
from core.monitoring import periods as P
from core.monitoring.reference import NEAR_CONTACT_DAYS
from core.scoring.score import FIRST_SCORES, first_scores_sql
from core.warehouse import Warehouse

ADOPTION_DAYS = 7  # a follow-up dial within a week of the lead reaching a list
ADOPTION_WEEKS = 8  # the headline's and the SGA table's window: the last weeks of lists
MIN_BAND_LEADS = 10  # an SGA's ratio needs this many leads in the top and in the bottom band
BANDS = ("Top 20%", "Middle 40%", "Bottom 40%")  # of the week's new leads, by score
MIN_TREND_LEADS = 30  # below this many new leads in a typical week's band, the trend is drawn by month
PERIOD_COLUMNS = ["period", "band", "leads", "dialed", "share", "low", "high", "dials_per_lead", "median_hours",
                  "backfilled_share"]
SGA_COLUMNS = ["sga", "leads", "top_leads", "top_share", "bottom_leads", "bottom_share", "ratio"]


@dataclass(frozen=True)
class Adoption:
    days: int
    weeks: int
    weekly: pd.DataFrame  # PERIOD_COLUMNS: one row per week of first score (its Monday) and band
    trend: pd.DataFrame  # PERIOD_COLUMNS by ``trend_kind``: the weeks, or months where weeks are too small to read
    trend_kind: str  # "week" or "month"
    by_sga: pd.DataFrame  # SGA_COLUMNS: the last ``weeks`` weeks of new leads, per Lead owner
    go_live: str | None  # the first week (its Monday) with a live, not backfilled, first score
    recent_from: str | None  # the first of the last ``weeks`` weeks (not before go-live once live)
    # one row per new lead: lead_id, week, band, prob, tier, dials, dialed, hours (to the first dial), owner, backfilled
    leads: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def trend_table(self) -> pd.DataFrame:
        """``trend`` for a table: the period as a date, newest first."""
        return self.trend.assign(period=pd.to_datetime(self.trend.period)).iloc[::-1].reset_index(drop=True)

    def shares(self) -> dict[str, float | None]:
        """Each band's share dialed within the window over the last weeks."""
        recent = self.weekly[self.weekly.period >= self.recent_from] if self.recent_from else self.weekly.iloc[:0]
        return {b: float(g.dialed.sum() / g.leads.sum()) if g.leads.sum() else None
                for b in BANDS for g in [recent[recent.band == b]]}

    def sentence(self) -> str:
        """The last weeks in one line: the top band dialed within the window against the bottom band."""
        if self.recent_from is None:
            return (f"No new lead has been on a call list for {self.days} days with its dials loaded yet: load the "
                    "Salesforce Task export (Upload exports) or turn on the daily Task pull.")
        top, mid, bottom = self.shares().values()  # in BANDS order
        weeks = self.weekly[self.weekly.period >= self.recent_from].period.nunique()
        line = (f"Over the last {weeks} weeks of lists, {_pct(top)} of the new leads scored in the top 20% had a "
                f"follow-up dial within {self.days} days, against {_pct(mid)} of the middle 40% and {_pct(bottom)} of "
                "the bottom 40%")
        line += f" ({top / bottom:.1f}× as often)." if top is not None and bottom else "."
        if self.go_live is None:
            return line + (" These weeks' lists were backfilled, never seen by the SGAs: this is how the team dialled "
                           "before the engine, the baseline to read adoption against.")
        if top is not None and bottom is not None and top <= bottom * 1.1:
            line += (" The top-scored leads are not called first: are the scores reaching the SGAs (the Salesforce "
                     "write-back, their list views)?")
        return line

    def to_json(self) -> dict:
        """`adoption --json`: the headline, each band's share over the last weeks, the SGAs and the trend."""
        def records(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.astype({"band": str} if "band" in df else {}).to_json(orient="records"))

        return {"days": self.days, "weeks": self.weeks, "recent_from": self.recent_from, "go_live": self.go_live,
                "sentence": self.sentence(), "shares": self.shares(), "by_sga": records(self.by_sga),
                "trend_kind": self.trend_kind, "trend": records(self.trend)}

    def markdown(self) -> str:
        """The terminal view: the headline and the SGAs."""
        lines = [f"# SGA adoption — follow-up dials within {self.days} days of a new lead's first list", "",
                 self.sentence(), ""]
        if len(self.by_sga):
            lines += ["| SGA | new leads | top 20% | dialed | bottom 40% | dialed | top vs bottom |",
                      "|---|---:|---:|---:|---:|---:|---:|"]
            lines += [f"| {r.sga} | {r.leads} | {r.top_leads} | {_pct(_num(r.top_share))} | {r.bottom_leads} | "
                      f"{_pct(_num(r.bottom_share))} | {'—' if _num(r.ratio) is None else f'{r.ratio:.1f}×'} |"
                      for r in self.by_sga.itertuples()]
        return "\n".join(lines)


def _num(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def adoption(wh: Warehouse, days: int = ADOPTION_DAYS, weeks: int = ADOPTION_WEEKS) -> Adoption:
    """Per week of first score and score band, and per SGA over the last ``weeks`` weeks (see the module)."""
    if not 1 <= int(days) <= 30:
        raise LeadScoringError(f"Adoption window of {days} days: choose 1 to 30 days.")
    with wh.reader() as s:
        missing = [t for t in ("ml.score_history", "ml.lead_labels", "marts.dim_leads", "marts.fact_tasks")
                   if not s.table_exists(t)]
        if missing:
            what = "the call activity (load the Salesforce Task export on Upload exports)" \
                if missing == ["marts.fact_tasks"] else "scored leads (run the daily pipeline)"
            raise LeadScoringError(f"Adoption needs {what}: {', '.join(missing)} is not in the warehouse yet.")
        firsts = FIRST_SCORES if s.table_exists(FIRST_SCORES) else f"({first_scores_sql(s)})"
        rows = s.query_model("monitoring/adoption.sql", first_scores=firsts, days=int(days),
                             near_contact_days=NEAR_CONTACT_DAYS)
    listed = pd.to_datetime(rows.score_date.astype(str), utc=True)
    rows = rows.assign(week=P.week_text(listed), dialed=rows.dials > 0, backfilled=rows.backfilled.fillna(False).astype(bool),
                       hours=(pd.to_datetime(rows.first_dial_at, utc=True) - listed).dt.total_seconds() / 3600)
    rows["band"] = _bands(rows)
    all_weeks = sorted(rows.week.unique())
    live = rows.week[~rows.backfilled]
    go_live = live.min() if len(live) else None
    # the last weeks of lists; once the engine is live, only its live lists (a backfilled week was never seen)
    recent_from = max(all_weeks[-min(int(weeks), len(all_weeks))], go_live or "") if all_weeks else None
    weekly = _by_period(rows, "week")
    monthly = weekly.empty or weekly.leads.median() < MIN_TREND_LEADS
    trend = _by_period(rows.assign(month=rows.week.str[:7] + "-01"), "month") if monthly else weekly
    return Adoption(int(days), int(weeks), weekly, trend, "month" if monthly else "week",
                    _by_sga(rows[rows.week >= recent_from] if recent_from else rows), go_live, recent_from,
                    rows[["lead_id", "week", "band", "prob", "tier", "dials", "dialed", "hours", "owner_id",
                          "owner_name", "backfilled"]])


def _bands(rows: pd.DataFrame) -> np.ndarray:
    """Each lead's band among its week's new leads by score (ties share the higher band)."""
    if rows.empty:
        return np.array([], dtype=object)
    share_above = rows.groupby("week").prob.rank(ascending=False, method="min", pct=True).to_numpy()
    return np.where(share_above <= 0.2, BANDS[0], np.where(share_above <= 0.6, BANDS[1], BANDS[2]))


def _by_period(rows: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per ``key`` (a period's first day as text) and band: leads, dialed, shares with Wilson intervals."""
    if rows.empty:
        return pd.DataFrame(columns=PERIOD_COLUMNS)
    g = rows.groupby([key, "band"], sort=True)
    out = pd.DataFrame({"leads": g.size(), "dialed": g.dialed.sum().astype(int), "dials": g.dials.sum(),
                        "median_hours": g.hours.median(), "backfilled_share": g.backfilled.mean()}).reset_index()
    out = out.rename(columns={key: "period"})
    out["share"] = out.dialed / out.leads
    out["low"], out["high"] = proportion_confint(out.dialed, out.leads, alpha=0.05, method="wilson")
    out["dials_per_lead"] = out.dials / out.leads
    out["band"] = pd.Categorical(out.band, categories=BANDS, ordered=True)
    return out.sort_values(["period", "band"]).reset_index(drop=True)[PERIOD_COLUMNS]


def _by_sga(rows: pd.DataFrame) -> pd.DataFrame:
    """Per Lead owner: their new leads, and how many of the top and bottom bands each had a follow-up dial in the
    window; ``ratio`` = the top band's share over the bottom band's (NaN when no bottom-band lead was dialed, or with
    fewer than MIN_BAND_LEADS leads in either band: a ratio of 3 leads' shares reads as more than it is)."""
    if rows.empty:
        return pd.DataFrame(columns=SGA_COLUMNS)
    sga = rows.owner_name.fillna(rows.owner_id).fillna("(no owner)").astype(str)
    out = pd.DataFrame({"leads": rows.groupby(sga).size()})
    for band, key in ((BANDS[0], "top"), (BANDS[2], "bottom")):
        part = rows.band == band
        g = rows[part].groupby(sga[part]).dialed
        out[f"{key}_leads"], out[f"{key}_share"] = g.size(), g.mean()
    out = out.fillna({"top_leads": 0, "bottom_leads": 0}).astype({"top_leads": int, "bottom_leads": int})
    enough = (out.top_leads >= MIN_BAND_LEADS) & (out.bottom_leads >= MIN_BAND_LEADS)
    out["ratio"] = (out.top_share / out.bottom_share.where(out.bottom_share > 0)).where(enough)
    out = out.rename_axis("sga").reset_index().sort_values(["leads", "sga"], ascending=[False, True])
    return out[SGA_COLUMNS].reset_index(drop=True)
