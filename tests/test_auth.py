"""Users, roles and permissions enforced in core."""

from __future__ import annotations

import json

import pytest

from core.auth import Actor, UserStore, authorize, PERMISSIONS
from core.errors import LeadScoringError, PermissionDeniedError
from core.ingest.territories import load_territory_files
from tests.conftest import REP_HEADER, rep, write_csv


def test_first_start_creates_admin_with_random_password(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADSCORE_ADMIN_PASSWORD", raising=False)
    store = UserStore(tmp_path / "users.json")
    pw = store.ensure_admin()
    assert pw and len(pw) >= 12
    assert store.ensure_admin() is None  # only once
    assert store.verify("admin", pw) == Actor("admin", "admin")
    assert store.verify("admin", "admin") is None
    raw = (tmp_path / "users.json").read_text()
    assert pw not in raw and json.loads(raw)["users"]["admin"]["password_hash"].startswith("$2")
    assert UserStore(tmp_path / "other.json").ensure_admin() != pw


def test_roles_and_user_validation(tmp_path):
    store = UserStore(tmp_path / "users.json")
    store.add("ann@firm.example", "longenough", "revops")
    assert store.users() == {"ann@firm.example": "revops"}
    with pytest.raises(LeadScoringError, match="Unknown role"):
        store.add("bob", "longenough", "boss")
    with pytest.raises(LeadScoringError, match="8 characters"):
        store.add("bob", "short", "analyst")
    with pytest.raises(PermissionDeniedError):
        store.add("eve", "longenough", "admin", actor=Actor("mallory", "analyst"))


@pytest.mark.parametrize("role,allowed", [("admin", True), ("revops", True), ("analyst", False), ("sga_manager", False)])
def test_replacing_data_is_enforced_in_core(settings, wh, tmp_path, role, allowed):
    path = write_csv(tmp_path / "discovery_t1_2025_01.csv", REP_HEADER, [rep(1)])
    who = Actor("someone", role)
    if allowed:
        load_territory_files(wh, settings, [path], actor=who)
    else:
        with pytest.raises(PermissionDeniedError, match=f"role {role}"):
            load_territory_files(wh, settings, [path], actor=who)


def test_permission_matrix():
    assert PERMISSIONS["train_promote"] == {"admin", "analyst"}
    assert PERMISSIONS["push_scores"] == {"admin", "revops"}
    assert PERMISSIONS["edit_capacity"] == {"admin", "sga_manager"}
    authorize(Actor("cron", "system"), "push_scores")
