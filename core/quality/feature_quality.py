"""Feature data quality and leakage: the per-feature scorecard (spec §5.4), the class-imbalance summary
(spec Steps 3.1 / 3.3) and the leakage report (spec Step 3.2)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS, FeatureSet, build_features, feature_matrix, latest_feature_set
from core.features.catalog import QUEUE_PREFIX, all_features, blocked_sources, check_no_leakage, is_categorical
from core.warehouse import Warehouse
from core.words import when

MISSING_WARN = 0.5
SUSPICIOUS_AUC = 0.80
FIRST_DIAL_DAYS = 7  # the first dial within this many days of contact names the SGA who contacted the lead
OWNER_MISMATCH_SHARE = 0.20  # past this share of dialled leads, the owner at export is not the owner at contact


def scorecard(df: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Per feature: null rate, coverage, outlier share (beyond 3 IQR), min / median / max, warning."""
    rows = []
    for name in features:
        if is_categorical(name):  # raw text: coverage and number of levels, no quantiles
            null_rate = float(df[name].isna().mean()) if len(df) else 1.0
            rows.append({"feature": name, "null_rate": round(null_rate, 4), "coverage": round(1 - null_rate, 4),
                         "outlier_share": 0.0, "min": np.nan, "median": np.nan, "max": np.nan,
                         "levels": int(df[name].nunique(dropna=True)),
                         "warning": f"more than {MISSING_WARN:.0%} missing" if null_rate > MISSING_WARN else ""})
            continue
        col = pd.to_numeric(df[name], errors="coerce").astype(float)
        present = col.dropna()
        if present.empty:
            q1 = q3 = mn = med = mx = np.nan
            outliers = 0.0
        else:
            q1, med, q3 = present.quantile([0.25, 0.5, 0.75])
            iqr = q3 - q1
            outliers = float(((present < q1 - 3 * iqr) | (present > q3 + 3 * iqr)).mean()) if iqr > 0 else 0.0
            mn, mx = present.min(), present.max()
        null_rate = float(col.isna().mean()) if len(col) else 1.0
        rows.append({
            "feature": name, "null_rate": round(null_rate, 4), "coverage": round(1 - null_rate, 4),
            "outlier_share": round(outliers, 4), "min": mn, "median": med, "max": mx, "levels": None,
            "warning": f"more than {MISSING_WARN:.0%} missing" if null_rate > MISSING_WARN else "",
        })
    return pd.DataFrame(rows)


def _auc(score: pd.Series, label: pd.Series) -> float | None:
    """Single-feature ROC AUC by ranks (Mann-Whitney); missing values ranked lowest."""
    y = label.to_numpy()
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if pos == 0 or neg == 0:
        return None
    ranks = score.fillna(score.min() - 1 if score.notna().any() else 0).rank(method="average").to_numpy()
    auc = (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)
    return float(max(auc, 1 - auc))


