"""Build labels and point-in-time features into ``ml.lead_labels`` / ``ml.lead_features``.

``as_of`` defaults to the export time of the loaded Lead file (cli.md), never the wall clock. One-hot
levels are learned from the training rows unless given (a model passes the levels it was trained with).

The live build (``into=""``) is the one scoring, monitoring, experiments and pages read. A named build
(``into="backtest"``) lands beside it in ``ml.lead_labels__backtest`` / ``ml.lead_features__backtest``: a
backtest or a first champion's training rows as of a past day never replace what everything else reads, and are
dropped with :func:`drop_build` when done.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings, check_timezone
from core.errors import LeadScoringError
from core.features.catalog import ONE_HOTS, PLAUSIBLE_RANGES, Feature, all_features, check_no_leakage, state_code
from core.ingest.loader import loaded_export_at
from core.ingest.territories import months_sql
from core.operation import audited
from core.warehouse import Session, Warehouse
from core.warehouse.sql import literal

META_COLUMNS = ("lead_id", "contacted_at", "label_status", "label", "snapshot_month", "snapshot_at_risk")
_HELPERS = {
    r"\bg1\b": "(CASE WHEN r.AUMGrowthRate_1Year IS NULL THEN NULL WHEN r.AUMGrowthRate_1Year < -50 THEN -50 "
               "WHEN r.AUMGrowthRate_1Year > 200 THEN 200 ELSE r.AUMGrowthRate_1Year END)",
    r"\bg5\b": "(CASE WHEN r.AUMGrowthRate_5Year IS NULL THEN NULL WHEN r.AUMGrowthRate_5Year < -50 THEN -50 "
               "WHEN r.AUMGrowthRate_5Year > 200 THEN 200 ELSE r.AUMGrowthRate_5Year END)",
    r"(?<![.\w])contacted_at\b": "lb.contacted_at",
    r"(?<![.\w])created_at\b": "lb.created_at",
}


@dataclass(frozen=True)
class FeatureSet:
    """A feature build's record (a row of ``ml.feature_sets``): its as-of time, the category levels its one-hot
    columns were built from, a fingerprint of its rows, its features and label counts."""
    feature_set_id: str
    as_of: pd.Timestamp
    levels: dict[str, list[str]]
    fingerprint: str
    features: list[str] = field(default_factory=list)
    status_counts: dict[str, int] = field(default_factory=dict)
    window_days: int | None = None
    created_at: pd.Timestamp | None = None


@dataclass
class FeatureBuild:
    feature_set_id: str
    as_of: pd.Timestamp
    window_days: int
    levels: dict[str, list[str]]
    features: list[str]
    status_counts: dict[str, int]
    seconds: float
    fingerprint: str
    extra: dict = field(default_factory=dict)
    name: str = ""  # "" is the live build; else the named build's tables carry the suffix ``__name``

    def meta(self) -> FeatureSet:
        """What a model records about the rows it was trained on (as ``ml.feature_sets`` records the live build)."""
        return FeatureSet(self.feature_set_id, pd.Timestamp(self.as_of), self.levels, self.fingerprint, self.features,
                          self.status_counts, self.window_days)

    def markdown(self) -> str:
        c = self.status_counts
        trained = c.get("positive", 0) + c.get("negative", 0)
        lines = [
            f"Features {self.feature_set_id} as of {self.as_of} ({self.window_days}-day window) in {self.seconds:.1f} s",
            f"- {len(self.features)} features for {sum(c.values()):,} contacted leads",
            f"- training rows {trained:,}: {c.get('positive', 0):,} positive "
            f"({c.get('positive', 0) / trained:.2%} of trainable)" if trained else "- no trainable rows yet",
            f"- censored (contacted < {self.window_days} days before as_of, scored only): {c.get('censored', 0):,}",
            f"- MQL stamped before contact (defects, excluded): {c.get('defect_mql_before_contact', 0):,}",
        ]
        return "\n".join(lines)


def expand(sql: str, timezone: str = "UTC") -> str:
    """A catalog expression as SQL: helpers spelled out (``contact_day``: the contact's date in ``timezone``, a
    date-only stamp's own date), and
    every MarketPro number outside its plausible range (catalog ``PLAUSIBLE_RANGES``: AUM sent in dollars, a count
    column holding an id) read as missing. The value stays in the warehouse as sent and loads and feed health report
    it; a feature never extrapolates from it."""
    # A stamp at exactly midnight UTC is a date without a time (a Date field, a date-only export): that date is the
    # day, where the time zone would move every such contact to the evening before (Monday's to a Sunday).
    day = "DATE(contacted_at)" if timezone == "UTC" else (
        f"CASE WHEN MOD(UNIX_SECONDS(contacted_at), 86400) = 0 THEN DATE(contacted_at) "
        f"ELSE DATE(contacted_at, {literal(check_timezone(timezone))}) END")
    sql = re.sub(r"(?<![.\w])contact_day\b", day, sql)
    for pattern, repl in _HELPERS.items():
        sql = re.sub(pattern, repl, sql)
    for col, (lo, hi) in PLAUSIBLE_RANGES.items():
        sql = re.sub(rf"\br\.{col}\b", f"(CASE WHEN r.{col} BETWEEN {lo} AND {hi} THEN r.{col} END)", sql)
    return sql


def feature_columns_sql(features: list[Feature], timezone: str = "UTC") -> str:
    return ",\n  ".join(f"{expand(f.sql, timezone)} AS `{f.name}`" for f in features)


def as_utc(value) -> pd.Timestamp | None:
    """A timestamp (text, datetime or Timestamp; naive means UTC) in UTC, or None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_as_of(text: str | None) -> pd.Timestamp | None:
    try:
        return as_utc(text)
    except ValueError as exc:
        raise LeadScoringError(f"--as-of {text!r} is not a timestamp; use e.g. 2025-10-01 or 2025-10-01T12:00:00Z.") from exc


def default_as_of(s: Session) -> pd.Timestamp:
    if not s.table_exists("marts.dim_leads"):
        raise LeadScoringError("No Salesforce Leads loaded yet: run `python -m core load-leads FILE` first.")
    value = loaded_export_at(s)
    if value is None:
        raise LeadScoringError("The loaded Lead export has no CreatedDate/LastModifiedDate to date it; pass --as-of.")
    return value


def refuse_as_of_after(as_of: pd.Timestamp, known: pd.Timestamp | None, what: str) -> None:
    """Refuse an explicit as-of later than ``known``, the time the loaded leads' outcomes are known to (``what``
    names it: the export, the live features' as-of, the labels'): leads whose outcome window was still open then
    would read as having no MQL (labels, matured cohorts, an experiment's matured leads)."""
    if known is not None and as_of > known:
        raise LeadScoringError(
            f"--as-of {as_of:%Y-%m-%d %H:%M} UTC is after {what} ({known:%Y-%m-%d %H:%M} UTC), the time the loaded "
            "leads' outcomes are known to: leads whose outcome window was still open then would read as having no "
            "MQL. Use an as-of at or before it, or load a newer Lead export.")


def _checked_as_of(s: Session, as_of: pd.Timestamp) -> pd.Timestamp:
    """An explicit as-of (UTC), refused when it is after the loaded Lead export's time (:func:`refuse_as_of_after`);
    an export without dates to date it leaves the explicit as-of all there is."""
    as_of = as_utc(as_of)
    refuse_as_of_after(as_of, loaded_export_at(s), "the loaded Lead export")
    return as_of


def _ts_literal(ts: pd.Timestamp) -> str:
    return f"TIMESTAMP '{ts.strftime('%Y-%m-%d %H:%M:%S')}+00'"


def learn_levels(s: Session, into: str = "") -> dict[str, list[str]]:
    levels = {}
    for oh in ONE_HOTS:
        df = s.query_model("marts/feature_levels.sql", source_sql=oh.source_sql, top_k=int(oh.top_k), build=suffix(into))
        levels[oh.prefix] = [str(v) for v in df.value if str(v) not in oh.exclude]
    return levels


_BUILD_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
BUILD_TABLES = ("ml.lead_labels", "ml.lead_snapshot_choice", "ml.lead_features")


def suffix(into: str) -> str:
    """The table-name suffix of a build: "" for the live build, ``__name`` for a named one."""
    if into and not _BUILD_NAME.fullmatch(into):
        raise ValueError(f"a feature build name is lower-case letters, digits and _: {into!r}")
    return f"__{into}" if into else ""


@audited("build_features", "build_features")
def build_features(
    wh: Warehouse,
    settings: Settings,
    as_of: pd.Timestamp | str | None = None,
    levels: dict[str, list[str]] | None = None,
    actor: Actor | None = None,
    extra_features: tuple[Feature, ...] = (),
    into: str = "",
) -> FeatureBuild:
    """Labels and features as of ``as_of``. ``into`` names a build kept beside the live one (see the module
    docstring); only the live build is recorded in ``ml.feature_sets`` and feeds the per-lead source checks."""
    started = time.perf_counter()
    as_of = parse_as_of(as_of) if isinstance(as_of, str) else as_of
    window = int(settings.label_window_days)
    build = suffix(into)
    with wh.writer("build features") as s:
        if not s.table_exists("marts.dim_rep_snapshots"):
            raise LeadScoringError("No territory snapshot loaded yet: run `python -m core load-territories FILE...` first.")
        as_of = _checked_as_of(s, as_of) if as_of is not None else default_as_of(s)
        s.run_model("marts/lead_labels.sql", as_of=_ts_literal(as_of), window_seconds=window * 86400, build=build)
        s.run_model("marts/lead_snapshot_choice.sql", build=build, months=months_sql(s),
                    known_shift=int(settings.territory_known_day) - 1)
        levels = levels if levels is not None else learn_levels(s, into)
        features = all_features(levels, extra_features)
        check_no_leakage(features)  # refuses post-contact and PII sources before any SQL runs
        s.run_model("marts/lead_features.sql", feature_columns=feature_columns_sql(features, settings.business_timezone),
                    build=build)
        if not into:
            # feed health's Salesforce-vs-MarketPro check, per lead
            s.run_model("marts/lead_source_checks.sql", lead_state=state_code("l.State"),
                        branch_state=state_code("r.Branch_State"))
        counts = s.query(f"select label_status, count(*) as n from ml.lead_features{build} group by label_status")
        status_counts = {r.label_status: int(r.n) for r in counts.itertuples()}
        names = [f.name for f in features]
        known = {"territory_known_day": settings.territory_known_day} if settings.territory_known_day != 1 else {}
        fingerprint = hashlib.sha256(json.dumps({"as_of": str(as_of), "levels": levels, "features": names,
                                                 "rows": status_counts, **known}, sort_keys=True).encode()).hexdigest()[:16]
        result = FeatureBuild(uuid.uuid4().hex[:12], as_of, window, levels, names, status_counts,
                              time.perf_counter() - started, fingerprint, name=into)
        if not into:
            s.load("ml.feature_sets", pd.DataFrame([{
                "feature_set_id": result.feature_set_id, "created_at": datetime.now(timezone.utc), "as_of": as_of,
                "window_days": window, "levels_json": json.dumps(levels), "features_json": json.dumps(names),
                "status_counts_json": json.dumps(status_counts), "fingerprint": fingerprint,
            }]), mode="append")
        audit.record(s, actor, "build_features", result.feature_set_id, "ok",
                     {"as_of": str(as_of), "features": len(names), **status_counts, **({"build": into} if into else {})})
    result.seconds = time.perf_counter() - started
    return result


def latest_feature_set(wh: Warehouse) -> FeatureSet | None:
    """The live build's record, or None before the first build."""
    with wh.reader() as s:
        if not s.table_exists("ml.feature_sets"):
            return None
        df = s.query("select * from ml.feature_sets order by created_at desc limit 1")
    if df.empty:
        return None
    r = df.iloc[0]
    return FeatureSet(str(r.feature_set_id), pd.Timestamp(r.as_of), json.loads(r.levels_json), str(r.fingerprint),
                      json.loads(r.features_json), json.loads(r.status_counts_json),
                      None if pd.isna(r.window_days) else int(r.window_days), pd.Timestamp(r.created_at))


def is_current(wh: Warehouse, fs: FeatureSet | None) -> bool:
    """Whether the live build ``fs`` is as of the loaded Lead export's time, the default every verb without
    ``--as-of`` means. A build as of another time (``score --as-of`` a past day) or of an earlier export (a new
    export loaded since) is not, and a verb that reuses the live build rebuilds it instead."""
    if fs is None:
        return False
    with wh.reader() as s:
        return fs.as_of == default_as_of(s)


def feature_matrix(wh: Warehouse, training_only: bool = False, build: str = "") -> pd.DataFrame:
    """The rows of the live build, or of the named build ``build``."""
    table = f"ml.lead_features{suffix(build)}"
    with wh.reader() as s:
        if not s.table_exists(table):
            raise LeadScoringError("No features built yet: run `python -m core build-features` first." if not build else
                                   f"The feature build {build!r} does not exist (dropped, or never built).")
        where = " where label_status in ('positive', 'negative')" if training_only else ""
        return s.query(f"select * from {table}{where} order by contacted_at, lead_id")


def drop_build(wh: Warehouse, into: str) -> None:
    """Remove a named build's tables (the live build is never dropped here)."""
    if not into:
        raise ValueError("drop_build removes named builds only")
    with wh.writer(f"drop the feature build {into}") as s:
        for table in BUILD_TABLES:
            s.execute(f"drop table if exists {table}{suffix(into)}")


def training_table(wh: Warehouse) -> pd.DataFrame:
    """The spec's step_3_3 training dataset: lead_id, contacted_at, label, then one column per feature."""
    df = feature_matrix(wh, training_only=True)
    features = [c for c in df.columns if c not in META_COLUMNS]
    out = df[["lead_id", "contacted_at", "label"] + features].copy()
    out["label"] = out["label"].astype(int)
    return out
