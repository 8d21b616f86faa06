"""The reference frozen at training (NannyML's idea): stored with the model artifact as ``reference.json``,
never re-fitted. It profiles the training rows (every feature of the feature set, grouped as in spec §9.2),
the territory month the model was trained on, the score distribution, tier shares, base rates per AUM
segment and the held-out Tier A precision that CRITICAL alerts compare against."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from core.contract import marketpro_columns
from core.errors import LeadScoringError
from core.features.build import META_COLUMNS
from core.features.catalog import catalog_frame
from core.modeling.data import aum_segment
from core.monitoring.measures import boost_reference
from core.monitoring.psi import categorical_profile, counts_in, profile
from core.scoring.tiers import assign_tiers, stored_prob
from core.warehouse.sql import literal

REFERENCE_FILE = "reference.json"
NOT_PROFILED = set(META_COLUMNS) | {"owner_id", "owner_name"}
# Territory columns worth a snapshot PSI: the numbers and categories MarketPro sends (not names, ids, zips).
SNAPSHOT_SKIP = {"RepCRD", "RIAFirmCRD", "RIAFirmName", "FirstName", "LastName", "Email", "Branch_City", "Branch_ZipCode",
                 "Home_ZipCode", "Licenses", "Designations", "Specialties", "Firm_Website"}


def feature_groups(levels: dict | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each feature's catalog group (spec §9.2 grouping) and the source columns it is computed from."""
    cat = catalog_frame(levels or {})
    return dict(zip(cat.feature, cat.group)), {f: [x.strip() for x in src.split(",") if x.strip()]
                                               for f, src in zip(cat.feature, cat.sources)}


def chunk_spread(rows: pd.DataFrame, prof: dict, column: str, periods: pd.Series, min_rows: int = 50) -> dict:
    """How much the PSI of one month of the reference rows varies around the whole reference (NannyML sets its
    thresholds the same way): months with clustering or few rows move more than a χ² bound assumes."""
    from core.monitoring.psi import psi_against

    vals = [psi_against(prof, g[column])[0] for _, g in rows.groupby(periods.to_numpy()) if len(g) >= min_rows]
    if len(vals) < 3:
        return {"chunks": len(vals), "mean": None, "sd": None}
    return {"chunks": len(vals), "mean": float(np.mean(vals)), "sd": float(np.std(vals, ddof=1))}


def snapshot_columns() -> list[str]:
    return [c.name for c in marketpro_columns() if c.name not in SNAPSHOT_SKIP]


# A lead first scored within this many days of contact was new when scored: monitoring's cohorts
# (sql/monitoring/first_scored_leads.sql) and the shadow comparison judge what SGAs saw for new leads.
NEAR_CONTACT_DAYS = 8


def with_mql_times(wh, leads: pd.DataFrame) -> pd.DataFrame:
    """``leads`` with each lead's MQL time (``mql_at``, UTC; NaT when none): what a replay of the daily tiering
    needs to take a lead out of the open pool once it booked its call."""
    with wh.reader() as s:
        mql = s.query("select lead_id, mql_at from ml.lead_labels") if s.table_exists("ml.lead_labels") else \
            pd.DataFrame({"lead_id": pd.Series(dtype=str), "mql_at": pd.Series(dtype="datetime64[ns, UTC]")})
    out = leads.merge(mql.drop_duplicates("lead_id"), on="lead_id", how="left")
    out["mql_at"] = pd.to_datetime(out.mql_at, utc=True)
    return out


