"""Champion–challenger (spec §9.4): a challenger scores beside the champion in every daily run — stored in
ml.shadow_scores, never written to Salesforce — and is compared on the leads that have matured since the
shadow began, with paired bootstrap intervals. The gate: at least 7 days of shadow and a lift of more than
5% on both AUC-PR and Tier A precision. Promotion through the gate is one audited action."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.modeling import metrics
from core.features.build import as_utc
from core.monitoring.reference import NEAR_CONTACT_DAYS, first_tiers
from core.operation import audited
from core.warehouse import Warehouse
from core.warehouse.sql import literal

MIN_DAYS = 7
MIN_LIFT = 0.05
BOOTSTRAP = 300


@dataclass(frozen=True)
class Shadow:
    """The challenger scoring in shadow: which model, since when, started by whom."""
    model_id: str
    started_at: pd.Timestamp
    started_by: str


@dataclass(frozen=True)
class OnMaturedLeads:
    """One model on the leads both have scored and that have matured."""
    auc_pr: float
    tier_a_precision: float
    tier_a_leads: int


@dataclass(frozen=True)
class ShadowComparison:
    """Champion vs challenger on the new leads both scored since the shadow began, once matured (``models compare``): each model's
    AUC-PR and Tier A precision, the relative lifts with paired bootstrap 95% intervals, and the gate. Before any
    lead has matured the measures are None and the gate fails with that reason."""
    challenger: str
    started_at: str
    days_in_shadow: int
    matured_leads: int
    positives: int
    gate_passed: bool
    reasons: tuple[str, ...]
    champion: OnMaturedLeads | None = None
    challenger_metrics: OnMaturedLeads | None = None
    auc_pr_lift: float | None = None
    auc_pr_lift_ci: tuple[float | None, float | None] = (None, None)
    tier_a_precision_lift: float | None = None
    tier_a_precision_lift_ci: tuple[float | None, float | None] = (None, None)

    @property
    def measured(self) -> bool:
        return self.champion is not None and self.challenger_metrics is not None

    def to_json(self) -> dict:
        """``models compare --json`` and the monitoring run's ``shadow`` (cli.md)."""
        return asdict(self) | {"reasons": list(self.reasons), "auc_pr_lift_ci": list(self.auc_pr_lift_ci),
                               "tier_a_precision_lift_ci": list(self.tier_a_precision_lift_ci)}

    @classmethod
    def from_json(cls, d: dict) -> "ShadowComparison":
        """A comparison as a monitoring run stored it (the run's JSON)."""
        on = lambda v: OnMaturedLeads(**v) if v else None  # noqa: E731
        return cls(d["challenger"], d["started_at"], int(d["days_in_shadow"]), int(d["matured_leads"]),
                   int(d["positives"]), bool(d["gate_passed"]), tuple(d.get("reasons") or ()), on(d.get("champion")),
                   on(d.get("challenger_metrics")), d.get("auc_pr_lift"), tuple(d.get("auc_pr_lift_ci") or (None, None)),
                   d.get("tier_a_precision_lift"), tuple(d.get("tier_a_precision_lift_ci") or (None, None)))

    def markdown(self) -> str:
        lines = [f"Challenger {self.challenger} in shadow since {self.started_at[:16]} ({self.days_in_shadow} days); "
                 f"{self.matured_leads:,} leads scored by both have matured ({self.positives} MQLs)."]
        if self.measured:
            c, h = self.champion, self.challenger_metrics
            lo, hi = self.auc_pr_lift_ci
            lines.append(f"AUC-PR: champion {c.auc_pr:.3f}, challenger {h.auc_pr:.3f}, lift {_pct(self.auc_pr_lift)} "
                         f"(95% CI {_pct(lo)} to {_pct(hi)})")
            lo, hi = self.tier_a_precision_lift_ci
            lines.append(f"Tier A precision: champion {c.tier_a_precision:.1%}, challenger {h.tier_a_precision:.1%}, "
                         f"lift {_pct(self.tier_a_precision_lift)} (95% CI {_pct(lo)} to {_pct(hi)})")
        lines.append(f"Gate (≥ {MIN_DAYS} days, > {MIN_LIFT:.0%} on both): "
                     + ("PASS" if self.gate_passed else "FAIL — " + "; ".join(self.reasons)))
        return "\n".join(lines)


def active_shadow(wh: Warehouse) -> Shadow | None:
    with wh.reader() as s:
        if not s.table_exists("ops.shadow"):
            return None
        df = s.query("select model_id, started_at, started_by from ops.shadow where stopped_at is null "
                     "order by started_at desc limit 1")
    if df.empty:
        return None
    r = df.iloc[0]
    return Shadow(str(r.model_id), pd.Timestamp(r.started_at), str(r.started_by))