def class_summary(df: pd.DataFrame) -> dict:
    """Totals, positives, imbalance ratio and conversion by AUM tier, weekday and metro (training rows)."""
    train = df[df.label_status.isin(["positive", "negative"])].copy()
    train["label"] = train["label"].astype(int)
    n, pos = len(train), int(train.label.sum())

    def rate_by(key: pd.Series) -> list[dict]:
        g = train.groupby(key.values, dropna=False)["label"].agg(["count", "sum"])
        return [{"group": str(k), "leads": int(r["count"]), "positives": int(r["sum"]),
                 "rate": round(r["sum"] / r["count"], 4) if r["count"] else None} for k, r in g.iterrows()]

    aum = train["TotalAssetsInMillions"]
    tier = pd.Series(np.select([aum < 100, aum <= 500, aum > 500], ["<$100M", "$100–500M", ">$500M"], "unknown"),
                     index=train.index)
    days = dict(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], start=1))
    weekday = train["Day_of_Contact"].map(days)
    metro_cols = [c for c in train.columns if c.startswith("Home_MetropolitanArea_")]
    metro = pd.Series("other / unknown", index=train.index)
    for c in metro_cols:
        metro[train[c] == 1] = c.removeprefix("Home_MetropolitanArea_")
    weekend = train[train.Is_Weekend_Contact == 1].label
    weekday_rows = train[train.Is_Weekend_Contact == 0].label
    statuses = df.label_status.value_counts().to_dict()
    return {
        "contacted_leads": int(len(df)), "training_rows": n, "positives": pos, "negatives": n - pos,
        "positive_rate": round(pos / n, 4) if n else None,
        "imbalance_ratio": round((n - pos) / pos, 2) if pos else None,
        "censored": int(statuses.get("censored", 0)),
        "defects_mql_before_contact": int(statuses.get("defect_mql_before_contact", 0)),
        "weekend_rate": round(float(weekend.mean()), 4) if len(weekend) else None,
        "weekday_rate": round(float(weekday_rows.mean()), 4) if len(weekday_rows) else None,
        "by_aum_tier": rate_by(tier), "by_weekday": rate_by(weekday), "by_metro": rate_by(metro),
        "discovery_coverage": round(float(df.Has_Discovery_Data.mean()), 4) if len(df) else None,
    }