def replay_tiers(leads: pd.DataFrame, dates: list[pd.Timestamp], capacity: int, a_factor: float,
                 b_factor: float, window=None) -> pd.DataFrame:
    """Replay the daily tiering on past dates: on each date the open pool is every lead contacted by then
    without an MQL yet (a closed status cannot be replayed and is ignored); tiers sized as daily scoring sizes
    them (Tier A the top ``capacity`` × ``a_factor``), leads inside their outcome ``window`` first (assign_tiers).
    ``leads``: lead_id, contacted_at, mql_at, prob, boost. Returns score_date, lead_id, prob, adjusted, rank, tier."""
    out = []
    for d in dates:
        pool = leads[(leads.contacted_at <= d) & (leads.mql_at.isna() | (leads.mql_at > d))]
        if pool.empty:
            continue
        t = assign_tiers(pool[["lead_id", "prob", "boost", "contacted_at"]], capacity, a_factor, b_factor, window, d)
        t["score_date"] = d
        out.append(t)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        columns=["lead_id", "prob", "boost", "contacted_at", "adjusted", "rank", "tier", "score_date"])


def first_tiers(replayed: pd.DataFrame) -> pd.DataFrame:
    """Each lead's tier at its first scoring after contact (what the SGA saw first)."""
    if replayed.empty:
        return replayed
    return replayed.sort_values(["score_date", "rank"]).drop_duplicates("lead_id", keep="first")


def replayed_tier_a(leads: pd.DataFrame, test_from: pd.Timestamp, capacity: int, a_factor: float,
                    b_factor: float, window=None) -> dict:
    """Tier A precision as daily scoring would have tiered the held-out period — what monitoring measures on
    matured weekly cohorts (each lead's first tier after contact) and holds to half of (the CRITICAL alert).
    The daily tiering is replayed every Monday over the period on a pool of every lead contacted by then without
    an MQL yet (earlier leads compete for Tier A as they do in production), with each lead's priority boost;
    precision counts the held-out leads whose first tier was A.
    ``leads``: lead_id, contacted_at, mql_at, prob, boost, label."""
    held_out = leads[leads.contacted_at >= test_from]
    if held_out.empty or capacity <= 0:
        return {"tier_a_precision": None, "tier_a_leads": 0}
    dates = weekly_dates(held_out.contacted_at.min(), held_out.contacted_at.max())
    first = first_tiers(replay_tiers(leads[leads.contacted_at <= dates[-1]], dates, capacity, a_factor, b_factor,
                                     window))
    a = held_out.lead_id[held_out.lead_id.isin(first.lead_id[first.tier == "A"])]
    label = held_out.set_index("lead_id").label
    return {"tier_a_precision": float(label[a].mean()) if len(a) else None, "tier_a_leads": int(len(a))}


