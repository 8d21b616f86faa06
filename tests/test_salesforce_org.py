"""Salesforce as a real org runs it (#19), against the local stand-in with the real simple-salesforce client:
one Id form, stale scores cleared once, server-to-server login (JWT bearer, client credentials), and the
field and API-limit checks before a push."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytest

from core.cli import main
from core.config import with_overrides
from core.errors import LeadScoringError
from core.salesforce.ids import to18
from core.salesforce.standin import SalesforceStandin
from core.salesforce.ledger import open_failures, pending_changes
from core.salesforce.pull import pull_leads
from core.salesforce.push import push_scores
from core.warehouse import open_warehouse

FAST = {"poll_seconds": 0.02, "backoff_seconds": 0.001, "backoff_max_seconds": 0.01}


def _reference_suffix(id15: str) -> str:
    """The documented algorithm, written independently: per block of 5, reverse the upper-case flags and
    read them as a binary number indexing A–Z0–5."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    out = ""
    for b in range(3):
        flags = "".join("1" if c.isupper() else "0" for c in id15[b * 5:(b + 1) * 5])
        out += alphabet[int(flags[::-1], 2)]
    return out


@pytest.mark.parametrize("id15,id18", [
    ("001A0000006Vm9r", "001A0000006Vm9rIAC"),  # the example in Salesforce's documentation
    ("00q5f00000abcde", "00q5f00000abcdeAAA"),  # lower case only: no flag set
    ("ABCDEABCDEABCDE", "ABCDEABCDEABCDE555"),  # upper case only: every flag set
    ("00Q5f0000000002", "00Q5f0000000002" + _reference_suffix("00Q5f0000000002")),
])
def test_known_15_to_18_pairs(id15, id18):
    assert to18(id15) == id18
    assert to18(id18) == id18  # idempotent
    assert to18(id18.lower()) == id18  # an 18-character Id read case-insensitively gets its case back
    assert to18("FP-100000") == "FP-100000" and to18(None) is None  # not a Salesforce Id: unchanged


def test_the_vectorised_id_conversion_agrees_with_the_scalar_one_on_every_kind_of_value():
    """to18_arrow (the loads' column-at-a-time conversion, numpy on the Id bytes) against to18 per value:
    15- and 18-character Ids in any case, padded, lower-cased or upper-cased 18s, suffixes outside the
    alphabet, not-an-Id values, blanks and missing values."""
    import random
    import string

    import pyarrow as pa

    from core.salesforce.ids import to18_arrow

    rng = random.Random(7)
    alnum = string.ascii_letters + string.digits
    values = [None, "", "   ", "FP-100000", "001A0000006Vm9r", "001a0000006vm9riac", "001A0000006Vm9rZZ9", "é" * 15]
    for _ in range(3000):
        base = "".join(rng.choice(alnum) for _ in range(15))
        full = to18(base)
        values += [base, full, full.lower(), full.upper(), f" {base} ", base + "9zz", base[:14], full + "x"]
    expected = [to18(v) for v in values]
    assert to18_arrow(values).to_pylist() == expected
    assert to18_arrow(pa.chunked_array([values[:100], values[100:]])).to_pylist() == expected


@pytest.fixture
def org(loaded_demo, small_demo, tmp_path):
    """A copy of the small demo (loaded from the 15-character report file), scored, and a stand-in org
    seeded from the same file that answers with 18-character Ids."""
    from core.scoring.score import score_leads

    settings, _, _, _ = loaded_demo
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data)
    with SalesforceStandin(small_demo / "salesforce_leads.csv", page_size=1000) as sf:
        s = with_overrides(settings, data_dir=data, salesforce={**sf.settings(), **FAST, "batch_size": 1000})
        wh = open_warehouse(s)
        score_leads(wh, s)
        yield s, wh, sf


def test_a_report_file_then_an_api_pull_are_the_same_leads_and_nothing_is_resent(org):
    from core.scoring.score import score_leads

    s, wh, sf = org
    ids = wh.read("select Id from marts.dim_leads where Stage_Entered_Contacting__c is not null").Id
    assert ids.str.len().eq(18).all()  # the report's 15-character Ids were normalised at ingestion
    first = push_scores(wh, s)
    assert first.outcome == "ok" and first.succeeded == first.intended
    pull_leads(wh, s)  # the API answers with 18-character Ids (contacted leads only)
    after = wh.read("select Id from marts.dim_leads").Id
    assert len(after) == len(ids) and set(after) == set(ids)  # one lead each, not two
    score_leads(wh, s)
    assert push_scores(wh, s).outcome == "nothing_to_send"


