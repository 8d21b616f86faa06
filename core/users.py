"""User administration as audited operations: every change (add, role change, disable, enable, password
reset, removal) is authorised in core (``manage_users``) and written to ``ops.audit_log``, from the control
panel and from the command line alike. Passwords never reach the log."""

from __future__ import annotations

import pandas as pd

from core import audit
from core.auth import Actor, UserStore
from core.operation import audited
from core.warehouse import Warehouse
from core.words import role_words


@audited("manage_users", "save_user", target=lambda a: a["username"])
def save_user(store: UserStore, wh: Warehouse, username: str, password: str, role: str,
              actor: Actor | None = None) -> str:
    existed = username in store.users()
    store.add(username, password, role, actor=actor)
    audit.record_now(wh, actor, "save_user", username, "ok", {"role": role, "new": not existed})
    return f"{'Updated' if existed else 'Added'} {username} as {role.replace('_', ' ')}."


@audited("manage_users", lambda a: "disable_user" if a["disabled"] else "enable_user",
         target=lambda a: a["username"])
def set_disabled(store: UserStore, wh: Warehouse, username: str, disabled: bool, actor: Actor | None = None) -> str:
    store.set_disabled(username, disabled, actor=actor)
    audit.record_now(wh, actor, "disable_user" if disabled else "enable_user", username, "ok", {})
    return f"{username} is {'disabled: they cannot sign in' if disabled else 'enabled again'}."


@audited("manage_users", "reset_password", target=lambda a: a["username"])
def reset_password(store: UserStore, wh: Warehouse, username: str, password: str, actor: Actor | None = None) -> str:
    store.reset_password(username, password, actor=actor)
    audit.record_now(wh, actor, "reset_password", username, "ok", {})
    return f"Password of {username} reset."


@audited("manage_users", "remove_user", target=lambda a: a["username"])
def remove_user(store: UserStore, wh: Warehouse, username: str, actor: Actor | None = None) -> str:
    store.remove(username, actor=actor)
    audit.record_now(wh, actor, "remove_user", username, "ok", {})
    return f"Removed {username}."


def users_frame(store: UserStore) -> pd.DataFrame:
    rows = store.table()
    frame = pd.DataFrame(rows, columns=["user", "role", "disabled"])
    frame["role"] = frame.role.map(role_words)
    frame["status"] = frame.pop("disabled").map({True: "disabled", False: "active"})
    return frame


PERMISSION_LABELS = {
    "view": "See every page (read only)",
    "replace_data": "Upload territory and Lead exports, pull Leads from Salesforce",
    "build_features": "Rebuild labels and features",
    "reconcile": "Run reconciliation QA",
    "run_pipeline": "Run the daily pipeline and scoring",
    "push_scores": "Write scores to Salesforce",
    "train_promote": "Train, backtest, promote and roll back models",
    "edit_capacity": "Set SGA capacity for the tier lists",
    "monitor": "Run monitoring (drift, matured cohorts, feed health, alerts)",
    "acknowledge_alerts": "Acknowledge monitoring alerts",
    "design_experiments": "Design, stop and roll out experiments",
    "read_audit": "Read the audit log",
    "manage_users": "Add, disable and remove users, reset passwords",
}


def permission_matrix() -> pd.DataFrame:
    """Every action the engine authorises, with the roles allowed (the Users page shows it)."""
    from core.auth import PERMISSIONS, ROLES

    return pd.DataFrame([{"action": PERMISSION_LABELS.get(p, p.replace("_", " ")),
                          **{role_words(r): r in allowed for r in ROLES}} for p, allowed in PERMISSIONS.items()])
