"""Experiment design: the stored design row, power at the current lead volume, create / list / stop.

Power (spec §8.6) uses statsmodels' ``NormalIndPower`` on the primary KPI's per-lead linearised variance,
estimated from recently matured leads: for MQLs per 100 dials the ratio ``R = Σy / Σx`` linearises to
``L = (y − R·x) / x̄``. Blocking removes the between-stratum share of that variance; the score adjustment
removes the further share explained by the pre-assignment score (``1 − ρ²``). The planned end is never
earlier than the spec's minimum of 4 weeks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from statsmodels.stats.power import NormalIndPower

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.experiments import units as U
from core.features.build import as_utc
from core.operation import audited
from core.warehouse import Warehouse
from core.warehouse.sql import literal

MIN_WEEKS = 4
MAX_WEEKS = 26  # a design that needs longer is reported as underpowered, not planned for years
MIN_MQLS = 500
INTERIM_DAYS = 14
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,59}"


@dataclass
class Design:
    name: str
    kind: str = "engine"  # engine (assigned here) | tag (read from Experimentation_Tag__c)
    arms: tuple[str, ...] = ("control", "treatment")
    split: float = 0.5  # share of the treatment arm
    hidden_arms: tuple[str, ...] = ("control",)  # arms whose Salesforce score fields stay blank
    strata: tuple[str, ...] = U.STRATA
    start_at: pd.Timestamp | None = None
    planned_end_at: pd.Timestamp | None = None
    mde: float = 0.2
    planned_leads: int = 0
    seed: int = 0
    model_version: str | None = None
    status: str = "running"
    created_by: str = ""
    power: dict = field(default_factory=dict)
    challenger: str | None = None  # a rollout: the model whose scores the treatment arm's SGAs see

    @property
    def shares(self) -> list[float]:
        return [1 - self.split, self.split]

    @property
    def planned_days(self) -> float:
        return max((self.planned_end_at - self.start_at).total_seconds() / 86400, 1.0)

    def row(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "arms": ",".join(self.arms), "split": float(self.split),
            "hidden_arms": ",".join(self.hidden_arms), "strata": ",".join(self.strata),
            "start_at": self.start_at, "planned_end_at": self.planned_end_at, "mde": float(self.mde),
            "planned_leads": int(self.planned_leads), "seed": int(self.seed), "model_version": self.model_version,
            "status": self.status, "created_at": datetime.now(timezone.utc), "created_by": self.created_by,
            "stopped_at": None, "design_json": json.dumps({"power": self.power, "challenger": self.challenger}, default=str),
        }


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def design_from_row(r: dict) -> Design:
    extra = json.loads(r.get("design_json") or "{}")
    return Design(
        name=r["name"], kind=r["kind"], arms=_split_list(r["arms"]), split=float(r["split"]),
        hidden_arms=_split_list(r["hidden_arms"] or ""), strata=_split_list(r["strata"] or ""),
        start_at=pd.Timestamp(r["start_at"]).tz_convert("UTC") if pd.Timestamp(r["start_at"]).tzinfo else pd.Timestamp(r["start_at"], tz="UTC"),
        planned_end_at=pd.Timestamp(r["planned_end_at"]).tz_convert("UTC") if pd.Timestamp(r["planned_end_at"]).tzinfo else pd.Timestamp(r["planned_end_at"], tz="UTC"),
        mde=float(r["mde"]), planned_leads=int(r["planned_leads"] or 0), seed=int(r["seed"] or 0),
        model_version=r.get("model_version"), status=r["status"], created_by=r.get("created_by") or "",
        power=extra.get("power", {}), challenger=extra.get("challenger"),
    )


def list_experiments(wh: Warehouse) -> pd.DataFrame:
    with wh.reader() as s:
        if not s.table_exists("ops.experiments"):
            return pd.DataFrame()
        exps = s.query("select * from ops.experiments order by created_at desc")
        counts = s.query("select experiment, arm, count(*) as n from ops.experiment_assignments group by 1, 2") \
            if s.table_exists("ops.experiment_assignments") else pd.DataFrame(columns=["experiment", "arm", "n"])
        tags = U.tagged_experiments(s) if s.table_exists("marts.dim_leads") else pd.DataFrame()
    leads = counts.groupby("experiment")["n"].sum()
    exps["leads"] = exps["name"].map(leads).fillna(0).astype(int)
    exps["source"] = np.where(exps["kind"] == "rollout", "Model rollout", "Assigned by the engine")
    exps["arms"] = exps["arms"].str.replace(",", ", ")
    if not tags.empty:
        tag_rows = pd.DataFrame({
            "name": tags["name"], "kind": "tag", "arms": tags["arms"], "status": "recorded",
            "start_at": pd.to_datetime(tags["first_contact"], utc=True),
            "planned_end_at": pd.to_datetime(tags["last_contact"], utc=True), "leads": tags["leads"],
            "source": "Tagged in Salesforce",
        })
        tag_rows = tag_rows[~tag_rows["name"].isin(exps["name"])]
        exps = pd.concat([exps, tag_rows], ignore_index=True)
    return exps


def get_design(wh: Warehouse, name: str) -> Design | None:
    with wh.reader() as s:
        if not s.table_exists("ops.experiments"):
            return None
        rows = s.query(f"select * from ops.experiments where name = {literal(name)}")
    return None if rows.empty else design_from_row(rows.iloc[0].to_dict())


# --- power -----------------------------------------------------------------------------------------------
@dataclass
class Power:
    primary_metric: str
    baseline: float  # MQLs per 100 dials, or MQL rate per lead
    mde: float
    alpha: float
    power: float
    split: float
    weekly_leads: float
    history_leads: int
    variance_share_blocked: float  # 1 − between-stratum share
    variance_share_adjusted: float  # further × (1 − ρ²) with the pre-assignment score
    leads_simple: int
    leads_blocked: int
    leads_adjusted: int
    weeks_simple: float
    weeks_blocked: float
    weeks_adjusted: float
    planned_weeks: float
    expected_mqls: float
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _history(wh: Warehouse, settings: Settings, strata: tuple[str, ...], days: int = 180) -> tuple[pd.DataFrame, bool]:
    with wh.reader() as s:
        m, has_dials, as_of = U.matured_units(s, settings.label_window_days)
    m = m[pd.to_datetime(m["contacted_at"], utc=True) >= as_of - pd.Timedelta(days=days + settings.label_window_days)].copy()
    m["stratum"] = U.stratum_label(m, strata)
    return m, has_dials


def relative_effect_size(mde: float, ratio_value: float, sd: float, var_share: float) -> float:
    """Cohen-style effect size for a *relative* lift of a rare-event ratio metric. Under the alternative the
    treatment's variance grows with its mean (×(1+L)) and the lift's delta-method variance carries the
    control's variance ×(1+L)², so the null-variance effect size is shrunk by √(2 / ((1+L) + (1+L)²))."""
    d0 = mde * ratio_value / (sd * np.sqrt(var_share))
    return float(d0 * np.sqrt(2 / ((1 + mde) + (1 + mde) ** 2)))