@dataclass(frozen=True)
class LeakageReport:
    """The point-in-time and blocked-field report (spec Step 3.2). ``to_json`` is the CLI's
    ``leakage-report --json`` (its keys are the contract); ``markdown`` the terminal's and the page's text."""
    as_of: str | None
    contacted_leads: int
    features: int
    blocked_columns: dict[str, str]  # column → why it can never be a feature
    blocked_columns_in_features: list[str]
    columns_not_in_catalog: list[str]
    leakage_records: int  # spec Step 3.2: features from a snapshot dated after the contact month
    leakage_rate_percent: float
    at_risk_before_first_snapshot: int
    defects_mql_before_contact: int
    defect_examples: list[dict]  # the first 20 MQLs stamped before contact (lead id, times, days)
    suspicious_features: list[dict]  # {"feature", "single_feature_auc"} at or above SUSPICIOUS_AUC
    top_single_feature_auc: list[dict]
    # leads labelled negative that Salesforce says converted within their outcome window: MQLs the stage stamp missed?
    converted_without_mql: int = 0
    converted_examples: list[dict] = field(default_factory=list)  # the first 20 (lead id, contact time, conversion date)
    # leads labelled negative whose Status says a call was booked (MQL) but which have no MQL stamp
    status_mql_without_stamp: int = 0
    status_mql_examples: list[dict] = field(default_factory=list)  # the first 20 (lead id, contact time, status)
    # with call activity loaded: leads dialled in their first week, and those whose first dial was not by the Lead's
    # owner in the export (the owner features read that owner: reassigned after contact, they carry what followed)
    dialled_leads: int = 0
    owner_not_first_dialer: int = 0
    # contacted leads owned by a queue in the export (recycled after contact): the owner features impute their SGA
    queue_owned_leads: int = 0
    # the day of its month from which a territory month's snapshot is taken as known (settings.territory_known_day)
    territory_known_day: int = 1

    @property
    def clean(self) -> bool:
        return not (self.blocked_columns_in_features or self.columns_not_in_catalog or self.suspicious_features)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"clean": self.clean}

    def markdown(self) -> str:
        lines = [
            f"# Leakage report — as of {self.as_of}",
            "",
            f"**{'CLEAN' if self.clean else 'ATTENTION'}** — {self.features} features, {self.contacted_leads:,} contacted leads.",
            "",
            "| check | result |", "|---|---|",
            f"| post-contact / PII columns in the feature matrix | {len(self.blocked_columns_in_features)} |",
            f"| columns not defined in the catalog | {len(self.columns_not_in_catalog)} |",
            f"| features from a snapshot dated after the contact month (spec 3.2 leakage_records) | "
            f"{self.leakage_records:,} ({self.leakage_rate_percent}%) |",
            f"| contacted before the first snapshot (first snapshot used; at risk) | {self.at_risk_before_first_snapshot:,} |",
            f"| MQL stamped before contact (excluded from training) | {self.defects_mql_before_contact:,} |",
            f"| converted within the outcome window but no MQL stamp (labelled negative) | {self.converted_without_mql:,} |",
            f"| Status says MQL but no MQL stamp (labelled negative) | {self.status_mql_without_stamp:,} |",
            f"| features with single-feature AUC ≥ {SUSPICIOUS_AUC} (too good to be true) | {len(self.suspicious_features)} |",
            "",
            (f"A territory month's snapshot is taken as known from day {self.territory_known_day} of that month "
             f"(`territory_known_day`): a lead contacted before day {self.territory_known_day} reads the month "
             "before's." if self.territory_known_day > 1 else
             "A territory month's snapshot is taken as known from the 1st of that month (`territory_known_day` 1): "
             "a lead contacted any day of a month reads that month's. If your vendor's export lands later in the "
             "month, set `territory_known_day` to the day it lands, rebuild features and retrain."),
            "",
            "Columns that can never be features: " + ", ".join(f"{c} ({why})" for c, why in sorted(self.blocked_columns.items())),
            "",
            "Strongest single features: " + ", ".join(f"{a['feature']} {a['single_feature_auc']:.3f}"
                                                      for a in self.top_single_feature_auc),
        ]
        if self.dialled_leads:
            share = self.owner_not_first_dialer / self.dialled_leads
            lines += ["", f"Owner at contact: {self.owner_not_first_dialer:,} of {self.dialled_leads:,} leads dialled in "
                      f"their first {FIRST_DIAL_DAYS} days ({share:.0%}) were first dialled by an SGA other than the "
                      "Lead's owner in the export."]
            if share > OWNER_MISMATCH_SHARE:
                lines += ["Leads were reassigned after contact (a departed SGA's book, a queue, a hand-off at the "
                          "MQL): the owner features (cat_Owner, Owner_*) read the owner at export, so they describe "
                          "what happened after contact for these leads. Check the reassignments in Salesforce before "
                          "trusting the SGA effect."]
        if self.queue_owned_leads:
            lines += ["", f"{self.queue_owned_leads:,} contacted lead(s) are owned by a queue in the export (an Id "
                      f"starting {QUEUE_PREFIX}): no queue dials, so they were moved there after contact (recycled or "
                      "unassigned). Their SGA at contact is unknown: the owner features read the owner of the lead "
                      "contacted just before each, so the queue cannot teach the model what followed the contact."]
        if self.converted_without_mql:
            lines += ["", f"{self.converted_without_mql:,} lead(s) labelled negative were converted in Salesforce within "
                      "their outcome window with no Stage_Entered_Call_Scheduled__c stamp. If converting a Lead means a "
                      "discovery call was booked in your org, these are MQLs the labels miss (the model learns them as "
                      "failures): fix the stamp in Salesforce (or the flow that sets it), reload the Lead export and "
                      "rebuild the features before training."]
        if self.status_mql_without_stamp:
            lines += ["", f"{self.status_mql_without_stamp:,} lead(s) labelled negative have a Status that says a "
                      "discovery call was booked (e.g. 'MQL') but no Stage_Entered_Call_Scheduled__c stamp: the flow "
                      "that stamps it missed them (added later, or the stage skipped), so the labels miss these MQLs "
                      "and the model learns them as failures. Fill the stamp in Salesforce with when the call was "
                      "booked, reload the Lead export and rebuild the features before training."]
        if self.at_risk_before_first_snapshot:
            lines += ["", "Leads contacted before the first territory snapshot read a snapshot from after their contact: "
                      "load older monthly exports (`load-territories --month YYYY-MM`) to remove this risk."]
        return "\n".join(lines)