def test_a_ledger_written_with_15_character_ids_is_migrated_once_without_resending(org, small_demo):
    from core.ingest.leads import load_lead_file

    s, wh, sf = org
    assert push_scores(wh, s).outcome == "ok"
    with wh.writer("an older release's ledger") as x:
        x.execute("update ops.sf_writeback_ledger set lead_id = substr(lead_id, 1, 15) where true")
    result = load_lead_file(wh, s, small_demo / "salesforce_leads.csv")
    assert result.summary["stored_ids_migrated_to_18_chars"] > 0
    assert wh.read("select lead_id from ops.sf_writeback_ledger").lead_id.str.len().eq(18).all()
    assert pending_changes(wh, s).empty
    again = load_lead_file(wh, s, small_demo / "salesforce_leads.csv")
    assert "stored_ids_migrated_to_18_chars" not in again.summary  # once


def test_a_lead_that_books_is_cleared_exactly_once_and_a_converted_lead_keeps_its_score(org, small_demo, tmp_path):
    """A lead that books its MQL leaves the call lists: its score, tier and drivers are cleared in Salesforce, once.
    A converted Lead is read-only to the API (CANNOT_UPDATE_CONVERTED_LEAD without "View and Edit Converted Leads"):
    it is never scored again, whatever the org calls its converted status ("Qualified" here, not a closed status),
    and keeps the score it had rather than fail a clear every day."""
    from core.ingest.leads import load_lead_file
    from core.scoring.score import score_leads

    s, wh, sf = org
    assert push_scores(wh, s).outcome == "ok"
    booked, converted, qualified = wh.read("select lead_id from ml.lead_scores order by rank limit 3").lead_id
    assert sf.leads[booked]["Lead_Score__c"] is not None
    frame = pd.read_csv(small_demo / "salesforce_leads.csv", dtype=str, keep_default_na=False)
    ids = frame.Id.map(to18)
    mql = "2025-10-27T09:00:00.000+0000"
    frame.loc[ids == booked, ["Status", "Stage_Entered_Call_Scheduled__c"]] = ["MQL", mql]
    frame.loc[ids == converted, ["Status", "IsConverted", "Stage_Entered_Call_Scheduled__c"]] = ["MQL", "true", mql]
    frame.loc[ids == qualified, ["Status", "IsConverted", "Stage_Entered_Call_Scheduled__c"]] = ["Qualified", "true", ""]
    frame.loc[ids.isin([booked, converted, qualified]), "LastModifiedDate"] = "2025-10-27T16:00:00.000+0000"
    for lead in (converted, qualified):
        sf.leads[lead]["IsConverted"] = True
    changed = tmp_path / "salesforce_leads_converted.csv"
    frame.to_csv(changed, index=False)
    load_lead_file(wh, s, changed)
    score_leads(wh, s)
    assert not {booked, converted, qualified} & set(wh.read("select lead_id from ml.lead_scores").lead_id)
    dry = tmp_path / "dry.csv"
    push_scores(wh, s, dry_run=dry)
    sent = pd.read_csv(dry, dtype=str, keep_default_na=False).set_index("Id")
    assert sent.loc[booked, "Lead_Score__c"] == "#N/A" and sent.loc[booked, "Lead_Score_Tier__c"] == "#N/A"
    assert converted not in sent.index and qualified not in sent.index
    result = push_scores(wh, s)
    assert result.cleared == 1 and result.failed == 0
    rec = sf.leads[booked]
    assert rec["Lead_Score__c"] is None and rec["Lead_Score_Tier__c"] is None and rec["Lead_Score_Drivers__c"] is None
    assert sf.leads[converted]["Lead_Score__c"] is not None and sf.leads[qualified]["Lead_Score__c"] is not None
    reasons = wh.read("select lead_id, reason from ops.sf_cleared")
    assert reasons.lead_id.tolist() == [booked] and reasons.reason[0] == "booked a discovery call (MQL)"
    assert push_scores(wh, s).outcome == "nothing_to_send"  # cleared once, never again; the converted never tried
    assert wh.read("select count(*) as n from ops.sf_push_failures").n[0] == 0
    audit = wh.read("select detail from ops.audit_log where action = 'salesforce_push' order by at")
    assert any('"cleared": 1' in d for d in audit.detail)


def test_the_standin_refuses_updates_to_a_converted_lead_as_salesforce_does(org):
    """What the rule above avoids: the org answers a converted Lead's update with CANNOT_UPDATE_CONVERTED_LEAD."""
    from core.salesforce.standin import CONVERTED_ERROR

    s, wh, sf = org
    lead = next(iter(sf.leads))
    sf.leads[lead]["IsConverted"] = True
    assert sf._row_error({"Id": lead, "Lead_Score__c": "5"}) == CONVERTED_ERROR
    sf.faults.edit_converted = True  # a user with "View and Edit Converted Leads"
    assert sf._row_error({"Id": lead, "Lead_Score__c": "5"}) is None


