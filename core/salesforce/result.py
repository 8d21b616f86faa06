"""One Salesforce sync's outcome and record: every pull, push and dry run ends as a row of ``ops.sf_syncs`` and
an audit entry, whatever happened."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from enum import StrEnum

import pandas as pd

from core import audit
from core.auth import Actor
from core.warehouse import Warehouse


class Outcome(StrEnum):
    """How a sync ended (stored as its value in ``ops.sf_syncs.outcome``)."""

    OK = "ok"
    PARTIAL = "partial"  # some rows failed for good; the failure ledger holds them
    NOTHING_TO_SEND = "nothing_to_send"
    STOPPED_REQUEST_LIMIT = "stopped_request_limit"
    STOPPED_TRANSIENT = "stopped_transient"
    DEFERRED_API_FLOOR = "deferred_api_floor"
    CIRCUIT_OPEN = "circuit_open"
    REFUSED = "refused"  # the scores in place are stale
    FAILED = "failed"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def settled(self) -> bool:
        """Everything intended landed (or there was nothing to send)."""
        return self in (Outcome.OK, Outcome.NOTHING_TO_SEND)


KINDS = {"push": "Push", "dry_run": "Dry run", "pull": "Pull"}


def sync_words(outcome) -> str:
    """A stored sync outcome (or 'not configured', 'off') in words."""
    return Outcome(outcome).label if outcome in Outcome._value2member_map_ else str(outcome)


_LABELS = {
    Outcome.OK: "done", Outcome.PARTIAL: "done, some rows failed", Outcome.NOTHING_TO_SEND: "nothing to send",
    Outcome.STOPPED_REQUEST_LIMIT: "stopped: the org's API request limit is used up",
    Outcome.STOPPED_TRANSIENT: "stopped: Salesforce did not answer", Outcome.DEFERRED_API_FLOOR:
        "deferred: too few API requests left today", Outcome.CIRCUIT_OPEN: "stopped: too many rows failed",
    Outcome.REFUSED: "refused: the scores in place are stale", Outcome.FAILED: "failed",
}


@dataclass
class SyncResult:
    sync_id: str
    kind: str  # push | dry_run | pull
    outcome: Outcome = Outcome.OK
    intended: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    deferred: int = 0
    retries: int = 0
    job_ids: list = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    reconciled_jobs: int = 0
    cleared: int = 0  # leads whose score was cleared because they left the scored population
    sf_object: str = "Lead"  # what was pulled or pushed: "Lead", or "Task" for a pull of call activity
    pulled_since: datetime | None = None  # an incremental pull: the records changed since (None: a full pull)

    def markdown(self) -> str:
        lines = [f"{KINDS[self.kind]} {self.sync_id}: **{sync_words(self.outcome)}** in {self.seconds:.1f} s."]
        if self.kind == "pull":
            lines.append(f"{self.succeeded:,} {self.sf_object} rows loaded. {self.message}")
        else:
            lines.append(f"Intended {self.intended:,} · sent {self.sent:,} · landed {self.succeeded:,} · failed "
                         f"{self.failed:,} · deferred {self.deferred:,} · HTTP retries {self.retries} · jobs "
                         f"{len(self.job_ids)}" + (f" · reconciled {self.reconciled_jobs} earlier job(s)"
                                                   if self.reconciled_jobs else "")
                         + (f" · cleared {self.cleared:,} lead(s) that left scoring" if self.cleared else ""))
            if self.message:
                lines.append(self.message)
        return "\n".join(lines)

    @classmethod
    def start(cls, kind: str) -> "SyncResult":
        return cls(uuid.uuid4().hex[:12], kind)


def now() -> datetime:
    return datetime.now(timezone.utc)


def record_sync(wh: Warehouse, result: SyncResult, actor: Actor, started: datetime) -> None:
    row = {
        "sync_id": result.sync_id, "kind": result.kind, "actor": actor.username, "started_at": started,
        "finished_at": now(), "outcome": str(result.outcome), "rows_intended": result.intended,
        "rows_sent": result.sent, "rows_succeeded": result.succeeded, "rows_failed": result.failed,
        "rows_deferred": result.deferred, "retries": result.retries, "job_ids": ",".join(result.job_ids),
        "message": result.message, "seconds": round(result.seconds, 2), "sf_object": result.sf_object,
        "pulled_since": pd.Timestamp(result.pulled_since) if result.pulled_since else pd.NaT,
    }
    frame = pd.DataFrame([row])
    with wh.writer(f"record Salesforce {result.kind}") as s:
        s.add_columns_of("ops.sf_syncs", frame)  # sf_object, pulled_since: a warehouse from before they were
        s.load("ops.sf_syncs", frame, mode="append")
        detail = {k: v for k, v in asdict(result).items() if k not in ("sync_id", "kind")}
        audit.record(s, actor, f"salesforce_{result.kind}", result.sync_id, str(result.outcome), detail)
