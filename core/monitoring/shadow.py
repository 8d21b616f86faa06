"""Champion–challenger (spec §9.4): a challenger scores beside the champion in every daily run — stored in
ml.shadow_scores, never written to Salesforce — and is compared on the leads that have matured since the
shadow began, with paired bootstrap intervals. The gate: at least 7 days of shadow and a lift of more than
5% on both AUC-PR and Tier A precision. Promotion through the gate is one audited action."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.modeling import metrics
from core.monitoring.reference import first_tiers
from core.operation import audited
from core.warehouse import Warehouse
from core.warehouse.sql import literal

MIN_DAYS = 7
MIN_LIFT = 0.05
BOOTSTRAP = 300


def active_shadow(wh: Warehouse) -> dict | None:
    with wh.reader() as s:
        if not s.table_exists("ops.shadow"):
            return None
        df = s.query("select * from ops.shadow where stopped_at is null order by started_at desc limit 1")
    return None if df.empty else df.iloc[0].to_dict()


@audited("train_promote", "shadow_start", target=lambda a: a["model_id"])
def start_shadow(wh: Warehouse, model_id: str, actor: Actor | None = None) -> dict:
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
    return {"model_id": model_id, "started_at": now.isoformat()}


@audited("train_promote", "shadow_stop")
def stop_shadow(wh: Warehouse, actor: Actor | None = None) -> str | None:
    current = active_shadow(wh)
    if current is None:
        raise LeadScoringError("No challenger is in shadow: start one with `python -m core models shadow MODEL_ID`.")
    with wh.writer("stop shadow") as s:
        s.execute("update ops.shadow set stopped_at = current_timestamp() where stopped_at is null")
        audit.record(s, actor, "shadow_stop", current["model_id"], "ok", {})
    return current["model_id"]


def score_shadow(session, challenger, X: pd.DataFrame, lead_ids: pd.Series, contacted_at: pd.Series, score_date: str,
                 capacity: int, a_factor: float, b_factor: float, boost=0.0, window=None, as_of=None) -> int:
    """Score the challenger on the same open leads as the champion and store it (inside the scoring write).
    ``boost``: each lead's priority boost (spec §5.8), the champion's: a boost depends on the lead, not the model,
    so both Tier A lists are ranked the same way and the gate compares the models alone; so do ``window`` and
    ``as_of`` (leads inside their outcome window first, see assign_tiers)."""
    from core.scoring.tiers import assign_tiers

    prob = challenger.predict(X)
    t = assign_tiers(pd.DataFrame({"lead_id": lead_ids.to_numpy(), "prob": np.round(prob, 6), "boost": boost,
                                   "contacted_at": contacted_at.to_numpy()}), capacity, a_factor, b_factor, window, as_of)
    t = t.rename(columns={"prob": "prob_mql_30d"}).assign(score_date=score_date, model_version=challenger.model_id)
    if session.table_exists("ml.shadow_scores"):
        session.execute(f"delete from ml.shadow_scores where score_date = {literal(score_date)} "
                        f"and model_version = {literal(challenger.model_id)}")
    session.load("ml.shadow_scores", t[["score_date", "lead_id", "model_version", "prob_mql_30d", "tier", "rank"]],
                 mode="append")
    return len(t)


def compare(wh: Warehouse, settings: Settings, as_of=None, seed: int = 0) -> dict:
    """Champion vs the shadowed challenger on leads first scored by both since the shadow began and matured
    since: AUC-PR and Tier A precision of each, the relative lifts with paired bootstrap 95% intervals, and the
    spec's gate as pass/fail with the reasons."""
    sh = active_shadow(wh)
    if sh is None:
        raise LeadScoringError("No challenger is in shadow: start one with `python -m core models shadow MODEL_ID`.")
    start = pd.Timestamp(sh["started_at"])
    since = start.strftime("%Y-%m-%d")
    with wh.reader() as s:
        champ = s.query(f"select lead_id, score_date, prob_mql_30d, tier, rank, model_version from ml.score_history "
                        f"where score_date >= {literal(since)}")
        chal = s.query(f"select lead_id, score_date, prob_mql_30d, tier, rank from ml.shadow_scores where model_version = "
                       f"{literal(sh['model_id'])}") if s.table_exists("ml.shadow_scores") else pd.DataFrame(
                           columns=["lead_id", "score_date", "prob_mql_30d", "tier", "rank"])
        labels = s.query("select lead_id, label from ml.lead_labels where label_status in ('positive', 'negative')")
    now = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now(tz="UTC")
    days = (now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")) - (start if start.tzinfo else start.tz_localize("UTC"))
    pair = first_tiers(champ).merge(first_tiers(chal), on="lead_id", suffixes=("_champion", "_challenger")).merge(labels, on="lead_id")
    out = {"challenger": sh["model_id"], "started_at": str(start), "days_in_shadow": int(days.days),
           "matured_leads": int(len(pair)), "positives": int(pair.label.sum()) if len(pair) else 0}
    if len(pair) == 0 or pair.label.nunique() < 2:
        out.update(gate_passed=False, reasons=[f"no matured leads scored by both yet ({len(pair)} matured)"])
        return out
    y = pair.label.to_numpy(int)
    pa, pb = pair.prob_mql_30d_champion.to_numpy(), pair.prob_mql_30d_challenger.to_numpy()
    ta, tb = (pair.tier_champion == "A").to_numpy(), (pair.tier_challenger == "A").to_numpy()

    def stats(idx):
        yy = y[idx]
        a_pr, b_pr = metrics.auc_pr(yy, pa[idx]) or 0.0, metrics.auc_pr(yy, pb[idx]) or 0.0
        a_p = yy[ta[idx]].mean() if ta[idx].any() else 0.0
        b_p = yy[tb[idx]].mean() if tb[idx].any() else 0.0
        return a_pr, b_pr, a_p, b_p

    a_pr, b_pr, a_p, b_p = stats(np.arange(len(y)))
    rng = np.random.default_rng(seed)
    boots = np.array([stats(rng.integers(0, len(y), len(y))) for _ in range(BOOTSTRAP)])

    def lift(b, a):
        return (b / a - 1) if a else None

    lifts_pr = [lift(r[1], r[0]) for r in boots if r[0]]
    lifts_p = [lift(r[3], r[2]) for r in boots if r[2]]
    ci = lambda v: [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))] if v else [None, None]  # noqa: E731
    out.update(champion={"auc_pr": a_pr, "tier_a_precision": a_p, "tier_a_leads": int(ta.sum())},
               challenger_metrics={"auc_pr": b_pr, "tier_a_precision": b_p, "tier_a_leads": int(tb.sum())},
               auc_pr_lift=lift(b_pr, a_pr), auc_pr_lift_ci=ci(lifts_pr),
               tier_a_precision_lift=lift(b_p, a_p), tier_a_precision_lift_ci=ci(lifts_p))
    reasons = []
    if out["days_in_shadow"] < MIN_DAYS:
        reasons.append(f"{out['days_in_shadow']} days in shadow (need ≥ {MIN_DAYS})")
    if out["auc_pr_lift"] is None or out["auc_pr_lift"] <= MIN_LIFT:
        reasons.append(f"AUC-PR lift {_pct(out['auc_pr_lift'])} (need > {MIN_LIFT:.0%})")
    if out["tier_a_precision_lift"] is None or out["tier_a_precision_lift"] <= MIN_LIFT:
        reasons.append(f"Tier A precision lift {_pct(out['tier_a_precision_lift'])} (need > {MIN_LIFT:.0%})")
    out.update(gate_passed=not reasons, reasons=reasons)
    return out


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:+.1%}"


