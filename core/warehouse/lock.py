"""Cross-process reader/writer lock for the embedded DuckDB file.

DuckDB lets one process write, and refuses to open a file another process is writing. All engine
access therefore goes through short-lived connections guarded by an ``flock`` on ``<db>.lock``: writers
take it exclusively, readers shared. A writer that cannot get it within the timeout raises
:class:`WarehouseBusyError` naming who holds it and since when.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from core.errors import WarehouseBusyError

_held = threading.local()


def _holder_info(info_path: Path) -> str:
    try:
        info = json.loads(info_path.read_text())
        return f"'{info.get('what', 'a write')}' (pid {info.get('pid')}) since {info.get('since')}"
    except (OSError, ValueError):
        return "another writer"


@contextmanager
def file_lock(db_path: Path, exclusive: bool, timeout: float, what: str = "a write"):
    """Hold the warehouse lock; raise WarehouseBusyError after ``timeout`` seconds of waiting."""
    if getattr(_held, "depth", 0):
        # Re-entrant use in one thread would deadlock on flock; the engine never nests sessions.
        raise RuntimeError("warehouse session opened inside another session in the same thread")
    lock_path = Path(str(db_path) + ".lock")
    info_path = Path(str(db_path) + ".lock.info")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout
    delay = 0.02
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"The warehouse {db_path} is busy with {_holder_info(info_path)}. "
                        f"Waited {timeout:.0f} s; try again in a moment."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        if exclusive:
            info_path.write_text(json.dumps({
                "what": what, "pid": os.getpid(), "argv0": os.path.basename(sys.argv[0]),
                "since": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            }))
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
