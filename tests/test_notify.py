"""Notifications: a daily run posts its failures and the alerts monitoring opens to a chat webhook — here a local
HTTP server on 127.0.0.1 that records what it is sent — each alert once, never the webhook's secret."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.config import with_overrides
from core.notify import WEBHOOK_ENV, NotifyConfig, notify_run, send_test, status_words

from tests.conftest import WEBHOOK_SECRET as SECRET


def test_a_daily_run_posts_new_alerts_once_and_every_failed_run(monitored_copy, webhook, monkeypatch):
    from core import daily

    s, w = monitored_copy
    with w.writer("test: nothing open before this run") as x:
        x.execute("delete from ops.monitor_alerts where true")
    first = daily.run_daily(w, s)
    opened = w.read("select level, subject from ops.monitor_alerts where active and level in ('alert', 'critical')")
    assert len(opened) >= 3  # the scripted incidents' ALERTs
    assert len(webhook.posts) == 1
    text = webhook.posts[0]["text"]
    assert text.startswith(f"*Lead scoring: {len(opened)} new monitoring alerts in ")
    # a drifting month's features are one incident, as the Monitoring page acknowledges them
    assert "\n• ALERT · Feature drift · Jun 2025: 11 alerts — " in text and "What to do: 1. Check the vendor" in text
    assert text.count("\n• ") < len(opened)
    assert "WARN ·" not in text  # below [notify] min_level (alert)
    assert first.counts["notify"] == f"sent to {webhook.host}: {len(opened)} new alert(s)"
    # the same alerts the next day: nothing new, nothing sent
    assert daily.run_daily(w, s).counts["notify"] == "nothing new" and len(webhook.posts) == 1

    def broken(*a, **k):
        raise RuntimeError("injected scoring failure")

    monkeypatch.setattr("core.scoring.score.score_leads", broken)
    for day in (1, 2):  # a failing pipeline is told every day it fails
        with pytest.raises(RuntimeError):
            daily.run_daily(w, s)
        assert len(webhook.posts) == 1 + day
        assert webhook.posts[-1]["text"].startswith("*Lead scoring: daily run failed* (")
        assert "RuntimeError: injected scoring failure" in webhook.posts[-1]["text"]
    # the webhook's secret is in no message, count or audit entry
    audit = w.read("select action, target, outcome, detail from ops.audit_log where action = 'notify'")
    assert len(audit) == 3 and set(audit.outcome) == {"ok"}  # sent thrice ("nothing new" sends nothing)
    kept = json.dumps(webhook.posts) + audit.to_json() + w.read("select counts_json from ops.runs").to_json()
    assert SECRET not in kept and "services/" not in kept


def test_a_monitoring_run_of_its_own_posts_what_it_opened_and_a_past_day_posts_nothing(monitored_copy, webhook):
    """`monitor` and the page's button tell a vendor fault when they find it, not at the next daily run."""
    from core.monitoring.monitor import run_monitor, summary_markdown

    s, w = monitored_copy
    with w.writer("test: nothing open or told before this run") as x:
        x.execute("delete from ops.monitor_alerts where true")
    as_of = w.read("select max(contacted_at) as t from ml.lead_features").t.iloc[0]
    past = run_monitor(w, s, as_of=pd.Timestamp(as_of) - pd.Timedelta(days=20), notify=True)
    assert not past.live and past.notify is None and webhook.posts == []  # a look at a past day tells nobody
    step = run_monitor(w, s)  # the daily run's step: the daily run tells, at its end
    assert step.notify is None and webhook.posts == []
    with w.writer("test: nothing open or told before this run") as x:
        x.execute("delete from ops.monitor_alerts where true")
    r = run_monitor(w, s, notify=True)
    opened = w.read("select level from ops.monitor_alerts where active and level in ('alert', 'critical')")
    assert len(opened) >= 3 and len(webhook.posts) == 1
    text = webhook.posts[0]["text"]
    assert text.startswith(f"*Lead scoring: {len(opened)} new monitoring alerts in ") and "(monitoring run " in text
    assert "\n• ALERT · Feature drift · Jun 2025: 11 alerts — " in text
    assert r.notify == f"sent to {webhook.host}: {len(opened)} new alert(s)"
    assert r.to_json()["notify"] == r.notify and f"Notifications: {r.notify}." in summary_markdown(r)
    assert r.headline().endswith(f"alert(s) raised · notifications: {r.notify}")
    audit = w.read("select detail from ops.audit_log where action = 'notify'")
    assert len(audit) == 1 and '"run": "monitoring run"' in audit.detail.iloc[0]
    # told once: the next monitoring run and the next daily run have nothing new
    assert run_monitor(w, s, notify=True).notify == "nothing new" and len(webhook.posts) == 1
    from core import daily

    assert daily.run_daily(w, s).counts["notify"] == "nothing new" and len(webhook.posts) == 1


