"""AppTest for every page: it renders, its role gate holds, and its main action works."""

from __future__ import annotations

import re
import shutil

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.auth import Actor, UserStore
from tests.conftest import ROOT

TIMEOUT = 60


@pytest.fixture
def data_dir(tmp_path, loaded_demo, monkeypatch):
    settings, _, _, _ = loaded_demo
    target = tmp_path / "data"
    shutil.copytree(settings.data_dir, target)
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(target))
    monkeypatch.setenv("LEADSCORE_NO_DEMO", "1")
    monkeypatch.delenv("LEADSCORE_DB", raising=False)
    UserStore(target / "users.json").add("rita", "revops-password", "revops")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield target
    st.cache_resource.clear()
    st.cache_data.clear()


def app(role: str | None, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if role:
        at.session_state["actor"] = Actor(f"test-{role}", role)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def page_alone(page: str, role: str) -> AppTest:
    """Run one page file directly, as if reached by URL: the page's own gate must hold."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT)
    at.session_state["actor"] = Actor(f"test-{role}", role)
    at.run()
    assert not at.exception, at.exception
    return at


def test_login_page_and_sign_in(data_dir):
    at = app(None)
    assert at.title[0].value == "Lead Scoring Engine"
    at.text_input[0].set_value("rita")
    at.text_input[1].set_value("wrong-password")
    at.button[0].click().run()
    assert "wrong password" in at.error[0].value
    at.text_input[1].set_value("revops-password")
    at.button[0].click().run()
    assert at.session_state["actor"] == Actor("rita", "revops")
    assert any(t.value == "Pipeline home" for t in at.title)


@pytest.mark.parametrize("role", ["admin", "revops", "analyst", "sga_manager"])
def test_home_renders_for_every_role(data_dir, role):
    at = app(role)
    assert at.title[0].value == "Pipeline home"
    labels = {m.label: m.value for m in at.metric}
    assert labels["Territory snapshot"] == "Oct 2025"
    assert labels["Contacted leads"] == "2,894"
    # the experiments' dials come from the call activity: when it was last loaded is in sight
    assert [s.value for s in at.subheader][:3] == ["Last territory load", "Last lead load", "Last call activity load"]
    assert any(i.value.startswith("No call activity (Salesforce Tasks) loaded yet") for i in at.info)


def test_home_keeps_the_last_loads_warnings_in_sight(data_dir, small_demo, tmp_path):
    """A load run from cron prints its warnings to a log nobody reads: home shows the newest load's."""
    from core.config import load_settings
    from core.ingest.territories import load_territory_files
    from core.warehouse import open_warehouse

    t1 = (small_demo / "discovery_t1_2025_10.csv").read_text(encoding="utf-8-sig").splitlines()
    cut = tmp_path / "discovery_t1_2025_11.csv"
    cut.write_text("\n".join(t1[: len(t1) // 3]) + "\n", encoding="utf-8")  # a third of T1: a truncated file
    settings = load_settings()
    load_territory_files(open_warehouse(settings), settings, [cut])
    at = app("revops")
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("2025-11 holds T1 only") for w in warnings)
    assert any(w.startswith("T1 2025-11 holds ") and "truncated or filtered vendor file" in w for w in warnings)


def test_upload_page_loads_territory_files(data_dir, small_demo):
    at = app("revops", "pages/upload.py")
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(small_demo.glob("discovery_t*_*.csv"))]
    at.file_uploader(key="territory_files").set_value(files)
    at.run()
    assert at.text_input[0].value == "2025-10"
    assert [s.value for s in at.selectbox] == ["T1", "T2", "T3"]  # pre-filled from the file names
    # The month is already loaded: the page names what will be replaced and waits for a confirmation.
    assert "2025-10 T1" in at.warning[0].value and "reps" in at.warning[0].value
    load = next(b for b in at.button if b.label == "Load territory files")
    assert load.disabled and "Replace them" in load.help
    at.checkbox(key="confirm_replace").check().run()
    next(b for b in at.button if b.label == "Load territory files").click().run()
    assert not at.exception and not at.error
    assert any("Rows read 6,167 = rows loaded 6,166 + rows quarantined 1" in s.value for s in at.success)
    # One vocabulary: the quarantine heading counts rows and cells the way the accounting does.
    assert any(h.value.startswith("Quarantine: 1 row not loaded") for h in at.subheader)


def test_upload_page_loads_several_months_each_on_its_own(data_dir, small_demo):
    """A backlog of monthly files in one upload: each month is loaded on its own (one month's field would have
    loaded every file as the first file's month)."""
    paths = sorted((small_demo / "history").glob("discovery_t*_2025_0[89].csv")) + [small_demo / "discovery_t1_2025_10.csv"]
    at = app("revops", "pages/upload.py")
    at.file_uploader(key="territory_files").set_value([(p.name, p.read_bytes(), "text/csv") for p in paths])
    at.run()
    assert not at.text_input  # no single month to type
    assert at.info[0].value.startswith("7 files for 3 months (2025-08 to 2025-10), as their names date them")
    replace = [w.value for w in at.warning if w.value.startswith("Already loaded")]
    assert len(replace) == 1 and "2025-10 T1" in replace[0] and "2025-08" not in replace[0]  # the new months replace nothing
    at.checkbox(key="confirm_replace").check().run()
    next(b for b in at.button if b.label == "Load territory files").click().run()
    assert not at.exception and not at.error
    labels = [e.label for e in at.expander]
    assert [lab[:8] for lab in labels if lab[:4] == "2025"] == ["2025-08:", "2025-09:", "2025-10:"]
    assert sum(s.value.startswith("Rows read ") for s in at.success) == 3


def test_upload_page_asks_the_territory_when_the_file_name_does_not_say(data_dir, small_demo):
    src = sorted(small_demo.glob("discovery_t*_*.csv"))[1]
    at = app("revops", "pages/upload.py")
    at.file_uploader(key="territory_files").set_value([("october export.csv", src.read_bytes(), "text/csv")])
    at.run()
    load = next(b for b in at.button if b.label == "Load territory files")
    assert load.disabled and "Pick a territory" in load.help
    at.selectbox[0].set_value("T2")
    at.text_input[0].set_value("2025-11").run()
    assert not at.warning  # a new month replaces nothing
    next(b for b in at.button if b.label == "Load territory files").click().run()
    assert not at.exception and not at.error
    assert any("rows loaded" in s.value for s in at.success)


def test_upload_page_loads_the_task_export_and_names_a_plain_export(data_dir, small_demo):
    """Experiments count dials from the Task export; RevOps uploads it beside the Lead export. A plain 'Export'
    (without the calls Salesforce archived after a year) is named; the demo's full file loads with no warning."""
    import pandas as pd

    at = app("revops", "pages/upload.py")
    load = next(b for b in at.button if b.label == "Load task export")
    assert load.disabled and load.help == "Choose the export file first"
    full = (small_demo / "salesforce_tasks.csv").read_bytes()
    at.file_uploader(key="task_file").set_value(("salesforce_tasks.csv", full, "text/csv")).run()
    next(b for b in at.button if b.label == "Load task export").click().run()
    assert not at.exception and not at.error and not at.warning
    assert any(s.value.startswith("Rows read 10,809 = rows loaded") for s in at.success)
    tasks = pd.read_csv(small_demo / "salesforce_tasks.csv", dtype=str, keep_default_na=False)
    created = pd.to_datetime(tasks.CreatedDate, utc=True)
    plain = tasks[created >= created.max() - pd.Timedelta(days=365)].to_csv(index=False).encode()
    at.file_uploader(key="task_file").set_value(("tasks_export.csv", plain, "text/csv")).run()
    next(b for b in at.button if b.label == "Load task export").click().run()
    assert not at.exception and any("Data Loader's 'Export'" in w.value for w in at.warning)


def test_upload_page_refused_to_analyst(data_dir):
    at = app("analyst")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/upload.py")  # not in the analyst's navigation at all
    at = page_alone("pages/upload.py", "analyst")
    assert "cannot replace data" in at.error[0].value
    assert not at.file_uploader


def test_upload_page_shows_user_error_without_traceback(data_dir):
    at = app("revops", "pages/upload.py")
    at.file_uploader(key="lead_file").set_value(("leads.csv", b"Id,Name\n1,x\n", "text/csv"))
    at.run()
    next(b for b in at.button if b.label == "Load lead export").click().run()
    assert "required column(s)" in at.error[0].value and not at.exception


def test_upload_page_refuses_an_older_or_much_smaller_lead_export_until_allowed(data_dir):
    from tests.conftest import LEAD_HEADER, lead

    row = lead("00Q5f000009ZZZZ", 1234567, modified="2025-01-01T00:00:00.000+0000")
    text = ",".join(LEAD_HEADER) + "\n" + ",".join(str(row.get(h, "")) for h in LEAD_HEADER) + "\n"
    at = app("revops", "pages/upload.py")
    at.file_uploader(key="lead_file").set_value(("old_export.csv", text.encode(), "text/csv"))
    at.run()
    assert not at.checkbox(key="allow_older").value and not at.checkbox(key="allow_fewer").value
    next(b for b in at.button if b.label == "Load lead export").click().run()
    # one Lead, none of the loaded ones: refused as another org's export until "Allow fewer Leads" is ticked
    assert "holds none of the" in at.error[0].value and "Allow fewer Leads" in at.error[0].value and not at.exception
    at.checkbox(key="allow_fewer").check().run()
    next(b for b in at.button if b.label == "Load lead export").click().run()
    assert "before the Salesforce Lead export already loaded" in at.error[0].value and not at.exception
    at.checkbox(key="allow_older").check().run()
    next(b for b in at.button if b.label == "Load lead export").click().run()
    assert not at.error and not at.exception


def test_reconciliation_page_and_rerun(data_dir):
    at = app("revops", "pages/reconciliation.py")
    assert at.title[0].value == "Reconciliation QA"
    assert {m.label for m in at.metric} >= {"Match rate (contacted leads)", "Duplicate CRDs in Salesforce"}
    from core.config import load_settings
    from core.warehouse import open_warehouse

    wh = open_warehouse(load_settings())
    count = lambda: int(wh.read("select count(*) as n from marts.reconciliation_reports").n.iloc[0])  # noqa: E731
    before = count()
    assert at.caption[0].value.startswith("Report of ") and " UTC · snapshot Oct 2025" in at.caption[0].value
    at.button[0].click().run()
    assert count() == before + 1 and not at.exception


@pytest.mark.parametrize("role, page, label", [("sga_manager", "pages/reconciliation.py", "Re-run reconciliation"),
                                               ("sga_manager", "pages/features.py", "Rebuild features"),
                                               ("analyst", "pages/reconciliation.py", "Re-run reconciliation")])
def test_writes_a_role_may_not_make_are_disabled_with_the_reason(data_dir, role, page, label):
    at = page_alone(page, role)
    button = next(b for b in at.button if b.label == label)
    assert button.disabled and f"Your role ({role.replace('_', ' ')}) cannot" in button.help


def test_a_too_short_first_admin_password_stops_the_app_with_what_to_set(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEADSCORE_ADMIN_PASSWORD", "short")
    monkeypatch.setenv("LEADSCORE_NO_DEMO", "1")
    st.cache_resource.clear()
    try:
        at = app(None)
    finally:
        st.cache_resource.clear()
    assert "LEADSCORE_ADMIN_PASSWORD" in at.error[0].value and "fewer than 8 characters" in at.error[0].value
    assert not at.text_input  # no sign-in form behind the error


def test_sign_in_page_says_where_the_first_password_is_and_goes_on_to_the_page_asked_for(data_dir):
    at = app(None)
    assert "LEADSCORE_ADMIN_PASSWORD" in at.expander[0].markdown[0].value  # where the first password is
    at.session_state["after_login"] = "tiers"  # what a signed-out deep link to /tiers records (browser test)
    at.text_input[0].set_value("rita")
    at.text_input[1].set_value("revops-password")
    at.button[0].click().run()
    assert not at.exception
    assert any(t.value == "Tier lists" for t in at.title)


def test_audit_log_admin_only(data_dir):
    at = app("admin", "pages/audit_log.py")
    assert at.title[0].value == "Audit log" and at.dataframe
    log = at.dataframe[0].value
    assert "Load leads" in set(log.action) and "None" not in set(log.detail.astype(str))  # words, not codes
    at.multiselect[0].set_value(["load_leads"]).run()
    assert set(at.dataframe[0].value.action) == {"Load leads"}
    next(s for s in at.selectbox if s.label == "Read one event in full").set_value(0).run()
    full = at.markdown[-1].value  # the event's detail in full, one line per key
    assert "- **rows read**: " in full and "\n- **" in full
    assert set(at.dataframe[0].value.outcome) == {"Succeeded"}  # outcomes in words
    assert "Succeeded" in at.multiselect[1].options  # the outcome filter offers the logged outcomes in words
    at.multiselect[1].set_value(["ok"]).run()
    assert set(at.dataframe[0].value.outcome) == {"Succeeded"}
    at = page_alone("pages/audit_log.py", "revops")
    assert "cannot read audit" in at.error[0].value


def test_users_page_adds_a_user(data_dir):
    at = app("admin", "pages/users.py")
    at.text_input[0].set_value("sam@firm.example")
    at.selectbox[0].set_value("sga_manager")
    at.text_input[1].set_value("manager-password")
    at.button[0].click().run()
    assert "Added sam@firm.example as sga manager" in at.success[0].value
    assert UserStore(data_dir / "users.json").users()["sam@firm.example"] == "sga_manager"
    assert "sam@firm.example" in at.dataframe[0].value.user.tolist()  # the list is fresh after the save
    users = at.dataframe[0].value.set_index("user")
    assert users.role["sam@firm.example"] == "SGA manager" and "RevOps" in at.dataframe[1].value.columns  # in words
    at.selectbox(key="manage_user").set_value("sam@firm.example").run()
    at.button(key="toggle_user").click().run()
    assert "disabled" in at.success[0].value
    assert at.dataframe[0].value.set_index("user").status["sam@firm.example"] == "disabled"
    assert UserStore(data_dir / "users.json").verify("sam@firm.example", "manager-password") is None
    at = page_alone("pages/users.py", "analyst")
    assert "cannot manage users" in at.error[0].value


def test_features_page_builds_and_shows_catalog_scorecard_and_leakage(data_dir):
    at = app("analyst", "pages/features.py")
    assert at.title[0].value == "Features & data quality"
    assert "features built as of" in at.caption[0].value and "+00:00" not in at.caption[0].value
    assert any(m.label == "Training rows" for m in at.metric)
    assert any("No post-contact or PII column" in s.value for s in at.success)
    at.text_input[0].set_value("growth").run()
    assert not at.exception
    at.button[0].click().run()  # rebuild
    assert any("Features" in s.value for s in at.success)


def test_train_page_trains_and_shows_gates(data_dir):
    at = app("analyst", "pages/train.py")
    assert at.title[0].value == "Train & compare"
    assert any("No model trained yet" in i.value for i in at.info)
    at.slider[0].set_value(1.0)
    at.button[0].click().run()
    assert not at.exception
    assert any("Gates failed" in e.value for e in at.error)        # small demo: not enough positives
    model = next(s for s in at.selectbox if s.label == "Model")   # the model in words, not its id
    assert model.format_func(model.value).startswith("Logistic regression, trained ")
    assert not any(e.value.startswith("m20") for e in at.error)
    assert any("regularised logistic baseline" in w.value for w in at.warning)
    assert any("sampling noise alone" in c.value for c in at.caption)  # the CoV gate's noise floor
    gates = next(d.value for d in at.dataframe if "result" in d.value.columns)  # gates read as words
    assert set(gates.result) <= {"✓ pass", "✗ fail"} and "✗ fail" in set(gates.result)
    promote = next(b for b in at.button if b.label == "Promote to champion")
    promote.click().run()
    assert "fails the gates" in at.error[-1].value                   # refused without --force


def test_train_page_read_only_for_revops(data_dir):
    at = app("revops", "pages/train.py")
    assert at.button[0].disabled  # Start training


def test_home_runs_the_daily_pipeline_then_tier_lists_show_it(data_dir):
    at = app("revops")
    run = next(b for b in at.button if b.label == "Run daily pipeline")
    run.click().run()
    assert not at.exception and not at.error
    at = app("sga_manager", "pages/tiers.py")
    assert at.title[0].value == "Tier lists"
    labels = {m.label: m.value for m in at.metric}
    assert labels["Daily capacity"] == "120" and labels["Tier A (capacity × 1.2)"] == "144"
    assert any("Scored with the heuristic rule" in w.value for w in at.warning)
    assert any(w.value.startswith("These lists come from the Lead export of 27 Oct 2025") for w in at.warning)
    assert any(c.value.startswith("The heuristic rule · scored ") for c in at.caption)
    assert at.expander and any(e.label == "Why this lead?" for e in at.expander)
    tier_list = at.dataframe[0].value
    assert list(tier_list.columns[:3]) == ["rank", "tier", "company"] and tier_list.company.notna().all()
    card = next(m.value for m in at.markdown if m.value.startswith("**#1 · Tier A · "))
    assert " at " in card.split("**")[1]  # who the lead is (title at firm), not a raw Lead id
    at.number_input[0].set_value(5)
    at.button[-1].click().run()  # Save capacity (sga_manager may)
    assert any("Capacity is now 50" in s.value for s in at.success)
    assert not any("Not today's lists" in w.value for w in at.warning)
    from core.config import load_settings
    from core.scoring.score import score_leads
    from core.warehouse import open_warehouse

    settings = load_settings()
    score_leads(open_warehouse(settings), settings, as_of="2025-09-01")  # an analyst looks at a past day
    at = app("sga_manager", "pages/tiers.py")
    assert any(w.value.startswith("Not today's lists: the scores in place are as of 01 Sep 2025") for w in at.warning)


def test_home_run_button_disabled_for_analyst(data_dir):
    at = app("analyst")
    assert next(b for b in at.button if b.label == "Run daily pipeline").disabled


def test_shap_cohorts_page_needs_a_champion_then_explains_it(data_dir, monkeypatch):
    from core.config import load_settings
    from core.modeling import registry
    from core.modeling import train as tr
    from core.daily import run_daily
    from core.warehouse import open_warehouse

    at = app("analyst", "pages/shap_cohorts.py")
    assert "No champion" in at.error[0].value or "No scores yet" in at.error[0].value
    settings = load_settings()
    wh = open_warehouse(settings)
    # The small demo has too few positives for a booster; this test needs one as champion for the SHAP views.
    monkeypatch.setattr(tr, "MIN_TRAIN_POSITIVES", 20)
    choose = tr.one_se_choice
    monkeypatch.setattr(tr, "one_se_choice", lambda *a, **k: {**choose(*a, **k),
                                                              "chosen": "shallow booster (depth-2 trees)"})
    model = tr.train(wh, settings, budget_minutes=1, quick=True)
    assert model.kind == "xgboost"
    registry.promote(wh, model.model_id, force=True, reason="test")
    run_daily(wh, settings)
    st.cache_resource.clear()
    at = app("analyst", "pages/shap_cohorts.py")
    assert not at.error and at.caption[0].value.startswith("Champion: Gradient boosting, trained ")
    labels = [t.label for t in at.tabs]
    assert labels[:4] == ["Summary (beeswarm)", "Dependence", "Interactions", "Categories by level"]
    assert len(at.tabs) == 7  # the four SHAP views and the three cohorts
    assert "shap.TreeExplainer" in at.caption[1].value
    dep = next(s for s in at.selectbox if s.label == "Feature")
    dep.set_value(dep.options[1]).run()
    assert not at.exception
    cat = next(s for s in at.selectbox if s.label == "Category")
    assert any(o.startswith("cat_") for o in cat.options)
    cat.set_value(cat.options[-1]).run()
    lead = next(s for s in at.selectbox if s.label.startswith("Lead"))
    assert " · Tier " in lead.options[0] and lead.options[0].endswith("%")  # not a bare Salesforce id
    lead.select_index(1).run()
    assert not at.exception and not at.error


@pytest.fixture
def salesforce_env(data_dir, small_demo, monkeypatch):
    from core.salesforce.standin import SalesforceStandin

    with SalesforceStandin(small_demo / "salesforce_leads.csv") as sf:
        env = {"LEADSCORE_SF_ENABLED": "1", "LEADSCORE_SF_LOGIN_URL": sf.url, "LEADSCORE_SF_USERNAME": sf.username,
               "LEADSCORE_SF_PASSWORD": sf.password, "LEADSCORE_SF_TOKEN": sf.security_token,
               "LEADSCORE_SF_CA_BUNDLE": str(sf.ca_file)}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        yield sf


def _page_text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "success", "warning", "error", "info", "title", "subheader")
             for e in getattr(at, kind)]
    parts += [df.value.to_csv() for df in at.dataframe]
    parts += [str(m.value) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def test_salesforce_page_unconfigured_still_previews(data_dir):
    at = app("revops")
    next(b for b in at.button if b.label == "Run daily pipeline").click().run()
    at = app("revops", "pages/salesforce_sync.py")
    assert any("not configured" in i.value for i in at.info)
    assert next(b for b in at.button if b.label == "Push changed scores").disabled
    rows = next(m for m in at.metric if m.label == "Rows to send").value
    assert int(rows.replace(",", "")) > 0
    assert any("Nothing has been sent to Salesforce yet" in c.value for c in at.caption)  # never "has landed"
    next(b for b in at.button if b.label == "Prepare dry-run file").click().run()
    assert not at.exception and any("would be sent" in c.value for c in at.success)
    assert not any(c.value == "None yet." for c in at.caption)  # the dry run is in the history at once
    assert next(b for b in at.button if b.label == "Push changed scores").help == "Salesforce is not configured"


def test_salesforce_page_pushes_with_progress_and_never_shows_secrets(salesforce_env, small_demo):
    sf = salesforce_env
    at = app("revops")
    next(b for b in at.button if b.label == "Run daily pipeline").click().run()  # pulls, scores and pushes
    home = _page_text(at)
    assert "Salesforce write-back: done" in home and "Last Salesforce push" in home and "Last Salesforce pull" in home
    at = app("revops", "pages/salesforce_sync.py")
    assert next(m for m in at.metric if m.label == "Rows to send").value == "0"
    assert any("daily pull on (Leads and Tasks: the changes, all of them every 7 days)" in c.value
               for c in at.caption)
    next(b for b in at.button if b.label == "Test connection and check the org").click().run()
    assert any("contacted Leads visible" in s.value for s in at.success)
    assert any(m.label == "Daily API requests left" for m in at.metric)  # /limits read
    assert any(c.value == "Call activity: Task and every contract Task field are readable." for c in at.caption)
    fields = next(df.value for df in at.dataframe if "api_name" in df.value.columns)
    assert set(fields["api_name"]) >= {"Lead_Score__c", "Lead_Score_Experiment__c"} and fields["updateable"].all()
    text = _page_text(at)
    assert "push" in text and "ok" in text
    assert sf.password not in text and sf.security_token not in text
    assert all(s not in text for s in sf.sessions)
    analyst = app("analyst", "pages/salesforce_sync.py")
    push = next(b for b in analyst.button if b.label == "Push changed scores")
    assert push.disabled and "Your role (analyst) cannot push scores" in push.help
    sf.faults.missing_fields = {"Savvy_Lead_Score__c"}  # an org without this firm's legacy field: pulled all the same
    next(b for b in at.button if b.label == "Pull contacted Leads now").click().run()
    assert not at.exception and any("Pulled: rows read" in w.value and "Not in this org (loaded as missing, as from a "
                                    "file without them): Savvy_Lead_Score__c." in w.value for w in at.warning)
    sf.seed_tasks(small_demo / "salesforce_tasks.csv")
    next(b for b in at.button if b.label == "Pull call activity (Tasks)").click().run()
    assert not at.exception and any(s.value.startswith("Pulled: rows read ") and "daily pipeline" not in s.value
                                    for s in at.success)


def test_salesforce_page_retries_failures(salesforce_env):
    sf = salesforce_env
    from core.config import load_settings
    from core.warehouse import open_warehouse

    settings = load_settings()
    wh = open_warehouse(settings)
    from core.scoring.score import score_leads

    score_leads(wh, settings)
    first = wh.read("select lead_id from ml.lead_scores order by lead_id").lead_id.iloc[0]
    sf.faults.permanent_errors = {first: "FIELD_CUSTOM_VALIDATION_EXCEPTION:Owner must be active:--"}
    at = app("revops", "pages/salesforce_sync.py")
    next(b for b in at.button if b.label == "Push changed scores").click().run()
    assert not at.exception and any("failed" in w.value for w in at.warning)
    assert next(m for m in at.metric if m.label == "Open failures").value == "1"
    sf.faults.permanent_errors = {}
    next(b for b in at.button if b.label == "Retry failed rows").click().run()
    assert any("**done**" in s.value for s in at.success)
    assert next(m for m in at.metric if m.label == "Open failures").value == "0"


@pytest.fixture
def monitored_dir(tmp_path, monitored, monkeypatch):
    """A copy of the first start's warehouse (monthly history, champion, backfill, a monitoring run)."""
    s, _, _ = monitored
    target = tmp_path / "data"
    shutil.copytree(s.data_dir, target)
    from core.config import load_settings, with_overrides
    from core.warehouse import open_warehouse

    with open_warehouse(with_overrides(load_settings(), data_dir=target, db_path=None)).writer("relink") as sess:
        sess.execute(f"update ml.models set artifact_dir = replace(artifact_dir, '{s.data_dir}', '{target}') where true")
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(target))
    monkeypatch.setenv("LEADSCORE_NO_DEMO", "1")
    monkeypatch.delenv("LEADSCORE_DB", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield target
    st.cache_resource.clear()
    st.cache_data.clear()


def test_monitoring_page_shows_drift_cohorts_alerts_and_acknowledges(monitored_dir):
    at = app("analyst", "pages/monitoring.py")
    assert not at.error, [e.value for e in at.error]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Alert level"] in ("WARN", "ALERT", "CRITICAL")
    assert int(labels["Matured weekly cohorts"]) >= 8
    assert [t.label for t in at.tabs][:5] == ["Alerts", "Drift", "Tier A precision", "Conversion by tier", "Adoption"]
    # SGA adoption: the first start's lists are backfilled, so they read as the baseline
    adopt = next(i.value for i in at.info if i.value.startswith("Over the last 8 weeks of lists, "))
    assert "of the new leads scored in the top 20% had a follow-up dial within 7 days" in adopt and "baseline" in adopt
    assert len(next(d.value for d in at.dataframe if "top_share" in d.value)) >= 5  # the SGAs
    at.slider(key="adoption_days").set_value(2).run()
    assert not at.exception and not at.error
    assert any(i.value.startswith("Over the last 8 weeks") and "within 2 days" in i.value for i in at.info)
    drill = next(s for s in at.selectbox if s.label == "Feature (most moved first)")  # the Drift tab's look inside
    assert next(s for s in at.selectbox if s.label == "Territory column (most moved first)").options  # Feed health's
    assert drill.options and any("in the reference's frozen bins" in (c.proto.spec or "") for c in at.get("plotly_chart"))
    conv = next(d.value for d in at.dataframe if "mqls" in d.value)
    assert "Tier A" in set(conv.tier) and len(set(conv.tier)) >= 2 and (conv.mqls <= conv["leads"]).all()
    # leads inside their outcome window rank first, and the small demo's capacity (144 a day in Tier A) exceeds
    # its new leads: nearly every matured lead was first tiered A
    leads = conv[conv.discovery == "all leads"].set_index("tier")["leads"]
    assert leads["Tier A"] > 0.8 * leads.sum()
    text = _page_text(at)
    assert "TotalAssetsInMillions" in text and "/tmp/" not in text
    before = len(at.dataframe[0].value)
    pick = next(s for s in at.selectbox if s.label == "Acknowledge an alert")
    worst = re.search(r": (\d+) alerts", pick.options[0])  # the worst incident: a drifting month's features
    assert worst and int(worst.group(1)) >= 2, pick.options[:3]
    pick.set_value(0).run()
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception and any("Acknowledged" in s.value for s in at.success)
    acknowledged = at.dataframe[0].value.acknowledged_by.notna().sum()
    assert acknowledged == int(worst.group(1)) and len(at.dataframe[0].value) == before


def test_monitoring_page_shows_the_challenger_in_shadow_and_stops_it(monitored_dir):
    import pandas as pd

    from core.config import load_settings
    from core.warehouse import open_warehouse

    with open_warehouse(load_settings()).writer("test: a challenger in shadow") as s:
        s.load("ops.shadow", pd.DataFrame({"model_id": ["m_challenger"], "started_at": [pd.Timestamp.now(tz="UTC")],
                                           "started_by": ["ana"],
                                           "stopped_at": pd.Series([pd.NaT], dtype="datetime64[us, UTC]")}))
    at = app("analyst", "pages/monitoring.py")
    next(b for b in at.button if b.label == "Run monitoring now").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    text = _page_text(at)
    assert "Challenger m_challenger in shadow since" in text and "FAIL — no matured leads scored by both yet" in text
    assert not any(b.label == "Promote the challenger" for b in at.button)  # offered only once the gate passes
    next(b for b in at.button if b.label == "Stop the shadow").click().run()
    assert not at.exception and any("Shadow scoring stopped" in s.value for s in at.success)


def test_monitoring_page_says_where_alerts_go_and_sends_a_test_message(monitored_dir, monkeypatch, webhook):
    at = app("analyst", "pages/monitoring.py")
    assert any(c.value.startswith("Daily runs post failed runs and new alerts at ALERT or above to 127.0.0.1:")
               for c in at.caption)
    next(b for b in at.button if b.label == "Send a test notification").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert webhook.posts[-1]["text"].startswith("*Lead scoring: test message* from ")
    monkeypatch.delenv("LEADSCORE_NOTIFY_WEBHOOK")
    at = app("analyst", "pages/monitoring.py")
    assert any(c.value.startswith("Notifications off: no chat webhook") for c in at.caption)
    assert not any(b.label == "Send a test notification" for b in at.button)


def test_monitoring_page_read_only_for_sga_manager(monitored_dir):
    at = app("sga_manager", "pages/monitoring.py")
    assert next(b for b in at.button if b.label == "Run monitoring now").disabled
    assert next(b for b in at.button if b.label == "Acknowledge").disabled
    assert next(b for b in at.button if b.label == "Recalibrate").disabled


def test_monitoring_page_recalibrates_the_champion_from_the_calibration_tab(monitored_dir):
    at = app("analyst", "pages/monitoring.py")
    next(b for b in at.button if b.label == "Recalibrate").click().run()  # the default 30 days: too few MQLs
    assert not at.exception and any("Widen the window" in e.value for e in at.error)
    at.slider(key="recalibration_days").set_value(200).run()
    next(b for b in at.button if b.label == "Recalibrate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    done = next(x.value for x in at.success if x.value.startswith("Recalibrated on the "))
    assert "held out" in done and "Registered as m" in done
    by_segment = next(d.value for d in at.dataframe if "predicted_after" in d.value)
    assert by_segment.leads.sum() > 100 and set(by_segment.segment) >= {"<$100M", "$100–500M"}
    # the new version is a challenger to shadow, and Train & compare shows its card: the champion's gates and the
    # hold-out's, and where it came from
    at.run()
    pick = next(s for s in at.selectbox if s.label == "Challenger")
    assert pick.options
    at = app("analyst", "pages/train.py")
    model = next(s for s in at.selectbox if s.label == "Model")
    model.set_value(re.search(r"Registered as (m[\w-]+)", done).group(1)).run()
    assert not at.exception  # (the small demo's champion fails its gates: so does its recalibrated version)
    assert any(w.value.startswith("Recalibrated from m") for w in at.warning)
    assert any("Recalibration: Brier on the newest matured leads" in g for d in at.dataframe if "gate" in d.value
               for g in d.value.gate)


def test_experiments_page_reads_out_the_demo_experiment(monitored_dir):
    at = app("analyst", "pages/experiments.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Decision"] in ("Inconclusive", "Treatment wins")
    assert labels["Lift in MQLs per 100 dials"].startswith(("+", "-"))
    assert [t.label for t in at.tabs] == ["Sequential boundary", "Per stratum", "SRM & balance", "Guardrails", "Power"]
    text = _page_text(at)
    assert "scoring-pilot" in text and "/tmp/" not in text
    # design: power, then create (analysts may)
    next(b for b in at.button if b.label == "Compute power").click().run()
    assert any(m.label == "Blocked + score adjustment" for m in at.metric)
    next(t for t in at.text_input if t.label.startswith("Name")).set_value("page-pilot").run()
    next(b for b in at.button if b.label == "Create experiment").click().run()
    assert not at.exception and any("page-pilot created" in s.value for s in at.success)


def test_experiments_page_read_only_for_sga_manager(monitored_dir):
    at = app("sga_manager", "pages/experiments.py")
    assert not at.exception
    assert next(b for b in at.button if b.label == "Create experiment").disabled


def test_headers_read_as_words_but_salesforce_api_names_stay_as_in_setup():
    from core.words import header, is_count

    assert header("rows_quarantined") == "Rows quarantined" and header("Lead_Score_Tier__c") == "Lead_Score_Tier__c"
    assert header("crd") == "CRD" and header("lead_id") == "Lead ID" and header("mqls") == "MQLs"
    assert header("aum_segment") == "AUM segment" and header("idle_days") == "Idle days"  # whole words only
    assert header("tier_a") == "Tier A" and header("tier_a_precision") == "Tier A precision"  # the tier, not "a"
    # counts get thousands separators; years, ranks, ids and weeks do not
    assert is_count("rows_intended") and not any(is_count(c) for c in ("year", "rank", "lead_id", "week"))


def test_rates_show_as_percentages_with_one_decimal_and_downloads_keep_fractions():
    import pandas as pd

    from pages._shared import percent_shown

    df = pd.DataFrame({"rate": [0.05, 0.0285, None], "p": [0.5, 1.0, 0.0], "leads": [3, 4, 5]})
    config = {"rate": st.column_config.NumberColumn("MQL rate", format="percent"),
              "p": st.column_config.ProgressColumn("P", min_value=0, max_value=1, format="percent"), "leads": "Leads"}
    shown, out = percent_shown(df, config)
    # Streamlit's own "percent" shows 0.05 as "5%" beside "2.85%": ×100 with one decimal reads "5.0%" and "2.9%"
    assert shown.rate.tolist()[:2] == pytest.approx([5.0, 2.85]) and pd.isna(shown.rate.iloc[2])
    assert out["rate"]["type_config"]["format"] == "%.1f%%" and out["rate"]["label"] == "MQL rate"
    assert (out["p"]["type_config"]["min_value"], out["p"]["type_config"]["max_value"]) == (0, 100)
    assert shown.p.tolist() == [50.0, 100.0, 0.0] and shown.leads.tolist() == [3, 4, 5] and out["leads"] == "Leads"
    assert df.rate.iloc[0] == 0.05 and config["rate"]["type_config"]["format"] == "percent"  # the download's frame


def test_tier_lists_find_a_lead_tells_its_story(monitored_dir):
    """Tier lists → Find a lead: the #1 lead by its 15-character Id reads who it is, where its window stands, its
    scoring days (chart and table); what is not a Lead Id is a clear error, not a traceback."""
    from core.config import load_settings
    from core.warehouse import open_warehouse

    top = open_warehouse(load_settings()).read("select lead_id from ml.lead_scores order by rank limit 1").lead_id[0]
    at = app("sga_manager", "pages/tiers.py")
    box = next(t for t in at.text_input if t.label == "Lead Id or Salesforce record address")
    box.set_value(top[:15]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(m.value.startswith("**") and f"Lead {top}" in m.value for m in at.markdown)
    text = _page_text(at)
    assert "Last scored " in text and "Tier A, rank 1," in text
    history = next(d.value for d in at.dataframe if "backfilled" in d.value.columns)
    assert history.tier.iloc[0] == "A" and history.backfilled.iloc[1:].all()  # newest first: the live day on top
    assert at.get("plotly_chart")
    box = next(t for t in at.text_input if t.label == "Lead Id or Salesforce record address")
    box.set_value("not-a-lead").run()
    assert not at.exception and any("holds no Salesforce Lead Id" in e.value for e in at.error)
