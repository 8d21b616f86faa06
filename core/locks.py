"""One cross-process lock helper: an ``flock`` on a file, the holder written beside it.

Used by the warehouse (readers shared, writers exclusive, waiting up to a timeout) and by the Salesforce push
(one at a time, refused at once). The holder — what, pid, since — goes to ``<lock>.info`` when taken
exclusively, so whoever is refused is told who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable


def holder(lock_path: Path, default: str = "another process") -> str:
    """Who holds ``lock_path``, as written by the last exclusive holder ('what' (pid N) since …)."""
    try:
        info = json.loads(Path(str(lock_path) + ".info").read_text())
        return f"'{info.get('what', 'a write')}' (pid {info.get('pid')}) since {info.get('since')}"
    except (OSError, ValueError):
        return default


@contextmanager
def flock_held(lock_path: Path, *, exclusive: bool, timeout: float, what: str,
               busy: Callable[[str], BaseException]):
    """Hold an flock on ``lock_path`` (created if missing); after ``timeout`` seconds of waiting (0: do not wait)
    raise ``busy(holder)``. Waits back off from 20 ms to 0.5 s."""
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline, delay = time.monotonic() + timeout, 0.02
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy(holder(lock_path)) from None
                time.sleep(min(delay, max(deadline - time.monotonic(), 0.001)))
                delay = min(delay * 2, 0.5)
        if exclusive:
            Path(str(lock_path) + ".info").write_text(json.dumps({
                "what": what, "pid": os.getpid(), "argv0": os.path.basename(sys.argv[0]),
                "since": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            }))
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
