"""Salesforce → warehouse: contacted Leads and their call Tasks fetched by SOQL (every page) and loaded exactly as
an export file is loaded (archived with a checksum, every row loaded or quarantined)."""

from __future__ import annotations

import csv
import io
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pandas as pd

from simple_salesforce.exceptions import SalesforceError

from core.auth import Actor
from core.config import Settings
from core.contract import salesforce_columns
from core.errors import LeadScoringError
from core.features.build import as_utc
from core.ingest.loader import no_progress
from core.ingest.reader import open_archived, sha256_of
from core.operation import audited
from core.salesforce.client import RequestLimitExceeded, SalesforceClient, TransientFailure, refusal
from core.salesforce.config import salesforce_config
from core.salesforce.result import Outcome, SyncResult, now, record_sync
from core.warehouse import Warehouse
from core.words import LEAD_PULL_PREFIX, TASK_PULL_PREFIX


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):  # compound Address
        parts = [value.get(k) for k in ("street", "city", "state", "postalCode", "country")]
        return ", ".join(str(p) for p in parts if p)
    return str(value)


def _field(record: dict, name: str):
    if "." in name:  # relationship, e.g. Owner.Name
        head, tail = name.split(".", 1)
        sub = record.get(head)
        return None if sub is None else _field(sub, tail)
    return record.get(name)


def pull_leads(wh: Warehouse, settings: Settings, actor: Actor | None = None, progress=no_progress,
               client: SalesforceClient | None = None, allow_fewer: bool = False, incremental: bool = False):
    """Fetch the contract's Lead fields for contacted leads (SOQL, every page) and load them exactly as a
    Lead export file is loaded: the pulled rows are written as a contract CSV, archived with a checksum,
    parsed, deduplicated and accounted for by :func:`core.ingest.leads.load_lead_file`.

    ``incremental`` (the daily run): only the Leads changed since the last Lead pull, merged with those it loaded,
    as :func:`pull_activities` does for Tasks (see :func:`incremental_base`)."""
    from core.ingest.leads import load_lead_file

    names = [c.name for c in salesforce_columns()]
    obj = salesforce_config(settings).object_name
    return _pull(wh, settings, actor, progress, client, obj, "Stage_Entered_Contacting__c != null", names, LEADS,
                 # the org as it is now: never "older"; but a user who cannot see every Lead pulls fewer
                 partial(load_lead_file, allow_older=True, allow_fewer=allow_fewer),
                 "Check the user's access to Lead and Stage_Entered_Contacting__c.",
                 in_org=partial(fields_in_org, columns=salesforce_columns()),
                 base=incremental_base(wh, settings, LEADS) if incremental else None)


def fields_in_org(client: SalesforceClient, names: list[str], columns,
                   obj: str | None = None) -> tuple[list[str], list[str]]:
    """The contract's fields of ``obj`` (the Lead object by default) this org shows the integration user (describe),
    and those it lacks. A SOQL naming a field the org never created, or one field-level security hides, fails whole
    (INVALID_FIELD): an org without, say, Savvy_Lead_Score__c or Experimentation_Tag__c, or whose profile hides
    CallDisposition, could not be pulled at all. Optional fields it lacks load as missing columns, as from a file
    without them; a required one stops the pull before any row is read. A relationship (Owner.Name) is there when
    its Id field is."""
    described = client.describe_fields(obj)
    have = lambda n: (n.split(".")[0] + "Id" if "." in n else n) in described  # noqa: E731
    required = {c.name for c in columns if c.required}
    absent = [n for n in names if not have(n)]
    if missing := [n for n in absent if n in required]:
        raise LeadScoringError(
            f"The org's {obj or client.cfg.object_name} has no field {', '.join(missing)} (or the integration user "
            "cannot see it), and the engine needs it (shared/contract: a required column). Create the field or grant "
            "the user field access, then pull again; nothing was replaced.")
    return [n for n in names if have(n)], absent


