"""What the Salesforce sync page shows before any button is pressed: the connection, the org's fields and API
allowance, and the ledgers' state. Never includes a secret."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import pandas as pd

from core.config import Settings
from core.errors import LeadScoringError
from core.salesforce import ledger
from core.salesforce.client import SalesforceClient
from core.salesforce.config import salesforce_config
from core.salesforce.result import KINDS, sync_words
from core.warehouse import Warehouse


@dataclass(frozen=True)
class FieldCheck:
    """One mapped write-back field as the org describes it to the integration user."""

    field: str  # the write-back column (contract name)
    api_name: str  # the Lead field it is written to
    exists: bool
    updateable: bool


@dataclass(frozen=True)
class ConnectionStatus:
    """Configured? Reachable? How many contacted Leads? With ``org``: each mapped field's presence and
    updateability and the API allowance. Never holds a secret."""

    configured: bool
    auth_method: str
    missing: list[str]
    settings: dict  # the non-secret settings (cfg.public())
    reachable: bool = False
    instance: str | None = None
    contacted_leads: int | None = None
    seconds: float | None = None
    fields: tuple[FieldCheck, ...] = ()  # only when the org was checked
    api_remaining: int | None = None
    api_max: int | None = None
    api_floor: int | None = None  # requests kept for the org's other integrations
    # call activity as the integration user sees Task (the daily Task pull, the experiments' dials), in words;
    # call_activity_ok: every contract Task field readable
    call_activity: str | None = None
    call_activity_ok: bool = True

    def to_json(self) -> dict:
        """``sf-status --json``: the connection's keys, plus the org's only when it was checked."""
        out = {"configured": self.configured, "auth_method": self.auth_method, "missing": self.missing,
               "settings": self.settings}
        if self.configured:
            out |= {"reachable": self.reachable, "instance": self.instance, "contacted_leads": self.contacted_leads,
                    "seconds": self.seconds}
        if self.fields:
            out |= {"fields": [asdict(f) for f in self.fields], "api_remaining": self.api_remaining,
                    "api_max": self.api_max, "api_floor": self.api_floor, "call_activity": self.call_activity,
                    "call_activity_ok": self.call_activity_ok}
        return out


def connection_status(settings: Settings, org: bool = False) -> ConnectionStatus:
    """Log in once and count the contacted Leads; with ``org``, also describe the mapped fields and read the API
    allowance (what the sync page's check shows). A failed login raises :class:`LeadScoringError`."""
    cfg = salesforce_config(settings)
    base = ConnectionStatus(cfg.configured, cfg.auth_method, cfg.missing(), cfg.public())
    if not cfg.configured:
        return base
    t0 = time.perf_counter()
    client = SalesforceClient(cfg)
    contacted = client.count(f"FROM {cfg.object_name} WHERE Stage_Entered_Contacting__c != null")
    status = replace(base, reachable=True, instance=client.sf.sf_instance, contacted_leads=contacted)
    if org:
        described = client.describe_fields()
        remaining, maximum = client.api_requests()
        words, ok = _call_activity(client)
        status = replace(status, fields=tuple(
            FieldCheck(c, a, a in described, bool(described.get(a, {}).get("updateable")))
            for c, a in cfg.field_map.items()), api_remaining=remaining, api_max=maximum,
            api_floor=cfg.api_request_floor, call_activity=words, call_activity_ok=ok)
    return replace(status, seconds=round(time.perf_counter() - t0, 2))


def _call_activity(client: SalesforceClient) -> tuple[str, bool]:
    """Whether the integration user can read Task and which contract Task fields it cannot see: the daily Task pull
    leaves those out (or, without Task access, cannot run)."""
    from simple_salesforce.exceptions import SalesforceError

    from core.contract import task_columns
    from core.salesforce.client import refusal
    from core.salesforce.pull import fields_in_org

    columns = task_columns()
    try:  # as the Task pull reads them
        _, hidden = fields_in_org(client, [c.name for c in columns], columns, "Task")
    except SalesforceError as exc:
        return (f"Call activity: this user cannot read Task ({refusal(exc)}), so the daily Task pull cannot run and "
                "experiments count no new dials. Grant Read on Tasks (Activities), or set "
                "salesforce.daily_pull_tasks = false.", False)
    except LeadScoringError as exc:  # a field the pull needs is hidden
        return f"Call activity: {exc}", False
    if hidden:
        return (f"Call activity: Task is readable, but not {', '.join(hidden)} (field-level security): pulls load "
                "them as missing.", False)
    return "Call activity: Task and every contract Task field are readable.", True


@dataclass(frozen=True)
class SyncOverview:
    """The sync page's state, read from the warehouse only (no call to Salesforce)."""

    configured: bool
    missing: list[str]
    auth_method: str
    settings: dict  # the non-secret settings (cfg.public())
    pending: pd.DataFrame  # rows a push would send now
    pending_error: str | None  # why the pending rows could not be computed
    stale: str | None  # why pushing is blocked (the last daily run failed), or None
    recent: pd.DataFrame  # the last syncs, newest first
    failures: pd.DataFrame  # the open failure ledger
    ledger_rows: int  # leads whose values are in Salesforce

    @property
    def blocked(self) -> str | None:
        """Why a push cannot start now, or None."""
        return "Salesforce is not configured" if not self.configured else self.stale or self.pending_error


def daily_pull_words(cfg: dict) -> str:
    """What the daily run pulls, for the sync page: "on (Leads and Tasks: the changes, all of them every 7 days)"."""
    if not cfg["daily_pull"]:
        return "off"
    days = {"Leads": cfg.get("lead_full_pull_days", 0)}
    if cfg["daily_pull_tasks"]:
        days["Tasks"] = cfg.get("task_full_pull_days", 0)

    def each(what: str, n: int) -> str:
        return f"{what}: the changes, all of them every {n} days" if n > 0 else f"all {what}, every day"

    if len(set(days.values())) == 1:
        return f"on ({each(' and '.join(days), next(iter(days.values())))})"
    return f"on ({'; '.join(each(k, n) for k, n in days.items())})"


def sync_overview(wh: Warehouse, settings: Settings) -> SyncOverview:
    """Everything the Salesforce sync page shows before any button is pressed; reads the warehouse only."""
    cfg = salesforce_config(settings)
    pending, pending_error = pd.DataFrame(), None
    try:
        pending = ledger.pending_changes(wh, settings)
    except LeadScoringError as exc:
        pending_error = str(exc)
    return SyncOverview(
        cfg.configured, cfg.missing(), cfg.auth_method, cfg.public(), pending, pending_error,
        ledger.stale_scores_reason(wh), readable_syncs(ledger.recent_syncs(wh)), ledger.open_failures(wh),
        int(wh.read("select count(*) as n from ops.sf_writeback_ledger").n.iloc[0]))


def readable_syncs(recent: pd.DataFrame) -> pd.DataFrame:
    """The sync history as people read it: when, what, how it ended (in words), the counts; ids last."""
    if recent.empty:
        return recent
    first = ["started_at", "kind", "outcome", "actor", "rows_intended", "rows_sent", "rows_succeeded", "rows_failed",
             "rows_deferred", "retries", "seconds", "message"]
    out = recent[[c for c in first if c in recent] + [c for c in recent if c not in first]].copy()
    if "rows_sent" in out:  # a pull sends nothing: its cell stays empty rather than reading 0
        out["rows_sent"] = out["rows_sent"].astype("Int64").mask(out["kind"].eq("pull").to_numpy())
    kind = out["kind"].map(lambda k: KINDS.get(k, k))
    if "sf_object" in out:  # a pull of Leads and one of Tasks read apart (rows from before it say nothing)
        pulled = (out["kind"] == "pull") & out["sf_object"].notna()
        kind = kind.where(~pulled, kind + " · " + out["sf_object"].fillna("") + "s")
        out = out.drop(columns="sf_object")
    if "pulled_since" in out:  # a daily pull: the changes since the last one (its message says since when)
        kind = kind.where(out["pulled_since"].isna(), kind + " (changes)")
        out = out.drop(columns="pulled_since")
    out["kind"] = kind
    out["outcome"] = out["outcome"].map(sync_words)
    return out
