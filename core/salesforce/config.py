"""Salesforce connection and write-back settings.

Non-secret settings live in the ``[salesforce]`` table of the config file. Secrets (password, security
token, session id) come only from ``LEADSCORE_SF_*`` environment variables or a git-ignored secrets file
(``salesforce.secrets_file``, default ``data/salesforce_secrets.toml``, a ``[salesforce]`` table). They are
never logged, shown, or written to the warehouse: ``repr`` and :meth:`SalesforceConfig.public` leave them out.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.config import Settings
from core.errors import LeadScoringError

CONTRACT_WRITEBACK_FIELDS = ("Lead_Score__c", "Lead_Score_Tier__c", "Lead_Score_Drivers__c",
                             "Lead_Score_Model_Version__c", "Lead_Score_Updated__c", "Lead_Score_Experiment__c")
_SECRETS = ("password", "security_token", "session_id", "consumer_secret", "private_key")
AUTH_FLOWS = ("password", "jwt", "client_credentials", "session")


@dataclass(frozen=True)
class SalesforceConfig:
    enabled: bool = False
    login_url: str = "https://login.salesforce.com"  # SOAP login host (a My Domain, test., or a stand-in)
    instance_url: str | None = None  # with session_id: the org's instance
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    session_id: str | None = field(default=None, repr=False)
    api_version: str = "59.0"
    ca_bundle: str | None = None  # a private CA (the stand-in's certificate); disables environment proxies
    object_name: str = "Lead"
    # contract write-back field -> the org's API name (change when a field was created under another name)
    field_map: dict = field(default_factory=lambda: {f: f for f in CONTRACT_WRITEBACK_FIELDS})
    daily_pull: bool = True  # run-daily pulls contacted leads first (unless given a file)
    daily_pull_tasks: bool = True  # ... and then call activity (Tasks): the experiments' dials
    # The daily Task pull fetches only the Tasks changed since the last one (merged with those loaded), and every
    # Task again once this many days have passed since the last full pull (Tasks deleted in between leave then);
    # 0: every daily Task pull is full. A pull from the sync page or the CLI is always full.
    task_full_pull_days: int = 7
    lead_full_pull_days: int = 7  # the same for the daily Lead pull (Leads changed since the last Lead pull)
    daily_push: bool = True  # run-daily pushes scores after a successful scoring
    batch_size: int = 10_000  # rows per Bulk 2.0 job
    max_attempts: int = 4  # per record (lock errors, unprocessed) and per HTTP call (503, connection)
    backoff_seconds: float = 2.0  # first wait; doubles per attempt
    backoff_max_seconds: float = 60.0
    breaker_threshold: float = 0.2  # stop a push when more than this share of processed rows failed
    breaker_min_rows: int = 50  # ... once at least this many rows were processed
    poll_seconds: float = 2.0
    job_timeout_seconds: float = 900.0
    # Server-to-server login (a connected app): "jwt" (OAuth 2.0 JWT bearer: consumer_key + private key +
    # username) or "client_credentials" (consumer_key + consumer_secret, run as the app's execution user).
    auth_flow: str | None = None  # default: session when given, else password
    consumer_key: str | None = None  # not a secret (the connected app's client id)
    consumer_secret: str | None = field(default=None, repr=False)
    private_key_file: str | None = None  # a path; the key itself never sits in the config
    private_key: str | None = field(default=None, repr=False)  # PEM text, from the environment only
    jwt_audience: str = "https://login.salesforce.com"  # https://test.salesforce.com for a sandbox
    # Checks before a push: every mapped field must exist and be updateable; leave this many daily API
    # requests for the org's other integrations (the push is deferred, not half-sent, when it would not).
    check_fields: bool = True
    api_request_floor: int = 1000

    @property
    def flow(self) -> str:
        if self.auth_flow:
            return self.auth_flow
        return "session" if self.session_id and self.instance_url else "password"

    @property
    def configured(self) -> bool:
        return bool(self.enabled and not self.missing())

    @property
    def auth_method(self) -> str:
        return {"session": "existing session", "password": "username + password + security token",
                "jwt": "OAuth 2.0 JWT bearer (connected app)",
                "client_credentials": "OAuth 2.0 client credentials (connected app)"}.get(self.flow, "none") \
            if (self.username or self.session_id or self.consumer_key) else "none"

    def missing(self) -> list[str]:
        out = []
        if not self.enabled:
            out.append("salesforce.enabled = true (or LEADSCORE_SF_ENABLED=1)")
        if self.flow not in AUTH_FLOWS:
            return out + [f"salesforce.auth_flow: one of {', '.join(AUTH_FLOWS)} (not {self.flow!r})"]
        if self.flow == "jwt":
            if not self.consumer_key:
                out.append("salesforce.consumer_key (or LEADSCORE_SF_CONSUMER_KEY): the connected app's consumer key")
            if not self.username:
                out.append("salesforce.username (or LEADSCORE_SF_USERNAME): the integration user")
            if not (self.private_key_file or self.private_key):
                out.append("salesforce.private_key_file (or LEADSCORE_SF_PRIVATE_KEY_FILE): the key whose certificate "
                           "is uploaded to the connected app")
            return out
        if self.flow == "client_credentials":
            if not self.consumer_key:
                out.append("salesforce.consumer_key (or LEADSCORE_SF_CONSUMER_KEY)")
            if not self.consumer_secret:
                out.append("LEADSCORE_SF_CONSUMER_SECRET (or the secrets file)")
            return out
        if not (self.session_id and self.instance_url):
            if not self.username:
                out.append("salesforce.username (or LEADSCORE_SF_USERNAME)")
            if not self.password:
                out.append("LEADSCORE_SF_PASSWORD (or the secrets file)")
            if self.security_token is None:
                out.append("LEADSCORE_SF_TOKEN (or the secrets file; empty when the IP is trusted)")
        return out

    def public(self) -> dict:
        """What a page or a log may show: everything but the secrets."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _SECRETS}

    def require(self) -> "SalesforceConfig":
        if not self.configured:
            raise LeadScoringError(
                "Salesforce is not configured: missing " + "; ".join(self.missing()) + ". Set them (see README, "
                "'Salesforce') or use a Lead export file with `load-leads FILE`.")
        return self


