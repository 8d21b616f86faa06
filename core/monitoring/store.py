"""Monitoring history in the warehouse: one ml.monitor_runs row per run (its JSON), per-run drift and cohort
rows, the newest run's page frames (ml.monitor_frames), and ops.monitor_alerts — one row per alert (kind +
subject) with first and last seen, whether the latest run still raises it, and who acknowledged it. The current
level is the worst active, unacknowledged alert."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa

from core import audit
from core.auth import Actor, authorize
from core.errors import LeadScoringError
from core.operation import audited
from core.warehouse import Warehouse
from core.warehouse.sql import literal

LEVELS = ("ok", "warn", "alert", "critical")
# notified_level: the level a notification last told (core/notify.py); cleared when the alert closes, so an alert
# that opens again is told again
ALERT_COLUMNS = ["alert_key", "level", "kind", "subject", "value", "threshold", "message", "playbook", "first_seen",
                 "last_seen", "active", "acknowledged_by", "acknowledged_at", "acknowledged_level", "notified_level"]


def _key(a: dict) -> str:
    return f"{a['kind']}|{a['subject']}"


def merge_alerts(existing: pd.DataFrame, alerts: list[dict], now: datetime) -> pd.DataFrame:
    """New alerts open; alerts raised again keep their first-seen time and acknowledgement (unless their level
    rose since it was acknowledged); alerts not raised this run become inactive."""
    cur = {_key(a): a for a in alerts}
    rows = []
    seen = set()
    for r in existing.to_dict(orient="records") if not existing.empty else []:
        k = r["alert_key"]
        if k in cur:
            a = cur[k]
            rose = r.get("acknowledged_level") and LEVELS.index(a["level"]) > LEVELS.index(r["acknowledged_level"])
            r.update(level=a["level"], value=a["value"], threshold=a["threshold"], message=a["message"],
                     playbook=a["playbook"], last_seen=now, active=True)
            if rose:
                r.update(acknowledged_by=None, acknowledged_at=None, acknowledged_level=None)
            seen.add(k)
        else:
            r.update(active=False, notified_level=None)
        rows.append(r)
    for k, a in cur.items():
        if k not in seen:
            rows.append({"alert_key": k, **{c: a.get(c) for c in ("level", "kind", "subject", "value", "threshold",
                                                                  "message", "playbook")},
                         "first_seen": now, "last_seen": now, "active": True, "acknowledged_by": None,
                         "acknowledged_at": None, "acknowledged_level": None, "notified_level": None})
    out = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    out["threshold"] = pd.to_numeric(out.threshold, errors="coerce")
    out["value"] = pd.to_numeric(out.value, errors="coerce")
    for c in ("first_seen", "last_seen", "acknowledged_at"):
        out[c] = pd.to_datetime(out[c], utc=True)
    # typed even when every value is empty, so the table's columns are never of type NULL
    return out.astype({c: "string" for c in ("alert_key", "level", "kind", "subject", "message", "playbook",
                                              "acknowledged_by", "acknowledged_level", "notified_level")}
                     | {"active": "bool"})


def current_level(alerts: pd.DataFrame) -> str:
    if alerts.empty:
        return "ok"
    live = alerts[alerts.active.astype(bool) & alerts.acknowledged_by.isna()]
    return max(live.level, key=LEVELS.index, default="ok")


def read_alerts(wh: Warehouse) -> pd.DataFrame:
    with wh.reader() as s:
        if not s.table_exists("ops.monitor_alerts"):
            return pd.DataFrame(columns=ALERT_COLUMNS)
        return s.query("select * from ops.monitor_alerts")


def store_run(wh: Warehouse, actor: Actor, result, writes: list | None = None) -> str:
    """Write the run — with ``writes``, the run's newly measured periods (each a function of the session) — in
    one writer, and return the current alert level."""
    authorize(actor, "monitor")
    now = datetime.now(timezone.utc)
    live = result.live
    if live:
        alerts = merge_alerts(read_alerts(wh), result.alerts, now)
        level = current_level(alerts)
    else:  # a past day's view: its own level; today's alerts (and acknowledgements) stay as they are
        level = max((a["level"] for a in result.alerts), key=LEVELS.index, default="ok")
    payload = result.to_json() | {"alert_level": level}
    frames = encode_frames(result.frames) if live else None
    with wh.writer("monitoring run") as s:
        _move_frames_out_of_runs(s)
        for write in writes or ():
            write(s)
        if live:
            s.load("ops.monitor_alerts", alerts)
        s.load("ml.monitor_runs", pd.DataFrame([{
            "run_id": result.run_id, "created_at": now, "as_of": result.as_of, "model_id": result.model_id,
            "alert_level": level, "result_json": json.dumps(payload, default=str), "actor": actor.username}]),
            mode="append")
        if live:  # the page's run: the newest live one
            s.load(FRAMES, pd.DataFrame([{"run_id": result.run_id, "created_at": now, "frames_arrow": frames}]))
        for table, frame in result.measured.items():  # the run's measures with history (MonitorResult.measured)
            if not frame.empty:
                s.add_columns_of(table, frame)
                s.load(table, frame.assign(run_id=result.run_id, created_at=now).astype(
                    {c: "string" for c in frame.columns if frame[c].dtype == object}), mode="append")
        audit.record(s, actor, "monitor", result.model_id, "ok", {"run_id": result.run_id, "alert_level": level,
                                                                   "alerts": len(result.alerts)})
    return level


# The page's frames of the newest run (~0.2 MB as Arrow at full scale; ~0.7 MB as the JSON of earlier releases), one
# row replaced by each run. Kept out of ml.monitor_runs: DuckDB rewrites a table's open row group when it
# checkpoints an append, and with every run's frames in it that cost ~0.13 s per run and grew with the history.
# What each run measured stays in ml.monitor_feature_psi (its new months and last days) and ml.monitor_cohorts,
# its JSON in ml.monitor_runs.
FRAMES = "ml.monitor_frames"


def encode_frames(frames: dict) -> str:
    """The page's frames as text any warehouse stores: per frame, an Arrow IPC stream (zstd), in base64, in one
    JSON object. Column types come back as they were (JSON turned a float column of whole numbers into integers),
    and at full scale (16 frames) it costs ~15 ms where ``DataFrame.to_json`` cost ~50 ms (and ~90 ms to read back)."""
    out = {}
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            continue
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=options) as w:
            w.write_table(table)
        out[name] = base64.b64encode(sink.getvalue().to_pybytes()).decode("ascii")
    return json.dumps(out)


def decode_frames(text: str | None) -> dict[str, pd.DataFrame]:
    """The frames :func:`encode_frames` stored. A column with no value at all (e.g. the positives of cohorts none
    of which has matured) has no type to keep: it comes back as floats (NaN), as the page's charts expect."""
    out = {}
    for name, data in json.loads(text or "{}").items():
        with pa.ipc.open_stream(pa.py_buffer(base64.b64decode(data))) as r:
            table = r.read_all()
        frame = table.to_pandas()
        for f in table.schema:
            if pa.types.is_null(f.type) and len(frame):
                frame[f.name] = np.nan
        out[name] = frame
    return out


