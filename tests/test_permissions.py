"""Every write the engine offers is authorised in core with a permission other than `view`: a read-only
actor is refused by each, whatever face (page, command line, script) calls it."""

from __future__ import annotations

import ast

import pytest

from core import auth
from core.auth import Actor, UserStore
from core.errors import PermissionDeniedError
from tests.conftest import ROOT

# Functions that open a warehouse writer without authorising themselves, and why that is safe.
INTERNAL_WRITERS = {
    ("core/audit.py", "record_now"): "the audit log itself: written on behalf of an action already authorised",
    ("core/modeling/registry.py", "save_model"): "called by train() after train_promote was checked",
    ("core/modeling/registry.py", "_set_champion"): "private; promote/rollback authorise",
    ("core/features/build.py", "drop_build"): "drops a named build's own tables after the backtest or first start "
                                              "that built them (both authorised); never the live build",
    ("core/daily.py", "record"): "the daily run's own ops.runs row; run_daily authorises run_pipeline before any step",
    ("core/salesforce/result.py", "record_sync"): "the sync's own record; push/pull authorise before any work",
    ("core/salesforce/ledger.py", "record_job"): "called by push_scores (through _Push), which authorises push_scores",
    ("core/salesforce/ledger.py", "register_job"): "called by push_scores (through _Push)",
    ("core/salesforce/ledger.py", "record_cleared"): "called by push_scores after it authorised",
    ("core/salesforce/standin.py", "results_csv"): "the local Salesforce stand-in's own store, not the warehouse",
    ("core/monitoring/monitor.py", "_snapshot_drift"): "private; run_monitor authorises",
    ("core/monitoring/monitor.py", "_attribution_means"): "private cache of mean |SHAP|; run_monitor authorises",
    ("core/warehouse/base.py", "init"): "creates empty schemas; no data",
    ("core/warehouse/duckdb_backend.py", "create_schemas"): "creates empty schemas; no data",
}


def test_every_function_that_writes_authorises_or_is_a_known_internal_step():
    unguarded = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                src = ast.unparse(node)
                guarded = "authorize(" in src or "@audited(" in src or "op: Operation" in src
                if ".writer(" in src and not guarded and (rel, node.name) not in INTERNAL_WRITERS:
                    unguarded.append(f"{rel}:{node.name}")
    assert unguarded == [], "writes without authorize(): " + ", ".join(unguarded)


def test_no_write_is_authorised_with_the_view_permission():
    offenders = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        if 'authorize(actor, "view")' in path.read_text():
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


@pytest.fixture
def viewer(monkeypatch):
    monkeypatch.setitem(auth.PERMISSIONS, "view", auth.PERMISSIONS["view"] | {"viewer"})
    return Actor("read-only", "viewer")


def _write_entry_points(settings, wh, tmp_path):
    from core import users
    from core.experiments import design as exp_design
    from core.experiments.assign import assign_new_leads
    from core.features.build import build_features
    from core.ingest.activities import load_activity_file
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_files
    from core.modeling.backtest import backtest
    from core.modeling.registry import promote, rollback
    from core.modeling.train import train
    from core.monitoring import shadow
    from core.monitoring.backfill import backfill_scores
    from core.monitoring.monitor import run_monitor
    from core.monitoring.store import acknowledge
    from core.daily import run_daily
    from core.quality.reconcile import reconcile
    from core.salesforce.pull import pull_activities, pull_leads
    from core.salesforce.push import push_scores
    from core.scoring.capacity import set_capacity
    from core.scoring.score import score_leads

    store = UserStore(tmp_path / "users.json")
    f = tmp_path / "discovery_t1_2025_01.csv"
    f.write_text("RepCRD\n1\n")
    return {
        "load_territory_files": lambda a: load_territory_files(wh, settings, [f], actor=a),
        "load_lead_file": lambda a: load_lead_file(wh, settings, f, actor=a),
        "pull_leads": lambda a: pull_leads(wh, settings, actor=a),
        "reconcile": lambda a: reconcile(wh, settings, a),
        "build_features": lambda a: build_features(wh, settings, actor=a),
        "score_leads": lambda a: score_leads(wh, settings, actor=a),
        "run_daily": lambda a: run_daily(wh, settings, actor=a),
        "push_scores": lambda a: push_scores(wh, settings, actor=a),
        "train": lambda a: train(wh, settings, actor=a),
        "backtest": lambda a: backtest(wh, settings, "2025-01-01", str(tmp_path / "b.csv"), actor=a),
        "promote": lambda a: promote(wh, "m1", a),
        "rollback": lambda a: rollback(wh, a),
        "set_capacity": lambda a: set_capacity(wh, a, 5, 40),
        "save_user": lambda a: users.save_user(store, wh, "x@y.z", "password-1", "revops", actor=a),
        "disable_user": lambda a: users.set_disabled(store, wh, "x@y.z", True, actor=a),
        "reset_password": lambda a: users.reset_password(store, wh, "x@y.z", "password-2", actor=a),
        "remove_user": lambda a: users.remove_user(store, wh, "x@y.z", actor=a),
        "run_monitor": lambda a: run_monitor(wh, settings, actor=a),
        "acknowledge_alert": lambda a: acknowledge(wh, "feature_drift|x", a),
        "start_shadow": lambda a: shadow.start_shadow(wh, "m1", a),
        "stop_shadow": lambda a: shadow.stop_shadow(wh, a),
        "promote_challenger": lambda a: shadow.promote_challenger(wh, settings, a),
        "backfill_scores": lambda a: backfill_scores(wh, settings, "2025-01-01", actor=a),
        "load_activity_file": lambda a: load_activity_file(wh, settings, f, actor=a),
        "pull_activities": lambda a: pull_activities(wh, settings, actor=a),
        "create_experiment": lambda a: exp_design.create_experiment(wh, settings, "e1", "2025-01-01", actor=a),
        "stop_experiment": lambda a: exp_design.stop_experiment(wh, "e1", actor=a),
        "set_split": lambda a: exp_design.set_split(wh, "e1", 0.5, actor=a),
        "assign_new_leads": lambda a: assign_new_leads(wh, settings, actor=a),
    }


