"""`score`: every open contacted lead gets a calibrated probability, its drivers, a rank and a tier, with
the provenance of each number (model version, fallback level). Degradation (spec §10.3): the champion
model when it loads; the spec's heuristic rule when no champion can be loaded; when the run itself fails,
the previous scores stay in place and the failure is recorded. A day's re-run replaces that day only."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from core import audit
from core.auth import Actor, authorize
from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS, build_features, is_current, latest_feature_set
from core.ingest.loader import loaded_export_at
from core.modeling.baselines import heuristic_rule
from core.modeling.data import model_inputs
from core.modeling.registry import load_champion
from core.operation import audited
from core.scoring.capacity import get_capacity
from core.scoring.drivers import WORDING_ID, top_drivers
from core.scoring.tiers import assign_tiers, boosts, stored_prob
from core.warehouse import Warehouse
from core.warehouse.sql import literal, read_model, render

#: How each fallback level reads on a page (spec §7.3's degradation ladder).
FALLBACK_WORDS = {"full_model": "the champion model", "crm_marketpro_model": "the champion's CRM-only model",
                  "heuristic_rule": "the heuristic rule"}


def fallback_words(level) -> str:
    return FALLBACK_WORDS.get(str(level), str(level))


SCORE_COLUMNS = ["lead_id", "prob_mql_30d", "tier", "rank", "drivers", "model_version", "fallback_level", "scored_at"]


@dataclass
class ScoreRun:
    run_id: str
    as_of: pd.Timestamp
    scored_at: datetime
    model_version: str
    fallback_level: str
    fallback_reason: str
    tier_counts: dict
    n_scored: int
    timings: dict = field(default_factory=dict)
    shadow_scored: int = 0

    def markdown(self) -> str:
        tiers = ", ".join(f"{k} {v:,}" for k, v in sorted(self.tier_counts.items()))
        lines = [f"Scored {self.n_scored:,} open leads as of {self.as_of} with {self.model_version} "
                 f"(fallback level: {self.fallback_level}) — tiers {tiers}."]
        if self.fallback_reason:
            lines.append(f"Fallback because: {self.fallback_reason}")
        lines.append("Time per stage (s): " + ", ".join(f"{k} {v}" for k, v in self.timings.items()))
        return "\n".join(lines)


def _heuristic_drivers(X: pd.DataFrame) -> list[list[dict]]:
    out = []
    for aum, g1 in zip(X["TotalAssetsInMillions"], X["AUM_Growth_Rate_1Year"]):
        d = []
        if pd.notna(aum) and pd.notna(g1) and aum > 100 and g1 > 5:
            d.append({"feature": "rule", "contribution": None, "text": f"${aum:,.0f}M AUM growing {g1:.0f}% a year"})
        elif pd.notna(aum) and aum > 50:
            d.append({"feature": "rule", "contribution": None, "text": f"${aum:,.0f}M AUM"})
        out.append(d)
    return out


def discovery_missing_share(X: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Per lead, the share of the model's discovery (MarketPro-derived) features that are missing."""
    from core.features.catalog import is_discovery

    cols = [c for c in features if is_discovery(c)]
    return X[cols].isna().mean(axis=1).to_numpy() if cols else np.zeros(len(X))


def open_leads(wh: Warehouse, settings: Settings, as_of: pd.Timestamp) -> pd.DataFrame:
    """Contacted leads with no MQL yet, neither in a closed status nor converted. IsConverted is read whatever
    the org calls its converted status ("Qualified", "Closed - Converted"): a converted Lead is no one's call, and
    Salesforce refuses the API's updates to it."""
    closed = ", ".join(literal(s) for s in settings.closed_statuses)
    ts = f"TIMESTAMP '{as_of.strftime('%Y-%m-%d %H:%M:%S')}+00'"
    with wh.reader() as s:
        converted = "and not coalesce(l.IsConverted, false) " if "isconverted" in s.columns("marts.dim_leads") else ""
        return s.query(
            "select f.*, l.OwnerId as owner_id, l.Owner_Name as owner_name from ml.lead_features as f "
            "inner join marts.dim_leads as l on f.lead_id = l.Id "
            f"where (l.Stage_Entered_Call_Scheduled__c is null or l.Stage_Entered_Call_Scheduled__c > {ts}) "
            f"and coalesce(l.Status, '') not in ({closed}) {converted}and f.contacted_at <= {ts}"
        )


