"""One operation wrapper: refusals and failures of every write are audited, never only the successes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.auth import Actor
from core.errors import LeadScoringError, PermissionDeniedError


def _entries(wh, outcome: str):
    from core.audit import recent

    log = recent(wh).sort_values("at")  # oldest first
    return log[log.outcome == outcome].reset_index(drop=True)


def test_a_refused_write_is_audited_as_refused_with_who_and_what(wh):
    from core.modeling.registry import promote
    from core.scoring.capacity import set_capacity

    manager = Actor("sam", "sga_manager")
    with pytest.raises(PermissionDeniedError):
        promote(wh, "m-42", manager)
    set_capacity(wh, manager, 5, 40)  # allowed: its success entry is the use case's own, once
    refused = _entries(wh, "refused")
    assert refused[["actor", "role", "action", "target"]].values.tolist() == [["sam", "sga_manager", "promote_model", "m-42"]]
    assert "may not train promote" in json.loads(refused.detail.iloc[0])["error"]
    ok = _entries(wh, "ok")
    assert ok.action.tolist() == ["set_capacity"]
    from core import audit

    assert audit.logged_outcomes(wh) == ["ok", "refused"]  # the audit page's outcome filter, in words
    view = audit.log_view(wh, outcomes=["refused"])
    assert view[["action", "outcome"]].values.tolist() == [["Promote model", "Refused (no permission)"]]


def test_a_failed_write_is_audited_with_its_error_and_the_error_still_reaches_the_caller(wh, settings, tmp_path):
    from core.ingest.territories import load_territory_files
    from core.modeling.registry import promote
    from core.modeling.train import train

    with pytest.raises(LeadScoringError, match="No model nope"):
        promote(wh, "nope")
    with pytest.raises(LeadScoringError, match="territory"):
        train(wh, settings)  # no territory snapshot: the feature build it starts fails, and so does training
    bad = tmp_path / "discovery_t1_2025_01.csv"
    bad.write_text("Firm,City\nAcme,Boston\n")  # not a MarketPro export: no RepCRD column
    with pytest.raises(LeadScoringError) as load_error:
        load_territory_files(wh, settings, [bad])
    failed = _entries(wh, "failed").sort_values("at").reset_index(drop=True)
    assert failed.action.tolist() == ["promote_model", "build_features", "train_model", "load_territories"]
    assert failed.target.tolist()[0] == "nope" and failed.target.tolist()[-1] == bad.name
    details = [json.loads(d) for d in failed.detail]
    assert details[0]["error"].startswith("No model nope") and details[0]["error_type"] == "LeadScoringError"
    assert details[-1]["load_id"] and details[-1]["error"] == str(load_error.value).splitlines()[0][:500]
    assert all(d["seconds"] >= 0 for d in details)


def test_recording_a_failure_never_creates_a_warehouse_or_hides_the_error(settings):
    from core.modeling.registry import promote
    from core.warehouse import open_warehouse

    bare = open_warehouse(settings, init=False)  # no warehouse file yet
    with pytest.raises(LeadScoringError, match="does not exist yet"):
        promote(bare, "m1")
    assert not settings.warehouse_path.exists()


def test_the_decorator_refuses_a_use_case_without_wh_and_actor():
    from core.operation import audited

    with pytest.raises(TypeError, match="wh and actor"):
        @audited("run_pipeline", "score")
        def score(settings, actor=None):  # pragma: no cover - never called
            return None


def test_user_administration_audits_refusals_and_failures_too(wh, tmp_path):
    from core import users
    from core.auth import UserStore

    store = UserStore(tmp_path / "users.json")
    with pytest.raises(PermissionDeniedError):
        users.set_disabled(store, wh, "ann", True, actor=Actor("sam", "sga_manager"))
    with pytest.raises(LeadScoringError, match="at least 8"):
        users.save_user(store, wh, "ann", "short", "revops", actor=Actor("root", "admin"))
    log = pd.concat([_entries(wh, "refused"), _entries(wh, "failed")], ignore_index=True)
    assert log[["actor", "action", "target", "outcome"]].values.tolist() == [
        ["sam", "disable_user", "ann", "refused"], ["root", "save_user", "ann", "failed"]]
    assert not log.detail.str.contains("short").any()  # never a password, not even a rejected one


def test_salesforce_syncs_audit_a_refusal_once_and_leave_their_outcomes_to_the_sync_record(wh, settings):
    from core.salesforce.pull import pull_leads
    from core.salesforce.push import push_scores

    analyst = Actor("ana", "analyst")
    for call in (lambda: push_scores(wh, settings, actor=analyst), lambda: pull_leads(wh, settings, actor=analyst)):
        with pytest.raises(PermissionDeniedError):
            call()
    assert _entries(wh, "refused")[["actor", "action"]].values.tolist() == [
        ["ana", "salesforce_push"], ["ana", "salesforce_pull"]]
    with pytest.raises(LeadScoringError):
        pull_leads(wh, settings)  # Salesforce is not configured: the sync record is not reached, nor is an audit
    assert _entries(wh, "failed").empty