def weekly_dates(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    """Replay dates: every Monday 06:00 UTC from ``start`` to ``end``, and ``end`` itself."""
    first = (start.normalize() + pd.Timedelta(days=(7 - start.day_of_week) % 7)) + pd.Timedelta(hours=6)
    dates = list(pd.date_range(first, end, freq="7D"))
    return dates + ([end] if not dates or dates[-1] < end else [])


def months_where(available: set[str], months: list[str]) -> str:
    """The predicate selecting these snapshot months of ``marts.dim_rep_snapshots`` (``available``: its lower-cased
    columns): through the partition column, which prunes on BigQuery; by name on a warehouse not yet migrated."""
    from core.ingest.territories import month_date

    if "snapshot_date" in available:
        return f"snapshot_date in ({', '.join(month_date(m) for m in months)})"
    return f"snapshot_month in ({', '.join(literal(m) for m in months)})"


class TerritoryMonth:
    """One territory month of ``marts.dim_rep_snapshots``, read through its partition column one column at a
    time: numbers as values (quantile edges and ranges need them), categories as counts per level computed by
    the warehouse (``GROUP BY``), so a 10x month (~4.6M reps) never sits in Python whole."""

    def __init__(self, session, month: str):
        self.session, self.month = session, month
        available = session.columns("marts.dim_rep_snapshots")  # lower-cased
        self.columns = [c for c in snapshot_columns() if c.lower() in available]
        self.source = f"marts.dim_rep_snapshots where {months_where(available, [month])}"
        types = session.query(f"select {', '.join(self.columns)} from marts.dim_rep_snapshots limit 0").dtypes \
            if self.columns else {}
        self.numeric = {c for c in self.columns
                        if pd.api.types.is_numeric_dtype(types[c]) or pd.api.types.is_bool_dtype(types[c])}

    def rows(self) -> int:
        return int(self.session.scalar(f"select count(*) from {self.source}"))

    def values(self, column: str) -> pd.Series:
        return self.session.query(f"select {column} from {self.source}")[column]

    def level_counts(self, column: str) -> tuple[pd.Series, int]:
        """(count per level, index: the level as text; count of missing values)."""
        vc = self.session.query(f"select cast({column} as string) as level, count(*) as n from {self.source} group by 1")
        known = vc[vc.level.notna()]
        return pd.Series(known.n.to_numpy(), index=known.level.to_numpy()), int(vc.n[vc.level.isna()].sum())


IMPLAUSIBLE_COLUMNS = ["period", "column", "count", "rows", "example", "low", "high"]


def _float(x: float) -> str:
    return f"cast('{float(x)!r}' as float64)"  # the exact double, whatever the dialect makes of a decimal literal


def month_counts(session, months: list[str], profiles: dict[str, dict],
                 ranges: dict[str, tuple[float, float]]) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Each profiled column of these territory months counted in its frozen bins by the warehouse, all months in
    one query for the numbers (``sql/monitoring/snapshot_below_edges.sql``) and one per category
    (``sql/monitoring/snapshot_bins.sql``): {column: months × bins}, the figures
    :func:`~core.monitoring.psi.counts_in` gives from the values. Also the numbers outside the catalog's plausible
    ``ranges`` per month and column, with the most extreme as the example (``IMPLAUSIBLE_COLUMNS``)."""
    available = session.columns("marts.dim_rep_snapshots")  # lower-cased
    cols = [c for c in profiles if c.lower() in available]
    if not cols or not months:
        return {}, pd.DataFrame(columns=IMPLAUSIBLE_COLUMNS)
    scan = _MonthScan(session, available, months)
    numeric = [c for c in cols if profiles[c]["kind"] == "numeric"]
    counts, bad = scan.numbers(numeric, profiles, ranges) if numeric else ({}, [])
    counts |= {c: scan.categories(c, profiles[c]) for c in cols if c not in numeric}
    return counts, pd.DataFrame(bad, columns=IMPLAUSIBLE_COLUMNS).sort_values(["period", "column"], ignore_index=True)


class _MonthScan:
    """The territory months being measured, as :func:`month_counts` counts them."""

    def __init__(self, session, available: set[str], months: list[str]):
        self.session, self.available, self.months = session, available, months
        self.where = months_where(available, months)
        # the partition column: a date groups ~25% faster than the month's text over 6M reps
        self.by = "snapshot_date" if "snapshot_date" in available else "snapshot_month"
        self.pos = {m: i for i, m in enumerate(months)}

    def _query(self, model: str, **values) -> pd.DataFrame:
        df = self.session.query_model(model, period=self.by, months=self.where, **values)
        if self.by == "snapshot_date":
            df["period"] = pd.to_datetime(df.period).dt.strftime("%Y-%m")
        return df

    def numbers(self, cols: list[str], profiles: dict, ranges: dict) -> tuple[dict[str, np.ndarray], list[dict]]:
        """Every numeric column in one scan (with it, the 13 months of the full-scale demo count in 2.5 s where a
        GROUP BY per column's bin took 3.2 s): per month,
        how many values are missing, below each frozen edge and outside the plausible range; a bin is the
        difference of two counts. Then the most extreme implausible value of each flagged month and column."""
        from core.monitoring.psi import n_bins

        types = self.session.query(f"select {', '.join(cols)} from marts.dim_rep_snapshots limit 0").dtypes
        value = {c: f"cast(cast({c} as int64) as float64)" if pd.api.types.is_bool_dtype(types[c]) else
                 f"cast({c} as float64)" if pd.api.types.is_numeric_dtype(types[c]) else f"safe_cast({c} as float64)"
                 for c in cols}
        outside = {c: f"({value[c]} < {_float(ranges[c][0])} or {value[c]} > {_float(ranges[c][1])})"
                   if c in ranges else "false" for c in cols}
        exprs = []
        for k, c in enumerate(cols):
            exprs += [f"countif({value[c]} is null) as m{k}", f"countif({outside[c]}) as o{k}"]
            exprs += [f"countif({value[c]} < {_float(e)}) as b{k}_{i}" for i, e in enumerate(profiles[c]["edges"])]
        df = self._query("monitoring/snapshot_below_edges.sql", counts=", ".join(exprs))
        df = df.fillna({c_: 0 for c_ in df.columns if c_ != "period"})  # the BigQuery emulator's countif(false) is NULL
        rows, n = df.period.map(self.pos).to_numpy(dtype=int), df.n.to_numpy(dtype=float)
        counts, bad = {}, []
        for k, c in enumerate(cols):
            missing = df[f"m{k}"].to_numpy(dtype=float)
            edges = len(profiles[c]["edges"])
            below = df[[f"b{k}_{i}" for i in range(edges)]].to_numpy(dtype=float).reshape(len(df), edges)
            counts[c] = np.zeros((len(self.months), n_bins(profiles[c])))
            # bin i: below edge i but not edge i-1; then at or above the last edge; the last bin: missing
            counts[c][rows] = np.column_stack([np.diff(np.column_stack([np.zeros(len(df)), below, n - missing]), axis=1),
                                               missing])
            for period, flagged, total in zip(df.period, df[f"o{k}"].to_numpy(dtype=int), n):
                if flagged > 0:
                    lo, hi = ranges[c]
                    example = self.session.scalar(
                        f"select {value[c]} from marts.dim_rep_snapshots where {months_where(self.available, [period])} "
                        f"and {outside[c]} order by abs({value[c]} - {_float((lo + hi) / 2)}) desc limit 1")
                    bad.append({"period": str(period), "column": c, "count": int(flagged), "rows": int(total),
                                "example": float(example), "low": lo, "high": hi})
        return counts, bad

    def categories(self, c: str, prof: dict) -> np.ndarray:
        """One categorical column: the months' reps per level, folded into the profile's top levels, other, missing."""
        from core.monitoring.psi import counts_of_levels, n_bins

        cur = np.zeros((len(self.months), n_bins(prof)))
        df = self._query("monitoring/snapshot_bins.sql", bin=f"cast({c} as string)")
        for period, part in df.groupby("period"):
            known = part[part.bin.notna()]
            cur[self.pos[period]] = counts_of_levels(prof, pd.Series(known.n.to_numpy(), index=known.bin.to_numpy()),
                                                     int(part.n[part.bin.isna()].sum()))
        return cur


def snapshot_profile(session, month: str) -> dict:
    """Per-column profile of one territory month (the same figures as profiling the whole month in memory)."""
    m = TerritoryMonth(session, month)
    columns = {c: profile(m.values(c)) if c in m.numeric else categorical_profile(*m.level_counts(c))
               for c in m.columns}
    return {"month": month, "rows": m.rows(), "columns": columns}


def build_reference(session, rows: pd.DataFrame, prob: np.ndarray, levels: dict, capacity: int,
                    tier_a_precision: float | None, trained_as_of: str, a_factor: float, b_factor: float,
                    window=None) -> dict:
    """``rows``: the training rows as stored in ml.lead_features (labels included); ``prob``: the registered
    model's calibrated probability for each; ``capacity``: the daily capacity (SGAs × dials), tiered with the
    factors daily scoring uses."""
    groups, sources = feature_groups(levels)
    features = [c for c in rows.columns if c not in NOT_PROFILED]
    months = pd.to_datetime(rows.contacted_at, utc=True).dt.strftime("%Y-%m")
    profiles = {f: profile(rows[f]) for f in features}
    month = session.scalar(
        "select max(snapshot_month) from marts.dim_rep_snapshots where snapshot_month <= "
        f"{literal(pd.Timestamp(trained_as_of).strftime('%Y-%m'))}") if session.table_exists("marts.dim_rep_snapshots") else None
    seg = aum_segment(rows.get("TotalAssetsInMillions", pd.Series(np.nan, index=rows.index)))
    labelled = rows.label.notna().to_numpy()
    base_rates = {s: {"leads": int(((seg == s) & labelled).sum()),
                      "rate": float(rows.label[(seg == s) & labelled].mean()) if ((seg == s) & labelled).any() else None}
                  for s in sorted(set(seg))}
    leads = pd.DataFrame({"lead_id": rows.lead_id.to_numpy(), "contacted_at": pd.to_datetime(rows.contacted_at, utc=True),
                          "prob": prob, "boost": 0.0})
    leads["mql_at"] = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    start, end = leads.contacted_at.min(), leads.contacted_at.max()
    tiers = first_tiers(replay_tiers(leads, weekly_dates(start, end), capacity, a_factor, b_factor, window))
    shares = tiers.tier.value_counts(normalize=True).round(4).to_dict() if len(tiers) else {}
    return {
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "trained_as_of": str(trained_as_of),
        "rows": int(len(rows)),
        "contacted_from": str(start), "contacted_to": str(end),
        "features": {f: {**profiles[f], "group": groups.get(f, "Other"), "sources": sources.get(f, [f]),
                         "spread": chunk_spread(rows, profiles[f], f, months)} for f in features},
        "score": score_reference(prob),
        "tier_shares": shares,
        "boosts": boost_reference(rows),  # the share of training rows meeting each priority rule (spec §5.8)
        "base_rate": float(rows.label.mean()),
        "base_rate_by_aum_segment": base_rates,
        "tier_a_precision": tier_a_precision,
        "snapshot": snapshot_profile(session, month) if month else None,
    }


def score_reference(prob) -> dict:
    """The score's frozen profile in stored units: deciles of the probabilities as score history stores them
    (6 decimals), the edges rounded the same way and the reference counted in those edges. A calibrated score is a
    step function, so a decile edge often falls on a plateau shared by hundreds of leads: with an edge in full
    precision and stored scores rounded, a plateau rounded down crossed the edge, and every month's score PSI read
    ~0.2 (a WARN) with nothing moved."""
    values = pd.Series(stored_prob(prob), dtype=float)
    prof = profile(values, n_bins=10)
    prof["edges"] = [float(e) for e in np.unique(stored_prob(prof["edges"]))]
    prof["counts"] = counts_in(prof, values).tolist()
    return prof


def score_profile(reference: dict) -> dict:
    """The reference's score profile to count stored scores in. A reference frozen before :func:`score_reference`
    has full-precision edges and counts: its edges are rounded as stored scores are (the plateau values its counts
    put on an edge's upper side then stay there), unless rounding would merge two edges."""
    prof = reference["score"]
    edges = stored_prob(prof["edges"])
    if len(np.unique(edges)) < len(edges) or np.array_equal(edges, np.asarray(prof["edges"], dtype=float)):
        return prof
    return {**prof, "edges": [float(e) for e in edges]}


def save_reference(folder: Path, reference: dict) -> None:
    (Path(folder) / REFERENCE_FILE).write_text(json.dumps(reference, default=str), encoding="utf-8")


def load_reference(folder: Path, model_id: str) -> dict:
    path = Path(folder) / REFERENCE_FILE
    if not path.exists():
        raise LeadScoringError(
            f"Model {model_id} was trained before drift references existed: retrain to enable drift monitoring "
            "(`python -m core train`, then promote).")
    return json.loads(path.read_text(encoding="utf-8"))
