"""The audit log: who did what, when, to what, and how it ended. Admins read it in the app."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pandas as pd

from core.auth import Actor
from core.warehouse import Session, Warehouse


def audit_row(actor: Actor, action: str, target: str = "", outcome: str = "ok", detail: dict | str | None = None) -> pd.DataFrame:
    return pd.DataFrame([{
        "event_id": uuid.uuid4().hex,
        "at": datetime.now(timezone.utc),
        "actor": actor.username,
        "role": actor.role,
        "action": action,
        "target": target,
        "outcome": outcome,
        "detail": detail if isinstance(detail, str) or detail is None else json.dumps(detail, default=str),
    }])


def record(session: Session, actor: Actor, action: str, target: str = "", outcome: str = "ok", detail=None) -> None:
    session.load("ops.audit_log", audit_row(actor, action, target, outcome, detail), mode="append")


def record_now(wh: Warehouse, actor: Actor, action: str, target: str = "", outcome: str = "ok", detail=None) -> None:
    """Record in its own short write (e.g. a failure after the main transaction rolled back)."""
    with wh.writer(f"audit {action}") as s:
        record(s, actor, action, target, outcome, detail)


def recent(wh: Warehouse, limit: int = 500) -> pd.DataFrame:
    return wh.read(f"select * from ops.audit_log order by at desc limit {int(limit)}")
