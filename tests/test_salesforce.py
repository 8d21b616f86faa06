"""Salesforce both ways, against the local HTTPS stand-in with the real simple-salesforce client (no mocks):
paging pull through the file ingestion path; changed-only, idempotent push; retries; the failure ledger;
request limits; the circuit breaker; no push after a failed run; formula-safe dry run; no secret leaks."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.config import with_overrides
from core.errors import LeadScoringError
from core.salesforce.config import salesforce_config
from core.salesforce.standin import SalesforceStandin
from core.salesforce.ledger import open_failures, pending_changes
from core.salesforce.pull import pull_leads
from core.salesforce.push import push_scores
from core.warehouse import open_warehouse

FAST = {"poll_seconds": 0.02, "backoff_seconds": 0.001, "backoff_max_seconds": 0.01}


@pytest.fixture
def standin(small_demo):
    with SalesforceStandin(small_demo / "salesforce_leads.csv", page_size=400) as sf:
        yield sf


@pytest.fixture
def world(loaded_demo, standin, tmp_path):
    """A copy of the loaded small demo, scored with the heuristic, configured for the stand-in."""
    from core.scoring.score import score_leads

    settings, _, _, _ = loaded_demo
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    s = with_overrides(settings, data_dir=data, salesforce={**standin.settings(), **FAST, "batch_size": 500})
    wh = open_warehouse(s)
    score_leads(wh, s)
    return s, wh, standin


def _configure(settings, **sf):
    return with_overrides(settings, salesforce={**settings.salesforce, **sf})


def _jobs(standin) -> int:
    return len(standin.jobs)


def _accounted(wh, result) -> tuple[int, int]:
    failures = wh.read(f"select count(*) as n from ops.sf_push_failures where sync_id = '{result.sync_id}'").n.iloc[0]
    return result.intended, result.succeeded + int(failures)


def _leave_a_job_in_flight(settings, wh, sf, slow_seconds: float):
    """One push whose only job is still running when the org's request limit runs out mid-poll."""
    settings = _configure(settings, batch_size=100_000)
    sf.faults.slow_job_seconds = slow_seconds
    first = push_scores(wh, settings, sleep=lambda s: setattr(sf.faults, "request_limit", True))
    assert first.outcome == "stopped_request_limit" and first.succeeded == 0
    assert set(open_failures(wh).error_code) == {"RESULTS_PENDING"}
    sf.faults.request_limit = False
    return settings, first


