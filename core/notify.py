"""Telling people: a chat webhook is sent a message when a daily run fails and when monitoring opens an alert.

Alerts are data (``ops.monitor_alerts``) and the home page shows the current level, but nobody opens a control
panel to learn that the vendor feed broke overnight. With ``LEADSCORE_NOTIFY_WEBHOOK`` set (an incoming-webhook URL:
Slack, a Microsoft Teams workflow, Google Chat, or anything that takes ``{"text": …}`` JSON), each daily run posts
one message when

- the run failed, or its Salesforce write-back did (every such run: a pipeline failing each day is worth a
  message each day);
- monitoring has an alert open at or above ``[notify] min_level`` (``alert`` by default; ``warn`` or
  ``critical``) that nobody has acknowledged and no message has told at its level yet
  (``ops.monitor_alerts.notified_level``) — each once, not every day it stays open; again when its level rises
  or when it closes and opens again.

A monitoring run outside the daily run (``monitor``, the Monitoring page's "Run monitoring now": say, after
RevOps loads a territory month mid-month) posts the alerts it opened the same way, so a vendor fault is told
when it is found, not at the next morning's run. A view of a past day (``monitor --as-of``) posts nothing.

The URL carries the webhook's secret, so it is read from the environment only (a config file holding it is
refused) and never written to a message, a log or the audit log: a failed post names the host. A 429, a 5xx or
no answer is tried three times; a post that still fails never fails the run: it is said in the run's counts
(``notify``) and audited, and marks nothing told, so the next run tells the same alerts.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from core import audit
from core.auth import Actor, authorize
from core.config import Settings
from core.errors import LeadScoringError
from core.monitoring.store import LEVELS
from core.warehouse import Warehouse
from core.warehouse.sql import literal

WEBHOOK_ENV = "LEADSCORE_NOTIFY_WEBHOOK"
MAX_ALERTS = 10  # incidents listed in one message; the rest are counted
OFF = "off (no webhook)"  # a run's notify words when no webhook is set
NEWS_COLUMNS = ["alert_key", "level", "kind", "subject", "value", "message", "playbook", "notified_level"]


@dataclass(frozen=True)
class NotifyConfig:
    """``[notify]`` in the config file; the webhook URL from the environment only."""
    webhook_url: str | None = field(default=None, repr=False)
    min_level: str = "alert"
    timeout_seconds: float = 10.0
    control_panel_url: str | None = None  # linked at the end of each message

    @classmethod
    def from_settings(cls, settings: Settings) -> "NotifyConfig":
        extra = dict((settings.extra or {}).get("notify", {}))
        if "webhook_url" in extra:
            raise LeadScoringError(f"The config file's [notify] holds webhook_url. The URL carries the webhook's "
                                   f"secret and config files get committed: set {WEBHOOK_ENV} instead.")
        known = {"min_level", "timeout_seconds", "control_panel_url"}
        if unknown := sorted(set(extra) - known):
            raise LeadScoringError(f"Config [notify] has unknown keys {unknown}; known: {', '.join(sorted(known))}.")
        cfg = cls(os.environ.get(WEBHOOK_ENV) or None, **extra)
        if cfg.min_level not in LEVELS[1:]:
            raise LeadScoringError(f"Config [notify] min_level is '{cfg.min_level}'; use one of "
                                   f"{', '.join(LEVELS[1:])}.")
        return cfg

    @property
    def host(self) -> str:
        """Where messages go, as a message may name it (never the path, which holds the secret)."""
        return urlsplit(self.webhook_url or "").netloc or "(no webhook)"


def news(wh: Warehouse, min_level: str) -> pd.DataFrame:
    """The open, unacknowledged alerts at or above ``min_level`` that no notification has told at their level yet
    (``notified_level``: none, or a lower one). A post that failed marks nothing, so the next run tells them."""
    with wh.reader() as s:
        if not s.table_exists("ops.monitor_alerts"):
            return pd.DataFrame(columns=NEWS_COLUMNS)
        told = "notified_level" if "notified_level" in s.columns("ops.monitor_alerts") else "cast(null as string)"
        now = s.query(f"select {', '.join(NEWS_COLUMNS[:-1])}, {told} as notified_level from ops.monitor_alerts "
                      "where active and acknowledged_by is null")
    rank = LEVELS.index
    fresh = [rank(lv) >= rank(min_level) and (pd.isna(was) or rank(lv) > rank(was))
             for lv, was in zip(now.level, now.notified_level)]
    out = now[np.array(fresh, dtype=bool)].copy()
    out["order"] = out.level.map(rank)
    return out.sort_values(["order", "kind", "subject"], ascending=[False, True, True]).drop(columns="order")


def mark_notified(wh: Warehouse, alerts: pd.DataFrame, actor: Actor) -> None:
    """These alerts were told at their level (a step of the daily or monitoring run, under its actor)."""
    authorize(actor, "monitor")
    if alerts.empty:
        return
    with wh.writer("alerts notified") as s:
        s.add_column("ops.monitor_alerts", "notified_level", "STRING")
        for level, g in alerts.groupby("level"):
            s.execute(f"update ops.monitor_alerts set notified_level = {literal(level)} where alert_key in "
                      f"({', '.join(literal(k) for k in g.alert_key)})")


def incident_lines(alerts: pd.DataFrame) -> list[str]:
    """The alerts as incidents, worst first, as the Monitoring page acknowledges them: a drifting month's features
    are one line naming the features that moved most, not one line each."""
    from core.monitoring.view import incident_groups, months_in_words

    out = []
    for what, p, level, g in incident_groups(alerts):
        kind = g.kind.iloc[0]
        if len(g) == 1:
            text = f"{what}: {months_in_words(g.message.iloc[0])}"
        else:
            top = g.sort_values("value", ascending=False, na_position="last").head(5)
            psi = "PSI " if kind.endswith("_drift") else ""
            named = ", ".join(f"{s.rpartition(' · ')[0] or s}" + (f" ({psi}{v:.2f})" if pd.notna(v) else "")
                              for s, v in zip(top.subject, top.value))
            text = f"{what} · {months_in_words(p)}: {len(g)} alerts — {named}" + \
                (f" and {len(g) - 5} more" if len(g) > 5 else "")
        out.append((LEVELS.index(level), f"• {level.upper()} · {text}\n   What to do: {g.playbook.iloc[0]}"))
    return [line for _, line in sorted(out, key=lambda t: -t[0])]


def run_message(outcome: str, error: str | None, started, alerts: pd.DataFrame, cfg: NotifyConfig,
                what: str = "daily run") -> str | None:
    """The message for one run (``what``: "daily run" or "monitoring run"; ``alerts``: the news, without the failed
    run's own pipeline alert), or None when there is nothing to tell."""
    failed = outcome != "ok"
    if not failed and alerts.empty:
        return None
    when = pd.Timestamp(started).strftime("%d %b %Y %H:%M UTC")
    lines = incident_lines(alerts) if len(alerts) else []
    counted = f"{len(alerts)} new monitoring alert{'s' * (len(alerts) != 1)}" + \
        (f" in {len(lines)} incidents" if len(lines) > 1 and len(lines) < len(alerts) else "")
    if failed:
        failure = "failed" if outcome == "failed" else "scored, but its Salesforce write-back failed"
        head = [f"*Lead scoring: daily run {failure}* ({when}): {error}"] + ([f"{counted}:"] if len(alerts) else [])
    else:
        head = [f"*Lead scoring: {counted}, worst {alerts.level.iloc[0].upper()}* ({what} {when})"]
    more = [f"… and {len(lines) - MAX_ALERTS} more."] if len(lines) > MAX_ALERTS else []
    where = f" {cfg.control_panel_url}" if cfg.control_panel_url else ""
    tail = [f"Details: the control panel's Monitoring page{where}"
            + (" (acknowledging an incident there takes it out of the level)." if len(alerts) else ".")]
    return "\n".join(head + lines[:MAX_ALERTS] + more + tail)


POST_ATTEMPTS = 3  # a 429, a 5xx or no answer is tried again, after 1 s, then 2 s
RETRY_SECONDS = 1.0


def post(cfg: NotifyConfig, text: str, sleep=time.sleep) -> None:
    """A POST of ``{"text": text}``, tried again on a 429, a 5xx or no answer; raises LeadScoringError naming the
    host (never the URL) when it fails."""
    body = json.dumps({"text": text}).encode("utf-8")
    for attempt in range(1, POST_ATTEMPTS + 1):
        try:
            req = urllib.request.Request(cfg.webhook_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "lead-scoring-engine"})
            with urllib.request.urlopen(req, timeout=cfg.timeout_seconds) as resp:  # noqa: S310 - an operator's URL
                resp.read()
            return
        except urllib.error.HTTPError as exc:
            transient = exc.code == 429 or exc.code >= 500
            if transient and attempt < POST_ATTEMPTS:
                sleep(RETRY_SECONDS * 2 ** (attempt - 1))
                continue
            if transient:
                raise LeadScoringError(f"The notification webhook at {cfg.host} answered HTTP {exc.code} {attempt} "
                                       "times: the chat service is failing or limiting; the next daily run tells "
                                       "these alerts again.") from None
            raise LeadScoringError(f"The notification webhook at {cfg.host} answered HTTP {exc.code}: check "
                                   f"{WEBHOOK_ENV} (a revoked or mistyped webhook).") from None
        except ValueError:  # its text would hold the URL
            raise LeadScoringError(f"{WEBHOOK_ENV} is not an http(s) URL: set it to the webhook's full URL, "
                                   "https://… included.") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt < POST_ATTEMPTS:
                sleep(RETRY_SECONDS * 2 ** (attempt - 1))
                continue
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise LeadScoringError(f"The notification webhook at {cfg.host} could not be reached ({reason}): check "
                                   f"{WEBHOOK_ENV} and the network.") from None


