"""What the Salesforce sync page shows before any button is pressed: the connection, the org's fields and API
allowance, and the ledgers' state. Never includes a secret."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from core.config import Settings
from core.errors import LeadScoringError
from core.salesforce import ledger
from core.salesforce.client import SalesforceClient
from core.salesforce.config import salesforce_config
from core.salesforce.result import KINDS, sync_words
from core.warehouse import Warehouse


def connection_status(settings: Settings) -> dict:
    """Configured? Reachable? How many contacted Leads? Never includes a secret."""
    cfg = salesforce_config(settings)
    status = {"configured": cfg.configured, "auth_method": cfg.auth_method, "missing": cfg.missing(),
              "settings": cfg.public()}
    if not cfg.configured:
        return status
    t0 = time.perf_counter()
    client = SalesforceClient(cfg)
    status.update(reachable=True, instance=client.sf.sf_instance,
                  contacted_leads=client.count(f"FROM {cfg.object_name} WHERE Stage_Entered_Contacting__c != null"),
                  seconds=round(time.perf_counter() - t0, 2))
    return status


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
    out["kind"] = out["kind"].map(lambda k: KINDS.get(k, k))
    out["outcome"] = out["outcome"].map(sync_words)
    return out


def org_checks(settings: Settings) -> dict:
    """What the sync page shows: each mapped field's presence and updateability, and the API allowance."""
    cfg = salesforce_config(settings).require()
    client = SalesforceClient(cfg)
    described = client.describe_fields()
    remaining, maximum = client.api_requests()
    rows = [{"Write-back field": c, "API name": a, "exists": a in described,
             "updateable": bool(described.get(a, {}).get("updateable"))} for c, a in cfg.field_map.items()]
    return {"fields": rows, "api_remaining": remaining, "api_max": maximum, "api_floor": cfg.api_request_floor}