def shadow_summary(wh: Warehouse, settings: Settings, as_of=None) -> dict | None:
    if active_shadow(wh) is None:
        return None
    return compare(wh, settings, as_of)


@audited("train_promote", "promote_challenger")
def promote_challenger(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> str:
    """Promote the shadowed challenger if — and only if — it passes the shadow gate; one audited action."""
    from core.modeling.registry import promote

    result = compare(wh, settings)
    if not result["gate_passed"]:
        raise LeadScoringError(f"The challenger {result['challenger']} does not pass the shadow gate: "
                               + "; ".join(result["reasons"]) + ". Keep it in shadow longer or retrain.")
    promote(wh, result["challenger"], actor, force=True, reason="passed the shadow gate: " + ", ".join(
        f"{k} {_pct(result[k])}" for k in ("auc_pr_lift", "tier_a_precision_lift")))
    stop_shadow(wh, actor)
    return result["challenger"]


def compare_markdown(r: dict) -> str:
    lines = [f"Challenger {r['challenger']} in shadow since {r['started_at'][:16]} ({r['days_in_shadow']} days); "
             f"{r['matured_leads']:,} leads scored by both have matured ({r['positives']} MQLs)."]
    if "champion" in r:
        c, h = r["champion"], r["challenger_metrics"]
        lo, hi = r["auc_pr_lift_ci"]
        lines.append(f"AUC-PR: champion {c['auc_pr']:.3f}, challenger {h['auc_pr']:.3f}, lift {_pct(r['auc_pr_lift'])} "
                     f"(95% CI {_pct(lo)} to {_pct(hi)})")
        lo, hi = r["tier_a_precision_lift_ci"]
        lines.append(f"Tier A precision: champion {c['tier_a_precision']:.1%}, challenger {h['tier_a_precision']:.1%}, "
                     f"lift {_pct(r['tier_a_precision_lift'])} (95% CI {_pct(lo)} to {_pct(hi)})")
    lines.append("Gate (≥ 7 days, > 5% on both): " + ("PASS" if r["gate_passed"] else "FAIL — " + "; ".join(r["reasons"])))
    return "\n".join(lines)
