"""Users, roles and permissions. Permissions are enforced here in core, not only hidden in the UI.

Users live in a local JSON file with bcrypt-hashed passwords. On first start an ``admin`` account is
created with a random password that is printed once to the console; no default password exists.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from core.errors import LeadScoringError, PermissionDeniedError

ROLES = ("admin", "revops", "analyst", "sga_manager")

PERMISSIONS: dict[str, frozenset[str]] = {
    "replace_data": frozenset({"admin", "revops"}),
    "build_features": frozenset({"admin", "revops", "analyst"}),
    "reconcile": frozenset({"admin", "revops"}),
    "train_promote": frozenset({"admin", "analyst"}),
    "push_scores": frozenset({"admin", "revops"}),
    "edit_capacity": frozenset({"admin", "sga_manager"}),
    "run_pipeline": frozenset({"admin", "revops"}),
    "monitor": frozenset({"admin", "revops", "analyst"}),
    "acknowledge_alerts": frozenset({"admin", "revops", "analyst"}),
    "design_experiments": frozenset({"admin", "analyst"}),
    "read_audit": frozenset({"admin"}),
    "manage_users": frozenset({"admin"}),
    "view": frozenset(ROLES),
}

# The first start's demo loader: what it loaded (the demo Leads) is replaced by a team's own exports without a question
DEMO_LOADER = "system:bootstrap"


@dataclass(frozen=True)
class Actor:
    username: str
    role: str

    def can(self, permission: str) -> bool:
        return self.role == "system" or self.role in PERMISSIONS[permission]


def cli_actor() -> Actor:
    """Whoever runs the command line has shell access to the data folder, so every permission."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        user = "unknown"
    return Actor(f"cli:{user}", "system")


def authorize(actor: Actor, permission: str) -> None:
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission}")
    if not actor.can(permission):
        allowed = ", ".join(sorted(PERMISSIONS[permission]))
        raise PermissionDeniedError(
            f"{actor.username} (role {actor.role}) may not {permission.replace('_', ' ')}; "
            f"roles allowed: {allowed}. Ask an admin to change your role."
        )


class UserStore:
    """The local users file: {"users": {name: {"role": ..., "password_hash": ...}}}."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _read(self) -> dict:
        if not self.path.exists():
            return {"users": {}}
        return json.loads(self.path.read_text(encoding="utf-8"))

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(self.path)

    def users(self) -> dict[str, str]:
        return {name: u["role"] for name, u in self._read()["users"].items()}

    def table(self) -> list[dict]:
        """Every user with role and status (never a password hash)."""
        return [{"user": name, "role": u["role"], "disabled": bool(u.get("disabled", False))}
                for name, u in sorted(self._read()["users"].items())]

    def _existing(self, data: dict, username: str) -> dict:
        user = data["users"].get(username)
        if user is None:
            raise LeadScoringError(f"No user named {username!r}. `users list` shows who exists.")
        return user

    def set_disabled(self, username: str, disabled: bool, actor: Actor | None = None) -> None:
        """A disabled user keeps role and password but cannot sign in. The last enabled admin stays enabled."""
        actor = actor or cli_actor()
        authorize(actor, "manage_users")
        data = self._read()
        user = self._existing(data, username)
        if disabled and user["role"] == "admin" and not any(
                u["role"] == "admin" and not u.get("disabled") for n, u in data["users"].items() if n != username):
            raise LeadScoringError(f"{username} is the last enabled admin; enable or add another admin first.")
        user["disabled"] = bool(disabled)
        self._write(data)

    def reset_password(self, username: str, password: str, actor: Actor | None = None) -> None:
        authorize(actor or cli_actor(), "manage_users")
        if len(password) < 8:
            raise LeadScoringError("Passwords need at least 8 characters.")
        data = self._read()
        self._existing(data, username)["password_hash"] = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
        self._write(data)

    def add(self, username: str, password: str, role: str, actor: Actor | None = None) -> None:
        authorize(actor or cli_actor(), "manage_users")
        if role not in ROLES:
            raise LeadScoringError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
        if not re.fullmatch(r"[A-Za-z0-9._@+-]{1,120}", username or ""):
            raise LeadScoringError(f"User name {username!r} must be letters, digits or . _ @ + - (an e-mail works).")
        if len(password) < 8:
            raise LeadScoringError("Passwords need at least 8 characters.")
        data = self._read()
        data["users"][username] = {
            "role": role,
            "password_hash": bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode(),
            "disabled": bool(data["users"].get(username, {}).get("disabled", False)),
        }
        self._write(data)

    def remove(self, username: str, actor: Actor | None = None) -> None:
        authorize(actor or cli_actor(), "manage_users")
        data = self._read()
        self._existing(data, username)
        data["users"].pop(username)
        self._write(data)

    def verify(self, username: str, password: str) -> Actor | None:
        user = self._read()["users"].get(username)
        if user and not user.get("disabled") and bcrypt.checkpw(password.encode(), user["password_hash"].encode()):
            return Actor(username, user["role"])
        return None

    def is_disabled(self, username: str) -> bool:
        return bool(self._read()["users"].get(username, {}).get("disabled", False))

    def ensure_admin(self) -> str | None:
        """Create the first admin with a random password; return it (to print once) or None."""
        if self._read()["users"]:
            return None
        password = os.environ.get("LEADSCORE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        if len(password) < 8:
            raise LeadScoringError("The environment variable LEADSCORE_ADMIN_PASSWORD holds the first admin's password "
                                   "and has fewer than 8 characters: set a longer one (or unset it for a random "
                                   "password printed once), then start again.")
        self.add("admin", password, "admin", Actor("system:first-start", "system"))
        return password