def pull_activities(wh: Warehouse, settings: Settings, actor: Actor | None = None, progress=no_progress,
                    client: SalesforceClient | None = None, incremental: bool = False):
    """Fetch the contract's Task fields (call activity) for Tasks on a record (SOQL, every page) and load
    them exactly as a Task export file: :func:`core.ingest.activities.load_activity_file`.

    ``incremental`` (the daily run): only the Tasks changed since the last Task pull are fetched, and merged with the
    Tasks that pull loaded (its archived file, checksum verified) into one full file, loaded as every pull is. A full
    pull of every Task each day costs an org with millions of them thousands of API requests and as many minutes;
    a day's changes are a few pages. See :func:`incremental_base` for when a full pull is made instead."""
    from core.contract import task_columns
    from core.ingest.activities import load_activity_file

    columns = task_columns()
    # queryAll, without the recycle bin: Salesforce archives a closed Task a year after its date and `query` no
    # longer returns it, so a plain query lost every dial older than a year (the experiments' dials, an A/A test)
    return _pull(wh, settings, actor, progress, client, "Task", "WhoId != null AND IsDeleted = false",
                 [c.name for c in columns], TASKS, load_activity_file,
                 "Check the user's access to Task (Activities) and its WhoId field.", all_rows=True,
                 in_org=partial(fields_in_org, columns=columns, obj="Task"),
                 base=incremental_base(wh, settings, TASKS) if incremental else None)


# An incremental pull asks for the records changed since the last pull began, less this: the org's clock and ours
# differ, and a record saved while that pull read its pages may carry a time before the pull's start. A record
# pulled twice is kept once (the newer copy).
PULL_OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class Pulled:
    """What differs between a Lead pull and a Task pull."""
    sf_object: str  # ops.sf_syncs.sf_object
    what: str  # in messages
    kind: str  # raw.file_loads.kind of its load
    prefix: str  # its file's name (core.words.PULL_FILES reads it as words)
    full_days: str  # the [salesforce] setting: days between full pulls of the daily run
    link: str  # the field a record needs to be pulled; a changed record without it leaves the loaded set
    unlinked: str  # such records, in words


LEADS = Pulled("Lead", "Leads", "leads", LEAD_PULL_PREFIX, "lead_full_pull_days", "Stage_Entered_Contacting__c",
               "no longer contacted")
TASKS = Pulled("Task", "Tasks", "activities", TASK_PULL_PREFIX, "task_full_pull_days", "WhoId",
               "no longer on a record")


@dataclass(frozen=True)
class IncrementalBase:
    """What an incremental pull builds on: the last pull's start (less the overlap) and the file that holds the
    records loaded now, as that pull archived it."""
    since: datetime
    archive: Path
    rows: int


def incremental_base(wh: Warehouse, settings: Settings, pulled: Pulled = TASKS) -> IncrementalBase | None:
    """The base of the next incremental pull of ``pulled`` (Tasks or Leads), or None when it must be full: its
    ``*_full_pull_days`` is 0; no full pull of it succeeded within that many days (only a full pull lets go of a
    record purged from the recycle bin, or changed where its SystemModstamp does not move: a formula, the owner's
    name); the records loaded now did not come from its last pull (an export loaded by hand since, or that pull
    failed); or the archived copy of that pull is missing or does not match its checksum."""
    days = getattr(salesforce_config(settings), pulled.full_days)
    if days <= 0:
        return None
    with wh.reader() as s:
        if not (s.table_exists("ops.sf_syncs") and s.table_exists("raw.file_loads")):
            return None
        cols = s.columns("ops.sf_syncs")
        if "sf_object" not in cols:
            return None
        full = "and pulled_since is null" if "pulled_since" in cols else ""
        pulls = f"ops.sf_syncs where kind = 'pull' and sf_object = '{pulled.sf_object}' and outcome = 'ok'"
        last_full = s.scalar(f"select max(started_at) from {pulls} {full}")
        last = s.scalar(f"select max(started_at) from {pulls}")
        load = s.query("select file_name, loaded_at, archive_path, sha256, rows_read from raw.file_loads "
                       f"where kind = '{pulled.kind}' order by loaded_at desc limit 1")
    if last_full is None or pd.isna(last_full) or load.empty:
        return None
    last_full, last = as_utc(last_full), as_utc(last)
    if now() - last_full > timedelta(days=days):
        return None
    load = load.iloc[0]
    if not str(load.file_name).startswith(f"{pulled.prefix}_") or as_utc(load.loaded_at) < last:
        return None  # the records loaded now are not the last pull's
    archive = Path(str(load.archive_path or ""))
    try:
        if sha256_of(archive, archived=True) != load.sha256:
            return None
    except (OSError, EOFError):  # gone, unreadable, or a truncated gzip
        return None
    return IncrementalBase(last - PULL_OVERLAP, archive, int(load.rows_read))


