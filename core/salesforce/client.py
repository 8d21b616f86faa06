"""The engine's only door to Salesforce: simple-salesforce for login, SOQL paging and Bulk API 2.0.

Every HTTP call goes through :meth:`SalesforceClient.call`, which retries transient failures (503 and other
5xx, dropped connections) with bounded exponential backoff and turns ``REQUEST_LIMIT_EXCEEDED`` into
:class:`RequestLimitExceeded` so a push can stop cleanly. Bulk jobs are driven step by step (create,
upload, close, poll, results) rather than through ``sf.bulk2.Lead.update``: that one-call helper hides the
job id when a poll fails, and without the id a retry could write the same rows twice.
"""

from __future__ import annotations

import base64
import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jwt
import requests
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.login import token_login
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from core.errors import LeadScoringError
from core.salesforce.config import SalesforceConfig


class RequestLimitExceeded(Exception):
    """Salesforce refused the call because the org's API request limit is used up."""


class TransientFailure(Exception):
    """A call kept failing with a transient error after every retry."""


@dataclass
class JobResult:
    job_id: str
    state: str
    successful: list[dict]
    failed: list[dict]  # each with sf__Error
    unprocessed: list[dict]
    error: str | None = None

    @property
    def rejected(self) -> bool:
        """Salesforce refused the whole job (e.g. a field the org lacks): retrying its rows cannot help."""
        return self.state == "Failed" and (self.error or "").startswith("InvalidBatch")


def _transient(exc: Exception) -> bool:
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    return isinstance(exc, SalesforceGeneralError) and int(getattr(exc, "status", 0) or 0) >= 500


def _limit(exc: Exception) -> bool:
    return isinstance(exc, SalesforceRefusedRequest) and "REQUEST_LIMIT_EXCEEDED" in str(getattr(exc, "content", exc))


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text))) if text and text.strip() else []