def _converted_without_mql(s, window_days: int) -> pd.DataFrame:
    """Leads labelled negative whose Lead Salesforce converted within the outcome window (IsConverted,
    ConvertedDate): in many orgs a Lead converts when the discovery call is booked, so each is an MQL the stage
    stamp may have missed. Empty where the export lacks either column."""
    have = s.columns("marts.dim_leads") if s.table_exists("marts.dim_leads") else set()
    if not {"isconverted", "converteddate"} <= set(have):
        return pd.DataFrame(columns=["lead_id", "contacted_at", "converted_on"])
    return s.query(
        "select l.lead_id, l.contacted_at, d.ConvertedDate as converted_on from ml.lead_labels as l "
        "join marts.dim_leads as d on d.Id = l.lead_id "
        "where l.label_status = 'negative' and d.IsConverted and d.ConvertedDate >= date(l.contacted_at) "
        f"and d.ConvertedDate <= date(timestamp_add(l.contacted_at, interval {int(window_days)} day)) "
        "order by l.contacted_at, l.lead_id")


# A Status naming a booked discovery call (the default org's 'MQL'; 'Call Scheduled', 'Meeting Booked' elsewhere).
MQL_STATUS = r"(?i)(^|[^a-z])(mql|call scheduled|meeting (booked|set|scheduled)|discovery (call )?(booked|scheduled))"


def _status_mql_without_stamp(s) -> pd.DataFrame:
    """Leads labelled negative whose current Status says an MQL was booked, with no MQL stamp."""
    return s.query(
        "select l.lead_id, l.contacted_at, d.Status as status from ml.lead_labels as l "
        "join marts.dim_leads as d on d.Id = l.lead_id "
        f"where l.label_status = 'negative' and l.mql_at is null and regexp_contains(d.Status, r'{MQL_STATUS}') "
        "order by l.contacted_at, l.lead_id")


def _owner_vs_first_dialer(s) -> tuple[int, int]:
    """(leads dialled within FIRST_DIAL_DAYS of contact, those whose first such dial was logged by someone other
    than the Lead's owner in the export); (0, 0) without call activity."""
    if not (s.table_exists("marts.fact_tasks") and s.table_exists("marts.dim_leads")):
        return 0, 0
    row = s.query(
        "with first_dial as ("
        "  select t.lead_id, min_by(t.owner_id, t.created_at) as dialer from marts.fact_tasks as t "
        "  join ml.lead_labels as l on l.lead_id = t.lead_id "
        "  where t.is_dial and t.created_at >= l.contacted_at "
        f"    and t.created_at < timestamp_add(l.contacted_at, interval {FIRST_DIAL_DAYS} day) "
        "  group by t.lead_id) "
        "select count(*) as dialled, countif(f.dialer is not null and d.OwnerId is not null and f.dialer != d.OwnerId) "
        "as other from first_dial as f join marts.dim_leads as d on d.Id = f.lead_id "
        f"where d.OwnerId is null or not starts_with(d.OwnerId, '{QUEUE_PREFIX}')").iloc[0]  # queues: queue_owned_leads
    return int(row.dialled), int(row.other)