@audited("train_promote", "shadow_start", target=lambda a: a["model_id"])
def start_shadow(wh: Warehouse, model_id: str, actor: Actor | None = None) -> Shadow:
    with wh.writer("start shadow") as s:
        row = s.query(f"select model_id, is_champion from ml.models where model_id = {literal(model_id)}") \
            if s.table_exists("ml.models") else pd.DataFrame()
        if row.empty:
            raise LeadScoringError(f"No model {model_id}: see `python -m core models list`.")
        if bool(row.is_champion.iloc[0]):
            raise LeadScoringError(f"{model_id} is the champion; shadow a challenger (another trained model).")
        now = datetime.now(timezone.utc)
        if s.table_exists("ops.shadow"):
            s.execute(f"update ops.shadow set stopped_at = {literal(now.isoformat())} where stopped_at is null")
        s.load("ops.shadow", pd.DataFrame({"model_id": [model_id], "started_at": [now], "started_by": [actor.username],
                                           "stopped_at": pd.Series([pd.NaT], dtype="datetime64[us, UTC]")}), mode="append")
        audit.record(s, actor, "shadow_start", model_id, "ok", {})
    return Shadow(model_id, pd.Timestamp(now), actor.username)


@audited("train_promote", "shadow_stop")
def stop_shadow(wh: Warehouse, actor: Actor | None = None) -> str | None:
    current = active_shadow(wh)
    if current is None:
        raise LeadScoringError("No challenger is in shadow: start one with `python -m core models shadow MODEL_ID`.")
    with wh.writer("stop shadow") as s:
        s.execute("update ops.shadow set stopped_at = current_timestamp() where stopped_at is null")
        audit.record(s, actor, "shadow_stop", current.model_id, "ok", {})
    return current.model_id


def score_shadow(session, challenger, X: pd.DataFrame, lead_ids: pd.Series, contacted_at: pd.Series, score_date: str,
                 capacity: int, a_factor: float, b_factor: float, boost=0.0, window=None, as_of=None) -> int:
    """Score the challenger on the same open leads as the champion and store it (inside the scoring write).
    ``boost``: each lead's priority boost (spec §5.8), the champion's: a boost depends on the lead, not the model,
    so both Tier A lists are ranked the same way and the gate compares the models alone; so do ``window`` and
    ``as_of`` (leads inside their outcome window first, see assign_tiers)."""
    from core.scoring.tiers import assign_tiers, stored_prob

    prob = challenger.predict(X)
    t = assign_tiers(pd.DataFrame({"lead_id": lead_ids.to_numpy(), "prob": stored_prob(prob), "boost": boost,
                                   "contacted_at": contacted_at.to_numpy()}), capacity, a_factor, b_factor, window, as_of)
    t = t.rename(columns={"prob": "prob_mql_30d"}).assign(score_date=score_date, model_version=challenger.model_id)
    if session.table_exists("ml.shadow_scores"):
        session.execute(f"delete from ml.shadow_scores where score_date = {literal(score_date)} "
                        f"and model_version = {literal(challenger.model_id)}")
    session.load("ml.shadow_scores", t[["score_date", "lead_id", "model_version", "prob_mql_30d", "tier", "rank"]],
                 mode="append")
    return len(t)


def compare(wh: Warehouse, settings: Settings, as_of=None, seed: int = 0) -> ShadowComparison:
    """Champion vs the shadowed challenger on new leads first scored by both since the shadow began (within 8
    days of contact) and matured since: AUC-PR and Tier A precision of each, the relative lifts with paired
    bootstrap 95% intervals, and the spec's gate as pass/fail with the reasons. ``as_of``: the wall-clock time
    the days in shadow are counted to (now by default)."""
    sh = active_shadow(wh)
    if sh is None:
        raise LeadScoringError("No challenger is in shadow: start one with `python -m core models shadow MODEL_ID`.")
    start = as_utc(sh.started_at)
    days = int((as_utc(as_of if as_of is not None else pd.Timestamp.now(tz="UTC")) - start).days)
    pair = matured_pairs(wh, sh.model_id)
    head = dict(challenger=sh.model_id, started_at=str(start), days_in_shadow=days, matured_leads=int(len(pair)),
                positives=int(pair.label.sum()) if len(pair) else 0)
    if len(pair) == 0 or pair.label.nunique() < 2:
        return ShadowComparison(**head, gate_passed=False,
                                reasons=(f"no matured leads scored by both yet ({len(pair)} matured)",))
    champion, challenger, pr, pr_ci, prec, prec_ci = paired_lifts(pair, seed)
    reasons = []
    if days < MIN_DAYS:
        reasons.append(f"{days} days in shadow (need ≥ {MIN_DAYS})")
    if pr is None or pr <= MIN_LIFT:
        reasons.append(f"AUC-PR lift {_pct(pr)} (need > {MIN_LIFT:.0%})")
    if prec is None or prec <= MIN_LIFT:
        reasons.append(f"Tier A precision lift {_pct(prec)} (need > {MIN_LIFT:.0%})")
    return ShadowComparison(**head, gate_passed=not reasons, reasons=tuple(reasons), champion=champion,
                            challenger_metrics=challenger, auc_pr_lift=pr, auc_pr_lift_ci=pr_ci,
                            tier_a_precision_lift=prec, tier_a_precision_lift_ci=prec_ci)


