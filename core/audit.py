"""The audit log: who did what, when, to what, and how it ended. Admins read it in the app."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pandas as pd

from core.auth import Actor
from core.warehouse import Session, Warehouse
from core.words import header, role_words


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


def action_words(action: str) -> str:
    """An action code as people read it: 'force_promote_model' → 'Force promote model'."""
    return header(action or "")


def detail_items(detail: str | None) -> list[tuple[str, str]]:
    """A detail's JSON as (key, value) pairs in words, every key kept in order: ('run id', '18ca…'),
    ('counts', 'leads rows read 2,894, scored 1,816'). Text that is not a JSON object is one pair with no key;
    nothing becomes the word 'None'."""
    if detail is None or (not isinstance(detail, str) and pd.isna(detail)) or detail == "":
        return []
    try:
        value = json.loads(detail)
    except ValueError:
        return [("", str(detail))]
    if not isinstance(value, dict):
        return [("", str(detail))]

    def one(v) -> str:
        if isinstance(v, dict):  # nested counts read as words too: "counts: leads rows read 2,894, scored 1,816"
            return ", ".join(f"{str(k).replace('_', ' ')} {one(x)}" for k, x in v.items()) or "—"
        if isinstance(v, list):
            return ", ".join(one(x) for x in v) or "—"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return f"{v:,}"
        return "—" if v is None else str(v)

    return [(str(k).replace("_", " "), one(v)) for k, v in value.items()]


def detail_words(detail: str | None) -> str:
    """A detail's JSON as one readable line, every key kept: 'run id: 18ca…; alert level: alert; alerts: 31'."""
    return "; ".join(f"{k}: {v}" if k else v for k, v in detail_items(detail))


def event_detail(wh: Warehouse, event_id: str) -> list[tuple[str, str]]:
    """One event's detail in full, as :func:`detail_items` (the page's table shows it on one line)."""
    from core.warehouse.sql import literal

    df = wh.read(f"select detail from ops.audit_log where event_id = {literal(str(event_id))}")
    return detail_items(df.detail.iloc[0]) if len(df) else []


OUTCOME_WORDS = {"ok": "Succeeded", "failed": "Failed", "refused": "Refused (no permission)", "partial": "Partly done"}


def outcome_words(outcome: str | None) -> str:
    return OUTCOME_WORDS.get(outcome or "", header(outcome or "—"))


def log_view(wh: Warehouse, limit: int = 500, actions: list[str] | None = None,
             outcomes: list[str] | None = None) -> pd.DataFrame:
    """The newest ``limit`` events as the audit page shows them: when, who, role, action in words, target, outcome,
    detail in words; the event id last. ``actions`` and ``outcomes`` (codes) keep only those."""
    log = recent(wh, limit)
    if actions:
        log = log[log.action.isin(actions)]
    if outcomes:
        log = log[log.outcome.isin(outcomes)]
    log = log.assign(action=log.action.map(action_words), detail=log.detail.map(detail_words), role=log.role.map(role_words),
                     outcome=log.outcome.map(outcome_words))
    first = [c for c in ("at", "actor", "role", "action", "target", "outcome", "detail") if c in log.columns]
    return log[first + [c for c in log.columns if c not in first]].reset_index(drop=True)


def logged_actions(wh: Warehouse) -> list[str]:
    """Every action code the log holds, for a filter."""
    return sorted(wh.read("select distinct action from ops.audit_log").action)


def logged_outcomes(wh: Warehouse) -> list[str]:
    """Every outcome code the log holds (ok, failed, refused, ...), for a filter."""
    return sorted(wh.read("select distinct outcome from ops.audit_log").outcome.dropna())