def linearised(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    r = y.sum() / x.sum()
    return (y - r * x) / x.mean()


def variance_shares(lin: np.ndarray, stratum: pd.Series, score: pd.Series) -> tuple[float, float]:
    total = lin.var()
    if total <= 0:
        return 1.0, 1.0
    within = pd.Series(lin).groupby(stratum.to_numpy()).transform(lambda v: v - v.mean()).to_numpy()
    blocked = within.var() / total
    sc = score.to_numpy(dtype=float)
    ok = np.isfinite(sc)
    if ok.sum() < 30:
        return float(blocked), float(blocked)
    sw = pd.Series(np.where(ok, sc, np.nan)).groupby(stratum.to_numpy()).transform(lambda v: v - v.mean()).to_numpy()
    rho = np.corrcoef(within[ok], sw[ok])[0, 1] if np.nanstd(sw[ok]) > 0 else 0.0
    return float(blocked), float(blocked * (1 - rho ** 2))


def power_analysis(wh: Warehouse, settings: Settings, mde: float = 0.2, split: float = 0.5,
                   strata: tuple[str, ...] = U.STRATA, alpha: float = 0.05, power: float = 0.8) -> Power:
    check_split(split)
    if not 0 < mde < 10:
        raise LeadScoringError(f"--mde {mde}: the minimum detectable effect is a relative lift, e.g. 0.2 for +20%.")
    hist, has_dials = _history(wh, settings, strata)
    if len(hist) < 100 or hist["mql"].sum() < 5:
        raise LeadScoringError(f"Power needs matured history: {len(hist)} matured leads with {int(hist['mql'].sum())} "
                               "MQLs in the last 180 days. Load more leads (or wait for them to mature).")
    y = hist["mql"].to_numpy(dtype=float)
    x = hist["dials"].to_numpy(dtype=float) if has_dials and hist["dials"].sum() > 0 else np.ones(len(hist))
    metric = "mqls_per_100_dials" if has_dials and hist["dials"].sum() > 0 else "mql_rate"
    lin = linearised(y, x)
    r = y.sum() / x.sum()
    sd = lin.std(ddof=1)
    share_b, share_a = variance_shares(lin, hist["stratum"], hist["first_score"])
    ratio = (1 - split) / split  # control per treatment lead
    tool = NormalIndPower()

    def total(var_share: float) -> int:
        d = relative_effect_size(mde, r, sd, var_share)
        n_t = tool.solve_power(effect_size=d, alpha=alpha, power=power, ratio=ratio, alternative="two-sided")
        return int(np.ceil(n_t * (1 + ratio)))

    contacted = pd.to_datetime(hist["contacted_at"], utc=True)
    span_weeks = max((contacted.max() - contacted.min()).days / 7, 1)
    weekly = len(hist) / span_weeks
    n_s, n_b, n_a = total(1.0), total(share_b), total(share_a)
    weeks = [n / weekly for n in (n_s, n_b, n_a)]
    planned = min(max(MIN_WEEKS, float(np.ceil(weeks[2]))), MAX_WEEKS)
    mql_rate = y.mean()
    notes = []
    if weeks[2] > MAX_WEEKS:
        n_cap = MAX_WEEKS * weekly
        d_cap = tool.solve_power(nobs1=n_cap * split, alpha=alpha, power=power, ratio=ratio)
        detectable = d_cap * sd * np.sqrt(share_a) / r
        notes.append(f"Underpowered: +{mde:.0%} needs {weeks[2]:,.0f} weeks at {weekly:,.0f} leads a week; the plan is "
                     f"capped at {MAX_WEEKS} weeks, which detects about +{detectable:.0%} (before the alternative's "
                     "extra variance).")
    if metric == "mql_rate":
        notes.append("No call activity loaded: powered for MQL rate per lead (load the Task export on Upload "
                     "exports, or `load-activities`, to use MQLs per 100 dials).")
    exp_mqls = planned * weekly * mql_rate
    if exp_mqls < MIN_MQLS:
        notes.append(f"At {weekly:,.0f} leads a week the planned {planned:.0f} weeks yield about {exp_mqls:,.0f} MQLs, "
                     f"short of the spec's {MIN_MQLS} MQL outcomes: read the interval, not only the decision.")
    return Power(metric, float(r * (100 if metric == "mqls_per_100_dials" else 1)), mde, alpha, power, split,
                 float(weekly), int(len(hist)), share_b, share_a, n_s, n_b, n_a, *(float(w) for w in weeks),
                 planned, float(exp_mqls), notes)


def power_curve(p: Power, mdes=None) -> pd.DataFrame:
    """Power at the planned duration for a range of lifts (the page's curve)."""
    mdes = np.asarray(mdes if mdes is not None else np.linspace(0.05, 1.0, 20))
    n = p.planned_weeks * p.weekly_leads
    n_t = n * p.split
    tool = NormalIndPower()
    # d scales with the lift: d(mde) = d(p.mde) · mde / p.mde, for the adjusted variance.
    d_ref = tool.solve_power(nobs1=p.leads_adjusted * p.split, alpha=p.alpha, power=p.power,
                             ratio=(1 - p.split) / p.split)
    return pd.DataFrame({"mde": mdes, "power": [
        float(tool.power(effect_size=d_ref * m / p.mde, nobs1=n_t, alpha=p.alpha, ratio=(1 - p.split) / p.split))
        for m in mdes]})


# --- create / stop --------------------------------------------------------------------------------------------
def check_split(split: float) -> None:
    if not 0 < split < 1:
        raise LeadScoringError(f"--split {split}: the treatment share must be strictly between 0 and 1 (e.g. 0.5, or 0.1 "
                               "for the first step of a rollout).")


def _arms(arms: str, hidden_arms: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Two distinct arms, control first, and the arms whose leads' scores stay hidden (default: the control)."""
    arm_list = tuple(a.strip().lower() for a in arms.split(",") if a.strip())
    if len(arm_list) != 2 or len(set(arm_list)) != 2:
        raise LeadScoringError(f"--arms {arms!r}: give exactly two distinct arms, control first (e.g. control,treatment).")
    hidden = tuple(a.strip().lower() for a in (hidden_arms if hidden_arms is not None else arm_list[0]).split(",") if a.strip())
    bad = [a for a in hidden if a not in arm_list]
    if bad:
        raise LeadScoringError(f"--hidden-arms: {bad[0]!r} is not one of the arms ({', '.join(arm_list)}).")
    return arm_list, hidden


def _utc_date(text: str, flag: str, example: str) -> pd.Timestamp:
    try:
        return as_utc(text)
    except (ValueError, TypeError):
        raise LeadScoringError(f"{flag} {text!r}: give a date such as {example}.") from None


def _check_no_overlap(wh: Warehouse, name: str, start_at: pd.Timestamp, end_at: pd.Timestamp) -> None:
    """A lead is in at most one running engine experiment or rollout."""
    for other in list_experiments(wh).to_dict("records"):
        if other.get("kind") in ("engine", "rollout") and other.get("status") == "running" and \
                pd.Timestamp(other["start_at"]) < end_at and start_at < pd.Timestamp(other["planned_end_at"]):
            raise LeadScoringError(
                f"Experiment {other['name']!r} is running on leads contacted from {pd.Timestamp(other['start_at']):%Y-%m-%d} "
                f"to {pd.Timestamp(other['planned_end_at']):%Y-%m-%d}, which overlaps {name!r} "
                f"({start_at:%Y-%m-%d} to {end_at:%Y-%m-%d}); a lead is in at most one running experiment. Stop "
                f"{other['name']!r} (experiment stop) or start after it ends.")


@audited("design_experiments", "experiment_create", target=lambda a: a["name"])
def create_experiment(wh: Warehouse, settings: Settings, name: str, start: str, split: float = 0.5,
                      strata="aum_tier,completeness,metro", arms="control,treatment", mde: float = 0.2,
                      hidden_arms: str | None = None, seed: int = 0, kind: str = "engine",
                      end: str | None = None, challenger: str | None = None,
                      actor: Actor | None = None) -> Design:
    """Design an experiment. The planned end is the power analysis's (4 to 26 weeks) unless ``end`` is
    given; an end earlier than the spec's 4-week minimum is refused.

    With ``challenger`` (a model in shadow) it is a *rollout* (spec §9.4): arms ``champion`` and
    ``challenger``, nothing hidden, and the challenger arm's leads are written to Salesforce with the
    challenger's score and tier; raise its share with :func:`set_split` (10% → 50% → 100%)."""
    import re

    if not re.fullmatch(NAME_PATTERN, name or ""):
        raise LeadScoringError(f"Experiment name {name!r}: use letters, digits, '-', '_' or '.', up to 60 characters "
                               "(it is written to Salesforce as NAME:ARM).")
    if challenger:
        from core.monitoring.shadow import active_shadow

        shadow = active_shadow(wh)
        if not shadow or shadow.model_id != challenger:
            raise LeadScoringError(f"A rollout of {challenger} needs it scored in shadow first: run `models shadow "
                                   f"{challenger}` (the daily run then scores it beside the champion).")
        kind, arms, hidden_arms = "rollout", "champion,challenger", ""
    arm_list, hidden = _arms(arms, hidden_arms)
    strata_t = U.check_strata(strata)
    check_split(split)
    start_at = _utc_date(start, "--start", "2026-01-05")
    if get_design(wh, name) is not None:
        raise LeadScoringError(f"An experiment named {name!r} already exists: choose another name (names are written "
                               "to Salesforce and must stay unique).")
    with wh.reader() as s:
        if U.tagged_experiments(s)["name"].str.lower().eq(name.lower()).any():
            raise LeadScoringError(f"{name!r} is already used by an experiment recorded in Experimentation_Tag__c: "
                                   "choose another name.")
    p = power_analysis(wh, settings, mde=mde, split=split, strata=strata_t)
    from core.modeling.registry import champion_row

    end_at = start_at + pd.Timedelta(weeks=p.planned_weeks)
    if end:
        end_at = _utc_date(end, "--end", "2026-03-02")
        if end_at < start_at + pd.Timedelta(weeks=MIN_WEEKS):
            raise LeadScoringError(f"--end {end}: an experiment runs at least {MIN_WEEKS} weeks (spec §8.6); the "
                                   f"earliest end for --start {start_at:%Y-%m-%d} is "
                                   f"{start_at + pd.Timedelta(weeks=MIN_WEEKS):%Y-%m-%d}.")
    _check_no_overlap(wh, name, start_at, end_at)
    design = Design(name=name, kind=kind, arms=arm_list, split=float(split), hidden_arms=hidden, strata=strata_t,
                    start_at=start_at, planned_end_at=end_at, mde=float(mde),
                    planned_leads=int(round((end_at - start_at).days / 7 * p.weekly_leads)), seed=int(seed),
                    model_version=(champion_row(wh) or {}).get("model_id"), created_by=actor.username, power=p.as_dict(),
                    challenger=challenger)
    with wh.writer("experiment create") as s:
        s.load("ops.experiments", pd.DataFrame([design.row()]), mode="append")
        audit.record(s, actor, "experiment_create", name, "ok", {
            "arms": ",".join(arm_list), "split": split, "strata": ",".join(strata_t), "start": str(start_at),
            "planned_end": str(design.planned_end_at), "planned_leads": design.planned_leads})
    return design


@audited("design_experiments", "experiment_stop", target=lambda a: a["name"])
def stop_experiment(wh: Warehouse, name: str, actor: Actor | None = None) -> Design:
    design = get_design(wh, name)
    if design is None:
        raise LeadScoringError(f"No experiment named {name!r} was created in the engine (experiment list shows them).")
    if design.status != "running":
        raise LeadScoringError(f"Experiment {name!r} is already {design.status}.")
    with wh.writer("experiment stop") as s:
        s.execute(f"update ops.experiments set status = 'stopped', stopped_at = current_timestamp() "
                  f"where name = {literal(name)}")
        audit.record(s, actor, "experiment_stop", name, "ok", {})
    design.status = "stopped"
    return design


@audited("design_experiments", "experiment_split", target=lambda a: a["name"])
def set_split(wh: Warehouse, name: str, split: float, actor: Actor | None = None) -> Design:
    """Gradual rollout (spec §9.4: 10% → 50% → 100%): change the treatment share of *new* assignments.
    Leads already assigned keep their arm (sticky); 1.0 ends the rollout (stop the experiment instead)."""
    check_split(split)
    design = get_design(wh, name)
    if design is None or design.status != "running":
        raise LeadScoringError(f"No running experiment named {name!r}.")
    with wh.writer("experiment split") as s:
        s.execute(f"update ops.experiments set split = {float(split)} where name = {literal(name)}")
        audit.record(s, actor, "experiment_split", name, "ok", {"from": design.split, "to": split})
    design.split = float(split)
    return design
