"""Reconciliation QA (spec §5.0.4, §5.4.1): how well the Salesforce Leads and the MarketPro territory
snapshot line up, where data is missing or unparseable, and which thresholds are breached.

The SQL in ``sql/quality/`` returns counts; this module turns them into rates, alerts, Markdown and the
JSON whose keys ``cli.md`` fixes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import MISSING, asdict, dataclass, fields, replace
from datetime import datetime, timezone

import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.contract import marketpro_columns, salesforce_columns
from core.errors import LeadScoringError
from core.operation import audited
from core.warehouse import Warehouse
from core.warehouse.parsing import quote_ident, staged_name

TERRITORIES = ("T1", "T2", "T3")


def _rate(num, den) -> float | None:
    return None if not _int(den) else round(_int(num) / _int(den), 4)


def _int(value) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def _null_rates(session, table: str, columns) -> dict[str, float]:
    names = [staged_name(c) for c in columns if not c.is_pii]
    exprs = ", ".join(
        f"avg(case when {quote_ident(n)} is null then 1.0 else 0.0 end) as {quote_ident(n)}" for n in names
    )
    row = session.query_model("quality/null_rates.sql", null_rate_columns=exprs, table_name=table).iloc[0]
    return {n: round(float(row[n]), 4) for n in names}


@dataclass(frozen=True)
class TerritoryMatch:
    """Contacted leads attributed to one territory (by the lead's state) and how many matched a rep."""
    contacted_leads: int
    matched: int
    match_rate: float | None
    reps_in_territory: int


@dataclass(frozen=True)
class ParseFailure:
    source: str  # territory | salesforce
    column: str
    reason: str
    count: int


@dataclass(frozen=True)
class ReconcileReport:
    """One reconciliation (spec §5.0.4): row accounting, the three-stage merge, duplicates, parse failures, null
    rates and the thresholds breached. ``to_json`` is what ``reconcile --json`` prints (keys fixed by cli.md) and
    what marts.reconciliation_reports keeps."""
    created_at: str
    snapshot_month: str | None
    leads_export_at: str | None
    territory_rows_read: int
    territory_rows_loaded: int
    territory_rows_quarantined: int
    territory_cells_quarantined: int
    unique_reps: int
    cross_territory_duplicate_rows: int
    salesforce_rows_read: int
    salesforce_rows_quarantined: int
    salesforce_cells_quarantined: int
    salesforce_leads: int
    salesforce_duplicate_rows_resolved: int
    duplicate_crds_salesforce: int
    contacted_leads: int
    contacted_without_crd: int
    contacted_matched: int
    match_rate: float | None
    match_rate_by_territory: dict[str, float | None]
    territory_detail: dict[str, TerritoryMatch]
    reps_with_firm_data: int
    firm_data_rate_reps: float | None
    firm_data_rate_matched: float | None
    salesforce_crds_missing_from_marketpro: int
    parse_failures: tuple[ParseFailure, ...]
    null_rate_reps: dict[str, float]
    null_rate_leads: dict[str, float]
    alerts: tuple[str, ...] = ()
    report_id: str | None = None

    def to_json(self) -> dict:
        out = asdict(self)
        return out | {"parse_failures": [asdict(f) for f in self.parse_failures], "alerts": list(self.alerts)}

    def territory_frame(self) -> pd.DataFrame:
        """One row per territory (and 'unknown'): contacted leads, matched, match rate, reps in the snapshot."""
        return pd.DataFrame([{"territory": t, **asdict(d)} for t, d in self.territory_detail.items()])

    def failures_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(f) for f in self.parse_failures], columns=["source", "column", "reason", "count"])

    @classmethod
    def from_json(cls, d: dict) -> "ReconcileReport":
        """A stored report; keys a report of an earlier release lacks read as 0 (counts) or None."""
        known = {f.name: f for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        for name, f in known.items():
            if name not in values and f.default is MISSING:  # a field a report of an earlier release lacks
                values[name] = 0 if f.type == "int" else None  # (annotations are text here: see the __future__ import)
        values["territory_detail"] = {t: TerritoryMatch(**v) for t, v in (values.get("territory_detail") or {}).items()}
        values["parse_failures"] = tuple(ParseFailure(**f) for f in values.get("parse_failures") or ())
        values["alerts"] = tuple(values.get("alerts") or ())
        for name in ("match_rate_by_territory", "null_rate_reps", "null_rate_leads"):
            values[name] = values.get(name) or {}
        return cls(**values)


# the report's counts as sql/quality/reconcile_summary.sql returns them
SUMMARY_COUNTS = ("territory_rows_read", "territory_rows_loaded", "territory_rows_quarantined",
                  "territory_cells_quarantined", "unique_reps", "cross_territory_duplicate_rows", "salesforce_rows_read",
                  "salesforce_rows_quarantined", "salesforce_cells_quarantined", "salesforce_leads",
                  "salesforce_duplicate_rows_resolved", "duplicate_crds_salesforce", "contacted_leads",
                  "contacted_without_crd", "contacted_matched", "reps_with_firm_data")


def build_report(wh: Warehouse, settings: Settings) -> ReconcileReport:
    with wh.reader() as s:
        for table, hint in (("marts.dim_reps_current", "load-territories"), ("marts.dim_leads", "load-leads")):
            if not s.table_exists(table):
                raise LeadScoringError(f"No {table.split('.')[-1]} table yet: run `python -m core {hint} FILE...` first.")
        head = s.query_model("quality/reconcile_summary.sql").iloc[0]
        by_terr = s.query_model("quality/reconcile_by_territory.sql")
        missing = s.query_model("quality/missing_crds.sql")
        failures = s.query_model("quality/parse_failures.sql")
        null_reps = _null_rates(s, "marts.dim_reps_current", marketpro_columns())
        null_leads = _null_rates(s, "marts.dim_leads", salesforce_columns())

    territory = {r.territory: TerritoryMatch(_int(r.contacted_leads), _int(r.matched), _rate(r.matched, r.contacted_leads),
                                             _int(r.reps_in_territory)) for r in by_terr.itertuples()}
    report = ReconcileReport(
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        snapshot_month=head.snapshot_month,
        leads_export_at=None if pd.isna(head.leads_export_at) else str(head.leads_export_at),
        **{k: _int(head[k]) for k in SUMMARY_COUNTS},
        match_rate=_rate(head.contacted_matched, head.contacted_leads),
        match_rate_by_territory={t: territory[t].match_rate if t in territory else None for t in TERRITORIES},
        territory_detail=territory,
        firm_data_rate_reps=_rate(head.reps_with_firm_data, head.unique_reps),
        firm_data_rate_matched=_rate(head.matched_with_firm_data, head.contacted_matched),
        salesforce_crds_missing_from_marketpro=int(len(missing)),
        parse_failures=tuple(ParseFailure(r.kind, r.column_name, r.reason, int(r.failures)) for r in failures.itertuples()),
        null_rate_reps=null_reps,
        null_rate_leads=null_leads,
    )
    return replace(report, alerts=tuple(alerts(report, settings)))


def alerts(report: ReconcileReport, settings: Settings) -> list[str]:
    out = []
    if report.match_rate is not None and report.match_rate < settings.min_match_rate:
        out.append(
            f"Match rate {report.match_rate:.1%} of contacted leads is below the {settings.min_match_rate:.0%} "
            "target (spec §5.0.4 stage 1): check that all three territory files were loaded for the month."
        )
    for t, rate in report.match_rate_by_territory.items():
        if rate is None:
            out.append(f"No contacted leads could be attributed to territory {t}: was its file loaded?")
        elif rate < settings.min_territory_match_rate:
            out.append(f"Territory {t} match rate {rate:.1%} is below {settings.min_territory_match_rate:.0%}.")
    rate = report.firm_data_rate_matched
    if rate is not None and rate < settings.min_firm_data_rate:
        out.append(
            f"Only {rate:.1%} of matched reps have firm data (target {settings.min_firm_data_rate:.0%}, stage 2)."
        )
    heavy = [c for c, r in report.null_rate_reps.items() if r > 0.5]
    if heavy:
        out.append(f"MarketPro columns more than 50% empty: {', '.join(heavy)}.")
    if report.salesforce_leads and report.duplicate_crds_salesforce / report.salesforce_leads > 0.01:
        out.append("More than 1% of Salesforce CRDs sit on several Leads: review Lead de-duplication in Salesforce.")
    return out


@audited("reconcile", "reconcile")
def reconcile(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> ReconcileReport:
    """Build the report and store it in marts.reconciliation_reports."""
    report = replace(build_report(wh, settings), report_id=uuid.uuid4().hex[:12])
    with wh.writer("store reconciliation report") as s:
        s.load("marts.reconciliation_reports", pd.DataFrame([{
            "report_id": report.report_id, "created_at": datetime.now(timezone.utc),
            "created_by": actor.username, "report_json": json.dumps(report.to_json()),
        }]), mode="append")
    return report


def latest_report(wh: Warehouse) -> ReconcileReport | None:
    df = wh.read("select report_json from marts.reconciliation_reports order by created_at desc limit 1")
    return None if df.empty else ReconcileReport.from_json(json.loads(df.iat[0, 0]))


def missing_crds(wh: Warehouse) -> pd.DataFrame:
    return wh.read_model("quality/missing_crds.sql")


def null_rate_frame(report: ReconcileReport) -> pd.DataFrame:
    rows = [{"source": "MarketPro", "column": c, "null_rate": r} for c, r in report.null_rate_reps.items()]
    rows += [{"source": "Salesforce", "column": c, "null_rate": r} for c, r in report.null_rate_leads.items()]
    return pd.DataFrame(rows)


def to_markdown(report: ReconcileReport) -> str:
    pct = lambda v: "n/a" if v is None else f"{v:.1%}"  # noqa: E731
    lines = [
        f"# Reconciliation QA — snapshot {report.snapshot_month}, leads exported {report.leads_export_at}",
        "",
        "## Row accounting",
        "| source | rows read | loaded | quarantined rows | quarantined cells | after de-duplication |",
        "|---|---:|---:|---:|---:|---:|",
        f"| MarketPro territories | {report.territory_rows_read:,} | {report.territory_rows_loaded:,} | "
        f"{report.territory_rows_quarantined:,} | {report.territory_cells_quarantined:,} | "
        f"{report.unique_reps:,} unique reps |",
        f"| Salesforce Leads | {report.salesforce_rows_read:,} | "
        f"{report.salesforce_rows_read - report.salesforce_rows_quarantined:,} | "
        f"{report.salesforce_rows_quarantined:,} | {report.salesforce_cells_quarantined:,} | "
        f"{report.salesforce_leads:,} Leads |",
        "",
        "## Three-stage merge (spec §5.0.4)",
        f"1. **Salesforce ↔ reps on CRD**: {report.contacted_matched:,} of {report.contacted_leads:,} "
        f"contacted leads matched — **{pct(report.match_rate)}** (target > 70%); "
        f"{report.contacted_without_crd:,} contacted leads have no CRD.",
        f"2. **Firm data**: {pct(report.firm_data_rate_matched)} of matched reps and "
        f"{pct(report.firm_data_rate_reps)} of all reps have firm CRD and AUM (target > 80%).",
        f"3. **Missing CRDs**: {report.salesforce_crds_missing_from_marketpro:,} contacted leads carry a CRD "
        "that is not in MarketPro (downloadable list for targeted searches).",
        "",
        "| territory | contacted leads | matched | match rate | reps in snapshot |",
        "|---|---:|---:|---:|---:|",
    ]
    for t, d in sorted(report.territory_detail.items()):
        lines.append(f"| {t} | {d.contacted_leads:,} | {d.matched:,} | {pct(d.match_rate)} | {d.reps_in_territory:,} |")
    lines += [
        "",
        "## Duplicates",
        f"- Cross-territory duplicate rows collapsed (most complete record kept): {report.cross_territory_duplicate_rows:,}",
        f"- Salesforce CRDs on more than one Lead: {report.duplicate_crds_salesforce:,}; "
        f"duplicate rows resolved (newest LastModifiedDate kept): {report.salesforce_duplicate_rows_resolved:,}",
        "",
        "## Parse failures",
    ]
    if report.parse_failures:
        lines += ["| source | column | reason | count |", "|---|---|---|---:|"]
        lines += [f"| {f.source} | {f.column} | {f.reason} | {f.count:,} |" for f in report.parse_failures]
    else:
        lines.append("None.")
    worst = sorted(report.null_rate_reps.items(), key=lambda kv: -kv[1])[:8]
    lines += ["", "## Emptiest MarketPro columns", ", ".join(f"{c} {r:.0%}" for c, r in worst), "", "## Alerts"]
    lines += [f"- ⚠ {a}" for a in report.alerts] or ["- none: every coverage threshold is met"]
    return "\n".join(lines)