def _previous(wh: Warehouse) -> pd.DataFrame:
    with wh.reader() as s:
        if not s.table_exists("ml.lead_scores"):
            return pd.DataFrame()
        cols = ["lead_id", "feature_hash", "model_version", "prob_mql_30d", "drivers_json", "drivers", "fallback_level"]
        try:
            return s.query(f"select {', '.join(cols)} from ml.lead_scores")
        except Exception:  # noqa: BLE001 - an older table without feature_hash: recompute everything
            return pd.DataFrame()


@dataclass
class ScoringInputs:
    """Step 1: the champion (or None and why), the open leads and their model-input matrix."""
    champion: object
    reason: str
    as_of: pd.Timestamp
    leads: pd.DataFrame
    X: pd.DataFrame

    @property
    def version(self) -> str:
        return self.champion.model_id if self.champion is not None else "heuristic-rule-v1"

    @property
    def fallback(self) -> str:
        return "full_model" if self.champion is not None else "heuristic_rule"


@dataclass
class Predictions:
    """Step 2: a calibrated probability and fallback level per lead; ``todo`` marks the leads recomputed
    (the rest reuse their last probability and drivers because features, model and drivers' wording are unchanged)."""
    prob: np.ndarray
    levels: np.ndarray
    drivers: list  # per lead: its drivers (recomputed leads, filled by explain) or None (reused leads)
    todo: np.ndarray
    feature_hash: np.ndarray
    # reused leads keep the JSON and sentence stored by the run that computed them (None where recomputed)
    stored_json: np.ndarray | None = None
    stored_text: np.ndarray | None = None

    def drivers_columns(self) -> tuple[list[str], list[str]]:
        """drivers_json and the top-five sentence per lead: stored text for reused leads, serialised for the rest."""
        js, text = [], []
        for i, d in enumerate(self.drivers):
            if not self.todo[i]:  # reused: only ever when both stored texts were present
                js.append(self.stored_json[i])
                text.append(self.stored_text[i])
            else:
                d = d or []
                js.append(json.dumps(d))
                text.append("; ".join(x["text"] for x in d[:5])[:255])
        return js, text


def prepare_inputs(wh: Warehouse, settings: Settings, as_of, actor: Actor) -> ScoringInputs:
    champion, reason = None, ""
    try:
        champion = load_champion(wh)
    except LeadScoringError as exc:
        reason = str(exc)
    fs = latest_feature_set(wh)
    levels = champion.levels if champion else (fs.levels if fs else None)
    if as_of is not None or not is_current(wh, fs) or (champion and fs.levels != champion.levels):
        as_of_ts = build_features(wh, settings, as_of=as_of, levels=levels, actor=actor).as_of
    else:
        as_of_ts = fs.as_of.tz_convert("UTC")
    df = open_leads(wh, settings, as_of_ts)
    if df.empty:
        raise LeadScoringError("No open contacted leads to score (all converted, closed or none contacted yet).")
    X = model_inputs(df, [c for c in df.columns if c not in META_COLUMNS + ("owner_id", "owner_name")])
    return ScoringInputs(champion, reason, as_of_ts, df, X)


def predict(wh: Warehouse, inp: ScoringInputs, full: bool = False) -> Predictions:
    X, df = inp.X, inp.leads
    # what a stored score and its drivers were computed from: the lead's model inputs and the drivers' wording
    feature_hash = (pd.util.hash_pandas_object(X, index=False).astype("uint64").astype(str) + f":{WORDING_ID}").to_numpy()
    prob = np.zeros(len(X))
    levels = np.full(len(X), inp.fallback, dtype=object)
    drivers: list = [None] * len(X)
    todo = np.ones(len(X), dtype=bool)
    stored_json = stored_text = None
    if not full:
        prev = _previous(wh)
        if not prev.empty and "feature_hash" in prev:
            prev = prev.set_index("lead_id")
            key = pd.Series(feature_hash, index=df.lead_id.to_numpy())
            same = prev.reindex(key.index)
            reuse = ((same.feature_hash.to_numpy() == key.to_numpy()) & (same.model_version.to_numpy() == inp.version)
                     & same.drivers_json.notna().to_numpy() & same.drivers.notna().to_numpy())
            prob[reuse] = same.prob_mql_30d.to_numpy()[reuse]
            levels[reuse] = same.fallback_level.to_numpy()[reuse]
            # the drivers stay as the JSON and sentence they were stored as: nothing to parse or re-serialise
            stored_json = same.drivers_json.to_numpy(dtype=object, na_value=None)
            stored_text = same.drivers.to_numpy(dtype=object, na_value=None)
            todo = ~reuse
    idx = np.where(todo)[0]
    if len(idx):
        prob[idx], levels[idx] = champion_prob(inp.champion, X.iloc[idx])
    return Predictions(prob, levels, drivers, todo, feature_hash, stored_json, stored_text)