def test_a_webhook_that_fails_never_fails_the_run_and_is_said(monitored_copy, webhook, monkeypatch):
    s, w = monitored_copy
    monkeypatch.setattr("core.notify.RETRY_SECONDS", 0.01)
    webhook.status = 500
    words = notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z")
    assert words == (f"not sent: The notification webhook at {webhook.host} answered HTTP 500 3 times: the chat "
                     "service is failing or limiting; the next daily run tells these alerts again.")
    assert len(webhook.posts) == 3  # tried three times
    webhook.status = 404
    assert notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z") == (
        f"not sent: The notification webhook at {webhook.host} answered HTTP 404: check {WEBHOOK_ENV} (a revoked or "
        "mistyped webhook).")
    assert len(webhook.posts) == 4  # a 404 is not tried again
    failed = w.read("select outcome, detail from ops.audit_log where action = 'notify'")
    assert failed.outcome.tolist() == ["failed", "failed"] and SECRET not in failed.to_json()
    webhook.status = 200
    # the post failed, so nothing was marked told: the next run tells the same alerts, then they are told
    assert notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z").startswith(f"sent to {webhook.host}: ")
    assert notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z") == "nothing new"
    # an alert whose level rose is told again; an acknowledged one is not news
    with w.writer("test: one alert was a WARN when told") as x:
        x.execute("update ops.monitor_alerts set notified_level = 'warn' where alert_key = "
                  "(select min(alert_key) from ops.monitor_alerts where active and level = 'alert')")
    assert notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z").endswith(": 1 new alert(s)")
    with w.writer("test: acknowledge everything; every alert told at a lower level") as x:
        x.execute("update ops.monitor_alerts set acknowledged_by = 'analyst', notified_level = 'warn' where true")
    assert notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z") == "nothing new"
    # a failed run is told even when the warehouse it failed on cannot be read for alerts
    def unreadable(*a, **k):
        raise OSError("warehouse locked")

    monkeypatch.setattr("core.notify.news", unreadable)
    assert notify_run(w, s, _system(), "failed", "IOException: lock", "2026-12-07T06:00:00Z") == \
        f"sent to {webhook.host}: the failed run"
    assert webhook.posts[-1]["text"].startswith("*Lead scoring: daily run failed* (07 Dec 2026 06:00 UTC): IOException")
    assert notify_run(w, s, _system(), "ok", None, "2026-12-07T06:00:00Z") == "not sent: warehouse locked"
    # a webhook nobody listens on
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv(WEBHOOK_ENV, f"http://127.0.0.1:{port}/services/{SECRET}")
    words = notify_run(w, s, _system(), "failed", "RuntimeError: x", "2026-12-07T06:00:00Z")
    assert words.startswith(f"not sent: The notification webhook at 127.0.0.1:{port} could not be reached (")
    assert SECRET not in words
    monkeypatch.setenv(WEBHOOK_ENV, f"hooks.example.com/services/{SECRET}")  # no scheme: urllib's error holds the URL
    words = notify_run(w, s, _system(), "failed", "RuntimeError: x", "2026-12-07T06:00:00Z")
    assert words == f"not sent: {WEBHOOK_ENV} is not an http(s) URL: set it to the webhook's full URL, https://… included."
    assert SECRET not in w.read("select detail from ops.audit_log where action = 'notify'").to_json()


def test_notification_settings_refuse_the_url_in_a_config_file_and_unknown_levels(settings, webhook, wh):
    from core.auth import Actor
    from core.errors import LeadScoringError, PermissionDeniedError

    with pytest.raises(LeadScoringError, match=f"webhook_url.*set {WEBHOOK_ENV} instead"):
        NotifyConfig.from_settings(with_overrides(settings, extra={"notify": {"webhook_url": "https://x"}}))
    with pytest.raises(LeadScoringError, match="min_level is 'loud'; use one of warn, alert, critical"):
        NotifyConfig.from_settings(with_overrides(settings, extra={"notify": {"min_level": "loud"}}))
    with pytest.raises(LeadScoringError, match=r"unknown keys \['channel'\]"):
        NotifyConfig.from_settings(with_overrides(settings, extra={"notify": {"channel": "#revops"}}))
    assert NotifyConfig.from_settings(settings).min_level == "alert" and SECRET not in repr(NotifyConfig.from_settings(settings))
    on, words = status_words(with_overrides(settings, extra={"notify": {"min_level": "warn"}}))
    assert on and words.startswith(f"Daily runs post failed runs and new alerts at WARN or above to {webhook.host}")
    assert words.endswith("so does a monitoring run started here or by `monitor`.")
    assert send_test(settings, _system(), wh) == f"Test message sent to {webhook.host}."
    assert webhook.posts[-1]["text"].startswith("*Lead scoring: test message* from ")
    with pytest.raises(PermissionDeniedError):
        send_test(settings, Actor("manager", "sga_manager"), wh)


def test_without_a_webhook_nothing_is_sent_and_the_page_says_how(settings, wh, monkeypatch):
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    on, words = status_words(settings)
    assert not on and words.startswith("Notifications off: no chat webhook") and WEBHOOK_ENV not in words
    assert notify_run(wh, settings, _system(), "failed", "x", "2026-12-07T06:00:00Z") == "off (no webhook)"


def _system():
    from core.auth import Actor

    return Actor("system:test", "system")
