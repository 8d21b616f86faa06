"""The readout of one experiment, engine-assigned or recorded in Experimentation_Tag__c, counting only
leads whose 30-day outcome window has closed.

Looks are fixed in advance (spec §8.6): the **interim** reads the leads contacted in the first 14 days once
their window has closed; the **final** reads every lead once the last planned lead has matured. Between the
two the readout shows the interim (daily peeking is not a look). Boundaries come from Lan–DeMets
O'Brien–Fleming spending (:mod:`core.experiments.stats`), at the interim's information fraction.

The decision statistic is the score-adjusted (CUPED-style) lift of the primary KPI when scores at
assignment are known for most leads, else the unadjusted lift.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.contingency_tables import StratifiedTable

from core.config import Settings
from core.errors import LeadScoringError
from core.export import markdown_table
from core.experiments import stats as S
from core.experiments import units as U
from core.experiments.design import INTERIM_DAYS, MIN_MQLS, Design, get_design
from core.features.build import as_utc, refuse_as_of_after
from core.features.owners import owner_labels, owner_names, relabel
from core.warehouse import Warehouse
from core.warehouse.sql import literal
from core.words import DECISION_WORDS

SRM_ALPHA = 0.001
SMD_LIMIT = 0.05
ALPHA = 0.05
MIN_SCORED_SHARE = 0.8  # adjust on the score only when this share of leads has a score at assignment


@dataclass
class LookStats:
    """Everything the decision needs from one set of matured leads (also what the A/A test repeats)."""
    arms: dict
    srm_p: float
    lift: S.Lift
    adjusted: S.Lift | None
    variance_reduction: float | None
    secondary: S.Lift  # MQL rate per lead
    cmh: dict

    @property
    def decision_lift(self) -> S.Lift:
        return self.adjusted if self.adjusted is not None and np.isfinite(self.adjusted.z) else self.lift


def _arm_summary(g: pd.DataFrame, primary_dials: bool) -> dict:
    dials, mqls = int(g["dials"].sum()), int(g["mql"].sum())
    return {"matured_leads": int(len(g)), "dials": dials, "mqls": mqls,
            "mqls_per_100_dials": round(100 * mqls / dials, 4) if dials else None,
            "mql_rate": round(mqls / len(g), 5) if len(g) else None}


def cmh(y: np.ndarray, treat: np.ndarray, stratum: np.ndarray) -> dict:
    """Cochran–Mantel–Haenszel across strata on MQL per lead (statsmodels StratifiedTable)."""
    tables = []
    for s in np.unique(stratum):
        m = stratum == s
        t, c = m & (treat == 1), m & (treat == 0)
        if t.sum() == 0 or c.sum() == 0:
            continue
        tab = np.array([[y[t].sum(), t.sum() - y[t].sum()], [y[c].sum(), c.sum() - y[c].sum()]], dtype=float)
        if tab[:, 0].sum() == 0 or tab[:, 1].sum() == 0:
            continue  # no information on the odds ratio in this stratum
        tables.append(tab)
    if not tables:
        return {"odds_ratio": None, "p_value": None, "heterogeneity_p": None, "strata_used": 0}
    st = StratifiedTable(np.dstack(tables))
    try:
        het = float(st.test_equal_odds().pvalue)
    except Exception:  # noqa: BLE001 - Breslow–Day needs non-degenerate tables
        het = None
    if het is not None and not np.isfinite(het):
        het = None
    return {"odds_ratio": float(st.oddsratio_pooled), "p_value": float(st.test_null_odds(correction=False).pvalue),
            "heterogeneity_p": het, "strata_used": len(tables)}


def look_stats(y, x, score, treat, stratum, shares_treat, primary_dials: bool, arms: tuple[str, str],
               with_cmh: bool = True) -> LookStats:
    """The statistics of one look. ``treat`` is 0/1; ``shares_treat`` the designed treatment share per lead."""
    t, c = treat == 1, treat == 0
    xt, xc = (x[t], x[c]) if primary_dials else (np.ones(t.sum()), np.ones(c.sum()))
    lift = S.relative_lift(S.ratio(y[t], xt), S.ratio(y[c], xc), ALPHA)
    secondary = S.relative_lift(S.ratio(y[t], np.ones(t.sum())), S.ratio(y[c], np.ones(c.sum())), ALPHA)
    adjusted = vr = None
    if score is not None and t.sum() > 2 and c.sum() > 2:
        at, ac, vr = S.adjusted_arms(y[t], xt, score[t], y[c], xc, score[c])
        adjusted = S.relative_lift(at, ac, ALPHA)
    expected_t = float(np.sum(shares_treat))
    srm = S.srm_p([int(t.sum()), int(c.sum())], [expected_t, len(treat) - expected_t]) if len(treat) else float("nan")
    return LookStats({}, srm, lift, adjusted, vr, secondary,
                     cmh(y, treat, stratum) if with_cmh else {})


@dataclass
class Readout:
    name: str
    source: str  # "engine" | "tag"
    design: Design
    as_of: pd.Timestamp
    primary_metric: str
    arms: dict
    look: int  # 0 before the interim, 1 interim, 2 final
    look_name: str
    stats: LookStats | None
    boundary: float | None
    decision: str
    warnings: list[str]
    strata: pd.DataFrame = field(default_factory=pd.DataFrame)
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    guardrails: list[dict] = field(default_factory=list)
    cumulative: pd.DataFrame = field(default_factory=pd.DataFrame)
    interim_fraction: float = 0.0
    planned: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        st = self.stats
        lift = st.lift if st else None
        adj = st.adjusted if st else None

        def num(v, d=6):
            return None if v is None or not np.isfinite(v) else round(float(v), d)

        return {
            "name": self.name, "source": self.source, "as_of": self.as_of.isoformat(),
            "primary_metric": self.primary_metric,
            "arms": self.arms,
            "srm_p": num(st.srm_p) if st else None,
            "effect": num(lift.effect) if lift else None,
            "ci_low": num(lift.ci_low) if lift else None,
            "ci_high": num(lift.ci_high) if lift else None,
            "p_value": num(lift.p_value) if lift else None,
            "adjusted_effect": num(adj.effect) if adj else None,
            "adjusted_ci_low": num(adj.ci_low) if adj else None,
            "adjusted_ci_high": num(adj.ci_high) if adj else None,
            "adjusted_p_value": num(adj.p_value) if adj else None,
            "variance_reduction": num(st.variance_reduction) if st and st.variance_reduction is not None else None,
            "z": num(st.decision_lift.z) if st else None,
            "boundary": num(self.boundary),
            "interim_fraction": num(self.interim_fraction),
            "mql_rate_effect": num(st.secondary.effect) if st else None,
            "mql_rate_ci_low": num(st.secondary.ci_low) if st else None,
            "mql_rate_ci_high": num(st.secondary.ci_high) if st else None,
            "cmh": st.cmh if st else None,
            "decision": self.decision, "look": self.look, "look_name": self.look_name,
            "planned": self.planned,
            "guardrails": self.guardrails,
            "balance_max_abs_smd": num(self.balance["abs_smd"].max()) if not self.balance.empty else None,
            "strata": json.loads(self.strata.to_json(orient="records")) if not self.strata.empty else [],
            "warnings": self.warnings,
        }

    def markdown(self) -> str:
        j = self.as_json()
        pct = lambda v: "—" if v is None else f"{v:+.1%}"  # noqa: E731
        lines = [f"# Experiment readout: {self.name}", "",
                 f"- As of {self.as_of:%Y-%m-%d %H:%M} UTC; {self.look_name}; decision: "
                 f"**{DECISION_WORDS.get(self.decision, self.decision)}**",
                 f"- Primary KPI: {self.primary_metric.replace('_', ' ')}; lift {pct(j['effect'])} "
                 f"(95% CI {pct(j['ci_low'])} to {pct(j['ci_high'])}, p = {j['p_value']})",
                 f"- Score-adjusted lift: {pct(j['adjusted_effect'])} (95% CI {pct(j['adjusted_ci_low'])} to "
                 f"{pct(j['adjusted_ci_high'])}); variance reduction {j['variance_reduction']}",
                 f"- Sequential boundary |z| ≥ {j['boundary']} (z = {j['z']}); SRM p = {j['srm_p']}", "",
                 "| arm | leads | matured | dials | MQLs | MQLs per 100 dials | MQL rate |", "|---|---|---|---|---|---|---|"]
        for arm, a in self.arms.items():
            lines.append(f"| {arm} | {a['leads']:,} | {a['matured_leads']:,} | {a['dials']:,} | {a['mqls']:,} | "
                         f"{a['mqls_per_100_dials']} | {a['mql_rate']} |")
        if self.guardrails:
            lines += ["", "## Guardrails", "", "| guardrail | status | detail |", "|---|---|---|"]
            lines += [f"| {g['guardrail']} | {g['status']} | {g['detail']} |" for g in self.guardrails]
        if not self.strata.empty:
            lines += ["", "## Per stratum", "", markdown_table(self.strata.round(4))]
        if self.warnings:
            lines += ["", "## Warnings", ""] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        rows = [{"section": "arm", "name": arm, **a} for arm, a in self.arms.items()]
        rows += [{"section": "stratum", **r} for r in self.strata.to_dict("records")]
        rows += [{"section": "guardrail", **g} for g in self.guardrails]
        rows += [{"section": "balance", **r} for r in self.balance.head(200).to_dict("records")]
        return pd.DataFrame(rows).to_csv(index=False)


# --- building the readout ---------------------------------------------------------------------------------
def _tag_design(name: str, assigned: pd.DataFrame) -> Design:
    arms = sorted(assigned["arm"].unique())
    if len(arms) != 2:
        raise LeadScoringError(f"Experimentation_Tag__c records {len(arms)} arm(s) for {name!r} ({', '.join(arms)}): "
                               "a readout compares exactly two arms (NAME:control and NAME:treatment).")
    control = "control" if "control" in arms else arms[0]
    treatment = next(a for a in arms if a != control)
    start = pd.to_datetime(assigned["contacted_at"], utc=True).min()
    end = pd.to_datetime(assigned["contacted_at"], utc=True).max() + pd.Timedelta(seconds=1)
    share = float((assigned["arm"] == treatment).mean())
    split = 0.5 if abs(share - 0.5) < 0.05 else share
    return Design(name=name, kind="tag", arms=(control, treatment), split=split, hidden_arms=(),
                  strata=U.STRATA, start_at=start, planned_end_at=end, planned_leads=len(assigned))


def gather(wh: Warehouse, settings: Settings, name: str) -> tuple[Design, pd.DataFrame, bool, list[str]]:
    """The design and one row per assigned lead (arm, stratum, score, contact, outcome, dials, features)."""
    design = get_design(wh, name)
    warnings: list[str] = []
    with wh.reader() as s:
        if design is not None:
            assigned = s.query("select lead_id, arm, stratum, score_at_assignment as score, split "
                               f"from ops.experiment_assignments where experiment = {literal(name)}")
            if assigned.empty:
                raise LeadScoringError(
                    f"Experiment {name!r} has no leads yet: leads contacted from {design.start_at:%Y-%m-%d} are "
                    "assigned by the daily run as they are scored (or run `experiment assign`).")
        else:
            assigned, malformed = U.tag_assignments(s, name)
            if malformed:
                warnings.append(f"{malformed} lead(s) tagged {name!r} without a valid arm (NAME:ARM) were left out.")
            if assigned.empty:
                raise LeadScoringError(f"No experiment named {name!r}: none was created in the engine (experiment "
                                       "list) and no lead carries Experimentation_Tag__c = "
                                       f"{name}:ARM.")
        outcome, has_dials = U.outcomes(s, settings.label_window_days)
        feats = U.lead_features(s, assigned["lead_id"])
        scores = U.first_scores(s) if design is None else None
    frame = assigned.merge(outcome, on="lead_id", how="inner")
    if design is None:
        design = _tag_design(name, frame)
        frame = frame.merge(scores, on="lead_id", how="left").rename(columns={"first_score": "score"})
        frame["split"] = design.split
    strata = U.strata_columns(feats)
    frame = frame.merge(strata, on="lead_id", how="left").fillna({c: "unknown" for c in U.STRATA})
    if "stratum" not in frame or frame["stratum"].isna().all():
        frame["stratum"] = U.stratum_label(frame, design.strata)
    # CMH and the A/A pool read the spec's three strata even when the design blocked on fewer.
    frame["analysis_stratum"] = U.stratum_label(frame, design.strata or U.STRATA)
    frame = frame.merge(feats.drop(columns=[c for c in ("contacted_at", "label_status", "label") if c in feats]),
                        on="lead_id", how="left", suffixes=("", "_feature"))
    if not has_dials:
        warnings.append("No call activity loaded (Upload exports: Salesforce Task export, or `load-activities`): "
                        "the primary KPI is the MQL rate per lead, not MQLs per 100 dials.")
    return design, frame, has_dials, warnings


def _lift_row(label: str, level: str, g: pd.DataFrame, treatment: str, primary_dials: bool) -> dict:
    t, c = g[g["arm"] == treatment], g[g["arm"] != treatment]
    xt = t["dials"].to_numpy(float) if primary_dials else np.ones(len(t))
    xc = c["dials"].to_numpy(float) if primary_dials else np.ones(len(c))
    lift = S.relative_lift(S.ratio(t["mql"].to_numpy(float), xt), S.ratio(c["mql"].to_numpy(float), xc))
    return {"by": label, "level": level, "treatment_leads": len(t), "control_leads": len(c),
            "treatment_mqls": int(t["mql"].sum()), "control_mqls": int(c["mql"].sum()),
            "effect": lift.effect, "ci_low": lift.ci_low, "ci_high": lift.ci_high}


def per_stratum(m: pd.DataFrame, treatment: str, primary_dials: bool) -> pd.DataFrame:
    """Heterogeneity (spec §8): the lift per AUM tier and per discovery completeness, with sample sizes."""
    rows = []
    for col, label in (("aum_tier", "AUM tier"), ("completeness", "Discovery data"), ("metro", "Metro")):
        for level in U.STRATUM_LEVELS[col]:
            g = m[m[col] == level]
            if len(g):
                rows.append(_lift_row(label, level, g, treatment, primary_dials))
    return pd.DataFrame(rows)


def balance(frame: pd.DataFrame, treatment: str) -> tuple[pd.DataFrame, dict]:
    """Standardised mean differences on every numeric feature between arms (all assigned leads)."""
    skip = set(U.BALANCE_EXCLUDE) | {"score", "split", "dials", "connected_dials", "sgas", "mql", "position"}
    num = [c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
           and not c.endswith("_feature")]
    t = frame.loc[frame["arm"] == treatment, num].to_numpy(float)
    c = frame.loc[frame["arm"] != treatment, num].to_numpy(float)
    if len(t) < 2 or len(c) < 2 or not num:
        return pd.DataFrame(columns=["feature", "smd", "abs_smd"]), {"guardrail": "Feature balance", "status": "n/a",
                                                                  "detail": "too few leads"}
    with np.errstate(all="ignore"):
        d = S.smd(t, c)
    out = pd.DataFrame({"feature": num, "smd": d, "abs_smd": np.abs(d)}).dropna().sort_values("abs_smd", ascending=False)
    over = int((out["abs_smd"] > SMD_LIMIT).sum())
    se = np.sqrt(1 / len(t) + 1 / len(c))
    chance = 2 * sps.norm.sf(SMD_LIMIT / se)
    expected = chance * len(out)
    limit = expected + 3 * np.sqrt(max(len(out) * chance * (1 - chance), 1e-9)) + 1
    status = "pass" if over <= limit else "warn"
    detail = (f"{over} of {len(out)} features differ by more than {SMD_LIMIT:.0%} of a standard deviation "
              f"(about {expected:.0f} expected by chance at these sample sizes); largest |SMD| {out['abs_smd'].max():.3f}")
    return out, {"guardrail": "Feature balance", "status": status, "detail": detail}


def guardrails(frame: pd.DataFrame, m: pd.DataFrame, treatment: str, has_dials: bool) -> list[dict]:
    """Spec §8.5: discovery coverage balance, high-AUM coverage, SGA workload across metros."""
    out = []
    t, c = frame[frame["arm"] == treatment], frame[frame["arm"] != treatment]
    if len(t) and len(c):
        pt = float((t["completeness"] != "no discovery data").mean())
        pc = float((c["completeness"] != "no discovery data").mean())
        pooled = (pt * len(t) + pc * len(c)) / (len(t) + len(c))
        se = np.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / len(t) + 1 / len(c)))
        p = float(2 * sps.norm.sf(abs(pt - pc) / se)) if se > 0 else 1.0
        out.append({"guardrail": "Discovery data coverage balance", "status": "pass" if p >= 0.01 else "warn",
                    "detail": f"treatment {pt:.1%} vs control {pc:.1%} of leads with discovery data (p = {p:.3f})"})
    high = m[m["aum_tier"] == "$500M+"]
    ht, hc = high[high["arm"] == treatment], high[high["arm"] != treatment]
    if len(ht) >= 10 and len(hc) >= 10 and has_dials:
        rt, rc = ht["dials"].mean(), hc["dials"].mean()
        ok = rt >= 0.9 * rc
        out.append({"guardrail": "High-AUM lead coverage", "status": "pass" if ok else "warn",
                    "detail": f"$500M+ leads get {rt:.2f} dials each in treatment vs {rc:.2f} in control "
                              f"({len(ht)} and {len(hc)} matured leads); the limit is 90% of control"})
    elif len(ht) or len(hc):
        out.append({"guardrail": "High-AUM lead coverage", "status": "n/a",
                    "detail": f"{len(ht)} treatment and {len(hc)} control matured $500M+ leads" +
                              ("" if has_dials else "; no call activity loaded")})
    if has_dials and "cat_Metro" in m:
        metro = m["cat_Metro"].fillna("no metro").astype(str)
        top = metro.value_counts().head(5).index
        g = m.assign(metro_name=np.where(metro.isin(top), metro, "other metros"))
        per = g.groupby(["metro_name", g["arm"] == treatment])["dials"].agg(["mean", "size"]).unstack()
        worst, detail = 0.0, "no metro with 30+ matured leads per arm"
        for metro_name, row in per.iterrows():
            if row[("size", True)] >= 30 and row[("size", False)] >= 30 and row[("mean", False)] > 0:
                diff = row[("mean", True)] / row[("mean", False)] - 1
                if abs(diff) >= abs(worst):
                    worst, detail = diff, (f"largest gap: {metro_name}, {row[('mean', True)]:.2f} vs "
                                           f"{row[('mean', False)]:.2f} dials per lead ({diff:+.0%})")
        out.append({"guardrail": "SGA workload across metros", "status": "pass" if abs(worst) <= 0.25 else "warn",
                    "detail": detail})
    return out


def _arrays(m: pd.DataFrame, treatment: str, use_score: bool):
    y = m["mql"].to_numpy(float)
    x = m["dials"].to_numpy(float)
    treat = (m["arm"] == treatment).to_numpy(int)
    score = None
    if use_score:
        sc = m["score"].to_numpy(float)
        score = np.where(np.isfinite(sc), sc, np.nanmean(sc))
    shares = m["split"].to_numpy(float) if "split" in m else np.full(len(m), 0.5)
    return y, x, score, treat, m["analysis_stratum"].astype(str).to_numpy(), shares


def decide(look: int, z: float, boundary: float, srm: float, interim_crossed: float | None = None) -> str:
    if np.isfinite(srm) and srm < SRM_ALPHA:
        return "invalid"
    if interim_crossed is not None:
        return "stop for efficacy" if interim_crossed > 0 else "stop for harm"
    if look == 0 or not np.isfinite(z):
        return "continue"
    if abs(z) >= boundary:
        return "stop for efficacy" if z > 0 else "stop for harm"
    return "continue" if look == 1 else "no effect"


def cumulative(m: pd.DataFrame, design: Design, treatment: str, primary_dials: bool, use_score: bool) -> pd.DataFrame:
    """Week by week: the cumulative lift, its z and the OBF-type boundary at that information fraction."""
    rows = []
    contacted = pd.to_datetime(m["contacted_at"], utc=True)
    week = design.start_at + pd.Timedelta(days=7)
    total = max(len(m), 1)
    while week <= design.planned_end_at + pd.Timedelta(days=7) and len(rows) < 200:
        sub = m[contacted < week]
        # a lift needs a few control MQLs to divide by; earlier weeks are too thin to draw
        if len(sub) >= 20 and sub["arm"].nunique() == 2 and sub.loc[sub["arm"] != treatment, "mql"].sum() >= 3:
            y, x, score, treat, stratum, shares = _arrays(sub, treatment, use_score)
            ls = look_stats(y, x, score, treat, stratum, shares, primary_dials, design.arms, with_cmh=False)
            lf = ls.decision_lift
            frac = min(len(sub) / max(design.planned_leads, total), 1.0)
            rows.append({"week": week, "leads": len(sub), "effect": lf.effect, "ci_low": lf.ci_low,
                         "ci_high": lf.ci_high, "z": lf.z, "information": frac,
                         "boundary": float(sps.norm.isf(S.obf_spent(frac, ALPHA) / 2)) if frac > 0 else np.nan})
        week += pd.Timedelta(days=7)
    return pd.DataFrame(rows)


def _as_of(wh: Warehouse, as_of) -> pd.Timestamp:
    """The given time (UTC), or the labels' as_of: the export time, never the wall clock. A given time after the
    labels' is refused: leads whose window was still open at the export would count as matured without an MQL."""
    with wh.reader() as s:
        known = U.labels_as_of(s)
    if as_of is None:
        return known
    as_of = as_utc(as_of)
    refuse_as_of_after(as_of, known, "the labels' as-of")
    return as_of


