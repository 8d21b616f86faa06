"""Honest score history for a warehouse that has past leads but no past scores: the champion (trained only
on leads contacted before ``since``) scores every lead from its point-in-time features — fixed at contact —
and the daily tiering is replayed every Monday from ``since`` on, as a backtest would. Rows are marked
``backfilled`` so nobody mistakes them for what SGAs were actually shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS, as_utc, feature_matrix
from core.modeling.data import model_inputs
from core.modeling.registry import load_champion
from core.monitoring.reference import replay_tiers, weekly_dates, with_mql_times
from core.operation import audited
from core.scoring.capacity import get_capacity
from core.scoring.score import HISTORY_COLUMNS, ScoringInputs, ensure_history_columns, predict, refresh_first_scores
from core.scoring.tiers import boosts, stored_prob
from core.warehouse import Warehouse
from core.warehouse.sql import literal


@dataclass(frozen=True)
class Backfill:
    """What a backfill wrote: the champion that scored, how many weekly score dates and rows, the first and last."""
    model_id: str
    dates: int
    rows: int
    first: str
    last: str


@audited("run_pipeline", "backfill_scores")
def backfill_scores(wh: Warehouse, settings: Settings, since, until=None, actor: Actor | None = None) -> Backfill:
    champion = load_champion(wh)
    since = as_utc(since)
    trained_to = pd.Timestamp(champion.meta["as_of"])
    if trained_to > since + pd.Timedelta(days=1):
        raise LeadScoringError(f"The champion {champion.model_id} was trained on data as of {trained_to:%Y-%m-%d}, after "
                               f"{since:%Y-%m-%d}: a backfill from then would score leads it learned from. Backfill from "
                               f"{trained_to:%Y-%m-%d} or later.")
    feats = feature_matrix(wh)
    feats["contacted_at"] = pd.to_datetime(feats.contacted_at, utc=True)
    until = pd.Timestamp(until) if until is not None else feats.contacted_at.max()
    X = model_inputs(feats, [c for c in feats.columns if c not in META_COLUMNS])
    inp = ScoringInputs(champion, "", until, feats, X)
    pred = predict(wh, inp, full=True)
    boost, _ = boosts(X, settings.priority_boost)
    leads = with_mql_times(wh, pd.DataFrame({"lead_id": feats.lead_id, "contacted_at": feats.contacted_at,
                                             "prob": stored_prob(pred.prob), "boost": boost, "level": pred.levels}))
    dates = [d for d in weekly_dates(since, until) if d < until.normalize()]
    capacity = get_capacity(wh, settings).daily
    rows = replay_tiers(leads, dates, capacity, settings.tier_a_factor, settings.tier_b_factor, settings.tier_window)
    if rows.empty:
        raise LeadScoringError(f"No contacted leads between {since:%Y-%m-%d} and {until:%Y-%m-%d} to backfill.")
    rows = rows.merge(leads[["lead_id", "level"]], on="lead_id")
    out = pd.DataFrame({
        "score_date": rows.score_date.dt.strftime("%Y-%m-%d"), "lead_id": rows.lead_id,
        "prob_mql_30d": rows.prob, "adjusted": rows.adjusted, "tier": rows.tier, "rank": rows["rank"],
        "drivers": "", "model_version": champion.model_id, "fallback_level": rows.level,
        "scored_at": rows.score_date.dt.tz_convert(timezone.utc), "backfilled": True,
    })[HISTORY_COLUMNS]
    days = sorted(out.score_date.unique())
    with wh.writer("backfill score history") as s:
        ensure_history_columns(s)
        if s.table_exists("ml.score_history"):
            s.execute("delete from ml.score_history where score_date in (" + ", ".join(literal(d) for d in days) + ")")
        s.load("ml.score_history", out, mode="append")
        refresh_first_scores(s, days[0])
        audit.record(s, actor, "backfill_scores", champion.model_id, "ok",
                     {"since": str(since), "until": str(until), "dates": len(days), "rows": len(out)})
    return Backfill(champion.model_id, len(days), int(len(out)), days[0], days[-1])
