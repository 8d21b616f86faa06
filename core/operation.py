"""One wrapper for every action that changes the warehouse: authorised, timed and audited the same way.

A use case either takes the decorator, which resolves its ``actor`` argument (the command line's actor when
None), authorises it and audits a refusal or a failure:

    @audited("train_promote", "train_model")
    def train(wh, settings, ..., actor=None): ...   # its success entry stays in its own transaction

or opens the block itself when it needs the running :class:`Operation`:

    with operation(wh, actor, "train_promote", "train") as op:
        ...                                         # the use case's own steps
        with wh.writer("...") as s:
            s.load(...)
            op.record(s, target, detail)            # the success entry, in the same transaction as the data

An action that is refused (the role lacks the permission) or fails (any exception) is audited too, in its own
short write after the use case's transaction rolled back, as ``refused`` or ``failed`` with the error's first
line: the audit log answers "who tried what, and how did it end", not only "what succeeded". Recording a refusal
or failure never hides the original error (a busy or missing warehouse is skipped quietly).
"""

from __future__ import annotations

import functools
import inspect
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from core import audit
from core.auth import Actor, authorize, cli_actor
from core.errors import PermissionDeniedError
from core.warehouse import Session, Warehouse

ERROR_CHARS = 500


@dataclass
class Operation:
    """The running action: who, what, since when; the use case records its own success entry through it."""
    wh: Warehouse
    actor: Actor
    action: str
    target: str = ""
    started: float = field(default_factory=time.perf_counter)
    context: dict = field(default_factory=dict)  # what a failure entry should carry besides the error (a load id)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def record(self, session: Session, target: str | None = None, detail=None, outcome: str = "ok",
               action: str | None = None) -> None:
        """The action's audit entry, written in ``session`` so it lands (or rolls back) with the data."""
        if target is not None:
            self.target = target
        audit.record(session, self.actor, action or self.action, self.target, outcome, detail)


def error_words(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:ERROR_CHARS]


def _record_quietly(wh: Warehouse, actor: Actor, action: str, target: str, outcome: str, detail: dict) -> None:
    """A refusal or failure entry; skipped when there is no warehouse yet (recording must not create one) or
    it cannot be written (busy, read-only): the caller's own error is what the user needs to see."""
    try:
        with wh.reader() as s:
            if not s.table_exists("ops.audit_log"):
                return
        audit.record_now(wh, actor, action, target, outcome, detail)
    except Exception:  # noqa: BLE001 - never mask the error being reported
        return


@contextmanager
def operation(wh: Warehouse, actor: Actor | None, permission: str, action: str, target: str = "",
              failures: bool = True) -> Iterator[Operation]:
    """Authorise ``permission`` for ``actor`` (the command line's actor when None), time the block, and audit a
    refusal or a failure as ``action``. The success entry is the use case's (:meth:`Operation.record`).
    ``failures=False``: the use case audits every outcome itself (a Salesforce sync's record), refusals only here."""
    actor = actor or cli_actor()
    try:
        authorize(actor, permission)
    except PermissionDeniedError as exc:
        _record_quietly(wh, actor, action, target, "refused", {"error": error_words(exc)})
        raise
    op = Operation(wh, actor, action, target)
    try:
        yield op
    except Exception as exc:
        if not failures:
            raise
        _record_quietly(wh, actor, action, op.target, "failed", {**op.context, "error": error_words(exc),
                                                                  "error_type": type(exc).__name__, "seconds": round(op.seconds, 2)})
        raise


def audited(permission: str, action: str | Callable[[dict], str], target: Callable[[dict], str] | None = None,
            failures: bool = True):
    """Decorate a use case whose parameters include ``wh`` and ``actor``: the body receives the resolved actor,
    runs only when ``permission`` is granted, and a refusal or failure is audited as ``action`` (or the action
    that function of the call's arguments names; ``target`` picks the audited subject, e.g. the model id)."""
    def wrap(fn):
        sig = inspect.signature(fn)
        if "wh" not in sig.parameters or "actor" not in sig.parameters:
            raise TypeError(f"@audited needs parameters wh and actor: {fn.__qualname__}")

        @functools.wraps(fn)
        def run(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            bound.arguments["actor"] = bound.arguments["actor"] or cli_actor()
            subject = str(target(bound.arguments)) if target is not None else ""
            name = action(bound.arguments) if callable(action) else action
            with operation(bound.arguments["wh"], bound.arguments["actor"], permission, name, subject, failures):
                return fn(*bound.args, **bound.kwargs)
        return run
    return wrap