@dataclass
class Look:
    number: int  # 0 before the interim, 1 interim, 2 final
    name: str
    boundary: float | None
    data: tuple  # the arrays the look reads (see _arrays)
    crossed: float | None  # the interim z when it crossed its boundary (the decision then stands)


def _choose_look(m: pd.DataFrame, treatment: str, use_score: bool, primary_dials: bool, design: Design,
                 interim_end: pd.Timestamp, bounds: tuple, final_ready: bool, interim_ready: bool) -> Look:
    """Which fixed look this readout is, the leads it reads, and whether the interim already stopped it."""
    everyone = _arrays(m, treatment, use_score)
    interim_m = m[pd.to_datetime(m["contacted_at"], utc=True) < interim_end]
    crossed = None
    if interim_ready and len(interim_m) >= 20 and interim_m["arm"].nunique() == 2:
        z1 = look_stats(*_arrays(interim_m, treatment, use_score), primary_dials, design.arms,
                        with_cmh=False).decision_lift.z
        if np.isfinite(z1) and abs(z1) >= bounds[0]:
            crossed = z1
    if final_ready:
        return Look(2, "final look", bounds[1], everyone, crossed)
    if interim_ready:
        data = _arrays(interim_m, treatment, use_score) if len(interim_m) >= 20 else everyone
        return Look(1, "interim look (leads of the first 2 weeks)", bounds[0], data, crossed)
    return Look(0, "before the interim (descriptive only)", None, everyone, crossed)


