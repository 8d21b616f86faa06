"""Named fault-injection points, so tests can prove that a failure or a kill mid-step loses nothing.

Inactive unless the environment variable ``LEADSCORE_FAULT`` names the point; ``LEADSCORE_FAULT_MODE=kill``
ends the process abruptly (as ``kill -9`` would) instead of raising.
"""

from __future__ import annotations

import os


class InjectedFault(RuntimeError):
    pass


def checkpoint(name: str) -> None:
    if os.environ.get("LEADSCORE_FAULT") != name:
        return
    if os.environ.get("LEADSCORE_FAULT_MODE") == "kill":
        os._exit(137)
    raise InjectedFault(f"injected fault at {name}")