def notify_run(wh: Warehouse, settings: Settings, actor: Actor, outcome: str, error: str | None, started,
               what: str = "daily run") -> str:
    """After a daily run (or a monitoring run, ``what``): post what is new, if anything. Returns the run's
    ``notify`` count in words; never raises (a bad [notify] table or a webhook that is down is said in it, and
    audited)."""
    try:
        cfg = NotifyConfig.from_settings(settings)
    except LeadScoringError as exc:
        return f"not sent: {exc}"
    if not cfg.webhook_url:
        return OFF
    try:
        try:
            found = news(wh, cfg.min_level)
        except Exception:  # noqa: BLE001 - the warehouse the run failed on may be unreadable: the failure is still told
            if outcome == "ok":
                raise
            found = pd.DataFrame(columns=NEWS_COLUMNS)
        # a failed run's own pipeline alert: the headline says it
        alerts = found[found.kind != "pipeline_failed"] if outcome != "ok" else found
        text = run_message(outcome, error, started, alerts, cfg, what)
        if text is None:
            return "nothing new"
        post(cfg, text)
        told = (["the failed run"] if outcome != "ok" else []) + ([f"{len(alerts)} new alert(s)"] if len(alerts) else [])
        words, outcome_ = f"sent to {cfg.host}: {' and '.join(told)}", "ok"
        try:
            mark_notified(wh, found, actor)
        except Exception as exc:  # noqa: BLE001 - sent all the same; the next run may tell them again
            words += f" (not marked as told, so the next run may tell them again: {exc})"
    except Exception as exc:  # noqa: BLE001 - telling people must never fail the run it reports on
        words, outcome_ = f"not sent: {exc}", "failed"
    try:
        audit.record_now(wh, actor, "notify", cfg.host, outcome_, {"run": what, "run_outcome": outcome,
                                                                    "result": words})
    except Exception:  # noqa: BLE001
        pass
    return words


