"""Recalibration (spec §9.3 playbook step 3): the champion's calibrators refitted on the newest matured leads, judged
on a held-out newer half, registered as a new version only when they do better; monitoring after its promotion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.auth import Actor
from core.errors import LeadScoringError, PermissionDeniedError
from core.features.build import META_COLUMNS, latest_feature_set
from core.modeling.data import aum_segment, model_inputs
from core.modeling.recalibrate import recalibrate
from core.modeling.registry import champion_row, load_model, promote, read_meta
from core.monitoring.reference import load_reference
from core.scoring.score import discovery_missing_share

ANALYST = Actor("ana", "analyst")


def _window(w, s, days: int) -> pd.DataFrame:
    """The matured leads of the window, found without the module's SQL: contacted in the ``days`` days up to 30 days
    before the live build's as-of, label known, scored by the full model (not the CRM-only fallback)."""
    end = pd.Timestamp(latest_feature_set(w).as_of)
    end = (end.tz_localize("UTC") if end.tzinfo is None else end) - pd.Timedelta(days=s.label_window_days)
    f = w.read("select * from ml.lead_features")
    t = pd.to_datetime(f.contacted_at, utc=True)
    rows = f[f.label_status.isin(["positive", "negative"]) & (t <= end) & (t > end - pd.Timedelta(days=days))]
    rows = rows.sort_values(["contacted_at", "lead_id"]).reset_index(drop=True)
    champion = load_model(champion_row(w)["artifact_dir"])
    X = model_inputs(rows, [c for c in rows.columns if c not in META_COLUMNS])
    full = ~(discovery_missing_share(X, champion.features) > 0.5) if champion.fallback else np.ones(len(X), bool)
    return rows[np.asarray(full)].reset_index(drop=True)


def test_a_window_with_too_few_mqls_is_refused_with_a_wider_one_to_try(monitored_copy):
    s, w = monitored_copy
    n = int(_window(w, s, 30).label.sum())
    with pytest.raises(LeadScoringError, match=rf"Only {n} MQLs among the .* matured leads contacted in the 30 days up "
                                               r"to .*Widen the window to \d+ days \(the slider, or `--days \d+`\)") as err:
        recalibrate(w, s, 30, actor=ANALYST)
    # the window it names is the shortest, in tens of days, that holds 30 MQLs
    wider = int(re.search(r"Widen the window to (\d+) days", str(err.value)).group(1))
    assert _window(w, s, wider).label.sum() >= 30 > _window(w, s, wider - 10).label.sum()
    with pytest.raises(LeadScoringError, match="choose 7 to 365 days"):
        recalibrate(w, s, 3, actor=ANALYST)
    with pytest.raises(PermissionDeniedError):
        recalibrate(w, s, 200, actor=Actor("sam", "sga_manager"))
    assert len(w.read("select * from ml.models")) == 1  # nothing registered


