"""Monthly MarketPro territory load: parse, quarantine, cross-territory dedup, atomic replace, snapshot.

All warehouse writes of one load happen in one transaction: a failure or a kill part-way leaves last
month's tables exactly as they were.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.contract import marketpro_columns
from core.errors import LeadScoringError
from core.faults import checkpoint
from core.ingest.accounting import LoadResult
from core.ingest.loader import (Progress, load_quarantine, no_progress, quarantine_invalid_rows, read_files, settle,
                                write_accounts)
from core.operation import Operation, operation
from core.warehouse import Warehouse
from core.warehouse.parsing import model_fragments
from core.warehouse.sql import literal


_TERRITORY = re.compile(r"(?:^|[^a-z0-9])t([1-9])(?:[^0-9]|$)", re.IGNORECASE)
_MONTH = re.compile(r"(20\d\d)[_\-.]?(0[1-9]|1[0-2])(?:[^0-9]|$)")
_MONTH_ARG = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")


def territory_of(path: Path, override: str | None = None) -> str:
    if override:
        if not re.fullmatch(r"T[1-9]", override.upper()):
            raise LeadScoringError(f"--territory {override!r} must look like T1, T2 or T3.")
        return override.upper()
    match = _TERRITORY.search(path.stem)
    if not match:
        raise LeadScoringError(
            f"{path.name}: cannot tell the territory from the file name. Name it like "
            "discovery_t1_2025_01.csv or pass --territory T1."
        )
    return f"T{match.group(1)}"


def month_of(path: Path, override: str | None = None) -> str:
    if override:
        if not _MONTH_ARG.match(override):
            raise LeadScoringError(f"--month {override!r} must be YYYY-MM, e.g. 2025-01.")
        return override
    match = _MONTH.search(path.stem)
    if not match:
        raise LeadScoringError(
            f"{path.name}: cannot tell the month from the file name. Name it like "
            "discovery_t1_2025_01.csv or pass --month YYYY-MM."
        )
    return f"{match.group(1)}-{match.group(2)}"


def guess_territory(name: str) -> str | None:
    """The territory a file name says (T1…T9), or None."""
    m = _TERRITORY.search(Path(name).stem)
    return f"T{m.group(1)}" if m else None


def guess_month(name: str) -> str | None:
    m = _MONTH.search(Path(name).stem)
    return f"{m.group(1)}-{m.group(2)}" if m else None


def loaded_pairs(wh: Warehouse) -> pd.DataFrame:
    """Territory months already in the warehouse: snapshot_month, territory, reps (after de-duplication)."""
    with wh.reader() as s:
        return rep_counts(s)


def rep_counts(s) -> pd.DataFrame:
    """:func:`loaded_pairs` in a session (a load's writer too): reps per snapshot month and territory, in order."""
    if not s.table_exists("marts.dim_rep_snapshots"):
        return pd.DataFrame(columns=["snapshot_month", "territory", "reps"])
    return s.query("select snapshot_month, territory, count(*) as reps from marts.dim_rep_snapshots "
                   "group by snapshot_month, territory order by snapshot_month, territory")


def replacement_plan(wh: Warehouse, territory: dict[str, str | None], month: str | None = None) -> list[dict]:
    """What loading these files ({file name: territory}) would replace: each (month, territory) pair they bring
    that is already loaded, with the reps it holds now (other territories of the month stay). The month is
    ``month`` for every file or, without it, the one each file's name carries."""
    pairs = {(month or guess_month(name), t) for name, t in territory.items() if t and (month or guess_month(name))}
    loaded = loaded_pairs(wh)
    return [{"snapshot_month": str(r.snapshot_month), "territory": r.territory, "reps": int(r.reps)}
            for r in loaded.itertuples() if (str(r.snapshot_month), r.territory) in pairs]


def load_territory_files(
    wh: Warehouse,
    settings: Settings,
    paths: list[str | Path],
    month: str | None = None,
    territory: str | dict[str, str] | None = None,
    actor: Actor | None = None,
    progress: Progress = no_progress,
) -> LoadResult:
    """Load one month's territory exports (any subset of T1/T2/T3) and replace that month atomically.
    ``territory``: one territory for a single file, or {file name: territory} for several."""
    names = ", ".join(Path(p).name for p in paths or [])
    with operation(wh, actor, "replace_data", "load_territories", names) as op:
        return _load_month(op, settings, paths, month, territory, progress)


@dataclass(frozen=True)
class MonthRequest:
    """A load's files, checked before anything is read: one month, and each file's territory override."""
    paths: list[Path]
    month: str
    month_flag: str | None
    per_file: dict[str, str | None]


def _checked_request(paths: list[str | Path], month: str | None,
                     territory: str | dict[str, str] | None) -> MonthRequest:
    """Flags first, then files: every user error names what to change, and nothing is read before it passes."""
    if not paths:
        raise LeadScoringError("No territory files given. Pass discovery_t1/t2/t3_YYYY_MM.csv files.")
    if isinstance(territory, str) and len(paths) > 1:
        raise LeadScoringError("--territory applies to a single file; name files discovery_tN_YYYY_MM.csv instead.")
    per_file = territory if isinstance(territory, dict) else {Path(paths[0]).name: territory} if territory else {}
    paths = [Path(p) for p in paths]
    if month:
        month_of(paths[0], month)  # flags are checked before files
    for name, t in per_file.items():
        territory_of(Path(name), t)
    for p in paths:
        if p.is_dir():
            raise LeadScoringError(f"{p}: is a folder, not a file. Pass the month's discovery_t*_YYYY_MM.csv files "
                                   "inside it; nothing was loaded.")
        if not p.is_file():
            raise LeadScoringError(f"{p}: no such file. Check the path and try again; nothing was loaded.")
    named = {m for p in paths if (m := guess_month(p.name))}
    if month and len(named) > 1:  # one month for files dated apart: rows of two months would mix in one
        undated = [p.name for p in paths if not guess_month(p.name)]
        # with an undated file (the Upload page's case: it loads dated files month by month on its own), the fix
        # is a name, said without the CLI's flag
        if undated:
            given = f"the month given, {month},"
            fix = (f"Name {', '.join(undated)} with {'its' if len(undated) == 1 else 'their'} month, like "
                   "discovery_t1_2025_01.csv, and load the files again: each month is then loaded on its own, "
                   "oldest first")
        else:
            given = f"--month {month}"
            fix = ("Load them without --month: each month is loaded on its own, oldest first. Rename a file whose "
                   "name carries the wrong month")
        raise LeadScoringError(
            f"The file names carry different months ({', '.join(sorted(named))}), and {given} would load "
            f"them all as {month}. {fix}; nothing was loaded.")
    months = {month_of(p, month) for p in paths}
    if len(months) > 1:
        raise LeadScoringError(
            f"The files belong to different months ({', '.join(sorted(months))}). Load one month at a time "
            "(load-territories loads each month of such files on its own), or pass --month YYYY-MM when every "
            "file is that month's.")
    return MonthRequest(paths, next(iter(months)), month, per_file)


def _load_month(op: Operation, settings: Settings, paths: list[str | Path], month: str | None,
                territory: str | dict[str, str] | None, progress: Progress) -> LoadResult:
    wh, actor = op.wh, op.actor
    req = _checked_request(paths, month, territory)
    month_value = req.month
    load_id = op.context["load_id"] = uuid.uuid4().hex[:12]
    cols = marketpro_columns()
    accounts, raw, invalid, extra_names = read_files(
        req.paths, settings, "territory", cols,
        lambda p: {"load_id": load_id, "file_name": p.name, "territory": territory_of(p, req.per_file.get(p.name)),
                   "snapshot_month": month_of(p, req.month_flag)},
        "MarketPro territory", progress,
    )
    frags = territory_fragments(extra_names)
    progress(0.45, "Parsing and checking every cell")
    with wh.writer("territory load") as s:
        frags.update(scratch_frags(s))
        s.stage("raw.territory_rows", raw)
        s.run_model("staging/typed.sql", **frags)
        settle(raw, accounts)
        migrate_territory_tables(s, frags)
        s.run_model("staging/stg_territory_reps.sql", **frags)
        s.run_model("staging/territory_month_rows.sql", snapshot_date=month_date(month_value), **frags)
        checkpoint("territory_load.after_staging")
        progress(0.65, "Quarantining unparseable values")
        s.run_model("staging/quarantine.sql", load_id=literal(load_id), **frags)
        quarantine_invalid_rows(s, load_id, invalid)
        progress(0.8, "De-duplicating reps across territories and replacing the month")
        checkpoint("territory_load.before_swap")
        s.replace_partitions("staging.stg_territory_reps", frags["staged_table"], month_filter(month_value))
        s.run_model("marts/dim_rep_snapshots.sql")
        write_accounts(s, load_id, "territory", accounts, "staging.stg_territory_reps", actor,
                       where=month_filter(month_value))
        quarantine = load_quarantine(s, load_id)
        summary = _month_summary(s, month_value)
        checkpoint("territory_load.before_commit")
        drop_scratch(s, frags)
        s.unstage("raw.territory_rows")
        result = LoadResult(load_id, "territory", accounts, quarantine, op.seconds, summary)
        op.record(s, detail={
            "load_id": load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined, **summary,
        })
    result.seconds = op.seconds
    progress(1.0, "Done")
    return result


def _month_summary(s, month: str) -> dict:
    """The loaded month as the load reports it: its reps, the newest month, implausible values and, when the month
    lacks a territory of the last complete month, a warning naming it."""
    summary = {
        "snapshot_month": month,
        "unique_reps_in_month": int(s.scalar(f"select count(*) from marts.dim_rep_snapshots where {month_filter(month)}")),
        "current_month": str(s.scalar("select max(snapshot_month) from marts.dim_rep_snapshots")),
        "implausible_values": implausible_values(s, month),
    }
    held = month_territories(s)
    warnings = [partial_month_sentence(month, sorted(held.get(month, ())), missing)] \
        if (missing := missing_territories(held, month)) else []
    warnings += shrunk_territory_sentences(s, month)
    if warnings:
        summary["warnings"] = warnings
    return summary


# A territory's reps move a few in a hundred from one month to the next (reps join, leave, change firm): a month
# holding under this share of the month before's reps (of at least SHRUNK_MIN) is a truncated or filtered file.
SHRUNK_SHARE = 0.70
SHRUNK_MIN = 100


def shrunk_territory_sentences(s, month: str) -> list[str]:
    """A warning per territory whose ``month`` holds far fewer reps than its previous loaded month: the advisors
    missing from the file go unmatched for every lead contacted from that month on."""
    counts = rep_counts(s)
    out = []
    for territory, rows in counts[counts.snapshot_month.astype(str) <= month].groupby("territory"):
        if len(rows) < 2 or str(rows.snapshot_month.iloc[-1]) != month:
            continue
        now, before, prior = int(rows.reps.iloc[-1]), int(rows.reps.iloc[-2]), str(rows.snapshot_month.iloc[-2])
        if before >= SHRUNK_MIN and now < SHRUNK_SHARE * before:
            out.append(f"{territory} {month} holds {now:,} reps against {before:,} in {prior} ({now / before - 1:+.0%}): "
                       f"a truncated or filtered vendor file? Leads contacted from {month} on whose advisor is missing "
                       f"from it go unmatched. Load the full {territory} file for {month} (it replaces that month's "
                       f"{territory}).")
    return out


def partial_month_sentence(month: str, held: list[str], missing: list[str]) -> str:
    one = len(missing) == 1
    return (f"{month} holds {', '.join(held)} only: {', '.join(missing)} {'is' if one else 'are'} not loaded for "
            f"{month} yet. Until {'it is' if one else 'they are'}, leads contacted in {month} or later keep reading "
            f"the last month with every territory, so no territory's reps go missing. Load {', '.join(missing)} for "
            f"{month} when the file{'' if one else 's'} arrive{'s' if one else ''}.")


def spanned_months(names) -> list[str]:
    """The months these file names carry, when every name carries one (else none): more than one means a load of
    several months, each loaded on its own (:func:`load_territory_months`)."""
    months = [guess_month(Path(n).name) for n in names]
    return [] if None in months else sorted(set(months))


def files_by_month(paths: list[str | Path]) -> dict[str, list[Path]]:
    """The files grouped by the month their names carry, oldest month first; a name without one is refused."""
    by_month: dict[str, list[Path]] = {}
    for p in map(Path, paths):
        by_month.setdefault(month_of(p), []).append(p)
    return {m: sorted(by_month[m]) for m in sorted(by_month)}


def load_territory_months(wh: Warehouse, settings: Settings, paths: list[str | Path],
                          territory: dict[str, str] | None = None, actor: Actor | None = None,
                          progress: Progress = no_progress) -> list[LoadResult]:
    """Several months of territory exports (a first load of the history, a backlog), dated by their file names:
    every month's files checked before any is read, then each month loaded on its own, oldest first, each
    replaced atomically (:func:`load_territory_files`). A month that fails stops the load there: the months
    before it stay loaded, complete, and the message names them and the months still to load."""
    territory = territory or {}
    by_month = files_by_month(paths)
    for files in by_month.values():  # flags, folders, missing files: said before any month is loaded
        _checked_request(files, None, {f.name: territory.get(f.name) for f in files if territory.get(f.name)})
    results: list[LoadResult] = []
    months = list(by_month)
    for i, (month, files) in enumerate(by_month.items()):
        progress(i / len(months), f"Territory month {month} ({i + 1} of {len(months)})")
        chosen = {f.name: territory[f.name] for f in files if territory.get(f.name)} or None
        try:
            results.append(load_territory_files(wh, settings, files, territory=chosen, actor=actor))
        except LeadScoringError as exc:
            if not results:
                raise
            rest = months[i + 1:]
            raise LeadScoringError(
                f"{month}: {exc} Loaded before it, each month complete: {', '.join(months[:i])}. Not loaded: "
                f"{month}{', ' + ', '.join(rest) if rest else ''}; load those months' files again once "
                f"{month}'s are fixed.") from None
    progress(1.0, f"{len(months)} territory month{'s' * (len(months) != 1)} loaded")
    return results


def territory_fragments(extra_names: list[str]) -> dict[str, str]:
    """Template values of the shared typed-view and quarantine models for a territory load."""
    frags = model_fragments(marketpro_columns(), "RepCRD", extra_names)
    return {**frags, "raw_table": "raw.territory_rows", "meta_columns": "territory, snapshot_month,",
            "completeness_column": f"{frags['completeness']} AS completeness,",
            "typed_staged_names": ", ".join(f"t.{n.strip()}" for n in frags["staged_names"].split(",")),
            "scratch_kind": "table", "scratch_view": "view", "typed_rows": "staging.territory_typed",
            "other_rows": "staging.territory_month_others", "month_ranks": "staging.territory_month_ranks",
            "staged_table": "staging.territory_month_rows"}


def scratch_frags(s) -> dict[str, str]:
    """The load's intermediate month tables, where the session keeps intermediates (Session.scratch)."""
    return {"scratch_kind": s.scratch_kind, "scratch_view": s.scratch_view_kind,
            "typed_rows": s.scratch("territory_typed"), "other_rows": s.scratch("territory_month_others"),
            "month_ranks": s.scratch("territory_month_ranks"), "staged_table": s.scratch("territory_month_rows")}


def drop_scratch(s, frags: dict) -> None:
    s.execute(f"drop view if exists {frags['staged_table']}; drop table if exists {frags['month_ranks']}; "
              f"drop table if exists {frags['other_rows']}; drop table if exists {frags['typed_rows']}")


def month_date(month: str) -> str:
    return f"date {literal(month + '-01')}"


def month_territories(s) -> dict[str, set[str]]:
    """The territories each snapshot month holds: those whose file loaded at least one row."""
    if not s.table_exists("raw.file_loads"):
        return {}
    rows = s.query("select distinct snapshot_month, territory from raw.file_loads "
                   "where kind = 'territory' and rows_loaded > 0")
    held: dict[str, set[str]] = {}
    for r in rows.itertuples():
        held.setdefault(str(r.snapshot_month), set()).add(str(r.territory))
    return held


def complete_months(held: dict[str, set[str]]) -> list[str]:
    """The months a point-in-time join may use: the first, and each month that holds every territory of the
    last usable month before it, or whose territories the next month repeats (a territory no longer
    delivered). A month still missing a territory's file is skipped, so its leads read the last complete
    month — every territory's reps — until the file is loaded, rather than finding only the reps of the
    territories that arrived first."""
    months = sorted(held)
    usable, expected = [], None
    for i, m in enumerate(months):
        repeated = i + 1 < len(months) and held[months[i + 1]] == held[m]
        if expected is None or held[m] >= expected or repeated:
            usable.append(m)
            expected = held[m]
    return usable


def missing_territories(held: dict[str, set[str]], month: str) -> list[str]:
    """Territories of the last complete month before ``month`` that ``month`` does not hold yet; none once the
    month counts as complete (its territories repeated by the next month: one no longer delivered)."""
    if month in held and month in complete_months(held):
        return []
    before = complete_months({k: v for k, v in held.items() if k < month})
    return sorted(held[before[-1]] - held.get(month, set())) if before else []


def months_sql(s) -> str:
    """The ``{{ months }}`` of marts/lead_snapshot_choice.sql: the complete months, or every month where no
    file load says which territories a month holds."""
    usable = complete_months(month_territories(s))
    if not usable:
        return "select distinct snapshot_month from marts.dim_rep_snapshots"
    return f"select snapshot_month from unnest([{', '.join(literal(m) for m in usable)}]) as snapshot_month"


def month_filter(month: str) -> str:
    """The predicate selecting one snapshot month by the partition column (BigQuery prunes to its partition)."""
    return f"snapshot_date = {month_date(month)}"


def migrate_territory_tables(s, frags: dict) -> None:
    """Warehouses written before the partitioned layout: the snapshot mart was a table of its own and the
    staging table had neither snapshot_date nor rep_rank. Rebuild them once, ranks recomputed as the mart did."""
    if not s.table_exists("staging.stg_territory_reps") or "rep_rank" in s.columns("staging.stg_territory_reps"):
        return
    s.execute(
        "create table staging.stg_territory_reps_partitioned partition by date_trunc(snapshot_date, month) "
        "cluster by RepCRD as select load_id, file_name, territory, snapshot_month, "
        "date(concat(snapshot_month, '-01')) as snapshot_date, line, extra_json, completeness, parse_failures, "
        f"{frags['staged_names']}, row_number() over (partition by snapshot_month, RepCRD "
        "order by completeness desc, territory, file_name, line) as rep_rank from staging.stg_territory_reps")
    s.execute("drop view if exists marts.dim_reps_current; drop table if exists marts.dim_rep_snapshots; "
              "drop table staging.stg_territory_reps")
    s.execute("create table staging.stg_territory_reps partition by date_trunc(snapshot_date, month) "
              "cluster by RepCRD as select * from staging.stg_territory_reps_partitioned")
    s.execute("drop table staging.stg_territory_reps_partitioned")


def implausible_values(session, month: str) -> list[str]:
    """Numbers outside the catalog's plausible range in one loaded month, one sentence per column (column,
    count, the most extreme example): loaded as sent, but a unit or mapping fault the user must hear about."""
    from core.features.catalog import PLAUSIBLE_RANGES

    cols = [c for c in PLAUSIBLE_RANGES]
    parts = []
    for c, (lo, hi) in PLAUSIBLE_RANGES.items():
        parts.append(f"countif({c} < {lo} or {c} > {hi}) as n_{c}, max(if({c} > {hi}, {c}, null)) as hi_{c}, "
                     f"min(if({c} < {lo}, {c}, null)) as lo_{c}")
    row = session.query(f"select {', '.join(parts)} from marts.dim_rep_snapshots where {month_filter(month)}")
    out = []
    for c in cols:
        v = row[f"n_{c}"].iloc[0]
        n = int(v) if pd.notna(v) else 0
        if n:
            ex = row[f"hi_{c}"].iloc[0] if row[f"hi_{c}"].notna().iloc[0] else row[f"lo_{c}"].iloc[0]
            lo, hi = PLAUSIBLE_RANGES[c]
            out.append(f"{c}: {n:,} value(s) outside the plausible {lo:,.0f}–{hi:,.0f} (e.g. {ex:,.0f}) — "
                       "a unit or mapping fault in the export? They were loaded as sent; check with the vendor.")
    return out