def leakage_report(wh: Warehouse, settings: Settings) -> LeakageReport:
    fs = latest_feature_set(wh)
    df = feature_matrix(wh)
    features = [c for c in df.columns if c not in META_COLUMNS]
    catalog = all_features(fs.levels if fs else {})
    check_no_leakage(catalog)  # raises if the catalog itself reads a blocked column
    blocked = blocked_sources()
    contact_month = df.contacted_at.dt.strftime("%Y-%m")
    after_contact = int((df.snapshot_month > contact_month).sum())
    with wh.reader() as s:
        defects = s.query(
            "select lead_id, contacted_at, mql_at, seconds_to_mql / 86400.0 as days_to_mql "
            "from ml.lead_labels where label_status = 'defect_mql_before_contact' order by seconds_to_mql"
        )
        converted = _converted_without_mql(s, settings.label_window_days)
        status_mql = _status_mql_without_stamp(s)
        dialled, other_owner = _owner_vs_first_dialer(s)
        queued = int(s.scalar("select count(*) from ml.lead_labels as l join marts.dim_leads as d on d.Id = l.lead_id "
                              f"where starts_with(d.OwnerId, '{QUEUE_PREFIX}')")) \
            if s.table_exists("marts.dim_leads") and "ownerid" in s.columns("marts.dim_leads") else 0
    train = df[df.label_status.isin(["positive", "negative"])]
    aucs = []
    for name in features:
        auc = _auc(pd.to_numeric(train[name], errors="coerce"), train.label.astype(int))
        if auc is not None:
            aucs.append({"feature": name, "single_feature_auc": round(auc, 4)})
    return LeakageReport(
        as_of=str(fs.as_of) if fs else None, contacted_leads=int(len(df)), features=len(features),
        blocked_columns=blocked, blocked_columns_in_features=[c for c in features if c in blocked],
        columns_not_in_catalog=sorted(set(features) - {f.name for f in catalog}), leakage_records=after_contact,
        leakage_rate_percent=round(100 * after_contact / len(df), 2) if len(df) else 0.0,
        at_risk_before_first_snapshot=int(df.snapshot_at_risk.sum()), defects_mql_before_contact=int(len(defects)),
        defect_examples=defects.head(20).astype(str).to_dict(orient="records"),
        converted_without_mql=int(len(converted)),
        converted_examples=converted.head(20).astype(str).to_dict(orient="records"),
        status_mql_without_stamp=int(len(status_mql)),
        status_mql_examples=status_mql.head(20).astype(str).to_dict(orient="records"),
        dialled_leads=dialled, owner_not_first_dialer=other_owner, queue_owned_leads=queued,
        territory_known_day=int(settings.territory_known_day),
        suspicious_features=[a for a in aucs if a["single_feature_auc"] >= SUSPICIOUS_AUC],
        top_single_feature_auc=sorted(aucs, key=lambda a: -a["single_feature_auc"])[:10])


@dataclass(frozen=True)
class FeatureOverview:
    """Everything the Features & data quality page shows: the live build's meta, the catalog, the per-feature
    scorecard, the class-balance summary and the leakage report."""
    feature_set: FeatureSet | None
    catalog: pd.DataFrame
    scorecard: pd.DataFrame
    class_summary: dict
    leakage: LeakageReport

    def caption(self) -> str:
        fs = self.feature_set
        return f"{len(fs.features)} features built as of {when(fs.as_of)} · feature set {fs.feature_set_id}"

    def mostly_missing(self) -> list[str]:
        """Features more than half missing (the scorecard's warning)."""
        return self.scorecard.loc[self.scorecard.warning != "", "feature"].tolist()


def _overview(wh: Warehouse, settings: Settings) -> FeatureOverview:
    from core.features.catalog import catalog_frame

    fs = latest_feature_set(wh)
    df = feature_matrix(wh)
    features = [c for c in df.columns if c not in META_COLUMNS]
    return FeatureOverview(fs, catalog_frame(fs.levels if fs else None), scorecard(df, features), class_summary(df),
                           leakage_report(wh, settings))


def feature_overview(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> FeatureOverview:
    """The page's view in one call. With an ``actor`` allowed to build features, a warehouse whose features have
    not been built since the last upload gets them built first (the first visit after a load); without one the
    reason is raised in words."""
    try:
        return _overview(wh, settings)
    except LeadScoringError as exc:
        if actor is None:
            raise
        if not actor.can("build_features"):
            raise LeadScoringError("Features have not been built since the last upload. A RevOps user, an analyst "
                                   "or an admin builds them with 'Rebuild features' on the Features & data quality "
                                   "page.") from exc
    build_features(wh, settings, actor=actor)
    return _overview(wh, settings)