def status_words(settings: Settings) -> tuple[bool, str]:
    """(configured, a line for the Monitoring page): where new alerts go, or how to have them sent."""
    try:
        cfg = NotifyConfig.from_settings(settings)
    except LeadScoringError as exc:
        return False, str(exc)
    if not cfg.webhook_url:
        # the page names no environment variable (the README's Monitoring → Notifications does)
        return False, ("Notifications off: no chat webhook (Slack, Teams, Google Chat) is set where the engine runs. "
                       "With one, daily runs post failed runs and new alerts there, and so does a monitoring run: see "
                       "the README, Monitoring → Notifications.")
    return True, (f"Daily runs post failed runs and new alerts at {cfg.min_level.upper()} or above to {cfg.host} "
                  "([notify] min_level in the config file); so does a monitoring run started here or by `monitor`.")


def send_test(settings: Settings, actor: Actor, wh: Warehouse) -> str:
    """A test message to the configured webhook (the Monitoring page's button); raises LeadScoringError."""
    authorize(actor, "monitor")
    cfg = NotifyConfig.from_settings(settings)
    if not cfg.webhook_url:
        raise LeadScoringError(f"No notification webhook: set {WEBHOOK_ENV} to an incoming-webhook URL (Slack, "
                               "Teams, Google Chat) where the engine runs, then restart it.")
    post(cfg, f"*Lead scoring: test message* from {actor.username}. Daily runs post here when they fail and when "
              f"monitoring opens an alert at {cfg.min_level.upper()} or above.")
    audit.record_now(wh, actor, "notify_test", cfg.host, "ok", None)
    return f"Test message sent to {cfg.host}."