def _header(base: IncrementalBase) -> list[str]:
    with _archived_csv(base) as reader:
        return next(reader, [])


@contextmanager
def _archived_csv(base: IncrementalBase):
    """The last pull's file, as it archived it: a csv reader positioned on the header."""
    with io.TextIOWrapper(open_archived(base.archive), encoding="utf-8", newline="") as fh:
        yield csv.reader(fh)


def _merge_loaded(writer, names: list[str], base: IncrementalBase, changed: set[str],
                  removed: set[str]) -> tuple[int, int]:
    """The records loaded before, as their pull fetched them (the archive), under ``names``, but those pulled again
    (``changed``: a record edited since is kept in its newer copy) and those ``removed`` (deleted, or no longer
    pulled). Returns how many rows it wrote and how many of the loaded ones were removed."""
    kept = gone = 0
    with _archived_csv(base) as reader:
        header = next(reader, [])
        at = [header.index(n) if n in header else None for n in names]
        id_at = header.index("Id")
        for row in reader:
            key = row[id_at] if len(row) > id_at else None
            if key in removed:
                gone += 1
                continue
            if key in changed:
                continue
            writer.writerow(["" if i is None or i >= len(row) else row[i] for i in at])
            kept += 1
    return kept, gone


class _Deferred(Exception):
    """The pull would eat into the API requests kept for the org's other integrations."""


