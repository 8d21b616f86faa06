"""Shared fixtures: settings on a temporary data folder, small demo data, hand-written CSV files."""

from __future__ import annotations

import csv
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.config import load_settings, with_overrides
from core.contract import marketpro_columns, salesforce_columns
from core.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADSCORE_FAULT", raising=False)
    return with_overrides(load_settings(), data_dir=tmp_path / "data", db_path=None, users_file=None)


@pytest.fixture
def wh(settings):
    return open_warehouse(settings)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    from core.demo import generate

    out = tmp_path_factory.mktemp("demo_small")
    generate(out, "small", 42)
    return out


@pytest.fixture(scope="session")
def loaded_demo(tmp_path_factory, small_demo):
    """A warehouse holding the small demo data (treat as read-only)."""
    from core.ingest.leads import load_lead_file
    from core.ingest.territories import load_territory_files

    data = tmp_path_factory.mktemp("wh_demo")
    s = with_overrides(load_settings(), data_dir=data, db_path=None, users_file=None)
    w = open_warehouse(s)
    t = load_territory_files(w, s, sorted(small_demo.glob("discovery_t*_*.csv")))
    l = load_lead_file(w, s, small_demo / "salesforce_leads.csv")
    return s, w, t, l


@pytest.fixture(scope="session")
def monitored(tmp_path_factory):
    """The control panel's first start, headless: monthly history, champion before the window, backfill, run."""
    from core.auth import Actor
    from core.pipeline import bootstrap_demo

    data = tmp_path_factory.mktemp("monitored")
    s = with_overrides(load_settings(), data_dir=data, db_path=None, users_file=None)
    w = open_warehouse(s)
    summary = bootstrap_demo(w, s, actor=Actor("system:test", "system"))
    return s, w, summary


@pytest.fixture
def monitored_copy(monitored, tmp_path):
    """A writable copy of the first start's data folder (the session's ``monitored`` stays untouched)."""
    s, _, _ = monitored
    target = tmp_path / "data"
    shutil.copytree(s.data_dir, target)
    s2 = with_overrides(s, data_dir=target)
    # artifact folders are recorded with absolute paths: point them at the copy
    w2 = open_warehouse(s2)
    with w2.writer("relink") as sess:
        sess.execute(f"update ml.models set artifact_dir = replace(artifact_dir, '{s.data_dir}', '{target}') where true")
    return s2, w2


REP_HEADER = [c.name for c in marketpro_columns()]
LEAD_HEADER = [c.name for c in salesforce_columns()]


def write_csv(path: Path, header: list[str], rows: list[dict], encoding="utf-8", newline="\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, lineterminator=newline)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


def rep(crd, **values) -> dict:
    base = {"RepCRD": str(crd), "RIAFirmCRD": "100", "TotalAssetsInMillions": "100", "Branch_State": "NY"}
    base.update(values)
    return base


def lead(lead_id, crd, contacted="2025-01-06T10:00:00.000+0000", mql="", modified="2025-02-01T00:00:00.000+0000",
         **values) -> dict:
    base = {"Id": lead_id, "FA_CRD__c": str(crd) if crd is not None else "", "CreatedDate": "2025-01-01T09:00:00.000+0000",
            "Stage_Entered_Contacting__c": contacted, "Stage_Entered_Call_Scheduled__c": mql,
            "LastModifiedDate": modified, "State": "NY"}
    base.update(values)
    return base


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


WEBHOOK_SECRET = "T0000/B0000/not-a-real-token"


@pytest.fixture
def webhook(monkeypatch):
    """A webhook on 127.0.0.1: ``posts`` holds each JSON body received; ``status`` is what it answers."""
    class Hook:
        posts: list[dict] = []
        status = 200

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server hook
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            Hook.posts.append(json.loads(body))
            self.send_response(Hook.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("LEADSCORE_NOTIFY_WEBHOOK", f"http://127.0.0.1:{server.server_port}/services/{WEBHOOK_SECRET}")
    Hook.host = f"127.0.0.1:{server.server_port}"
    try:
        yield Hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
