"""The experiment's units: one row per lead with its arm, stratum, score at assignment, matured 30-day
outcome and dials inside the window — the same frame for engine-assigned and tagged experiments.

Strata (spec §8.2), computed from the point-in-time features of each lead (never from the arm or the tag):

- ``aum_tier``: firm AUM under $100M, $100M–$500M, $500M+, or unknown;
- ``completeness``: no discovery data (no CRD match), rich (≤ 10% of MarketPro fields empty) or sparse;
- ``metro``: the advisor lives in a metropolitan area, or not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import LeadScoringError
from core.features.build import as_utc
from core.ingest.activities import has_activities, lead_dials
from core.warehouse import Session

STRATA = ("aum_tier", "completeness", "metro")
STRATUM_LEVELS = {
    "aum_tier": ("under $100M", "$100M–$500M", "$500M+", "AUM unknown"),
    "completeness": ("rich discovery data", "sparse discovery data", "no discovery data"),
    "metro": ("in a metro", "no metro"),
}
BALANCE_EXCLUDE = ("lead_id", "contacted_at", "label_status", "label", "snapshot_month", "snapshot_at_risk")


def check_strata(strata) -> tuple[str, ...]:
    names = tuple(s.strip() for s in (strata.split(",") if isinstance(strata, str) else strata) if s.strip())
    unknown = [s for s in names if s not in STRATA]
    if unknown:
        raise LeadScoringError(f"--strata: unknown stratum {unknown[0]!r}; choose from {', '.join(STRATA)} "
                               "(comma-separated), e.g. --strata aum_tier,completeness.")
    return names


def strata_columns(features: pd.DataFrame) -> pd.DataFrame:
    """aum_tier, completeness and metro per lead from the feature rows (lead_id kept)."""
    aum = pd.to_numeric(features.get("TotalAssetsInMillions"), errors="coerce")
    matched = pd.to_numeric(features.get("Has_Discovery_Data"), errors="coerce").fillna(0) > 0
    missing = pd.to_numeric(features.get("Discovery_Fields_Missing"), errors="coerce").fillna(1.0)
    metro = features.get("cat_Metro")
    metro = metro.fillna("").astype(str).str.strip() if metro is not None else pd.Series("", index=features.index)
    lv = STRATUM_LEVELS
    return pd.DataFrame({
        "lead_id": features["lead_id"].to_numpy(),
        "aum_tier": np.select([aum.isna(), aum < 100, aum < 500], [lv["aum_tier"][3], lv["aum_tier"][0], lv["aum_tier"][1]],
                              lv["aum_tier"][2]),
        "completeness": np.where(~matched, lv["completeness"][2],
                                 np.where(missing <= 0.10, lv["completeness"][0], lv["completeness"][1])),
        "metro": np.where(metro != "", lv["metro"][0], lv["metro"][1]),
    })


def stratum_label(frame: pd.DataFrame, strata: tuple[str, ...]) -> pd.Series:
    if not strata:
        return pd.Series("all leads", index=frame.index)
    out = frame[strata[0]].astype(str)
    for col in strata[1:]:
        out = out + " · " + frame[col].astype(str)
    return out


def lead_features(s: Session, lead_ids=None) -> pd.DataFrame:
    if not s.table_exists("ml.lead_features"):
        raise LeadScoringError("No features yet: run build-features (or the daily run) first.")
    feats = s.query("select * from ml.lead_features")
    return feats if lead_ids is None else feats[feats["lead_id"].isin(set(lead_ids))]


FIRST_SCORE_DAYS = 7  # a score later than this after contact is no longer "pre-assignment"


def first_scores(s: Session) -> pd.DataFrame:
    """Each lead's first score within a week of its contact (the score an assignment at contact would see;
    later ones could already reflect the treatment, so they are not used as a covariate)."""
    if not s.table_exists("ml.score_history"):
        return pd.DataFrame(columns=["lead_id", "first_score"])
    rows = s.query(
        "select h.lead_id, h.prob_mql_30d as first_score, h.scored_at "
        "from ml.score_history as h inner join ml.lead_labels as l on h.lead_id = l.lead_id "
        "where h.scored_at >= l.contacted_at "
        f"and h.scored_at <= timestamp_add(l.contacted_at, interval {FIRST_SCORE_DAYS} day)"
    )
    rows = rows.sort_values(["lead_id", "scored_at"]).drop_duplicates("lead_id")
    return rows[["lead_id", "first_score"]]


def labels_as_of(s: Session) -> pd.Timestamp:
    """When the labels were built (the loaded export's time, never the wall clock), in UTC."""
    as_of = as_utc(s.scalar("select max(as_of) from ml.lead_labels")) if s.table_exists("ml.lead_labels") else None
    if as_of is None:
        raise LeadScoringError("No labels yet: run build-features (or the daily run) first.")
    return as_of


def outcomes(s: Session, window_days: int) -> tuple[pd.DataFrame, bool]:
    """Per contacted lead: contacted_at, mql_at, defect flag, dials in the window. Also whether any dial
    data is loaded (without it the readout falls back to MQL rate per lead)."""
    if not s.table_exists("ml.lead_labels"):
        raise LeadScoringError("No labels yet: run build-features (or the daily run) first.")
    labels = s.query("select lead_id, contacted_at, mql_at, label_status from ml.lead_labels "
                     "where contacted_at is not null")
    dials = lead_dials(s, window_days)
    out = labels.merge(dials, on="lead_id", how="left")
    for c in ("dials", "connected_dials", "sgas"):
        out[c] = pd.to_numeric(out.get(c), errors="coerce").fillna(0).astype(int)
    return out, has_activities(s)


def converted_leads(s: Session) -> set[str]:
    """Ids of the Leads Salesforce says were converted (IsConverted), empty where the export lacks the column."""
    if not s.table_exists("marts.dim_leads") or "isconverted" not in s.columns("marts.dim_leads"):
        return set()
    return set(s.query("select Id from marts.dim_leads where IsConverted")["Id"])


CONVERTED_DIALS_SHARE = 0.25  # converted MQLs with under a quarter of the dials of the MQLs not converted


def converted_dials_note(m: pd.DataFrame, converted: set[str], min_leads: int = 10) -> str | None:
    """Salesforce moves a Lead's Tasks to its Contact when the Lead converts: the Task export's WhoId then names
    the Contact, and the converted leads' dials are lost to the readout. Their MQLs stay, so MQLs per 100 dials
    reads high, most in the arm with more conversions. Said when the matured MQLs that converted carry under a
    quarter of the dials of those that did not (``m``: matured leads with ``mql`` and ``dials``)."""
    mql = m[m["mql"] == 1]
    was = mql["lead_id"].isin(converted)
    conv, other = mql.loc[was, "dials"], mql.loc[~was, "dials"]
    if len(conv) < min_leads or len(other) < min_leads or other.mean() <= 0 \
            or conv.mean() >= CONVERTED_DIALS_SHARE * other.mean():
        return None
    return (f"Converted leads' dials look missing: the {len(conv):,} matured MQLs converted in Salesforce carry "
            f"{conv.mean():.1f} dials each, those not converted {other.mean():.1f}. Salesforce moves a Lead's "
            "Tasks to its Contact when it converts, so the Task export no longer names the Lead: MQLs per 100 dials "
            "reads high, most in the arm with more conversions. Read the MQL rate per lead beside it, or export the "
            "Tasks before conversion (or with the converted Lead's Id as WhoId).")


STALE_DIALS_SLACK_DAYS = 4  # a long weekend without a logged call is not a stale Task export
STALE_DIALS_SHARE = 0.02


def newest_dial(s: Session) -> pd.Timestamp | None:
    """When the newest dial loaded was logged (None without call activity)."""
    if not s.table_exists("marts.fact_tasks"):
        return None
    return as_utc(s.scalar("select max(created_at) from marts.fact_tasks where is_dial"))


def stale_dials_note(m: pd.DataFrame, newest: pd.Timestamp | None, window_days: int) -> str | None:
    """The Task export (or the last Task pull) ends before the matured leads' dial windows do: the dials after it
    are missing, so MQLs per 100 dials read high in both arms — a Lead export refreshed daily beside a Task export
    loaded once. Said when 2%+ (and 10+) of the matured leads' windows run more than a few days past the newest
    dial loaded (``m``: matured leads with ``contacted_at``)."""
    if newest is None or m.empty:
        return None
    ends = pd.to_datetime(m["contacted_at"], utc=True) + pd.Timedelta(days=window_days)
    late = int((ends > newest + pd.Timedelta(days=STALE_DIALS_SLACK_DAYS)).sum())
    if late < max(10, STALE_DIALS_SHARE * len(m)):
        return None
    return (f"The call activity loaded ends {newest:%d %b %Y}, but the {window_days}-day windows of {late:,} matured "
            f"leads ({late / len(m):.0%}) run past it: their later dials are missing, so MQLs per 100 dials read high "
            "in both arms. Load a newer Task export (Upload exports → Salesforce Task export) or pull call activity "
            "(Salesforce sync), then read out again.")


def matured(frame: pd.DataFrame, as_of: pd.Timestamp, window_days: int) -> pd.DataFrame:
    """Leads whose outcome window has closed by ``as_of``, with ``mql`` (booked inside the window and by
    ``as_of``); MQLs stamped before contact (defects) are excluded, as in training."""
    window = pd.Timedelta(days=window_days)
    contacted = pd.to_datetime(frame["contacted_at"], utc=True)
    mql_at = pd.to_datetime(frame["mql_at"], utc=True)
    done = (contacted + window <= as_of) & (contacted <= as_of)
    defect = mql_at.notna() & (mql_at < contacted) & (mql_at <= as_of)
    out = frame[done & ~defect].copy()
    m = mql_at[out.index]
    c = contacted[out.index]
    out["mql"] = (m.notna() & (m <= as_of) & (m - c <= window)).astype(int)
    return out


def tag_assignments(s: Session, name: str) -> tuple[pd.DataFrame, int]:
    """Leads tagged ``NAME:ARM`` in Experimentation_Tag__c, and how many tags of NAME were malformed."""
    if not s.table_exists("marts.dim_leads"):
        raise LeadScoringError("No Salesforce leads loaded: run load-leads first.")
    cols = s.columns("marts.dim_leads")
    if "experimentation_tag__c" not in cols:
        return pd.DataFrame(columns=["lead_id", "arm"]), 0
    tags = _tags(s)
    tags = tags[tags["name"].str.lower() == name.strip().lower()]
    if tags.empty:
        return pd.DataFrame(columns=["lead_id", "arm"]), 0
    arm = tags["tag"].str.split(":", n=1).str[1].fillna("").astype(str).str.strip().str.lower()
    ok = arm.str.fullmatch(r"[a-z0-9_][a-z0-9_ -]{0,39}")
    return pd.DataFrame({"lead_id": tags.loc[ok, "lead_id"], "arm": arm[ok]}), int((~ok).sum())


def tagged_experiments(s: Session) -> pd.DataFrame:
    """Experiments recorded in Experimentation_Tag__c: name, leads, arms."""
    if not s.table_exists("marts.dim_leads") or "experimentation_tag__c" not in s.columns("marts.dim_leads"):
        return pd.DataFrame(columns=["name", "leads", "arms", "first_contact", "last_contact"])
    tags = _tags(s)
    tags["arm"] = tags["tag"].str.split(":", n=1).str[1].fillna("").str.strip().str.lower()
    return (tags.groupby("name").agg(
        leads=("lead_id", "size"), arms=("arm", lambda a: ", ".join(sorted(x for x in set(a) if x))),
        first_contact=("contacted_at", "min"), last_contact=("contacted_at", "max"))
        .reset_index().sort_values("name"))


def _tags(s: Session) -> pd.DataFrame:
    tags = s.query(
        "select Id as lead_id, trim(Experimentation_Tag__c) as tag, Stage_Entered_Contacting__c as contacted_at "
        "from marts.dim_leads where Experimentation_Tag__c is not null and trim(Experimentation_Tag__c) != ''"
    )
    tags["name"] = tags["tag"].str.split(":", n=1).str[0].str.strip()
    return tags


def matured_units(s: Session, window_days: int, as_of=None) -> tuple[pd.DataFrame, bool, pd.Timestamp]:
    """Every lead matured by ``as_of`` (default: the latest contact) with its outcome, dials, strata columns
    (unknown when unmatched) and first score — what power analysis and the A/A test draw from. Also whether
    call activity is loaded, and the as_of used."""
    out, has_dials = outcomes(s, window_days)
    feats = lead_features(s)
    scores = first_scores(s)
    as_of = pd.to_datetime(out["contacted_at"], utc=True).max() if as_of is None else as_of
    m = matured(out, as_of, window_days)
    m = m.merge(strata_columns(feats), on="lead_id", how="left").fillna({c: "unknown" for c in STRATA})
    return m.merge(scores, on="lead_id", how="left"), has_dials, as_of