def matured_pairs(wh: Warehouse, challenger: str) -> pd.DataFrame:
    """Per lead, the champion's and the challenger's first score and tier since the shadow's first daily run, with
    the matured label: new leads only (both first scores on the contact day or within NEAR_CONTACT_DAYS after it) — an older open lead
    rescored while the shadow ran has a label both models may have trained on (the challenger, trained later, on
    more of them)."""
    with wh.reader() as s:
        chal = s.query(f"select lead_id, score_date, prob_mql_30d, tier, rank from ml.shadow_scores where model_version = "
                       f"{literal(challenger)}") if s.table_exists("ml.shadow_scores") else pd.DataFrame(
                           columns=["lead_id", "score_date", "prob_mql_30d", "tier", "rank"])
        # the champion from the shadow's first daily run on (score dates are the data's as-of, not the wall clock)
        since = chal.score_date.min() if len(chal) else None
        champ = s.query(f"select lead_id, score_date, prob_mql_30d, tier, rank from ml.score_history "
                        f"where score_date >= {literal(str(since))}") if since is not None else chal.iloc[:0]
        labels = s.query("select lead_id, label, contacted_at from ml.lead_labels "
                         "where label_status in ('positive', 'negative')")
    pair = first_tiers(champ).merge(first_tiers(chal), on="lead_id", suffixes=("_champion", "_challenger")) \
        .merge(labels, on="lead_id")
    contact_day = pd.to_datetime(pair.contacted_at, utc=True).dt.tz_localize(None).dt.normalize()
    near = lambda d: pd.to_datetime(d).between(contact_day, contact_day + pd.Timedelta(days=NEAR_CONTACT_DAYS))  # noqa: E731
    # (a recycled lead's first scores may come from an earlier outreach, before this contact: not judged by them)
    return pair[near(pair.score_date_champion) & near(pair.score_date_challenger)].reset_index(drop=True)


def paired_lifts(pair: pd.DataFrame, seed: int = 0):
    """Each model on the pairs, and the challenger's relative lifts over the champion (AUC-PR, Tier A precision)
    with paired bootstrap 95% intervals (the same resampled leads for both models)."""
    y = pair.label.to_numpy(int)
    pa, pb = pair.prob_mql_30d_champion.to_numpy(), pair.prob_mql_30d_challenger.to_numpy()
    ta, tb = (pair.tier_champion == "A").to_numpy(), (pair.tier_challenger == "A").to_numpy()

    def stats(idx):
        yy = y[idx]
        a_pr, b_pr = metrics.auc_pr(yy, pa[idx]) or 0.0, metrics.auc_pr(yy, pb[idx]) or 0.0
        a_p = yy[ta[idx]].mean() if ta[idx].any() else 0.0
        b_p = yy[tb[idx]].mean() if tb[idx].any() else 0.0
        return a_pr, b_pr, a_p, b_p

    def lift(b, a):
        return float(b / a - 1) if a else None

    def ci(v):
        return (float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))) if v else (None, None)

    a_pr, b_pr, a_p, b_p = stats(np.arange(len(y)))
    rng = np.random.default_rng(seed)
    boots = np.array([stats(rng.integers(0, len(y), len(y))) for _ in range(BOOTSTRAP)])
    return (OnMaturedLeads(float(a_pr), float(a_p), int(ta.sum())), OnMaturedLeads(float(b_pr), float(b_p), int(tb.sum())),
            lift(b_pr, a_pr), ci([lift(r[1], r[0]) for r in boots if r[0]]),
            lift(b_p, a_p), ci([lift(r[3], r[2]) for r in boots if r[2]]))


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.1%}"


def shadow_summary(wh: Warehouse, settings: Settings) -> ShadowComparison | None:
    """The comparison a monitoring run carries; its days in shadow are counted on the wall clock, as the shadow's
    start is (a run's as-of is the data's)."""
    if active_shadow(wh) is None:
        return None
    return compare(wh, settings)


@audited("train_promote", "promote_challenger")
def promote_challenger(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> str:
    """Promote the shadowed challenger if — and only if — it passes the shadow gate; one audited action."""
    from core.modeling.registry import promote

    result = compare(wh, settings)
    if not result.gate_passed:
        raise LeadScoringError(f"The challenger {result.challenger} does not pass the shadow gate: "
                               + "; ".join(result.reasons) + ". Keep it in shadow longer or retrain.")
    promote(wh, result.challenger, actor, force=True, reason=f"passed the shadow gate: auc_pr_lift "
            f"{_pct(result.auc_pr_lift)}, tier_a_precision_lift {_pct(result.tier_a_precision_lift)}")
    stop_shadow(wh, actor)
    return result.challenger