def readout(wh: Warehouse, settings: Settings, name: str, as_of=None) -> Readout:
    design, frame, has_dials, warnings = gather(wh, settings, name)
    window = settings.label_window_days
    contacted = pd.to_datetime(frame["contacted_at"], utc=True)
    as_of = _as_of(wh, as_of)
    primary_dials = has_dials
    control, treatment = design.arms
    arms_present = set(frame["arm"])
    if arms_present - set(design.arms):
        warnings.append(f"Leads in unknown arms were left out: {', '.join(sorted(arms_present - set(design.arms)))}.")
        frame = frame[frame["arm"].isin(design.arms)]
    frame = frame[contacted.reindex(frame.index) <= as_of]
    m = U.matured(frame, as_of, window)
    if primary_dials and len(m):
        with wh.reader() as s:
            notes = [U.converted_dials_note(m, U.converted_leads(s)), U.stale_dials_note(m, U.newest_dial(s), window)]
        warnings += [n for n in notes if n]
    scored_share = float(np.isfinite(m["score"].to_numpy(float)).mean()) if len(m) else 0.0
    use_score = scored_share >= MIN_SCORED_SHARE
    if len(m) and not use_score:
        warnings.append(f"Only {scored_share:.0%} of matured leads have a score at assignment: the score-adjusted "
                        "estimate is not reported.")
    interim_end = design.start_at + pd.Timedelta(days=INTERIM_DAYS)
    t1 = min(INTERIM_DAYS / design.planned_days, 0.99)
    bounds = S.boundaries((round(t1, 4), 1.0), ALPHA)
    final_ready = as_of >= design.planned_end_at + pd.Timedelta(days=window)
    interim_ready = as_of >= interim_end + pd.Timedelta(days=window)
    arms = {}
    for arm in design.arms:
        summary = _arm_summary(m[m["arm"] == arm], primary_dials)
        arms[arm] = {"leads": int((frame["arm"] == arm).sum()), **summary}
    planned = {"start": design.start_at.isoformat(), "planned_end": design.planned_end_at.isoformat(),
               "interim_at": (interim_end + pd.Timedelta(days=window)).isoformat(),
               "final_at": (design.planned_end_at + pd.Timedelta(days=window)).isoformat(),
               "planned_leads": int(design.planned_leads), "matured_leads": int(len(m)),
               "mql_outcomes": int(m["mql"].sum()), "mql_target": MIN_MQLS}
    bal, bal_guard = balance(frame, treatment)
    with wh.reader() as s:  # an owning SGA's one-hot column by the SGA's name, not a Salesforce user id
        owners = owner_labels(bal.feature, owner_names(s))
    bal = relabel(bal.assign(label=bal.feature), owners, "label")
    base = dict(name=name, source=design.kind, design=design, as_of=as_of,
                primary_metric="mqls_per_100_dials" if primary_dials else "mql_rate", arms=arms,
                warnings=warnings, balance=bal, interim_fraction=t1, planned=planned)
    if len(m) < 20 or m["arm"].nunique() < 2 or m["mql"].sum() == 0:
        warnings.append(f"not enough matured leads yet: {len(m):,} of the planned {max(design.planned_leads, len(frame)):,} "
                        f"(a lead matures {window} days after contact; the interim reads on "
                        f"{(interim_end + pd.Timedelta(days=window)):%Y-%m-%d}).")
        return Readout(look=0, look_name="no look yet", stats=None, boundary=None, decision="continue",
                       guardrails=[bal_guard], **base)
    look = _choose_look(m, treatment, use_score, primary_dials, design, interim_end, bounds, final_ready,
                        interim_ready)
    if look.number == 0:
        warnings.append(f"The interim look reads on {(interim_end + pd.Timedelta(days=window)):%Y-%m-%d}, when the "
                        "first two weeks' leads have matured; figures so far are descriptive, not a decision.")
    data, boundary, crossed = look.data, look.boundary, look.crossed
    ls = look_stats(*data, primary_dials, design.arms)
    z = ls.decision_lift.z
    decision = decide(look.number, z, boundary if boundary is not None else np.inf, ls.srm_p, crossed)
    if np.isfinite(ls.srm_p) and ls.srm_p < SRM_ALPHA:
        warnings.insert(0, f"SAMPLE RATIO MISMATCH: {arms[treatment]['leads']:,} treatment vs "
                           f"{arms[control]['leads']:,} control leads against a designed {design.split:.0%} split "
                           f"(p = {ls.srm_p:.2g}). The assignment is broken; do not trust this readout.")
    srm_all = S.srm_p([arms[treatment]["leads"], arms[control]["leads"]],
                      [float(frame["split"].sum()), float(len(frame) - frame["split"].sum())])
    if np.isfinite(srm_all) and srm_all < SRM_ALPHA and decision != "invalid":
        decision = "invalid"
        warnings.insert(0, f"SAMPLE RATIO MISMATCH over all assigned leads (p = {srm_all:.2g}): do not trust this readout.")
    if m["mql"].sum() < MIN_MQLS and look.number == 2:
        warnings.append(f"{int(m['mql'].sum())} MQL outcomes, fewer than the spec's {MIN_MQLS}: the experiment ran "
                        "its planned weeks but is small; read the interval, not only the decision.")
    guards = [bal_guard, *guardrails(frame, m, treatment, has_dials)]
    return Readout(look=look.number, look_name=look.name, stats=ls, boundary=boundary, decision=decision,
                   strata=per_stratum(m, treatment, primary_dials), guardrails=guards,
                   cumulative=cumulative(m, design, treatment, primary_dials, use_score), **base)
