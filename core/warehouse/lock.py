"""Cross-process reader/writer lock for the embedded DuckDB file.

DuckDB lets one process write, and refuses to open a file another process is writing. All engine
access therefore goes through short-lived connections guarded by an ``flock`` on ``<db>.lock``: writers
take it exclusively, readers shared. A writer that cannot get it within the timeout raises
:class:`WarehouseBusyError` naming who holds it and since when.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

from core.errors import WarehouseBusyError
from core.locks import flock_held

_held = threading.local()


@contextmanager
def file_lock(db_path: Path, exclusive: bool, timeout: float, what: str = "a write"):
    """Hold the warehouse lock; raise WarehouseBusyError after ``timeout`` seconds of waiting."""
    if getattr(_held, "depth", 0):
        # Re-entrant use in one thread would deadlock on flock; the engine never nests sessions.
        raise RuntimeError("warehouse session opened inside another session in the same thread")
    busy = lambda who: WarehouseBusyError(  # noqa: E731
        f"The warehouse {db_path} is busy with {who}. Waited {timeout:.0f} s; try again in a moment.")
    with flock_held(Path(str(db_path) + ".lock"), exclusive=exclusive, timeout=timeout, what=what, busy=busy):
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