_ENV = {
    "LEADSCORE_SF_ENABLED": "enabled", "LEADSCORE_SF_LOGIN_URL": "login_url",
    "LEADSCORE_SF_INSTANCE_URL": "instance_url", "LEADSCORE_SF_USERNAME": "username",
    "LEADSCORE_SF_PASSWORD": "password", "LEADSCORE_SF_TOKEN": "security_token",
    "LEADSCORE_SF_SESSION_ID": "session_id", "LEADSCORE_SF_CA_BUNDLE": "ca_bundle",
    "LEADSCORE_SF_AUTH_FLOW": "auth_flow", "LEADSCORE_SF_CONSUMER_KEY": "consumer_key",
    "LEADSCORE_SF_CONSUMER_SECRET": "consumer_secret", "LEADSCORE_SF_PRIVATE_KEY_FILE": "private_key_file",
    "LEADSCORE_SF_PRIVATE_KEY": "private_key", "LEADSCORE_SF_JWT_AUDIENCE": "jwt_audience",
}


def salesforce_config(settings: Settings) -> SalesforceConfig:
    values = dict(settings.salesforce or {})
    secrets_file = Path(values.pop("secrets_file", Path(settings.data_dir) / "salesforce_secrets.toml"))
    if secrets_file.exists():
        try:
            values.update(tomllib.loads(secrets_file.read_text(encoding="utf-8")).get("salesforce", {}))
        except tomllib.TOMLDecodeError as exc:
            raise LeadScoringError(f"Salesforce secrets file {secrets_file} is not valid TOML ({exc.args[0]}).") from exc
    for env, name in _ENV.items():
        if env in os.environ:
            values[name] = os.environ[env]
    if "enabled" in values and isinstance(values["enabled"], str):
        values["enabled"] = values["enabled"].strip().lower() in ("1", "true", "yes", "on")
    known = {f.name for f in fields(SalesforceConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise LeadScoringError(f"Unknown [salesforce] setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    if "field_map" in values:
        fmap = {f: f for f in CONTRACT_WRITEBACK_FIELDS}
        bad = sorted(set(values["field_map"]) - set(CONTRACT_WRITEBACK_FIELDS))
        if bad:
            raise LeadScoringError(f"salesforce.field_map names {', '.join(bad)}, which are not write-back fields; "
                                   f"use keys from {', '.join(CONTRACT_WRITEBACK_FIELDS)}.")
        fmap.update(values["field_map"])
        values["field_map"] = fmap
    return SalesforceConfig(**values)