def test_recalibration_is_judged_on_held_out_leads_and_registered_as_a_version_of_the_champion(monitored_copy):
    s, w = monitored_copy
    parent = champion_row(w)
    champion = load_model(parent["artifact_dir"])
    rows = _window(w, s, 200)
    r = recalibrate(w, s, 200, actor=ANALYST)
    assert (r.leads, r.positives) == (len(rows), int(rows.label.sum())) and r.positives >= 30
    # the newer half, held out: the champion's calibration there, as it scores those leads
    newer = rows.iloc[len(rows) // 2:]
    X = model_inputs(newer, [c for c in newer.columns if c not in META_COLUMNS])
    assert r.held_out == len(newer) and r.held_out_positives == int(newer.label.sum())
    assert r.before.predicted == pytest.approx(champion.predict(X).mean(), abs=1e-5)
    assert r.before.observed == r.after.observed == pytest.approx(newer.label.mean(), abs=1e-5)
    # the small demo's scripted population shift: the champion under-predicts the newest months, and calibrators
    # fitted on the older half come closer on the newer one
    assert r.improved and r.model_id is not None
    assert abs(r.after.predicted - r.after.observed) < abs(r.before.predicted - r.before.observed)
    assert r.by_segment.leads.sum() == r.held_out and r.by_segment.mqls.sum() == r.held_out_positives
    assert "Registered as " + r.model_id in r.sentence() and "models promote " + r.model_id in r.sentence()

    row = w.read(f"select * from ml.models where model_id = '{r.model_id}'").iloc[0]
    meta = read_meta(row.artifact_dir)
    assert meta["recalibrated_from"] == parent["model_id"] and meta["kind"] == parent["kind"]
    assert meta["features"] == champion.features and meta["calibration"] != champion.meta["calibration"]
    gates = json.loads(row.gates_json)
    assert len(gates) == len(json.loads(parent["gates_json"])) + 1 and gates[-1]["passed"]
    assert bool(row.gates_passed) == bool(parent["gates_passed"]) and not bool(row.is_champion)
    version = load_model(row.artifact_dir)
    Xa = model_inputs(rows, [c for c in rows.columns if c not in META_COLUMNS])
    raw = version.predict_raw(Xa)
    assert np.allclose(raw, champion.predict_raw(Xa))  # the same booster: only the calibration moved
    # calibrators are monotone: within an AUM segment, no lead overtakes another
    new, seg = version.predict(Xa), np.asarray(aum_segment(Xa["TotalAssetsInMillions"]))
    for g in set(seg):
        order = np.argsort(raw[seg == g], kind="stable")
        assert (np.diff(new[seg == g][order]) >= -1e-12).all()
    ref, parent_ref = load_reference(row.artifact_dir, r.model_id), load_reference(parent["artifact_dir"], parent["model_id"])
    assert ref["features"] == parent_ref["features"] and ref["score"] != parent_ref["score"]
    assert ref["recalibrated_from"] == parent["model_id"]
    report = (Path(row.artifact_dir) / "report.md").read_text(encoding="utf-8")
    assert report.startswith(f"# Model {r.model_id}: {parent['model_id']} recalibrated") and "Registered as" in report
    audit = w.read("select * from ops.audit_log where action = 'recalibrate_model'")
    assert len(audit) == 1 and audit.target.iloc[0] == parent["model_id"] and audit.outcome.iloc[0] == "ok"

    # Promoted, it scores; monitoring reads score drift from its own scores only (the older first scores came from
    # the model before it and would read as drift in every month), and says why the score PSI waits
    promote(w, r.model_id, ANALYST, force=True, reason="test: the first start's champion is force-promoted too")
    from core.monitoring.monitor import run_monitor
    from core.scoring.score import score_leads

    score_leads(w, s, actor=Actor("ops", "revops"))
    run = run_monitor(w, s, actor=ANALYST)
    assert run.model_id == r.model_id and run.score_psi is None
    assert not [a for a in run.alerts if a["kind"] == "score_drift"]
    assert any(n.startswith("Score drift reads only the scores this champion gave: ") for n in run.notes)

    # Recalibrated again on the same window, the version in force holds: its calibration saw every lead there
    again = recalibrate(w, s, 200, actor=ANALYST)
    assert not again.improved and again.model_id is None and "holds" in again.sentence()
    assert len(w.read("select * from ml.models")) == 2


def test_cli_recalibrate_prints_json_and_exits_2_in_words(monitored_copy, capsys, monkeypatch):
    from core.cli import main

    s, _ = monitored_copy
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(s.data_dir))
    monkeypatch.delenv("LEADSCORE_DB", raising=False)
    assert main(["models", "recalibrate", "--days", "10"]) == 2
    assert "Widen the window" in capsys.readouterr().err
    assert main(["models", "recalibrate", "--days", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["improved"] and out["model_id"] and out["before"]["brier"] > out["after"]["brier"]
    assert {b["segment"] for b in out["by_segment"]} >= {"<$100M", "$100–500M"}
