"""End to end in a real headless Chromium: first start (demo data loaded and scored, with progress), sign
in, upload the small demo CSVs, read the row accounting, open the reconciliation QA, run the daily
pipeline (which pulls from and pushes to a local Salesforce stand-in), read the tier list with its drivers
and the Salesforce sync page. Screenshots land in artifacts/e2e/. Skipped only
outside CI when no browser is installed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = ROOT / "artifacts" / "e2e"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, small_demo):
    from core.salesforce.standin import SalesforceStandin

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: the README test command installs it (apt-get install chromium)")
        pytest.skip("no chromium on this machine")
    port = _free_port()
    standin = SalesforceStandin(small_demo / "salesforce_leads.csv")
    standin.seed_tasks(small_demo / "salesforce_tasks.csv")  # as `sf-standin` serves the demo: Leads and Tasks
    standin.start()
    env = {**os.environ, "LEADSCORE_DATA_DIR": str(tmp_path / "data"), "LEADSCORE_ADMIN_PASSWORD": "e2e-admin-pass",
           "LEADSCORE_SF_ENABLED": "1", "LEADSCORE_SF_LOGIN_URL": standin.url, "LEADSCORE_SF_USERNAME": standin.username,
           "LEADSCORE_SF_PASSWORD": standin.password, "LEADSCORE_SF_TOKEN": standin.security_token,
           "LEADSCORE_SF_CA_BUNDLE": str(standin.ca_file)}
    env.pop("LEADSCORE_NO_DEMO", None)
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except Exception:  # noqa: BLE001 - still starting
                if proc.poll() is not None:
                    pytest.fail((tmp_path / "streamlit.log").read_text())
                time.sleep(0.2)
        yield url, tmp_path, standin
    finally:
        standin.stop()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


PAGES = {  # sidebar link → the page's heading
    "Pipeline home": "Pipeline home", "Upload exports": "Upload exports", "Reconciliation QA": "Reconciliation QA",
    "Salesforce sync": "Salesforce sync", "Tier lists": "Tier lists", "Features & data quality": "Features & data quality",
    "Train & compare": "Train & compare", "SHAP & cohorts": "SHAP & cohorts", "Monitoring": "Monitoring",
    "Experiments": "Experiments",
    "Audit log": "Audit log", "Users": "Users",
}
ROLE_PAGES = {
    "admin": list(PAGES),
    "revops": [p for p in PAGES if p not in ("Audit log", "Users")],
    "analyst": [p for p in PAGES if p not in ("Audit log", "Users", "Upload exports")],
    "sga_manager": [p for p in PAGES if p not in ("Audit log", "Users", "Upload exports")],
}
RAW_ARTEFACTS = {
    "a traceback": re.compile(r"Traceback \(most recent call last\)"),
    "a microsecond timestamp": re.compile(r"\d\d:\d\d:\d\d\.\d{4,}"),
    "a server temp path": re.compile(r"/tmp/"),
    "an environment-variable name": re.compile(r"\bLEADSCORE_[A-Z_]+"),
    "a 15-decimal number": re.compile(r"\d\.\d{9,}"),
}


def _check_and_shoot(page, where: str, shot: str) -> None:
    """No exception and no raw artefact in what the page shows now; a screenshot named ``shot``."""
    text = page.locator("[data-testid=stMain]").inner_text()
    assert page.locator("[data-testid=stException]").count() == 0, (where, text[:2000])
    for what, pattern in RAW_ARTEFACTS.items():
        found = pattern.search(text)
        assert not found, f"{where}: {what}: {text[max(found.start() - 80, 0):found.end() + 80]!r}"
    page.screenshot(path=str(SHOTS / f"{shot}.png"))


def _every_page_for_every_role(browser, url: str, tmp: Path) -> None:
    """Each role signs in and opens every page it has: no exception, no raw artefact, a screenshot each."""
    from core.auth import UserStore

    store = UserStore(tmp / "data" / "users.json")
    for role in ("revops", "analyst", "sga_manager"):
        store.add(f"e2e-{role}", "e2e-role-pass", role)
    for role, pages in ROLE_PAGES.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = context.new_page()
        page.set_default_timeout(120_000)
        try:
            page.goto(url)
            page.get_by_role("textbox", name="User name").fill("admin" if role == "admin" else f"e2e-{role}")
            page.get_by_role("textbox", name="Password").fill("e2e-admin-pass" if role == "admin" else "e2e-role-pass")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Pipeline home").wait_for()
            links = {a.inner_text().strip().splitlines()[-1] for a in page.locator("[data-testid=stSidebarNav] a").all()}
            assert set(pages) <= links and not ({"Audit log", "Users"} & links and role != "admin"), (role, links)
            for name in pages:
                page.get_by_role("link", name=name, exact=True).click()
                page.get_by_role("heading", name=PAGES[name]).first.wait_for()
                page.wait_for_load_state("networkidle")
                for _ in range(240):  # let the page finish running: the script done, no spinner left (a cold
                    # cache's readout spinner once stood in the screenshot of the Experiments page)
                    state = page.locator("[data-testid=stApp]").get_attribute("data-test-script-state")
                    if state == "notRunning" and page.locator("[data-testid=stSpinner]").count() == 0:
                        break
                    time.sleep(0.5)
                else:
                    raise AssertionError(f"{role} on {name}: still running after 2 minutes")
                time.sleep(1)
                slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
                _check_and_shoot(page, f"{role} on {name}", f"role_{role}_{slug}")
                if role == "admin":  # every tab once: a hidden tab's text is not in the page's visible text
                    for tab in page.locator("[data-testid=stTabs] [role=tab]").all():
                        label = tab.inner_text().strip()
                        tab.click()
                        time.sleep(0.7)
                        tab_slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
                        _check_and_shoot(page, f"{role} on {name}, tab {label}", f"tab_{slug}_{tab_slug}")
        except Exception:
            page.screenshot(path=str(SHOTS / f"failure_{role}.png"))
            raise
        finally:
            context.close()


def test_sign_in_upload_and_reconcile(server, small_demo):
    from playwright.sync_api import sync_playwright

    url, tmp, standin = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(120_000)
            page.goto(url)
            # First start on an empty folder: demo data, a first champion and scores, with visible progress.
            page.get_by_text("Demo data loaded and reconciled; a first champion trained").wait_for(timeout=600_000)
            # A signed-out deep link shows the sign-in form (never "Page not found") and then that page.
            page.goto(url + "/tiers")
            page.get_by_text("You will go on to the page you asked for").wait_for()
            assert page.get_by_text("Page not found").count() == 0
            page.get_by_role("textbox", name="User name").fill("admin")
            page.get_by_role("textbox", name="Password").fill("e2e-admin-pass")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Tier lists").wait_for()
            page.get_by_role("link", name="Pipeline home").click()
            page.get_by_role("heading", name="Pipeline home").wait_for()
            page.get_by_text("CRD match rate").wait_for()
            page.locator(".js-plotly-plot").first.wait_for()  # the snapshot months' chart drawn, not its placeholder
            page.get_by_text("Last Salesforce pull of call activity (Tasks)").wait_for()
            page.screenshot(path=str(SHOTS / "01_home.png"))

            page.get_by_role("link", name="Upload exports").click()
            page.get_by_role("heading", name="Upload exports").wait_for()
            files = [str(p) for p in sorted(small_demo.glob("discovery_t*_*.csv"))]
            page.locator("input[type=file]").first.set_input_files(files)
            page.get_by_text("Already loaded and about to be replaced").wait_for()  # the month is loaded
            page.get_by_text("Replace them").click()
            load = page.get_by_role("button", name="Load territory files")
            for _ in range(100):  # the button enables once the uploads reach the server and the replace is confirmed
                if load.is_enabled():
                    break
                time.sleep(0.2)
            load.click()
            page.get_by_text("Rows read 6,167 = rows loaded 6,166 + rows quarantined 1").wait_for()
            page.get_by_text("Quarantine: 1 row not loaded").wait_for()
            page.screenshot(path=str(SHOTS / "02_upload.png"))

            page.get_by_role("link", name="Reconciliation QA").click()
            page.get_by_text("Match rate by territory").wait_for()
            page.get_by_text("91.4%").first.wait_for()  # matched against the newest month (some advisors left since)
            time.sleep(1.5)  # let plotly draw before the picture
            page.screenshot(path=str(SHOTS / "03_reconciliation.png"))

            page.get_by_role("link", name="Pipeline home").click()
            page.get_by_role("button", name="Run daily pipeline").click()
            page.get_by_text("leads with the champion model in").wait_for()  # the first start trained and promoted a champion
            page.get_by_role("link", name="Tier lists").click()
            page.get_by_text("Lead cards").wait_for()
            page.get_by_text("#1 · Tier A").first.wait_for()
            page.get_by_text("Why this lead?").first.click()
            time.sleep(1)
            page.screenshot(path=str(SHOTS / "04_tier_list.png"))
            # Find a lead: the #1 card's Lead by its Id, as an SGA manager pastes it
            card = page.locator("[data-testid=stMarkdownContainer] p", has_text="#1 · Tier A").first.inner_text()
            first_lead = re.search(r"Lead (00Q\w{15})", card).group(1)
            page.get_by_text("Find a lead: where it stands").click()
            box = page.get_by_role("textbox", name="Lead Id or Salesforce record address")
            box.fill(first_lead)
            box.press("Enter")
            page.get_by_text("Last scored ").first.wait_for()
            page.get_by_text("Find a lead: where it stands").scroll_into_view_if_needed()
            time.sleep(1.5)  # let plotly draw before the picture
            page.screenshot(path=str(SHOTS / "04b_find_a_lead.png"))

            # The daily run pulled the Leads from the Salesforce stand-in and pushed the scores back.
            page.get_by_role("link", name="Salesforce sync").click()
            page.get_by_role("heading", name="Recent pulls and pushes").wait_for()
            page.get_by_role("button", name="Test connection").click()
            page.get_by_text("contacted Leads visible").wait_for()
            time.sleep(1)
            page.screenshot(path=str(SHOTS / "05_salesforce_sync.png"))
            assert standin.password not in page.content()

            page.get_by_role("link", name="Audit log").click()
            page.get_by_text("Audit log").first.wait_for()
            _every_page_for_every_role(browser, url, tmp)
        except Exception:
            page.screenshot(path=str(SHOTS / "failure.png"))
            raise
        finally:
            browser.close()
    assert (SHOTS / "03_reconciliation.png").stat().st_size > 10_000
    assert (SHOTS / "04_tier_list.png").stat().st_size > 10_000
    counts = standin.update_counts()
    assert counts and set(counts.values()) == {1}  # first start pushed every score once; the re-run sent nothing new