def _frames_of_json(text: str | None) -> dict[str, pd.DataFrame]:
    """Frames as an earlier release stored them (``DataFrame.to_json(orient="split")`` per frame)."""
    from io import StringIO

    return {k: pd.read_json(StringIO(v), orient="split") for k, v in json.loads(text or "{}").items()}


def _move_frames_out_of_runs(s) -> None:
    """Warehouses written by an earlier release kept every run's frames in ml.monitor_runs.frames_json: the
    newest moves to ml.monitor_frames and the column goes (older runs' frames were superseded views)."""
    if not s.table_exists("ml.monitor_runs") or "frames_json" not in s.columns("ml.monitor_runs"):
        return
    if not s.table_exists(FRAMES):
        s.execute(f"create table {FRAMES} as select run_id, created_at, frames_json from ml.monitor_runs "
                  "where frames_json is not null order by created_at desc limit 1")
    s.execute("alter table ml.monitor_runs drop column frames_json")


def latest_run(wh: Warehouse) -> tuple[dict, dict[str, pd.DataFrame]] | None:
    """The newest run's JSON and its frames (drift, cohorts, calibration, …), or None before the first run."""
    with wh.reader() as s:
        if not s.table_exists("ml.monitor_runs"):
            return None
        old = "frames_json" in s.columns("ml.monitor_runs")  # not yet moved (see _move_frames_out_of_runs)
        # the run whose frames the page keeps: the newest live run (a past day's view keeps none)
        if not old and not s.table_exists(FRAMES):
            return None
        which = "" if old else f"where run_id in (select run_id from {FRAMES}) "
        df = s.query(f"select run_id, result_json, created_at from ml.monitor_runs {which}order by created_at desc limit 1")
        if df.empty:
            return None
        table = "ml.monitor_runs" if old else FRAMES
        # frames_arrow since this release; frames_json (JSON) where a run of an earlier release is the newest
        column = None if not (old or s.table_exists(FRAMES)) else \
            "frames_arrow" if "frames_arrow" in s.columns(table) else "frames_json"
        stored = s.query(f"select {column} as frames from {table} where run_id = {literal(df.run_id.iloc[0])}") \
            if column else None
    text = stored.frames.iloc[0] if stored is not None and not stored.empty else None
    frames = decode_frames(text) if column == "frames_arrow" else _frames_of_json(text)
    return json.loads(df.result_json.iloc[0]) | {"created_at": df.created_at.iloc[0]}, frames


def _keys(alert_key: str | list[str]) -> list[str]:
    return [alert_key] if isinstance(alert_key, str) else list(dict.fromkeys(alert_key))


@audited("acknowledge_alerts", "acknowledge_alert", target=lambda a: ", ".join(_keys(a["alert_key"])))
def acknowledge(wh: Warehouse, alert_key: str | list[str], actor: Actor | None = None, note: str = "") -> None:
    """Acknowledge one alert or several (an incident's: every feature one drifting month moved), all or none;
    each audited."""
    keys = _keys(alert_key)
    if not keys:
        raise LeadScoringError("No alert picked: choose the alert(s) to acknowledge.")
    listed = ", ".join(literal(k) for k in keys)
    with wh.writer("acknowledge alert") as s:
        known = set(s.query(f"select alert_key from ops.monitor_alerts where alert_key in ({listed})").alert_key) \
            if s.table_exists("ops.monitor_alerts") else set()
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise LeadScoringError(f"No alert {', '.join(map(repr, unknown))}: run `python -m core monitor` and pick "
                                   "one it lists.")
        s.execute(f"update ops.monitor_alerts set acknowledged_by = {literal(actor.username)}, "
                  f"acknowledged_at = current_timestamp(), acknowledged_level = level where alert_key in ({listed})")
        for k in keys:
            audit.record(s, actor, "acknowledge_alert", k, "ok", {"note": note})