def _check_api_floor(client: SalesforceClient, what: str, total: int, page: int) -> None:
    """Before the second page: the pages still to fetch (and the /limits request itself) must leave
    ``salesforce.api_request_floor`` daily API requests for the org's other integrations, as a push must. A daily
    run pulls every contacted Lead and every Task (2,000 a page): at a few million Tasks that is thousands of
    requests, which an org near its limit cannot spare. Checked only when more than one page is due."""
    more = -(-max(total - page, 0) // max(page, 1))
    doing = f"this pull of {total:,} {what} needs about {more:,} more"
    if more and (reason := client.api_floor_shortfall(more + 1, doing)):
        raise _Deferred(reason)


@dataclass
class Fetched:
    """What one pull read from Salesforce and wrote to its CSV: ``read`` records in ``pages``, ``rows`` of them
    written; an incremental pull also merged ``kept`` rows of the last pull and left ``removed`` out."""
    pages: int = 0
    read: int = 0
    rows: int = 0
    kept: int = 0
    removed: int = 0


def _where(obj: str, condition: str, base: IncrementalBase | None, all_rows: bool) -> tuple[str, str | None]:
    """The query's FROM … WHERE, and for an incremental pull its SystemModstamp condition. SystemModstamp, not
    LastModifiedDate: it also moves on system changes (a conversion re-parenting a Task), and it is the indexed
    field Salesforce advises for incremental reads. Every record changed since, with pulled.link or not: one whose
    link was cleared must replace its loaded copy (and leave, as a full pull would not return it), or it stayed
    until the next full pull."""
    if not base:
        return f"FROM {obj} WHERE {condition}", None
    since = f"SystemModstamp > {base.since:%Y-%m-%dT%H:%M:%SZ}"
    return f"FROM {obj} WHERE {'IsDeleted = false AND ' if all_rows else ''}{since}", since


def _fetch(client, writer, obj: str, names: list[str], where: str, since: str | None, pulled: Pulled, all_rows: bool,
           base: IncrementalBase | None, progress, got: Fetched) -> None:
    """Write every page of the query through the CSV ``writer`` (its header written), counting in ``got`` as it goes (a failure mid-way says how
    far it came); an incremental pull then merges the last pull's rows that neither changed nor left."""
    what = pulled.what
    changed: set[str] = set()
    gone: set[str] = set()  # deleted in Salesforce since, or changed and no longer pulled (no pulled.link)
    for records, total in client.query_pages(f"SELECT {', '.join(names)} {where}", all_rows):
        if got.pages == 0:
            _check_api_floor(client, what, total, len(records))
        got.pages += 1
        got.read += len(records)
        if base:
            linked, unlinked = [], []
            for r in records:
                (linked if _field(r, pulled.link) not in (None, "") else unlinked).append(r)
            changed.update(str(r.get("Id")) for r in records)
            gone.update(str(r.get("Id")) for r in unlinked)
            records = linked
        got.rows += len(records)
        writer.writerows([_cell(_field(r, n)) for n in names] for r in records)
        progress(0.05 + 0.45 * got.read / max(total, 1), f"Page {got.pages}: {got.read:,} of {total:,} {what}")
    if base:  # and those deleted since (queryAll reads the recycle bin, kept 15 days: a full pull is sooner)
        for records, _ in client.query_pages(f"SELECT Id FROM {obj} WHERE IsDeleted = true AND {since}", True):
            gone.update(str(r.get("Id")) for r in records)
        got.kept, got.removed = _merge_loaded(writer, names, base, changed, gone)


@audited("replace_data", "salesforce_pull", failures=False)  # record_sync audits every outcome
def _pull(wh, settings, actor, progress, client, obj: str, condition: str, names: list[str], pulled: Pulled, load,
          access_hint: str, all_rows: bool = False, in_org=None, base: IncrementalBase | None = None):
    cfg = salesforce_config(settings).require()
    started, t0 = now(), time.perf_counter()
    what = pulled.what
    result = SyncResult.start("pull")
    result.sf_object = pulled.sf_object
    out_dir = Path(settings.data_dir) / "pulls"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{pulled.prefix}_{started:%Y%m%dT%H%M%S}_{result.sync_id}.csv"
    got = Fetched()
    absent: list[str] = []
    try:
        client = client or SalesforceClient(cfg)
        if in_org:
            names, absent = in_org(client, names)
        if base and not set(names) <= set(_header(base)):
            base = None  # a field the last pull did not fetch (newly visible in the org): every record needs it
        result.pulled_since = base.since if base else None
        where, since = _where(obj, condition, base, all_rows)
        progress(0.02, f"Querying {what} at {cfg.login_url if not cfg.session_id else cfg.instance_url}")
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            _fetch(client, writer, obj, names, where, since, pulled, all_rows, base, progress, got)
        pages, read, rows, kept, removed = got.pages, got.read, got.rows, got.kept, got.removed
        if rows == 0 and not base:
            raise LeadScoringError(f"Salesforce returned no {what} ({where.removeprefix('FROM ')}); nothing was "
                                   f"replaced. {access_hint}")
        note = f"Not in this org (loaded as missing, as from a file without them): {', '.join(absent)}." if absent else ""
        loaded = load(wh, settings, path, actor=actor, progress=lambda f, m: progress(0.5 + 0.5 * f, m),
                      **({"notes": (note,)} if note else {}))
        result.succeeded, result.intended = loaded.rows_loaded, rows + kept
        since = (f" (incremental: changed since {base.since:%d %b %Y %H:%M} UTC, merged with the {kept:,} loaded "
                 f"before, less {removed:,} deleted in Salesforce or {pulled.unlinked} since: {rows + kept:,} rows)"
                 ) if base else ""
        result.message = (f"{what}: {pages} page(s), {read:,} rows read{since}, {loaded.rows_loaded:,} loaded, "
                          f"{loaded.rows_quarantined:,} quarantined (load {loaded.load_id}). {note}").strip()
        return loaded
    except (RequestLimitExceeded, TransientFailure) as exc:
        result.outcome, result.message = Outcome.FAILED, f"{exc}; stopped after {got.read:,} rows, the loaded {what} are unchanged."
        raise LeadScoringError(f"Salesforce pull {result.message} Retry later.") from None
    except _Deferred as exc:
        result.outcome, result.message = Outcome.DEFERRED_API_FLOOR, str(exc)
        raise LeadScoringError(f"Salesforce pull of {what} deferred: {exc} Nothing was replaced; the next daily run "
                               "tries again, or pull once the allowance resets.") from None
    except SalesforceError as exc:  # the org refused the describe or the query: access, a field, the object
        result.outcome, result.message = Outcome.FAILED, f"Salesforce refused the {what} query ({refusal(exc)})."
        raise LeadScoringError(f"{result.message} {access_hint} Nothing was replaced.") from None
    except Exception as exc:
        result.outcome, result.message = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        path.unlink(missing_ok=True)  # the loader archived its own copy with a checksum
        result.seconds = time.perf_counter() - t0
        record_sync(wh, result, actor, started)