class SalesforceClient:
    def __init__(self, cfg: SalesforceConfig, sleep: Callable[[float], None] = time.sleep):
        self.cfg = cfg.require()
        self.sleep = sleep
        self.retries = 0  # transient failures retried, for the push record
        self.sf = self._connect()

    # --- connection -----------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = requests.Session()
        if self.cfg.ca_bundle:
            # REQUESTS_CA_BUNDLE in the environment would override verify=; a private CA must win.
            session.trust_env = False
            session.verify = self.cfg.ca_bundle
        return session

    def _connect(self) -> Salesforce:
        cfg = self.cfg
        session = self._session()
        where = cfg.instance_url if cfg.flow == "session" else cfg.login_url
        try:
            if cfg.flow == "session":
                return Salesforce(session_id=cfg.session_id, instance_url=cfg.instance_url, session=session,
                                  version=cfg.api_version)
            if cfg.flow in ("jwt", "client_credentials"):
                token, instance = self._oauth(session)
                return Salesforce(session_id=token, instance=instance, session=session, version=cfg.api_version)
            session_id, instance = SalesforceLogin(
                username=cfg.username, password=cfg.password, security_token=cfg.security_token or "",
                sf_version=cfg.api_version, session=session, scratch_url=cfg.login_url.rstrip("/"))
            return Salesforce(session_id=session_id, instance=instance, session=session, version=cfg.api_version)
        except SalesforceAuthenticationFailed as exc:
            raise LeadScoringError(_login_advice(cfg, where, exc)) from None
        except requests.exceptions.SSLError:
            raise LeadScoringError(
                f"Salesforce at {where}: the TLS certificate is not trusted. Point salesforce.ca_bundle "
                "(LEADSCORE_SF_CA_BUNDLE) at the CA certificate that signed it.") from None
        except requests.RequestException as exc:
            raise LeadScoringError(f"Cannot reach Salesforce at {where} ({type(exc).__name__}). Check the URL and the "
                                   "network, then retry.") from None

    def _oauth(self, session: requests.Session) -> tuple[str, str]:
        """Server-to-server login at ``{login_url}/services/oauth2/token`` through simple-salesforce's
        ``token_login``: a JWT bearer assertion signed with the connected app's private key, or the client
        credentials of the connected app. The key and the secret never leave this function."""
        cfg = self.cfg
        url = f"{cfg.login_url.rstrip('/')}/services/oauth2/token"
        if cfg.flow == "jwt":
            key = cfg.private_key
            if not key:
                try:
                    key = Path(cfg.private_key_file).read_text(encoding="utf-8")
                except OSError as exc:
                    raise LeadScoringError(f"salesforce.private_key_file {cfg.private_key_file!r} cannot be read "
                                           f"({exc.strerror}). Point it at the PEM private key of the connected "
                                           "app's certificate.") from None
            claims = {"iss": cfg.consumer_key, "sub": cfg.username, "aud": cfg.jwt_audience,
                      "exp": int(time.time()) + 180}
            try:
                assertion = jwt.encode(claims, key, algorithm="RS256")
            except (ValueError, TypeError, jwt.PyJWTError):
                raise LeadScoringError("The Salesforce private key is not a valid RSA key in PEM form: check "
                                       "salesforce.private_key_file.") from None
            data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
            return token_login(url, data, "login", cfg.consumer_key, None, None, session)
        basic = base64.b64encode(f"{cfg.consumer_key}:{cfg.consumer_secret}".encode()).decode()
        return token_login(url, {"grant_type": "client_credentials"}, "login", cfg.consumer_key,
                           {"Authorization": f"Basic {basic}"}, None, session)

    # --- one call, retried ----------------------------------------------------------------------
    def call(self, what: str, fn: Callable[[], object]):
        """Run ``fn()`` (which must look up ``self.sf`` itself, so a reconnect takes effect) with retries."""
        cfg = self.cfg
        for attempt in range(1, cfg.max_attempts + 1):
            try:
                return fn()
            except SalesforceExpiredSession:
                if attempt > 1:
                    raise LeadScoringError("Salesforce keeps rejecting the session: log in again "
                                           "(renew LEADSCORE_SF_SESSION_ID or check the user).") from None
                self.sf = self._connect()
            except Exception as exc:  # noqa: BLE001 - classified below
                if _limit(exc):
                    raise RequestLimitExceeded(f"{what}: REQUEST_LIMIT_EXCEEDED") from None
                if not _transient(exc):
                    raise
                if attempt == cfg.max_attempts:
                    raise TransientFailure(f"{what}: still failing after {attempt} attempts ({_short(exc)})") from None
                self.retries += 1
                self.sleep(min(cfg.backoff_seconds * 2 ** (attempt - 1), cfg.backoff_max_seconds))
        raise AssertionError("unreachable")

    # --- SOQL -----------------------------------------------------------------------------------
    def query_pages(self, soql: str, all_rows: bool = False):
        """Yield (records, total) per page, following nextRecordsUrl (each page retried on its own). With
        ``all_rows``, the ``queryAll`` resource: also deleted records and archived activities (Salesforce archives
        a closed Task after a year, and ``query`` no longer returns it): filter deleted ones out in the SOQL."""
        page = self.call("query", lambda: self.sf.query(soql, include_deleted=all_rows))
        for _ in range(1_000_000):
            yield page["records"], int(page["totalSize"])
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            next_url = page["nextRecordsUrl"]
            page = self.call("query page", lambda: self.sf.query_more(next_url, identifier_is_url=True))

    def count(self, soql_from_where: str) -> int:
        return int(self.call("count", lambda: self.sf.query(f"SELECT COUNT() {soql_from_where}"))["totalSize"])

    # --- what the org allows ---------------------------------------------------------------------
    def describe_fields(self, obj: str | None = None) -> dict[str, dict]:
        """The object's fields by API name (describe; the Lead object by default), with ``updateable`` as the
        integration user sees it."""
        obj = obj or self.cfg.object_name
        info = self.call("describe", lambda: getattr(self.sf, obj).describe())
        return {f["name"]: f for f in info.get("fields", [])}

    def api_requests(self) -> tuple[int, int]:
        """(remaining, max) daily API requests from /limits."""
        info = self.call("limits", lambda: self.sf.limits()).get("DailyApiRequests", {})
        return int(info.get("Remaining", 0)), int(info.get("Max", 0))

    def api_floor_shortfall(self, needed: int, doing: str) -> str | None:
        """Why a step that needs about ``needed`` more API requests must wait: it would cut into
        ``salesforce.api_request_floor``, the daily requests kept for the org's other integrations (``doing``: the
        step and its need, in words). None when it may go on. One /limits request."""
        remaining, maximum = self.api_requests()
        if remaining - needed >= self.cfg.api_request_floor:
            return None
        return (f"the org has {remaining:,} of {maximum:,} daily API requests left; {doing} and "
                f"salesforce.api_request_floor keeps {self.cfg.api_request_floor:,} for other integrations.")

    # --- Bulk 2.0 update, step by step ----------------------------------------------------------
    @property
    def _bulk(self):
        return getattr(self.sf.bulk2, self.cfg.object_name)._client

    def create_update_job(self) -> str:
        return self.call("create job", lambda: self._bulk.create_job(Operation.update))["id"]

    def upload(self, job_id: str, data: str) -> None:
        """Upload the job's CSV. Until the job is closed nothing is processed, so when the upload fails the
        job is aborted and its rows can go in a new job."""
        try:
            self.call("upload", lambda: self._bulk.upload_job_data(job_id, data))
        except Exception:
            self.abort_quietly(job_id)
            raise

    def close(self, job_id: str) -> None:
        """Mark the upload complete. A failed close may still have landed: the job's state decides."""
        try:
            self._bulk.close_job(job_id)
        except Exception as exc:  # noqa: BLE001
            if _limit(exc):
                raise RequestLimitExceeded("close job: REQUEST_LIMIT_EXCEEDED") from None
            if self.call("job status", lambda: self._bulk.get_job(job_id, False))["state"] == "Open":
                self.call("close job", lambda: self._bulk.close_job(job_id))

    def abort_quietly(self, job_id: str) -> None:
        try:
            self._bulk.abort_job(job_id, False)
        except Exception:  # noqa: BLE001 - an unclosed job is never processed anyway
            pass

    def wait(self, job_id: str) -> dict:
        deadline = time.monotonic() + self.cfg.job_timeout_seconds
        delay = self.cfg.poll_seconds
        for _ in range(1_000_000):
            info = self.call("job status", lambda: self._bulk.get_job(job_id, False))
            if info["state"] in ("JobComplete", "Failed", "Aborted"):
                return info
            if time.monotonic() > deadline:
                # Stop waiting: abort what has not started; rows it did process are in its results.
                self.abort_quietly(job_id)
                return self.call("job status", lambda: self._bulk.get_job(job_id, False))
            self.sleep(delay)
            delay = min(delay * 1.5, 30.0)
        raise AssertionError("unreachable")

    def job_state(self, job_id: str) -> dict:
        return self.call("job status", lambda: self._bulk.get_job(job_id, False))

    def _results(self, job_id: str, kind: str) -> list[dict]:
        return _rows(self.call(kind, lambda: self._bulk.get_ingest_results(job_id, kind)))

    def results(self, job_id: str, info: dict) -> JobResult:
        return JobResult(
            job_id=job_id, state=info["state"],
            successful=self._results(job_id, "successfulResults"),
            failed=self._results(job_id, "failedResults"),
            unprocessed=self._results(job_id, "unprocessedrecords"),
            error=info.get("errorMessage"),
        )