def test_missing_or_unwritable_fields_stop_the_push_before_any_job(org):
    s, wh, sf = org
    sf.faults.missing_fields = {"Lead_Score_Experiment__c"}
    with pytest.raises(LeadScoringError, match="no field Lead_Score_Experiment__c"):
        push_scores(wh, s)
    assert not sf.jobs
    sf.faults.missing_fields = set()
    sf.faults.readonly_fields = {"Lead_Score_Tier__c"}
    with pytest.raises(LeadScoringError, match="Lead_Score_Tier__c .* is not updateable"):
        push_scores(wh, s)
    assert not sf.jobs
    sf.faults.readonly_fields = set()
    assert push_scores(wh, s).outcome == "ok"


def test_the_api_floor_defers_the_push_with_nothing_lost(org):
    s, wh, sf = org
    sf.faults.api_remaining = 900
    result = push_scores(wh, s)
    assert result.outcome == "deferred_api_floor" and not sf.jobs and result.sent == 0
    assert "900 of 15,000 daily API requests left" in result.message
    failures = open_failures(wh)
    assert len(failures) == result.intended and set(failures.error_code) == {"API_FLOOR"}
    sf.faults.api_remaining = None
    later = push_scores(wh, s)
    assert later.outcome == "ok" and later.succeeded == result.intended and open_failures(wh).empty


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    d = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("app", "other"):
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (d / f"{name}.pem").write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
        out[name] = d / f"{name}.pem"
        out[name + "_public"] = k.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return out


def _jwt_settings(loaded_demo, tmp_path, sf, **extra):
    settings, _, _, _ = loaded_demo
    base = {k: v for k, v in sf.settings().items() if k not in ("password", "security_token")}
    return with_overrides(settings, data_dir=tmp_path, salesforce={**base, **FAST, "auth_flow": "jwt",
                                                                    "consumer_key": sf.consumer_key, **extra})


def test_jwt_bearer_login_succeeds_with_the_app_key_and_fails_clearly_otherwise(loaded_demo, small_demo, keys,
                                                                                 tmp_path, monkeypatch, capsys):
    from core.salesforce.status import connection_status

    with SalesforceStandin(small_demo / "salesforce_leads.csv", jwt_public_key=keys["app_public"]) as sf:
        good = _jwt_settings(loaded_demo, tmp_path, sf, private_key_file=str(keys["app"]))
        status = connection_status(good)
        assert status.contacted_leads > 0
        assert status.auth_method.startswith("OAuth 2.0 JWT")
        cases = [
            (_jwt_settings(loaded_demo, tmp_path, sf, private_key_file=str(keys["other"])), "invalid assertion"),
            (_jwt_settings(loaded_demo, tmp_path, sf, private_key_file=str(keys["app"]),
                           jwt_audience="https://test.salesforce.com"), "audience is invalid"),
        ]
        for bad, needle in cases:
            with pytest.raises(LeadScoringError, match=needle) as info:
                connection_status(bad)
            assert "PRIVATE KEY" not in str(info.value) and "BEGIN" not in str(info.value)
        real_time = time.time
        monkeypatch.setattr("core.salesforce.client.time.time", lambda: real_time() - 3600)  # an old assertion
        with pytest.raises(LeadScoringError, match="expired"):
            connection_status(good)
        monkeypatch.undo()
        # the command line: exit 2 and one paragraph, no traceback, no key material
        monkeypatch.setenv("LEADSCORE_SF_ENABLED", "1")
        monkeypatch.setenv("LEADSCORE_SF_AUTH_FLOW", "jwt")
        monkeypatch.setenv("LEADSCORE_SF_LOGIN_URL", sf.url)
        monkeypatch.setenv("LEADSCORE_SF_USERNAME", sf.username)
        monkeypatch.setenv("LEADSCORE_SF_CONSUMER_KEY", sf.consumer_key)
        monkeypatch.setenv("LEADSCORE_SF_CA_BUNDLE", str(sf.ca_file))
        monkeypatch.setenv("LEADSCORE_SF_PRIVATE_KEY_FILE", str(keys["other"]))
        monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path / "cli"))
        code = main(["load-leads", "--from-salesforce"])
        out = capsys.readouterr()
        text = out.out + out.err
        assert code == 2 and "JWT login" in text and "Traceback" not in text and "PRIVATE KEY" not in text


def test_client_credentials_login(loaded_demo, small_demo, tmp_path):
    from core.salesforce.status import connection_status

    settings, _, _, _ = loaded_demo
    with SalesforceStandin(small_demo / "salesforce_leads.csv") as sf:
        base = {k: v for k, v in sf.settings().items() if k not in ("password", "security_token", "username")}
        ok = with_overrides(settings, data_dir=tmp_path, salesforce={
            **base, "auth_flow": "client_credentials", "consumer_key": sf.consumer_key,
            "consumer_secret": sf.consumer_secret})
        assert connection_status(ok).contacted_leads > 0
        bad = with_overrides(ok, salesforce={**ok.salesforce, "consumer_secret": "wrong"})
        with pytest.raises(LeadScoringError, match="client-credentials login") as info:
            connection_status(bad)
        assert "wrong" not in str(info.value) and sf.consumer_secret not in str(info.value)