def champion_prob(champion, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's calibrated probability and the level that gave it: the champion, its CRM-only fallback for a lead
    missing most discovery data, or the heuristic rule when there is no champion yet."""
    if champion is None:
        return heuristic_rule(X), np.full(len(X), "heuristic_rule", dtype=object)
    p = champion.predict(X)
    lv = np.full(len(X), "full_model", dtype=object)
    sparse = discovery_missing_share(X, champion.features) > 0.5
    if champion.fallback and sparse.any():
        p[sparse] = champion.predict_fallback(X[sparse])
        lv[sparse] = "crm_marketpro_model"
    return p, lv


def explain(inp: ScoringInputs, pred: Predictions) -> None:
    """Step 3: drivers (exact TreeSHAP or linear contributions) for the recomputed leads, in place."""
    idx = np.where(pred.todo)[0]
    if not len(idx):
        return
    X, champion = inp.X, inp.champion
    Xn = X.iloc[idx]
    if champion is not None:
        new_drivers = top_drivers(champion.contributions(Xn), champion.features, Xn, k=10, peers_from=X)
        sparse_rows = np.where(pred.levels[idx] == "crm_marketpro_model")[0]
        if len(sparse_rows):
            sub = Xn.iloc[sparse_rows]
            fb = top_drivers(champion.fallback_contributions(sub), champion.fallback["model"]["features"], sub, k=10,
                             peers_from=X)
            for i, d in zip(sparse_rows, fb):
                new_drivers[i] = d
    else:
        new_drivers = _heuristic_drivers(Xn)
    for i, d in zip(idx, new_drivers):
        pred.drivers[i] = d


def tier(wh: Warehouse, settings: Settings, inp: ScoringInputs, pred: Predictions) -> pd.DataFrame:
    """Step 4: priority boosts, capacity-sized tiers and the rows to persist."""
    df, X = inp.leads, inp.X
    boost, boost_reasons = boosts(X, settings.priority_boost)
    drivers_json, drivers_text = pred.drivers_columns()
    frame = pd.DataFrame({
        "lead_id": df.lead_id, "prob": stored_prob(pred.prob), "boost": boost, "contacted_at": df.contacted_at,
        "owner_id": df.owner_id, "owner_name": df.owner_name, "feature_hash": pred.feature_hash,
        "drivers_json": drivers_json, "drivers": drivers_text,
        "boost_reasons": ["; ".join(r) for r in boost_reasons],
    })
    capacity = get_capacity(wh, settings).daily
    tiers = assign_tiers(frame, capacity, settings.tier_a_factor, settings.tier_b_factor, settings.tier_window, inp.as_of)
    tiers = tiers.rename(columns={"prob": "prob_mql_30d"})
    tiers["model_version"], tiers["scored_at"] = inp.version, datetime.now(timezone.utc)
    tiers["fallback_level"] = tiers.lead_id.map(dict(zip(df.lead_id, pred.levels)))
    tiers["score_date"] = inp.as_of.strftime("%Y-%m-%d")
    tiers["capacity"] = capacity
    return tiers


HISTORY_COLUMNS = ["score_date", "lead_id", "prob_mql_30d", "adjusted", "tier", "rank", "drivers", "model_version",
                   "fallback_level", "scored_at", "backfilled"]


def ensure_history_columns(s) -> None:
    """Older warehouses' score history predates the backfilled flag."""
    s.add_column("ml.score_history", "backfilled", "bool")


FIRST_SCORES = "ml.lead_first_scores"


def first_scores_sql(s, where: str = "true") -> str:
    """Each lead's first score from the history rows matching ``where`` (``sql/marts/lead_first_scores.sql``)."""
    bf = "backfilled" if "backfilled" in s.columns("ml.score_history") else "false as backfilled"
    return render(read_model("marts/lead_first_scores.sql"), backfilled=bf, where=where)


def refresh_first_scores(s, since: str | None) -> None:
    """Bring ml.lead_first_scores up to date after the score history changed on ``since`` (a score date) or
    later; None (or no table yet) builds it from the whole history. A first score before ``since`` cannot
    change; the leads first scored on it or later are dropped and found again among the rows from ``since`` on
    (they have none before). Runs in the writer that changed the history, so both commit together."""
    if not s.table_exists("ml.score_history"):
        return
    if since is None or not s.table_exists(FIRST_SCORES):
        s.execute(f"create or replace table {FIRST_SCORES} as {first_scores_sql(s)}")
        return
    s.execute(f"delete from {FIRST_SCORES} where score_date >= {literal(since)}")
    s.execute(f"insert into {FIRST_SCORES} (lead_id, score_date, prob, tier, model_version, backfilled) " + first_scores_sql(
        s, f"score_date >= {literal(since)} and lead_id not in (select lead_id from {FIRST_SCORES})"))


def persist(wh: Warehouse, settings: Settings, inp: ScoringInputs, tiers: pd.DataFrame, run: ScoreRun, actor: Actor) -> int:
    """Step 5: current scores, the day's score history (a re-run replaces the day) and the challenger in
    shadow, scored on the same leads and stored apart — never in ml.lead_scores, so never sent to Salesforce."""
    from core.modeling.registry import load_model, model_folder
    from core.monitoring.shadow import active_shadow, score_shadow

    authorize(actor, "run_pipeline")
    shadow = active_shadow(wh)
    challenger = load_model(model_folder(wh, shadow.model_id)) if shadow else None
    shadowed = 0
    with wh.writer("write scores") as s:
        s.load("ml.lead_scores", tiers)
        ensure_history_columns(s)
        if s.table_exists("ml.score_history"):
            s.execute(f"delete from ml.score_history where score_date = {literal(tiers.score_date.iloc[0])}")
        s.load("ml.score_history", tiers.assign(backfilled=False)[HISTORY_COLUMNS], mode="append")
        refresh_first_scores(s, tiers.score_date.iloc[0])
        if challenger is not None:
            shadowed = score_shadow(s, challenger, inp.X, inp.leads.lead_id, inp.leads.contacted_at,
                                    tiers.score_date.iloc[0], int(tiers.capacity.iloc[0]), settings.tier_a_factor,
                                    settings.tier_b_factor,
                                    inp.leads.lead_id.map(dict(zip(tiers.lead_id, tiers.boost))).to_numpy(),
                                    settings.tier_window, inp.as_of)
        audit.record(s, actor, "score", inp.version, "ok", {
            "n": len(tiers), "fallback_level": inp.fallback, **run.tier_counts, "shadow_scored": shadowed,
            **tiers.fallback_level.value_counts().to_dict()})
    return shadowed


@audited("run_pipeline", "score")
def score_leads(wh: Warehouse, settings: Settings, as_of=None, actor: Actor | None = None, progress=None,
                full: bool = False) -> tuple[ScoreRun, pd.DataFrame]:
    """Score open leads in five steps — inputs → predict → explain → tier → persist. A lead's features are
    fixed at its contact time, so its probability and drivers are reused from the last run when its feature
    values and the model version are unchanged; only new or changed leads go through the model and TreeSHAP
    (``full=True`` recomputes everything)."""
    progress = progress or (lambda f, m: None)
    timings, t0 = {}, time.perf_counter()

    def stage(name):
        nonlocal t0
        now = time.perf_counter()
        timings[name] = round(now - t0, 2)
        t0 = now

    progress(0.1, "Point-in-time features")
    inp = prepare_inputs(wh, settings, as_of, actor)
    stage("features")
    progress(0.4, "Scoring")
    pred = predict(wh, inp, full)
    stage("predict")
    progress(0.6, f"Drivers for {int(pred.todo.sum()):,} new or changed leads (exact TreeSHAP / linear contributions)")
    explain(inp, pred)
    stage("drivers")
    timings["recomputed_leads"] = int(pred.todo.sum())
    tiers = tier(wh, settings, inp, pred)
    stage("tiers")
    run = ScoreRun(uuid.uuid4().hex[:12], inp.as_of, tiers.scored_at.iloc[0], inp.version, inp.fallback, inp.reason,
                   tiers.tier.value_counts().to_dict(), len(tiers), timings)
    run.shadow_scored = persist(wh, settings, inp, tiers, run, actor)
    stage("write")
    return run, tiers


def scores_behind_export(s) -> str | None:
    """Why the scores in place are not today's lists, or None: they are as of a day before the loaded Lead export
    (`score --as-of` a past day, or a newer export loaded and not yet scored). ``s``: a warehouse session."""
    if not s.table_exists("ml.lead_scores"):
        return None
    score_day, export = s.scalar("select max(score_date) from ml.lead_scores"), loaded_export_at(s)
    if score_day is None or export is None or str(score_day) >= f"{export:%Y-%m-%d}":
        return None
    return (f"the scores in place are as of {pd.Timestamp(str(score_day)):%d %b %Y}, but the loaded Lead export is of "
            f"{export:%d %b %Y %H:%M} UTC (scored as of a past day, or a newer export loaded since). Run `run-daily` "
            "(or `score`) to score as of the export")


def stale_lists(wh: Warehouse) -> str | None:
    """:func:`scores_behind_export` for a page."""
    with wh.reader() as s:
        return scores_behind_export(s)


OLD_EXPORT_DAYS = 7  # a daily pull or a weekly upload keeps the Lead export younger than this


def old_export(wh: Warehouse, now: pd.Timestamp | None = None) -> str | None:
    """A sentence when the loaded Lead export is more than OLD_EXPORT_DAYS old: every list is as of the export, so
    the Leads contacted and the MQLs booked since are not in it (an upload forgotten, a daily pull not set up)."""
    with wh.reader() as s:
        export = loaded_export_at(s)
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if export is None or (now - export).days <= OLD_EXPORT_DAYS:
        return None
    return (f"These lists come from the Lead export of {export:%d %b %Y} ({(now - export).days:,} days ago): Leads "
            "contacted and MQLs booked since are not in them. RevOps can load a newer export (Upload exports) or set "
            "up the daily Salesforce pull.")


# Words a Lead Status uses when the lead is no longer worked. closed_statuses names the default org's values; a real
# org calls them its own way ("Closed - Not Converted", "Unqualified", "Do Not Contact"), and those leads were scored
# and listed for SGAs to call without a word.
CLOSED_WORDS = re.compile(r"closed|disqualif|unqualif|\bdead\b|\blost\b|not interested|do not (call|contact)|"
                          r"bad (data|fit)|invalid|junk|converted|opt(ed)?[ -]?out|unsubscrib|duplicate|deceased|retired",
                          re.IGNORECASE)


def statuses_that_read_closed(wh: Warehouse, settings: Settings) -> str | None:
    """A sentence when scored leads have a Status that reads closed but is not in the config's closed_statuses."""
    with wh.reader() as s:
        if not s.table_exists("ml.lead_scores"):
            return None
        counts = s.query("select l.Status as status, count(*) as n from ml.lead_scores as c "
                         "join marts.dim_leads as l on l.Id = c.lead_id where l.Status is not null "
                         "group by l.Status order by n desc, l.Status")
    hit = counts[counts.status.map(lambda v: bool(CLOSED_WORDS.search(str(v))))
                 & ~counts.status.isin(settings.closed_statuses)]
    if hit.empty:
        return None
    named = ", ".join(f"'{r.status}' ({r.n:,})" for r in hit.head(5).itertuples())
    return (f"{int(hit.n.sum()):,} leads on these lists have a Status that reads closed ({named}) but is not one of the "
            f"config's closed_statuses ({', '.join(settings.closed_statuses)}): they are scored and listed to call. "
            "Add the Status values your org uses for leads no longer worked to closed_statuses in the config file "
            "(leadscore.toml), then run the daily pipeline.")


def _require_scores(s) -> None:
    if not s.table_exists("ml.lead_scores"):
        raise LeadScoringError("No scores yet: run the daily pipeline (`python -m core run-daily`).")


def current_scores(wh: Warehouse) -> pd.DataFrame:
    with wh.reader() as s:
        _require_scores(s)
        return s.query("select * from ml.lead_scores order by rank")


def call_list(wh: Warehouse) -> pd.DataFrame:
    """:func:`current_scores` with who each lead is, for the people who call them: the advisor's ``title``, the
    ``company`` they work at and their ``location`` (City, ST) from the loaded Lead export. Names, emails and phones
    never reach the warehouse (PII), so these are what a list can show besides the Lead record itself."""
    with wh.reader() as s:
        _require_scores(s)  # scores exist only for loaded Leads: marts.dim_leads exists too
        out = s.query("select c.*, d.Title as title, d.Company as company, d.City as city, d.State as state "
                      "from ml.lead_scores as c left join marts.dim_leads as d on d.Id = c.lead_id order by c.rank")
    return out.drop(columns=["city", "state"]).assign(location=place(out.city, out.state))


def place(city: pd.Series, state: pd.Series) -> pd.Series:
    """Where each Lead is, as a list shows it: "City, ST", or whichever of the two is known (else missing)."""
    return city.where(state.isna(), city + ", " + state).fillna(state)