def _login_advice(cfg, where: str, exc: SalesforceAuthenticationFailed) -> str:
    """A login failure in words an admin can act on; never a secret."""
    detail = f"{exc.code}: {exc.auth_message}" if getattr(exc, "auth_message", "") else str(exc.code)
    if cfg.flow == "jwt":
        return (f"Salesforce JWT login at {where} failed for user {cfg.username!r} ({detail}). Check that the "
                "connected app's consumer key is salesforce.consumer_key, that its uploaded certificate matches "
                "salesforce.private_key_file, that the user is pre-authorised for the app, and that "
                f"salesforce.jwt_audience ({cfg.jwt_audience}) is https://login.salesforce.com (production) or "
                "https://test.salesforce.com (sandbox).")
    if cfg.flow == "client_credentials":
        return (f"Salesforce client-credentials login at {where} failed ({detail}). Check the connected app's "
                "consumer key and LEADSCORE_SF_CONSUMER_SECRET, that the client credentials flow is enabled with a "
                "run-as user, and that salesforce.login_url is the org's My Domain URL.")
    return (f"Salesforce login at {where} failed for user {cfg.username!r}: {exc.code}. Check the username, "
            "LEADSCORE_SF_PASSWORD and LEADSCORE_SF_TOKEN (a new token is e-mailed after a password reset).")


def refusal(exc: Exception) -> str:
    """What the org said when it refused a call: 'INVALID_FIELD: No such column …' (its first error), else the
    exception in short."""
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict) and content[0].get("errorCode"):
        return f"{content[0]['errorCode']}: {content[0].get('message', '')}".strip()
    return _short(exc)


def _short(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 200 else text[:200] + "…"