def test_a_view_only_actor_is_refused_by_every_write(settings, wh, tmp_path, viewer):
    entry_points = _write_entry_points(settings, wh, tmp_path)
    assert len(entry_points) >= 17
    for name, call in entry_points.items():
        with pytest.raises(PermissionDeniedError):
            call(viewer)
    # and the users page's matrix lists every action the engine authorises
    from core.users import PERMISSION_LABELS, permission_matrix

    assert set(PERMISSION_LABELS) == set(auth.PERMISSIONS)
    assert len(permission_matrix()) == len(auth.PERMISSIONS)


def test_sga_manager_cannot_rerun_reconciliation_or_rebuild_features(settings, wh):
    from core.features.build import build_features
    from core.quality.reconcile import reconcile

    manager = Actor("sam", "sga_manager")
    for call in (lambda: reconcile(wh, settings, manager), lambda: build_features(wh, settings, actor=manager)):
        with pytest.raises(PermissionDeniedError):
            call()


def test_users_can_be_disabled_re_enabled_and_reset_and_every_change_is_audited(settings, wh, tmp_path):
    from core import audit, users

    store = UserStore(tmp_path / "users.json")
    admin = Actor("root", "admin")
    store.add("boss", "first-pass", "admin", actor=admin)
    users.save_user(store, wh, "ann", "ann-password", "revops", actor=admin)
    assert store.verify("ann", "ann-password")
    users.set_disabled(store, wh, "ann", True, actor=admin)
    assert store.verify("ann", "ann-password") is None and store.is_disabled("ann")
    users.set_disabled(store, wh, "ann", False, actor=admin)
    users.reset_password(store, wh, "ann", "new-password", actor=admin)
    assert store.verify("ann", "new-password") and store.verify("ann", "ann-password") is None
    from core.errors import LeadScoringError

    with pytest.raises(LeadScoringError, match="last enabled admin"):
        users.set_disabled(store, wh, "boss", True, actor=admin)
    users.remove_user(store, wh, "ann", actor=admin)
    log = audit.recent(wh)
    assert {"save_user", "disable_user", "enable_user", "reset_password", "remove_user"} <= set(log.action)
    assert not log.astype(str).apply(lambda c: c.str.contains("new-password")).any().any()  # never a password
    view = audit.log_view(wh, actions=["reset_password"])  # as the audit page shows it
    assert set(view.action) == {"Reset password"} and list(view.columns[:4]) == ["at", "actor", "role", "action"]
    assert "Remove user" in map(audit.action_words, audit.logged_actions(wh))


def test_audit_details_read_as_words_and_keep_every_key():
    from core import audit

    assert audit.detail_words('{"run_id": "18ca", "alert_level": "alert", "alerts": 31, "x": null}') == \
        "run id: 18ca; alert level: alert; alerts: 31; x: —"
    assert audit.detail_words('{"counts": {"leads_rows_read": 2894, "scored": 3}, "ok": true, "ids": ["a", "b"]}') == \
        "counts: leads rows read 2,894, scored 3; ok: yes; ids: a, b"
    assert audit.detail_words(None) == "" and audit.detail_words("plain text") == "plain text"
    assert audit.detail_words("[1, 2]") == "[1, 2]" and audit.action_words("force_promote_model") == "Force promote model"


def test_cli_user_changes_are_audited(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEADSCORE_DATA_DIR": str(tmp_path)}
    run = lambda *a, stdin="": subprocess.run([sys.executable, "-m", "core", "users", *a], cwd=ROOT, env=env,  # noqa: E731
                                              input=stdin, capture_output=True, text=True)
    assert run("add", "carl", "--role", "analyst", "--password-stdin", stdin="carl-password\n").returncode == 0
    assert run("disable", "carl").returncode == 0
    assert "disabled" in run("list").stdout
    assert run("reset-password", "carl", "--password-stdin", stdin="other-password\n").returncode == 0
    bad = run("disable", "nobody")
    assert bad.returncode == 2 and "No user named" in bad.stderr and "Traceback" not in bad.stderr
    from core.audit import recent
    from core.config import load_settings, with_overrides
    from core.warehouse import open_warehouse

    wh = open_warehouse(with_overrides(load_settings(), data_dir=tmp_path))
    assert {"save_user", "disable_user", "reset_password"} <= set(recent(wh).action)