def test_pull_follows_every_page_and_matches_the_file_load(loaded_demo, standin, small_demo, tmp_path):
    settings, file_wh, _, _ = loaded_demo
    s = with_overrides(settings, data_dir=tmp_path / "data", salesforce={**standin.settings(), **FAST})
    wh = open_warehouse(s)
    load = pull_leads(wh, s)
    pages = [p for m, p, st in standin.requests if m == "GET" and "/query" in p]
    contacted = sum(1 for r in standin.leads.values() if r["Stage_Entered_Contacting__c"])
    assert len(pages) == -(-contacted // 400) >= 5
    assert load.rows_read == contacted
    cols = "Id, FA_CRD__c, Stage_Entered_Contacting__c, Stage_Entered_Call_Scheduled__c, Owner_Name, IsConverted, Status"
    pulled = wh.read(f"select {cols} from marts.dim_leads order by Id")
    from_file = file_wh.read(f"select {cols} from marts.dim_leads where Stage_Entered_Contacting__c is not null order by Id")
    pd.testing.assert_frame_equal(pulled, from_file)
    loads = wh.read("select file_name, sha256, rows_read, rows_loaded, rows_quarantined from raw.file_loads")
    assert loads.file_name.iloc[0].startswith("salesforce_pull_") and len(loads.sha256.iloc[0]) == 64
    assert loads.rows_read.iloc[0] == loads.rows_loaded.iloc[0] + loads.rows_quarantined.iloc[0]
    from core.pipeline import pipeline_state  # the home page names where the load came from, not the engine's file name
    assert pipeline_state(wh).lead_load_words()[0].startswith("**Pulled from Salesforce (Leads)** · exported ")
    sync = wh.read("select kind, outcome, rows_intended from ops.sf_syncs")
    assert sync.to_dict("records") == [{"kind": "pull", "outcome": "ok", "rows_intended": contacted}]
    # an integration user whose sharing hides most Leads pulls fewer: refused (the loaded Leads stay) unless allowed
    for lead_id in list(standin.leads)[: len(standin.leads) // 2]:
        del standin.leads[lead_id]
    with pytest.raises(LeadScoringError, match=r"lacks .* contacted Leads loaded now.*View All on Lead"):
        pull_leads(wh, s)
    assert len(wh.read("select Id from marts.dim_leads")) == contacted
    assert pull_leads(wh, s, allow_fewer=True).rows_loaded < contacted


def test_the_daily_lead_pull_fetches_only_changes_and_loads_what_a_full_pull_loads(loaded_demo, standin, tmp_path):
    """An org with half a million contacted Leads costs 250 requests a day to pull whole: the daily Lead pull asks
    for the Leads changed since the last one and merges them with those loaded, as the Task pull does; a Lead no
    longer contacted or deleted leaves; a field newly visible in the org makes the pull full."""
    import copy
    import datetime as dt

    from urllib.parse import unquote_plus

    from core.salesforce.pull import LEADS, as_utc, incremental_base
    from core.salesforce.standin import _sf_timestamp

    settings, _, _, _ = loaded_demo
    s = with_overrides(settings, data_dir=tmp_path / "data", salesforce={**standin.settings(), **FAST})
    wh = open_warehouse(s)
    standin.faults.missing_fields = {"Savvy_Lead_Score__c"}
    first = pull_leads(wh, s, incremental=True)  # no Lead pull yet: full
    contacted = sum(1 for r in standin.leads.values() if r["Stage_Entered_Contacting__c"])
    assert first.rows_read == contacted
    syncs = lambda: wh.read("select pulled_since, rows_intended, message from ops.sf_syncs "  # noqa: E731
                            "where sf_object = 'Lead' order by started_at")
    assert incremental_base(wh, s, LEADS) is not None
    standin.faults.missing_fields = set()  # Savvy_Lead_Score__c now visible: the loaded Leads lack it, so full
    pull_leads(wh, s, incremental=True)
    assert syncs().pulled_since.isna().all() and syncs().rows_intended.iloc[-1] == contacted
    base = incremental_base(wh, s, LEADS)
    # since the pull: a Lead converted, one deleted, one taken back out of contacting, one new contacted, one new
    # that nobody contacted yet
    stamp = _sf_timestamp(dt.datetime.now(dt.timezone.utc).isoformat())
    ids = sorted(i for i, r in standin.leads.items() if r["Stage_Entered_Contacting__c"])
    edited, deleted, uncontacted = (standin.leads[ids[k]] for k in (3, 5, 9))
    edited.update(Status="Qualified", LastModifiedDate=stamp)
    deleted.update(IsDeleted=True, LastModifiedDate=stamp)
    uncontacted.update(Stage_Entered_Contacting__c=None, LastModifiedDate=stamp)
    new = copy.deepcopy(standin.leads[ids[7]]) | {"Id": "00QNEWLEAD0000001AA", "CreatedDate": stamp,
                                                  "LastModifiedDate": stamp, "FA_CRD__c": None}
    fresh = copy.deepcopy(new) | {"Id": "00QNEWLEAD0000002AA", "Stage_Entered_Contacting__c": None}
    standin.leads.update({new["Id"]: new, fresh["Id"]: fresh})
    asked = len(standin.requests)
    second = pull_leads(wh, s, incremental=True)
    pages = [p for m, p, _ in standin.requests[asked:] if m == "GET" and "/query" in p]
    assert len(pages) == 2 < contacted // 400  # the changed Leads and those deleted: a page each
    assert "SystemModstamp > " in unquote_plus(pages[0])
    record = syncs().iloc[-1]
    assert as_utc(record.pulled_since) == base.since
    assert "less 2 deleted in Salesforce or no longer contacted since" in record.message
    assert record.rows_intended == second.rows_read == contacted - 1
    cols = "Id, FA_CRD__c, Stage_Entered_Contacting__c, Stage_Entered_Call_Scheduled__c, Owner_Name, IsConverted, Status"
    merged = wh.read(f"select {cols} from marts.dim_leads order by Id")
    assert merged.set_index("Id").loc[ids[3], "Status"] == "Qualified"
    assert new["Id"] in set(merged.Id) and not {ids[5], ids[9], fresh["Id"]} & set(merged.Id)
    pull_leads(wh, s)  # a pull from the sync page or the CLI is full: it loads the same Leads
    pd.testing.assert_frame_equal(merged, wh.read(f"select {cols} from marts.dim_leads order by Id"))
    assert incremental_base(wh, _configure(s, lead_full_pull_days=0), LEADS) is None


def test_a_pull_reads_the_fields_the_org_has_and_names_those_it_lacks(loaded_demo, standin, tmp_path):
    """A SOQL naming a field the org never created fails whole (INVALID_FIELD): an org without this firm's
    Savvy_Lead_Score__c or Experimentation_Tag__c could not be pulled at all. Describe first: optional fields the
    org lacks load as missing columns and are named; a required one stops the pull before a row is read."""
    settings, _, _, _ = loaded_demo
    s = with_overrides(settings, data_dir=tmp_path / "data", salesforce={**standin.settings(), **FAST})
    wh = open_warehouse(s)
    standin.faults.missing_fields = {"Savvy_Lead_Score__c", "Experimentation_Tag__c"}
    with pytest.raises(Exception, match="No such column 'Experimentation_Tag__c'"):  # the org refuses such a SOQL
        standin.query("SELECT Id, Experimentation_Tag__c FROM Lead")
    load = pull_leads(wh, s)
    contacted = sum(1 for r in standin.leads.values() if r["Stage_Entered_Contacting__c"])
    assert load.rows_loaded == contacted
    assert load.summary["warnings"] == ["Not in this org (loaded as missing, as from a file without them): "
                                        "Experimentation_Tag__c, Savvy_Lead_Score__c."]
    assert wh.read("select count(Savvy_Lead_Score__c) as n from marts.dim_leads").n[0] == 0
    from core.pipeline import pipeline_state

    assert pipeline_state(wh).load_warnings["leads"] == load.summary["warnings"]  # audited: the home page shows it
    sync = wh.read("select outcome, message from ops.sf_syncs")
    assert sync.outcome.tolist() == ["ok"] and "Not in this org" in sync.message[0]
    standin.faults.missing_fields = {"FA_CRD__c"}
    queries = sum(1 for m, p, st in standin.requests if "/query" in p)
    with pytest.raises(LeadScoringError, match=r"The org's Lead has no field FA_CRD__c .*nothing was replaced"):
        pull_leads(wh, s)
    assert sum(1 for m, p, st in standin.requests if "/query" in p) == queries  # stopped before any row
    assert len(wh.read("select Id from marts.dim_leads")) == contacted


def test_push_is_changed_only_and_idempotent(world):
    settings, wh, sf = world
    first = push_scores(wh, settings)
    scores = wh.read("select lead_id, prob_mql_30d, tier from ml.lead_scores")
    assert first.outcome == "ok" and first.succeeded == first.intended == len(scores) and first.failed == 0
    landed = sf.leads[scores.lead_id.iloc[0]]
    assert landed["Lead_Score__c"] == round(scores.prob_mql_30d.iloc[0] * 100) and landed["Lead_Score_Tier__c"] == scores.tier.iloc[0]
    jobs = _jobs(sf)
    second = push_scores(wh, settings)
    assert second.outcome == "nothing_to_send" and second.intended == 0 and _jobs(sf) == jobs
    one = scores.lead_id.iloc[5]
    with wh.writer("test") as s:
        s.execute(f"update ml.lead_scores set prob_mql_30d = 0.987 where lead_id = '{one}'")
    assert pending_changes(wh, settings).Id.tolist() == [one]
    third = push_scores(wh, settings)
    assert third.sent == third.succeeded == 1 and sf.leads[one]["Lead_Score__c"] == 99
    assert max(sf.update_counts().values()) == 2 and sf.update_counts()[one] == 2


def test_lock_errors_are_retried_with_backoff_then_land(world):
    settings, wh, sf = world
    settings = _configure(settings, batch_size=100_000)
    ids = wh.read("select lead_id from ml.lead_scores order by lead_id").lead_id.tolist()
    sf.faults.lock_ids = {ids[0]: 2, ids[1]: 1}
    sleeps = []
    result = push_scores(wh, settings, sleep=sleeps.append)
    assert result.outcome == "ok" and result.succeeded == len(ids) and result.failed == 0
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # exponential backoff between retry jobs
    assert set(sf.update_counts().values()) == {1}
    assert open_failures(wh).empty


def test_per_record_failures_are_kept_with_the_salesforce_error_then_retried(world):
    settings, wh, sf = world
    ids = wh.read("select lead_id from ml.lead_scores order by lead_id").lead_id.tolist()
    sf.faults.permanent_errors = {ids[3]: "FIELD_CUSTOM_VALIDATION_EXCEPTION:Owner must be active:--"}
    sf.faults.lock_ids = {ids[4]: 99}  # never unlocks: retried max_attempts times, then recorded
    result = push_scores(wh, settings)
    assert result.outcome == "partial" and result.failed == 2 and result.succeeded == len(ids) - 2
    assert _accounted(wh, result) == (len(ids), len(ids))
    fails = open_failures(wh).set_index("lead_id")
    assert fails.loc[ids[3], "error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert "Owner must be active" in fails.loc[ids[3], "error_message"]
    # the sync says which errors and what to do in the org, not only "see the failure ledger"
    assert "Most common: FIELD_CUSTOM_VALIDATION_EXCEPTION × 1 ('FIELD_CUSTOM_VALIDATION_EXCEPTION:Owner must be " \
           "active:--': a validation rule on Lead fires on these updates: exempt the integration user" in result.message
    assert "UNABLE_TO_LOCK_ROW × 1" in result.message
    assert fails.loc[ids[4], "error_code"] == "UNABLE_TO_LOCK_ROW" and fails.loc[ids[4], "attempts"] == 4
    sf.faults.permanent_errors, sf.faults.lock_ids = {}, {}
    retry = push_scores(wh, settings, retry_failed=True)
    assert retry.intended == retry.succeeded == 2 and open_failures(wh).empty
    assert set(sf.update_counts().values()) == {1}


def test_request_limit_stops_cleanly_and_the_next_run_finishes(world):
    settings, wh, sf = world
    n = len(wh.read("select lead_id from ml.lead_scores"))
    sf.faults.request_limit_after_jobs = 2
    first = push_scores(wh, settings)
    assert first.outcome == "stopped_request_limit" and first.succeeded == 1000 and first.deferred == n - 1000
    assert _accounted(wh, first) == (n, n)
    assert set(open_failures(wh).error_code) == {"REQUEST_LIMIT_EXCEEDED"}
    sf.faults.request_limit_after_jobs = None
    second = push_scores(wh, settings)
    assert second.outcome == "ok" and second.intended == second.succeeded == n - 1000
    assert open_failures(wh).empty and set(sf.update_counts().values()) == {1} and len(sf.update_counts()) == n
    # The history stores the outcome's code and the page reads it in words, newest first, ids last.
    from core.salesforce.status import sync_overview

    assert list(wh.read("select outcome from ops.sf_syncs order by started_at").outcome) == \
        ["stopped_request_limit", "ok"]
    recent = sync_overview(wh, settings).recent
    assert list(recent.outcome) == ["done", "stopped: the org's API request limit is used up"]
    assert list(recent.columns[:3]) == ["started_at", "kind", "outcome"] and recent.columns[-1] != "started_at"
    assert "**stopped: the org's API request limit is used up**" in first.markdown()


def test_a_job_whose_results_were_not_read_is_reconciled_not_resent(world):
    settings, wh, sf = world
    n = len(wh.read("select lead_id from ml.lead_scores"))
    settings, _ = _leave_a_job_in_flight(settings, wh, sf, 0.2)
    sf.faults.slow_job_seconds = 0.0
    second = push_scores(wh, settings)
    assert second.reconciled_jobs == 1 and second.outcome == "nothing_to_send"
    assert len(sf.update_counts()) == n and set(sf.update_counts().values()) == {1}
    assert open_failures(wh).empty


def test_transient_503s_are_retried(world):
    settings, wh, sf = world
    sf.faults.http_503 = 3
    result = push_scores(wh, settings)
    assert result.outcome == "ok" and result.retries == 3 and set(sf.update_counts().values()) == {1}


def test_failure_words_name_the_commonest_codes_with_what_to_do():
    from core.salesforce.push import failure_words

    codes = {"STRING_TOO_LONG": 3, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": 40, "SOMETHING_NEW": 1, "ENTITY_IS_DELETED": 2}
    examples = {c: f"{c}:message {c.lower()}:--" for c in codes}
    words = failure_words(codes, examples)
    assert words.startswith("Most common: INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST × 40 (")
    assert "give Lead_Score_Tier__c the values A, B and C" in words and "STRING_TOO_LONG × 3" in words
    assert "SOMETHING_NEW" not in words  # the three commonest only
    assert failure_words({}, {}) == ""


def test_circuit_breaker_stops_a_failing_push(world):
    settings, wh, sf = world
    settings = _configure(settings, batch_size=100, breaker_min_rows=50, breaker_threshold=0.2)
    ids = wh.read("select lead_id from ml.lead_scores order by lead_id").lead_id.tolist()
    sf.faults.permanent_errors = {i: "INVALID_FIELD_FOR_INSERT_UPDATE:field not writeable:--" for i in ids[::2]}
    result = push_scores(wh, settings)
    assert result.outcome == "circuit_open" and len(result.job_ids) == 1
    assert result.failed + result.succeeded == 100 and result.failed > 20 and result.deferred == len(ids) - 100
    assert _accounted(wh, result) == (len(ids), len(ids))
    assert "Circuit breaker" in result.message and "Most common: INVALID_FIELD_FOR_INSERT_UPDATE × " in result.message


def test_a_rejected_job_stops_with_a_field_map_hint(world):
    settings, wh, sf = world
    settings = _configure(settings, field_map={"Lead_Score__c": "Lead_Score_Typo__c"})
    with pytest.raises(LeadScoringError, match="no field Lead_Score_Typo__c.*salesforce.field_map"):
        push_scores(wh, settings)  # the describe check stops it before any job exists
    assert not sf.jobs
    settings = _configure(settings, check_fields=False)  # without the check, Salesforce rejects the job itself
    result = push_scores(wh, settings)
    assert result.outcome == "failed" and "field_map" in result.message and result.succeeded == 0
    assert _accounted(wh, result) == (result.intended, result.intended) and not sf.applied


def test_nothing_is_pushed_after_a_run_fell_back_to_yesterdays_scores(world, monkeypatch):
    from core import daily

    settings, wh, sf = world
    settings = _configure(settings, daily_pull=False)
    daily.run_daily(wh, settings)
    jobs = _jobs(sf)
    monkeypatch.setattr("core.features.build.build_features",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("feature build broke")))
    with pytest.raises(RuntimeError):
        daily.run_daily(wh, settings)
    with wh.writer("test") as s:  # yesterday's scores differ from what landed: a push would send them
        s.execute("update ml.lead_scores set prob_mql_30d = prob_mql_30d / 2")
    with pytest.raises(LeadScoringError, match="Nothing pushed: the last daily run"):
        push_scores(wh, settings)
    assert _jobs(sf) == jobs
    assert wh.read("select outcome from ops.sf_syncs order by started_at desc limit 1").outcome.iloc[0] == "refused"


def test_nothing_is_pushed_from_scores_as_of_a_day_before_the_loaded_export(world, tmp_path):
    """`score --as-of` a past day leaves that day's list in place: pushed, SGAs would call from it and leads
    contacted since would be cleared. Refused (the dry run too) until scoring as of the export."""
    from core.scoring.score import score_leads

    settings, wh, sf = world
    score_leads(wh, settings, as_of="2025-09-01")
    jobs = _jobs(sf)
    for dry in (tmp_path / "dry.csv", None):
        with pytest.raises(LeadScoringError, match=r"scores in place are as of 01 Sep 2025, but the loaded Lead "
                                                   r"export is of 27 Oct 2025 16:30 UTC"):
            push_scores(wh, settings, dry_run=dry)
    assert _jobs(sf) == jobs and not (tmp_path / "dry.csv").exists()
    score_leads(wh, settings)  # as of the export again
    assert push_scores(wh, settings).outcome.value == "ok"


def test_dry_run_writes_exactly_what_would_be_sent_with_formulas_neutralised(world, tmp_path):
    settings, wh, sf = world
    ids = wh.read("select lead_id from ml.lead_scores order by lead_id").lead_id.tolist()
    with wh.writer("test") as s:
        s.execute(f"update ml.lead_scores set drivers = '=HYPERLINK(\"http://x\")' where lead_id = '{ids[0]}'; "
                  f"update ml.lead_scores set drivers = '-4% AUM growth; @risk' where lead_id = '{ids[1]}'")
    out = tmp_path / "dry.csv"
    dry = push_scores(wh, settings, dry_run=out)
    assert dry.kind == "dry_run" and dry.intended == len(ids) and not sf.jobs
    text = out.read_text(encoding="utf-8")
    frame = pd.read_csv(out, dtype=str).set_index("Id")
    assert list(frame.columns) == ["Lead_Score__c", "Lead_Score_Tier__c", "Lead_Score_Drivers__c",
                                   "Lead_Score_Model_Version__c", "Lead_Score_Updated__c", "Lead_Score_Experiment__c"]
    assert frame.loc[ids[0], "Lead_Score_Drivers__c"].startswith("'=")
    assert frame.loc[ids[1], "Lead_Score_Drivers__c"].startswith("'-")
    assert not any(v.startswith(("=", "+", "-", "@")) for v in frame.to_numpy().ravel() if isinstance(v, str))
    settings = _configure(settings, batch_size=100_000)
    push_scores(wh, settings)
    (job,) = sf.jobs.values()
    assert job.data == text  # the dry run is byte-for-byte the job body


def test_secrets_never_reach_logs_tables_or_outputs(world, caplog, capsys):
    from core.salesforce.status import connection_status

    settings, wh, sf = world
    secrets = [sf.password, sf.security_token]
    caplog.set_level(logging.DEBUG)
    push_scores(wh, settings)
    pull_leads(wh, settings)
    status = connection_status(settings)
    cfg = salesforce_config(settings)
    sessions = list(sf.sessions)
    texts = [caplog.text, json.dumps(status.to_json(), default=str), repr(cfg), json.dumps(cfg.public(), default=str)]
    for table in ("ops.audit_log", "ops.sf_syncs", "ops.sf_push_failures", "ops.sf_writeback_ledger", "raw.file_loads"):
        texts.append(wh.read(f"select * from {table}").to_csv())
    for secret in secrets + sessions:
        assert not any(secret in t for t in texts), "a Salesforce secret leaked"
    bad = with_overrides(settings, salesforce={**settings.salesforce, "password": "wrong-" + sf.password})
    with pytest.raises(LeadScoringError) as err:
        connection_status(bad)
    assert sf.password not in str(err.value) and "INVALID_LOGIN" in str(err.value)


def test_secrets_in_a_config_file_are_refused(tmp_path):
    from core.config import load_settings

    path = tmp_path / "leadscore.toml"
    path.write_text('[salesforce]\nenabled = true\nusername = "a@b.c"\npassword = "hunter2"\n', encoding="utf-8")
    with pytest.raises(LeadScoringError, match="holds Salesforce secrets") as err:
        load_settings(path)
    assert "hunter2" not in str(err.value)


def test_not_configured_is_a_clear_user_error(settings, tmp_path):
    from core.cli import main

    assert main(["--db", str(tmp_path / "w.duckdb"), "load-leads", "--from-salesforce"]) == 2
    with pytest.raises(LeadScoringError, match="Salesforce is not configured: missing salesforce.enabled"):
        salesforce_config(settings).require()


def test_run_daily_pulls_scores_pushes_then_pushes_nothing_and_survives_faults(world):
    """The issue's 'done when': against the stand-in, end to end, with a fault-injected third run."""
    from core import daily
    from core.auth import cli_actor
    from core.scoring.capacity import set_capacity

    settings, wh, sf = world
    first = daily.run_daily(wh, settings)
    c = first.counts
    assert c["write_back"] == "ok" and c["push_succeeded"] == c["scored"] and "pull_leads" in first.timings
    second = daily.run_daily(wh, settings)
    assert second.counts["write_back"] == "nothing_to_send" and second.counts["push_intended"] == 0
    before = len(sf.applied)
    set_capacity(wh, cli_actor(), sga_count=20, dials_per_day=10)  # bigger tiers: many leads change tier
    ids = wh.read("select lead_id from ml.lead_scores order by lead_id").lead_id.tolist()
    sf.faults.lock_rate, sf.faults.http_503 = 0.05, 2
    sf.faults.permanent_errors = {ids[7]: "ENTITY_IS_DELETED:entity is deleted:--"}
    third = daily.run_daily(wh, settings).counts
    sync = third["push_sync_id"]
    failures = wh.read(f"select lead_id, error_code from ops.sf_push_failures where sync_id = '{sync}'")
    in_run = [lead for _, lead, _ in sf.applied[before:]]
    assert third["push_intended"] > 100
    assert third["push_succeeded"] == len(in_run) == len(set(in_run))  # every landed row once
    assert third["push_succeeded"] + len(failures) == third["push_intended"]
    assert set(failures.lead_id) <= {ids[7]}
    runs = wh.read("select outcome from ops.runs order by started_at").outcome.tolist()
    assert runs == ["ok", "ok", "ok"]


def test_run_daily_pulls_call_activity_and_goes_on_without_it(world, small_demo):
    """Experiments count dials from the Tasks: a daily pull keeps them fresh. Scoring does not read them, so a
    Task pull that cannot be made is said in the run's counts and the run stands."""
    from core import daily

    settings, wh, sf = world
    first = daily.run_daily(wh, settings)  # this org has no Task on a Lead yet
    assert first.outcome == "ok" and first.counts["write_back"] == "ok"
    assert first.counts["tasks_pull"].startswith("not pulled: Salesforce returned no Tasks")
    assert "call activity not pulled" in first.summary()
    n = sf.seed_tasks(small_demo / "salesforce_tasks.csv")
    second = daily.run_daily(wh, settings)
    assert second.counts["tasks_rows_read"] == n and "tasks_pull" not in second.counts
    assert wh.read("select count(*) as n from marts.fact_tasks").n[0] == n
    from core.pipeline import pipeline_state
    from core.salesforce.ledger import recent_syncs
    from core.salesforce.status import readable_syncs

    lines = pipeline_state(wh).sync_lines()  # the home page: the Leads' last pull is not hidden by the Tasks'
    assert len(lines) == 3 and lines[0].startswith("Last Salesforce pull ") and "Tasks" not in lines[0]
    assert lines[1].startswith("Last Salesforce pull of call activity (Tasks) ")
    assert lines[2].startswith("Last Salesforce push ")
    assert f"{n:,} of {n:,} rows loaded" in lines[1]
    # a pull is archived compressed (a daily pull of every Lead and Task would add its full size each day), and its
    # recorded checksum is the pulled file's
    import gzip
    import hashlib

    for kind in ("leads", "activities"):
        load = wh.read(f"select archive_path, sha256 from raw.file_loads where kind = '{kind}' "
                       "order by loaded_at desc limit 1").iloc[0]
        assert load.archive_path.endswith(".csv.gz")
        assert hashlib.sha256(gzip.decompress(Path(load.archive_path).read_bytes())).hexdigest() == load.sha256
    what, caption = pipeline_state(wh).activity_load_words()  # and the home page's "Last call activity load"
    assert what.startswith("**Pulled from Salesforce (Tasks)** · exported ") and caption.startswith(f"{n:,} rows read · {n:,} loaded")
    # the second daily run: the Leads changed since the first run's pull (the Tasks' first pull was full)
    history = readable_syncs(recent_syncs(wh))
    assert history.kind.tolist()[:3] == ["Push", "Pull · Tasks", "Pull · Leads (changes)"]
    assert pd.notna(history.rows_sent.iloc[0]) and history.rows_sent.iloc[1:3].isna().all()  # a pull sends nothing
    third = daily.run_daily(wh, _configure(settings, daily_pull_tasks=False))
    assert "pull_tasks" not in third.timings and "pull_leads" in third.timings
    # a profile that hides an optional Task field (field-level security): the SOQL would fail whole; pulled without it
    sf.faults.missing_task_fields = {"CallDisposition"}
    fourth = daily.run_daily(wh, settings)
    assert fourth.counts["tasks_rows_read"] == n
    sync = wh.read("select message from ops.sf_syncs where kind = 'pull' order by started_at desc limit 1").message[0]
    assert "Not in this org (loaded as missing, as from a file without them): CallDisposition." in sync
    # no access to Task at all: said in words, the Tasks loaded before stay, the run stands
    sf.faults.no_task_access = True
    fifth = daily.run_daily(wh, settings)
    assert fifth.outcome == "ok" and fifth.counts["tasks_pull"].startswith(
        "not pulled: Salesforce refused the Tasks query (NOT_FOUND: ") and "Check the user's access to Task" in \
        fifth.counts["tasks_pull"]
    assert wh.read("select count(*) as n from marts.fact_tasks").n[0] == n


def test_the_daily_task_pull_fetches_only_changes_and_loads_what_a_full_pull_loads(world, small_demo):
    """A full pull of every Task each day costs an org with millions of them thousands of requests: the daily pull
    fetches the Tasks changed and deleted since the last pull and merges them with the loaded ones: its load equals
    a full pull's."""
    import copy
    import datetime as dt

    from core.ingest.activities import load_activity_file
    from urllib.parse import unquote_plus

    from core.salesforce.pull import as_utc, incremental_base, pull_activities
    from core.salesforce.standin import _sf_timestamp

    settings, wh, sf = world
    n = sf.seed_tasks(small_demo / "salesforce_tasks.csv")
    assert incremental_base(wh, settings) is None  # no full Task pull yet
    first = pull_activities(wh, settings, incremental=True)
    assert first.rows_loaded + first.rows_quarantined == n
    syncs = lambda: wh.read("select pulled_since, rows_intended, message from ops.sf_syncs "  # noqa: E731
                            "where sf_object = 'Task' order by started_at")
    assert syncs().pulled_since.isna().all()
    base = incremental_base(wh, settings)
    assert base is not None and base.rows == n
    # since the pull: one Task edited, one logged, one deleted
    stamp = _sf_timestamp(dt.datetime.now(dt.timezone.utc).isoformat())
    ids = sorted(sf.tasks)
    edited, deleted, unlinked = sf.tasks[ids[3]], sf.tasks[ids[5]], sf.tasks[ids[9]]
    edited.update(CallDisposition="Connected - booked", LastModifiedDate=stamp)
    deleted.update(IsDeleted=True, LastModifiedDate=stamp)
    unlinked.update(WhoId=None, LastModifiedDate=stamp)  # logged on the wrong lead: its WhoId cleared
    logged = copy.deepcopy(sf.tasks[ids[7]]) | {"Id": "00TNEWTASK000001", "CreatedDate": stamp, "LastModifiedDate": stamp}
    sf.tasks[logged["Id"]] = logged
    asked = len(sf.requests)
    second = pull_activities(wh, settings, incremental=True)
    pages = [p for m, p, _ in sf.requests[asked:] if m == "GET" and "/query" in p]
    assert len(pages) == 2 < n // 400  # the changed Tasks and those deleted: a page each, not every Task's
    assert "SystemModstamp > " in unquote_plus(pages[0])
    record = syncs().iloc[-1]
    assert as_utc(record.pulled_since) == base.since
    from core.salesforce.ledger import recent_syncs
    from core.salesforce.status import readable_syncs

    history = readable_syncs(recent_syncs(wh))
    assert history.kind.tolist()[:2] == ["Pull · Tasks (changes)", "Pull · Tasks"] and "pulled_since" not in history
    assert record.rows_intended == n - 1 and "incremental: changed since" in record.message
    assert "3 rows read" in record.message and "less 2 deleted in Salesforce or no longer on a record since" in record.message
    cols = "task_id, lead_id, owner_id, created_at, activity_date, task_subtype, task_type, call_seconds, " \
        "call_disposition, status, last_modified_at, is_dial"
    merged = wh.read(f"select {cols} from marts.fact_tasks order by task_id")
    assert second.rows_read == n - 1
    assert merged.set_index("task_id").loc[ids[3], "call_disposition"] == "Connected - booked"
    assert logged["Id"] in set(merged.task_id) and not {ids[5], ids[9]} & set(merged.task_id)
    # a full pull loads the same Tasks
    pull_activities(wh, settings)
    full = wh.read(f"select {cols} from marts.fact_tasks order by task_id")
    assert pd.isna(syncs().pulled_since.iloc[-1])
    pd.testing.assert_frame_equal(merged, full)
    # when the next daily pull must be full
    assert incremental_base(wh, settings) is not None
    assert incremental_base(wh, _configure(settings, task_full_pull_days=0)) is None  # asked for every day
    with wh.writer("test: the last full pull was 8 days ago") as x:
        x.execute("update ops.sf_syncs set started_at = started_at - interval 8 day where sf_object = 'Task'")
    assert incremental_base(wh, settings) is None
    pull_activities(wh, settings)
    archive = incremental_base(wh, settings).archive
    archive.write_bytes(archive.read_bytes()[:-10])  # the archived copy no longer matches its checksum
    assert incremental_base(wh, settings) is None
    pull_activities(wh, settings)
    load_activity_file(wh, settings, small_demo / "salesforce_tasks.csv")  # a Task export loaded by hand since
    assert incremental_base(wh, settings) is None


def test_cli_push_scores_and_dry_run(world, monkeypatch, capsys, tmp_path):
    from core.cli import main

    settings, wh, sf = world
    env = {"LEADSCORE_DATA_DIR": str(settings.data_dir), "LEADSCORE_SF_ENABLED": "1", "LEADSCORE_SF_LOGIN_URL": sf.url,
           "LEADSCORE_SF_USERNAME": sf.username, "LEADSCORE_SF_PASSWORD": sf.password,
           "LEADSCORE_SF_TOKEN": sf.security_token, "LEADSCORE_SF_CA_BUNDLE": str(sf.ca_file)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("LEADSCORE_DB", raising=False)
    assert main(["push-scores", "--dry-run", str(tmp_path / "dry.csv")]) == 0
    assert main(["push-scores", "--json"]) == 0
    out = capsys.readouterr().out
    pushed = json.loads(out[out.index("{"):])
    assert pushed["outcome"] == "ok" and pushed["succeeded"] == pushed["intended"] > 0
    assert main(["sf-status"]) == 0 and "contacted Leads" in capsys.readouterr().out
    logins = sum(1 for m, p, _ in sf.requests if m == "POST" and p.startswith("/services/Soap/u/"))
    assert main(["sf-status", "--org", "--json"]) == 0
    org = json.loads(capsys.readouterr().out)
    assert sum(1 for m, p, _ in sf.requests if m == "POST" and p.startswith("/services/Soap/u/")) == logins + 1
    assert org["contacted_leads"] > 0 and org["api_remaining"] <= org["api_max"]
    fields = {f["api_name"]: f for f in org["fields"]}
    assert {"Lead_Score__c", "Lead_Score_Experiment__c"} <= set(fields)
    assert all(f["exists"] and f["updateable"] for f in fields.values())
    assert org["call_activity_ok"] and org["call_activity"].startswith("Call activity: Task and every contract")
    assert main(["sf-status", "--org"]) == 0
    assert "Daily API requests left" in (text := capsys.readouterr().out) and "Lead_Score__c: ok" in text
    # the daily Task pull's access, checked with the org: a hidden field, then no Task access at all
    sf.faults.missing_task_fields = {"CallDisposition"}
    assert main(["sf-status", "--org"]) == 0
    assert "Call activity: Task is readable, but not CallDisposition (field-level security)" in capsys.readouterr().out
    sf.faults.no_task_access = True
    assert main(["sf-status", "--org", "--json"]) == 0
    org = json.loads(capsys.readouterr().out)
    assert not org["call_activity_ok"] and org["call_activity"].startswith("Call activity: this user cannot read "
                                                                           "Task (NOT_FOUND: ")
    sf.faults.missing_task_fields, sf.faults.no_task_access = set(), False
    monkeypatch.setenv("LEADSCORE_SF_PASSWORD", "not-the-password")
    assert main(["push-scores"]) == 2
    assert sf.password not in capsys.readouterr().err


@pytest.mark.parametrize("stop_signal", ["SIGINT", "SIGTERM"])
def test_standin_command_serves_until_stopped(small_demo, tmp_path, stop_signal):
    """Ctrl-C and SIGTERM stop it cleanly — also when started in the background by a non-interactive shell,
    which hands the process SIGINT as ignored (reproduced here with preexec_fn)."""
    import signal
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "core", "sf-standin", "--seed", str(small_demo / "salesforce_leads.csv"),
                             "--port", str(port), "--workdir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        first = proc.stdout.readline()
        assert f"https://127.0.0.1:{port}" in first and "5,005 Leads and " in first and " Tasks at " in first
        assert " and 0 Tasks" not in first  # the demo's Task file beside the Lead file is served too
        exports = "".join(proc.stdout.readline() for _ in range(3))
        assert "LEADSCORE_SF_CA_BUNDLE=" in exports and (tmp_path / "standin_cert.pem").exists()
        proc.send_signal(getattr(signal, stop_signal))
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0 and "stand-in stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_every_sync_outcome_reads_in_words():
    from core.salesforce.result import Outcome

    labels = [o.label for o in Outcome]  # a KeyError if an outcome had no words
    assert len(set(labels)) == len(Outcome) and all("_" not in label for label in labels)
    assert {o for o in Outcome if o.settled} == {Outcome.OK, Outcome.NOTHING_TO_SEND}


def test_a_push_while_another_push_runs_names_the_holder(world):
    from core.locks import flock_held
    from core.salesforce.push import push_lock

    settings, wh, sf = world
    with push_lock(settings):
        with pytest.raises(LeadScoringError, match=r"Another Salesforce push is running \('Salesforce push' \(pid "):
            push_scores(wh, settings)
        with pytest.raises(RuntimeError, match="busy"):  # the same helper guards the warehouse, with its own error
            with flock_held(settings.data_dir / "salesforce_push.lock", exclusive=False, timeout=0.05, what="x",
                            busy=lambda who: RuntimeError(f"busy: {who}")):
                pass
    assert not sf.jobs
    assert push_scores(wh, settings).outcome == "ok"


def test_a_concurrent_push_is_refused_so_nothing_is_sent_twice(world):
    import fcntl
    import os

    settings, wh, sf = world
    path = settings.data_dir / "salesforce_push.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process is pushing
    try:
        with pytest.raises(LeadScoringError, match="Another Salesforce push is running"):
            push_scores(wh, settings)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert not sf.jobs
    assert push_scores(wh, settings).outcome == "ok"


def test_an_unreconcilable_earlier_job_blocks_sending_cleanly(world):
    settings, wh, sf = world
    settings, _ = _leave_a_job_in_flight(settings, wh, sf, 0.2)
    sf.faults.http_503 = 100  # the org is down: the earlier job's state cannot be read
    second = push_scores(wh, settings)
    assert second.outcome == "stopped_transient" and second.sent == 0 and "no row lands twice" in second.message
    assert _accounted(wh, second) == (second.intended, second.intended)
    sf.faults.http_503, sf.faults.slow_job_seconds = 0, 0.0
    third = push_scores(wh, settings)
    assert third.reconciled_jobs == 1 and set(sf.update_counts().values()) == {1} and open_failures(wh).empty


def test_an_existing_session_works_and_slow_jobs_are_polled_to_the_end(world):
    from core.salesforce.client import SalesforceClient

    settings, wh, sf = world
    session_id = SalesforceClient(salesforce_config(settings)).sf.session_id  # e.g. from an OAuth flow elsewhere
    session_only = with_overrides(settings, salesforce={
        "enabled": True, "instance_url": sf.url, "session_id": session_id, "ca_bundle": str(sf.ca_file),
        "batch_size": 100_000, **FAST})
    cfg = salesforce_config(session_only)
    assert cfg.configured and cfg.auth_method == "existing session" and session_id not in repr(cfg)
    sf.faults.slow_job_seconds = 0.3
    polls_before = sum(1 for m, p, _ in sf.requests if m == "GET" and "/jobs/ingest/" in p)
    result = push_scores(wh, session_only)
    polls = sum(1 for m, p, _ in sf.requests if m == "GET" and "/jobs/ingest/" in p) - polls_before
    assert result.outcome == "ok" and result.succeeded == result.intended and polls > 3
    bad = with_overrides(session_only, salesforce={**session_only.salesforce, "session_id": "00D!expired"})
    from core.salesforce.status import connection_status

    with pytest.raises(LeadScoringError, match="rejecting the session"):
        connection_status(bad)


def test_secrets_file_supplies_the_password_and_token(settings, monkeypatch):
    for k in ("LEADSCORE_SF_PASSWORD", "LEADSCORE_SF_TOKEN", "LEADSCORE_SF_SESSION_ID"):
        monkeypatch.delenv(k, raising=False)
    s = with_overrides(settings, salesforce={"enabled": True, "username": "ops@example.com"})
    assert salesforce_config(s).missing() == ["LEADSCORE_SF_PASSWORD (or the secrets file)",
                                              "LEADSCORE_SF_TOKEN (or the secrets file; empty when the IP is trusted)"]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "salesforce_secrets.toml").write_text(
        '[salesforce]\npassword = "s3cret"\nsecurity_token = "tok"\n', encoding="utf-8")
    cfg = salesforce_config(s)
    assert cfg.configured and cfg.password == "s3cret" and "s3cret" not in repr(cfg) and "password" not in cfg.public()


def test_a_purged_earlier_job_is_said_and_its_rows_sent_again(world):
    settings, wh, sf = world
    settings, first = _leave_a_job_in_flight(settings, wh, sf, 5.0)
    sf.faults.slow_job_seconds = 0.0
    sf.jobs.clear()  # purged by Salesforce before it ran
    second = push_scores(wh, settings)
    assert second.outcome == "ok" and "no longer exists in Salesforce" in second.message
    assert second.succeeded == first.intended and set(sf.update_counts().values()) == {1} and open_failures(wh).empty


def test_an_expired_session_logs_in_again_mid_push(world):
    settings, wh, sf = world
    settings = _configure(settings, batch_size=100_000)
    sf.faults.slow_job_seconds = 0.2
    expired = []

    def session_expires_while_polling(seconds):
        if not expired:
            expired.append(set(sf.sessions))
            sf.sessions.clear()

    result = push_scores(wh, settings, sleep=session_expires_while_polling)
    assert result.outcome == "ok" and result.succeeded == result.intended
    assert len(sf.sessions) == 1 and not (sf.sessions & expired[0])  # a second login happened
    assert set(sf.update_counts().values()) == {1}


def test_a_sync_history_from_before_pulls_named_their_object_gains_the_column(wh):
    """Warehouses from before Task pulls were told apart: their ops.sf_syncs lacks sf_object. The next sync adds
    it; older rows read as they did."""
    from datetime import datetime, timezone

    from core.auth import cli_actor
    from core.pipeline import pipeline_state
    from core.salesforce.ledger import recent_syncs
    from core.salesforce.result import SyncResult, record_sync
    from core.salesforce.status import readable_syncs

    wh.create_schemas()
    with wh.writer("an older release's sync table") as s:
        s.execute("drop table if exists ops.sf_syncs")
        s.execute("create table ops.sf_syncs (sync_id string, kind string, actor string, started_at timestamp, "
                  "finished_at timestamp, outcome string, rows_intended int64, rows_sent int64, rows_succeeded int64, "
                  "rows_failed int64, rows_deferred int64, retries int64, job_ids string, message string, seconds float64)")
        s.execute("insert into ops.sf_syncs values ('old', 'pull', 'ann', timestamp '2026-01-05 06:00:00', "
                  "timestamp '2026-01-05 06:01:00', 'ok', 10, 0, 10, 0, 0, 0, '', 'Leads: 1 page(s)', 60.0)")
    tasks = SyncResult.start("pull")
    tasks.sf_object, tasks.intended, tasks.succeeded = "Task", 7, 7
    record_sync(wh, tasks, cli_actor(), datetime.now(timezone.utc))
    assert readable_syncs(recent_syncs(wh)).kind.tolist() == ["Pull · Tasks", "Pull"]
    lines = pipeline_state(wh).sync_lines()
    assert len(lines) == 2 and lines[0].startswith("Last Salesforce pull ") and "10 of 10 rows loaded" in lines[0]
    assert lines[1].startswith("Last Salesforce pull of call activity (Tasks) ") and "7 of 7 rows loaded" in lines[1]


def test_a_pull_leaves_the_api_requests_kept_for_other_integrations(world):
    """A daily run pulls every contacted Lead and every Task, page by page: near the org's limit that would eat the
    requests salesforce.api_request_floor keeps for other integrations. Checked before the second page, as a push
    checks before its jobs; deferred in words, nothing replaced."""
    settings, wh, sf = world
    before = len(wh.read("select Id from marts.dim_leads"))
    sf.faults.api_remaining = 1_005  # the floor is 1,000; the pull needs 7 more pages of 400
    pages = sum(1 for m, p, _ in sf.requests if "/query" in p)
    with pytest.raises(LeadScoringError, match=r"Salesforce pull of Leads deferred: the org has 1,005 of 15,000 daily "
                                               r"API requests left; this pull of 2,894 Leads needs about 7 more"):
        pull_leads(wh, settings)
    assert sum(1 for m, p, _ in sf.requests if "/query" in p) == pages + 1  # the first page only
    assert wh.read("select outcome from ops.sf_syncs order by started_at desc limit 1").outcome[0] == "deferred_api_floor"
    assert len(wh.read("select Id from marts.dim_leads")) == before
    sf.faults.api_remaining = 1_009  # enough: 7 pages and the /limits call leave the floor whole
    assert pull_leads(wh, settings).rows_read == 2_894
