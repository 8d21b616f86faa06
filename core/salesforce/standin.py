"""A local Salesforce stand-in: HTTPS on 127.0.0.1 with a certificate generated at start.

It implements the part of Salesforce the engine uses, with Salesforce's wire formats, so the real
simple-salesforce client talks to it unchanged:

- SOAP login (``POST /services/Soap/u/{version}``) answering ``sessionId`` and ``serverUrl``;
- SOQL (``GET /services/data/vXX.X/query?q=…``) over the Lead and Task tables with ``nextRecordsUrl`` paging,
  relationship fields (``Owner.Name``), compound ``Address``, ``WHERE f != null / = value``, ``LIMIT``,
  ``SELECT COUNT()``; as in Salesforce, ``query`` leaves out deleted records and archived Tasks (closed and a
  year old) and ``queryAll`` returns them, with ``IsDeleted`` / ``IsArchived`` to filter on;
- Bulk API 2.0 ingest: create job, ``PUT …/batches`` (CSV), ``PATCH`` ``UploadComplete`` / ``Aborted``,
  job status, ``successfulResults`` / ``failedResults`` / ``unprocessedRecords``.

Its Lead table is seeded from a contract-format Lead file. Faults can be injected per run (see
:class:`Faults`): per-record ``UNABLE_TO_LOCK_ROW``, permanent per-record errors, 503s, request-limit
errors, slow jobs. Every applied update is logged so tests can prove nothing landed twice.

Start it for a demo with ``python -m core sf-standin --seed salesforce_leads.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import ipaddress
import json
import re
import secrets
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import unescape

from core.contract import salesforce_columns, task_columns
from core.salesforce.ids import to18

WRITEBACK_FIELDS = {
    "Lead_Score__c": "number",
    "Lead_Score_Tier__c": "picklist",
    "Lead_Score_Drivers__c": "text255",
    "Lead_Score_Model_Version__c": "text40",
    "Lead_Score_Updated__c": "datetime",
    "Lead_Score_Experiment__c": "text80",
}
# System fields of every record the API can filter on: a Lead or Task in the recycle bin (IsDeleted) and a Task
# Salesforce archived (IsArchived), both left out by `query` and returned by `queryAll`.
SYSTEM_FLAGS = {"IsDeleted": "bool", "IsArchived": "bool"}
ARCHIVE_DAYS = 365  # a closed Task this old (ActivityDate, else CreatedDate) is archived
LOCK_ERROR = "UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 1 records:--"
# A converted Lead is read-only to the API unless the user holds "View and Edit Converted Leads".
CONVERTED_ERROR = "CANNOT_UPDATE_CONVERTED_LEAD:cannot reference converted lead:--"


@dataclass
class Faults:
    """What the stand-in should get wrong. Change it between (or during) runs; it is read per request."""

    lock_ids: dict = field(default_factory=dict)  # Lead Id -> how many updates fail with UNABLE_TO_LOCK_ROW
    lock_rate: float = 0.0  # share of Ids (chosen by hash) whose first update hits a lock error
    permanent_errors: dict = field(default_factory=dict)  # Lead Id -> "CODE:message"
    http_503: int = 0  # the next N API requests (not login) answer 503
    request_limit_after_jobs: int | None = None  # creating more ingest jobs than this answers 403
    request_limit: bool = False  # while True, every API call answers 403 REQUEST_LIMIT_EXCEEDED
    slow_job_seconds: float = 0.0  # a closed job stays InProgress this long
    missing_fields: set = field(default_factory=set)  # Lead fields describe does not list (not created in the org)
    # Task fields the integration user cannot see (field-level security): describe leaves them out, SOQL refuses them
    missing_task_fields: set = field(default_factory=set)
    no_task_access: bool = False  # the user's profile has no access to Task (Activities): INVALID_TYPE
    readonly_fields: set = field(default_factory=set)  # fields listed but not updateable for the integration user
    api_remaining: int | None = None  # /limits reports this many daily API requests left (None: counted)
    edit_converted: bool = False  # the integration user holds "View and Edit Converted Leads"


@dataclass
class _Job:
    id: str
    object: str
    operation: str
    created: float
    state: str = "Open"
    data: str = ""
    closed_at: float | None = None
    processed: bool = False
    successful: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    unprocessed: list = field(default_factory=list)
    header: list = field(default_factory=list)
    error: str | None = None

    def uploaded(self) -> tuple[list[str], list[dict]]:
        """The uploaded CSV's header and rows (both empty before an upload)."""
        reader = csv.DictReader(io.StringIO(self.data))
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _sf_timestamp(value: str) -> str | None:
    """Contract timestamps come in several spellings; Salesforce answers with one."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if re.match(r".*[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        return value
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


_DATETIME_LITERAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})")


def _typed(kind: str, value: str):
    if value is None or value == "":
        return None
    if kind == "bool":
        return value.strip().lower() in ("true", "1", "yes")
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "timestamp":
        return _sf_timestamp(value)
    return value


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost, valid for a day; the client trusts it as its CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Salesforce stand-in (127.0.0.1)")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "standin_cert.pem", directory / "standin_key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class SalesforceStandin:
    """Start with ``with SalesforceStandin(seed_csv) as sf: ...`` (or ``start()`` / ``stop()``)."""

    def __init__(self, seed_csv: str | Path | None = None, *, port: int = 0, page_size: int = 2000,
                 username: str = "revops@standin.local", password: str | None = None,
                 security_token: str | None = None, api_version: str = "59.0", workdir: str | Path | None = None,
                 consumer_key: str = "3MVG9standin.consumer.key", consumer_secret: str | None = None,
                 jwt_public_key: str | bytes | None = None, jwt_audience: str = "https://login.salesforce.com",
                 api_max: int = 15_000, as_of: dt.date | None = None):
        self.page_size = int(page_size)
        self.as_of = as_of  # the org's "today" for archiving Tasks (None: the wall clock's)
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.security_token = security_token or secrets.token_hex(6)
        self.api_version = api_version
        self.faults = Faults()
        # A connected app: JWT assertions are verified with jwt_public_key (the certificate uploaded to the app).
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret or secrets.token_hex(16)
        self.jwt_public_key = jwt_public_key
        self.jwt_audience = jwt_audience
        self.api_max = int(api_max)
        self.api_used = 0  # requests counted against the daily allowance (every authenticated call)
        self.leads: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.task_types = {c.name: c.type for c in task_columns()}
        self.types = {c.name: c.type for c in salesforce_columns()}
        self.types.update({"Lead_Score__c": "number", "Lead_Score_Updated__c": "timestamp"})
        self.jobs: dict[str, _Job] = {}
        self.applied: list[tuple[str, str, dict]] = []  # (job id, Lead Id, values) per landed update
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.sessions: set[str] = set()
        self._lock_seen: dict[str, int] = {}
        self._cursors: dict[str, list] = {}
        self._mutex = threading.RLock()
        self._port = port
        self._tmp = tempfile.TemporaryDirectory(prefix="sf_standin_") if workdir is None else None
        self.workdir = Path(workdir or self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        if seed_csv:
            self.seed(seed_csv)

    # --- data -----------------------------------------------------------------------------------
    def seed(self, path: str | Path) -> int:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                lead_id = (row.get("Id") or "").strip()
                if not lead_id:
                    continue
                rec = {k: _typed(SYSTEM_FLAGS.get(k) or self.types.get(k, "text"), v) for k, v in row.items() if k}
                for k in ("Id", "OwnerId", "ConvertedOpportunityId"):  # the API answers with 18-character Ids
                    if rec.get(k):
                        rec[k] = to18(rec[k])
                for f in WRITEBACK_FIELDS:
                    rec.setdefault(f, None)
                self.leads[rec["Id"]] = rec
        return len(self.leads)

    def seed_tasks(self, path: str | Path) -> int:
        """Task records (call activity) served to ``SELECT ... FROM Task`` queries."""
        with open(path, newline="", encoding="utf-8-sig") as fh:
            for row in csv.DictReader(fh):
                task_id = (row.get("Id") or "").strip()
                if task_id:
                    rec = {k: _typed(SYSTEM_FLAGS.get(k) or self.task_types.get(k, "text"), v)
                           for k, v in row.items() if k}
                    for k in ("Id", "WhoId", "OwnerId"):
                        if rec.get(k):
                            rec[k] = to18(rec[k])
                    self.tasks[rec["Id"]] = rec
        return len(self.tasks)

    def limits(self) -> dict:
        remaining = self.faults.api_remaining if self.faults.api_remaining is not None else self.api_max - self.api_used
        return {"DailyApiRequests": {"Max": self.api_max, "Remaining": max(int(remaining), 0)},
                "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000}}

    def describe_lead(self) -> dict:
        """Lead's fields as describe reports them: the contract's (system fields not updateable) and the
        write-back fields (updateable), minus any the faults remove or make read-only."""
        fields_out = []
        for name, kind in list(self.types.items()) + [(f, t) for f, t in WRITEBACK_FIELDS.items() if f not in self.types]:
            if name in self.faults.missing_fields or "." in name:
                continue
            writeback = name in WRITEBACK_FIELDS
            fields_out.append({"name": name, "type": kind, "updateable": writeback and name not in self.faults.readonly_fields,
                               "createable": writeback, "custom": name.endswith("__c")})
        return {"name": "Lead", "updateable": True, "fields": fields_out}

    def describe_task(self) -> dict:
        """Task's fields as describe reports them to the integration user (none updateable: the engine never writes
        a Task)."""
        fields_out = [{"name": name, "type": kind, "updateable": False, "createable": False, "custom": False}
                      for name, kind in self.task_types.items() if name not in self.faults.missing_task_fields]
        return {"name": "Task", "updateable": False, "fields": fields_out}

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server.server_address[1] if self.server else self._port

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "standin_cert.pem"

    def start(self) -> "SalesforceStandin":
        cert, key = _self_signed(self.workdir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handler = type("Handler", (_Handler,), {"standin": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> "SalesforceStandin":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def settings(self) -> dict:
        """The engine's ``[salesforce]`` settings that point at this stand-in (secrets included)."""
        return {"enabled": True, "login_url": self.url, "username": self.username, "password": self.password,
                "security_token": self.security_token, "ca_bundle": str(self.ca_file),
                "api_version": self.api_version}

    def update_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, lead_id, _ in self.applied:
            counts[lead_id] = counts.get(lead_id, 0) + 1
        return counts

    # --- SOQL -----------------------------------------------------------------------------------
    _SOQL = re.compile(r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<obj>\w+)(?:\s+where\s+(?P<where>.+?))?"
                       r"(?:\s+order\s+by\s+(?P<order>[\w.]+)(?:\s+(?:asc|desc))?)?(?:\s+limit\s+(?P<limit>\d+))?\s*$",
                       re.IGNORECASE | re.DOTALL)
    _COND = re.compile(r"^\s*(?P<f>[\w.]+)\s*(?P<op>!=|=|>=|<=|>|<)\s*(?P<v>null|true|false|'(?:[^'\\]|\\.)*'|[\w:.+-]+)\s*$",
                       re.IGNORECASE)

    def _archived(self, row: dict) -> bool:
        """Salesforce archives a closed Task whose ActivityDate (or, blank, its CreatedDate) is 365 days old or more;
        an ``IsArchived`` column in the seed file says so itself."""
        if row.get("IsArchived") is not None:
            return bool(row["IsArchived"])
        if str(row.get("Status") or "").lower() != "completed":
            return False
        day = str(row.get("ActivityDate") or row.get("CreatedDate") or "")[:10]
        return bool(day) and day <= (self.today() - dt.timedelta(days=ARCHIVE_DAYS)).isoformat()

    def today(self) -> dt.date:
        return self.as_of or dt.datetime.now(dt.timezone.utc).date()

    def query(self, soql: str, all_rows: bool = False) -> dict:
        """SOQL over Leads or Tasks: ``query`` (deleted records and archived Tasks left out, as Salesforce does) or,
        with ``all_rows``, ``queryAll``."""
        m = self._SOQL.match(soql)
        if not m or m["obj"].lower() not in ("lead", "task"):
            raise _ApiError(400, "MALFORMED_QUERY", f"unexpected SOQL: {soql[:200]}")
        entity = "Task" if m["obj"].lower() == "task" else "Lead"
        if entity == "Task" and self.faults.no_task_access:
            raise _ApiError(400, "INVALID_TYPE", "sObject type 'Task' is not supported. If you are attempting to use a "
                            "custom object, be sure to append the '__c' after the entity name.")
        table, types = (self.tasks, self.task_types) if entity == "Task" else (self.leads, self.types)
        conds = []
        for part in re.split(r"\s+and\s+", m["where"] or "", flags=re.IGNORECASE):
            if not part.strip():
                continue
            c = self._COND.match(part)
            if not c:
                raise _ApiError(400, "MALFORMED_QUERY", f"unsupported condition: {part}")
            v = c["v"]
            value = None if v.lower() == "null" else (v[1:-1] if v.startswith("'") else v)
            conds.append((c["f"], c["op"], value))
        # `query` leaves out deleted records and archived Tasks; `queryAll` returns them
        flagged = (self._flagged(r, entity) for r in table.values())
        rows = [r for r in flagged if (all_rows or not (r["IsDeleted"] or r.get("IsArchived")))
                and all(self._match(r, f, op, v) for f, op, v in conds)]
        if m["order"]:
            rows.sort(key=lambda r: (r.get(m["order"]) is None, str(r.get(m["order"]))))
        if m["limit"]:
            rows = rows[: int(m["limit"])]
        fields = [f.strip() for f in m["fields"].split(",")]
        if [f.lower() for f in fields] == ["count()"]:
            return {"totalSize": len(rows), "done": True, "records": []}
        unknown = [f for f in fields if (f not in types and f not in ("Id",))
                   or (entity == "Lead" and f in self.faults.missing_fields)
                   or (entity == "Task" and f in self.faults.missing_task_fields)]
        if unknown:
            raise _ApiError(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{entity}'.")
        records = [self._record(r, fields, entity) for r in rows]
        return self._page(records, uuid.uuid4().hex[:15], 0, "queryAll" if all_rows else "query")

    def _flagged(self, row: dict, entity: str) -> dict:
        """The row with its system flags as the API reports them (every record has IsDeleted; a Task, IsArchived)."""
        out = {**row, "IsDeleted": bool(row.get("IsDeleted"))}
        if entity == "Task":
            out["IsArchived"] = self._archived(row)
        return out

    @staticmethod
    def _match(row: dict, f: str, op: str, value) -> bool:
        # every record's SystemModstamp: a seed file's own, else its LastModifiedDate (system changes move the
        # stamp later, never earlier)
        have = row.get(f) if f != "SystemModstamp" else row.get(f) or row.get("LastModifiedDate")
        if value is None:
            return (have is not None) if op == "!=" else (have is None)
        if have is None:
            return False
        if isinstance(have, bool):
            have = "true" if have else "false"
            value = str(value).lower()
        have, value = str(have), str(value)
        if _DATETIME_LITERAL.fullmatch(value):  # an unquoted SOQL datetime (LastModifiedDate > 2026-12-07T05:00:00Z)
            value = _sf_timestamp(value)  # compared in the one spelling the stand-in keeps its timestamps in
        return {"=": have == value, "!=": have != value, ">": have > value, "<": have < value,
                ">=": have >= value, "<=": have <= value}[op]

    def _record(self, row: dict, fields: list[str], entity: str = "Lead") -> dict:
        out = {"attributes": {"type": entity,
                              "url": f"/services/data/v{self.api_version}/sobjects/{entity}/{row['Id']}"}}
        for f in fields:
            if f == "Owner.Name":
                name = row.get("Owner.Name")
                out["Owner"] = None if name is None else {"attributes": {"type": "User"}, "Name": name}
            elif f == "Address":
                street = row.get("Address")
                out["Address"] = None if street is None else {
                    "street": street, "city": row.get("City"), "state": row.get("State"), "postalCode": None,
                    "country": None}
            else:
                out[f] = row.get(f)
        return out

    def _page(self, records: list, cursor: str, offset: int, endpoint: str = "query") -> dict:
        page = records[offset: offset + self.page_size]
        done = offset + self.page_size >= len(records)
        body = {"totalSize": len(records), "done": done, "records": page}
        if not done:
            with self._mutex:
                self._cursors[cursor] = records
            body["nextRecordsUrl"] = f"/services/data/v{self.api_version}/{endpoint}/{cursor}-{offset + self.page_size}"
        return body

    def query_more(self, token: str, endpoint: str = "query") -> dict:
        cursor, _, offset = token.rpartition("-")
        records = self._cursors.get(cursor)
        if records is None or not offset.isdigit():
            raise _ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(records, cursor, int(offset), endpoint)

    # --- Bulk 2.0 -------------------------------------------------------------------------------
    def create_job(self, body: dict) -> _Job:
        if body.get("operation") != "update" or body.get("object") != "Lead":
            raise _ApiError(400, "INVALIDJOB", "the stand-in supports update jobs on Lead only")
        limit = self.faults.request_limit_after_jobs
        if limit is not None and sum(1 for _ in self.jobs) >= limit:
            raise _ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        job = _Job(id="750" + uuid.uuid4().hex[:15], object="Lead", operation="update", created=time.time())
        with self._mutex:
            self.jobs[job.id] = job
        return job

    def _process(self, job: _Job) -> None:
        """Apply a closed job's rows, once."""
        with self._mutex:
            if job.processed:
                return
            job.processed = True
            job.header, rows = job.uploaded()
            unknown = [h for h in job.header if h != "Id" and (h not in WRITEBACK_FIELDS and h not in self.types
                                                               or h in self.faults.missing_fields)]
            if "Id" not in job.header or unknown:
                job.state, job.error = "Failed", (
                    f"InvalidBatch : Field name not found : {unknown[0]}" if unknown else "InvalidBatch : Id is required")
                job.unprocessed = rows
                return
            for row in rows:
                error = self._row_error(row)
                if error:
                    job.failed.append((row, error))
                    continue
                lead = self.leads[to18(row["Id"])]
                values = {k: v for k, v in row.items() if k != "Id"}
                for k, v in values.items():
                    # Bulk API 2.0: an empty cell leaves the field as it is; #N/A sets it to null.
                    if v == "#N/A":
                        lead[k] = None
                    elif v != "":
                        lead[k] = _typed(self.types.get(k, "text"), v)
                # a write moves the record's system stamp: the next incremental pull reads it again
                lead["SystemModstamp"] = _sf_timestamp(dt.datetime.now(dt.timezone.utc).isoformat())
                job.successful.append(row)
                self.applied.append((job.id, row["Id"], values))
            job.state = "JobComplete"

    def _row_error(self, row: dict) -> str | None:
        lead_id = to18(row.get("Id", ""))
        if lead_id not in self.leads:
            return "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--"
        for name in self.faults.readonly_fields:
            if row.get(name, "") != "":
                return f"INVALID_FIELD_FOR_INSERT_UPDATE:Unable to create/update fields: {name}:{name} --"
        if lead_id in self.faults.permanent_errors:
            return self.faults.permanent_errors[lead_id]
        if self.leads[lead_id].get("IsConverted") is True and not self.faults.edit_converted:
            return CONVERTED_ERROR
        locks = self.faults.lock_ids.get(lead_id, 0)
        rate = self.faults.lock_rate
        if not locks and rate and int(hashlib.sha1(lead_id.encode()).hexdigest()[:6], 16) % 10_000 < rate * 10_000:
            locks = 1
        seen = self._lock_seen.get(lead_id, 0)
        if seen < locks:
            self._lock_seen[lead_id] = seen + 1
            return LOCK_ERROR
        score = row.get("Lead_Score__c", "")
        if score not in ("", None, "#N/A"):
            try:
                if not 0 <= float(score) <= 999:
                    raise ValueError
            except ValueError:
                return f"NUMBER_OUTSIDE_VALID_RANGE:Lead Score: value outside of valid range on numeric field: {score}:Lead_Score__c --"
        tier = row.get("Lead_Score_Tier__c", "")
        if tier not in ("", None, "#N/A", "A", "B", "C"):
            return f"INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:Lead Score Tier: bad value for restricted picklist field: {tier}:Lead_Score_Tier__c --"
        for name, limit in (("Lead_Score_Drivers__c", 255), ("Lead_Score_Model_Version__c", 40),
                            ("Lead_Score_Experiment__c", 80)):
            if len(row.get(name) or "") > limit:
                return f"STRING_TOO_LONG:{name}: data value too large (max length={limit}):{name} --"
        return None

    def job_info(self, job: _Job) -> dict:
        if job.state in ("UploadComplete", "InProgress"):
            if time.time() - (job.closed_at or 0) >= self.faults.slow_job_seconds:
                self._process(job)
            else:
                job.state = "InProgress"
        return {
            "id": job.id, "operation": job.operation, "object": job.object, "createdById": "005000000000001",
            "createdDate": dt.datetime.fromtimestamp(job.created, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "state": job.state, "concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": float(self.api_version),
            "jobType": "V2Ingest", "lineEnding": "LF", "columnDelimiter": "COMMA",
            "numberRecordsProcessed": len(job.successful) + len(job.failed),
            "numberRecordsFailed": len(job.failed), "retries": 0, "totalProcessingTime": 0,
            **({"errorMessage": job.error} if job.error else {}),
        }

    def results_csv(self, job: _Job, kind: str) -> str:
        out = io.StringIO()
        if kind == "successfulResults":
            w = csv.writer(out, lineterminator="\n")
            w.writerow(["sf__Id", "sf__Created", *job.header])
            for row in job.successful:
                w.writerow([row["Id"], "false", *[row.get(h, "") for h in job.header]])
        elif kind == "failedResults":
            w = csv.writer(out, lineterminator="\n")
            w.writerow(["sf__Id", "sf__Error", *job.header])
            for row, error in job.failed:
                w.writerow([row.get("Id", ""), error, *[row.get(h, "") for h in job.header]])
        else:
            sent_header, sent_rows = job.uploaded()
            header = job.header or sent_header or ["Id"]
            w = csv.writer(out, lineterminator="\n")
            w.writerow(header)
            rows = job.unprocessed if job.processed else sent_rows
            for row in rows:
                w.writerow([row.get(h, "") for h in header])
        return out.getvalue()


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    standin: SalesforceStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: tests and demos read the request log instead
        pass

    def _send(self, status: int, body, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.standin.requests.append((self.command, self.path, status))

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _dispatch(self) -> None:
        sf = self.standin
        body = self._body()
        path = urlparse(self.path)
        try:
            if path.path.startswith("/services/Soap/u/") and self.command == "POST":
                return self._login(body)
            if path.path == "/services/oauth2/token" and self.command == "POST":
                return self._oauth(body)
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if token not in sf.sessions:
                raise _ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if sf.faults.http_503 > 0:
                sf.faults.http_503 -= 1
                raise _ApiError(503, "SERVER_UNAVAILABLE", "Service temporarily unavailable")
            if sf.faults.request_limit:
                raise _ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            sf.api_used += 1
            m = re.match(r"^/services/data/v[\d.]+/(?P<rest>.*)$", path.path)
            if not m:
                raise _ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {path.path}")
            rest = m["rest"].rstrip("/")
            if rest == "limits" and self.command == "GET":
                return self._send(200, sf.limits())
            if rest == "sobjects/Lead/describe" and self.command == "GET":
                return self._send(200, sf.describe_lead())
            if rest == "sobjects/Task/describe" and self.command == "GET":
                if sf.faults.no_task_access:
                    raise _ApiError(404, "NOT_FOUND", "The requested resource does not exist")
                return self._send(200, sf.describe_task())
            if rest in ("query", "queryAll") and self.command == "GET":
                return self._send(200, sf.query(parse_qs(path.query).get("q", [""])[0], all_rows=rest == "queryAll"))
            if rest.startswith(("query/", "queryAll/")) and self.command == "GET":
                endpoint, token = rest.split("/", 1)
                return self._send(200, sf.query_more(unquote(token), endpoint))
            if rest == "jobs/ingest" and self.command == "POST":
                job = sf.create_job(json.loads(body or b"{}"))
                return self._send(200, sf.job_info(job))
            jm = re.match(r"^jobs/ingest/(?P<id>\w+)(?:/(?P<sub>\w+))?$", rest)
            if jm:
                job = sf.jobs.get(jm["id"])
                if job is None:
                    raise _ApiError(404, "NOT_FOUND", f"Job {jm['id']} not found")
                return self._job(job, jm["sub"], body)
            raise _ApiError(404, "NOT_FOUND", f"The requested resource does not exist: {rest}")
        except _ApiError as exc:
            self._send(exc.status, [{"message": exc.message, "errorCode": exc.code}])

    def _oauth(self, body: bytes) -> None:
        """OAuth 2.0 token endpoint: the JWT bearer flow (assertion verified: signature, issuer, subject,
        audience, expiry) and the client-credentials flow (HTTP Basic), with Salesforce's error shape."""
        import base64

        import jwt as pyjwt

        sf = self.standin
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")

        def refuse(error: str, description: str, status: int = 400) -> None:
            self._send(status, {"error": error, "error_description": description})

        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            if not sf.jwt_public_key:
                return refuse("invalid_grant", "invalid assertion")
            try:
                claims = pyjwt.decode(form.get("assertion", ""), sf.jwt_public_key, algorithms=["RS256"],
                                      audience=sf.jwt_audience, options={"require": ["exp", "iss", "sub", "aud"]})
            except pyjwt.ExpiredSignatureError:
                return refuse("invalid_grant", "expired authorization code")
            except pyjwt.InvalidAudienceError:
                return refuse("invalid_grant", "audience is invalid")
            except pyjwt.PyJWTError:
                return refuse("invalid_grant", "invalid assertion")
            if claims.get("iss") != sf.consumer_key:
                return refuse("invalid_client_id", "client identifier invalid")
            if claims.get("sub") != sf.username:
                return refuse("invalid_grant", "user hasn't approved this consumer")
        elif grant == "client_credentials":
            auth = (self.headers.get("Authorization") or "").removeprefix("Basic ").strip()
            try:
                key, _, secret = base64.b64decode(auth).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                key = secret = ""
            if key != sf.consumer_key or secret != sf.consumer_secret:
                return refuse("invalid_client", "invalid client credentials")
        else:
            return refuse("unsupported_grant_type", "grant type not supported")
        session = "00D000000000001!" + secrets.token_urlsafe(24)
        sf.sessions.add(session)
        self._send(200, {"access_token": session, "instance_url": sf.url, "id": f"{sf.url}/id/00D000000000001/005000000000001",
                         "token_type": "Bearer", "issued_at": str(int(time.time() * 1000))})

    def _login(self, body: bytes) -> None:
        sf = self.standin
        text = body.decode("utf-8", "replace")
        user = re.search(r"<n1:username>(.*?)</n1:username>", text, re.S)
        secret = re.search(r"<n1:password>(.*?)</n1:password>", text, re.S)
        if not user or not secret or unescape(user.group(1)) != sf.username or \
                unescape(secret.group(1)) != sf.password + sf.security_token:
            fault = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                     'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode>'
                     '<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>'
                     '<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid username, '
                     'password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault>'
                     '</soapenv:Body></soapenv:Envelope>')
            return self._send(500, fault, "text/xml")
        session = "00D000000000001!" + secrets.token_urlsafe(24)
        sf.sessions.add(session)
        ok = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
              'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
              f'<serverUrl>{sf.url}/services/Soap/u/{sf.api_version}/00D000000000001</serverUrl>'
              f'<sessionId>{session}</sessionId><userId>005000000000001</userId></result></loginResponse>'
              '</soapenv:Body></soapenv:Envelope>')
        self._send(200, ok, "text/xml")

    def _job(self, job: _Job, sub: str | None, body: bytes) -> None:
        sf = self.standin
        if sub == "batches" and self.command == "PUT":
            if job.state != "Open":
                raise _ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is not open for data")
            job.data = body.decode("utf-8")
            return self._send(201, b"", "text/plain")
        if sub is None and self.command == "PATCH":
            state = json.loads(body or b"{}").get("state")
            if state == "UploadComplete":
                if job.state != "Open":
                    raise _ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is {job.state}")
                job.state, job.closed_at = "UploadComplete", time.time()
                if sf.faults.slow_job_seconds <= 0:
                    sf._process(job)
            elif state == "Aborted":
                if job.state in ("JobComplete", "Failed"):
                    raise _ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is already {job.state}")
                with sf._mutex:
                    job.state = "Aborted"
                    job.processed = True
                    if not job.successful and not job.failed:
                        header, job.unprocessed = job.uploaded()
                        job.header = header or ["Id"]
            else:
                raise _ApiError(400, "INVALIDJOBSTATE", f"cannot set state {state}")
            return self._send(200, sf.job_info(job))
        if sub is None and self.command == "GET":
            return self._send(200, sf.job_info(job))
        if sub is None and self.command == "DELETE":
            sf.jobs.pop(job.id, None)
            return self._send(204, b"", "text/plain")
        if sub in ("successfulResults", "failedResults", "unprocessedrecords", "unprocessedRecords") and self.command == "GET":
            if job.state not in ("JobComplete", "Failed", "Aborted"):
                raise _ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} has not finished")
            return self._send(200, sf.results_csv(job, sub), "text/csv")
        raise _ApiError(404, "NOT_FOUND", f"unsupported {self.command} on job resource {sub}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch
