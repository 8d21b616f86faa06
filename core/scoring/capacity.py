"""Daily capacity (SGAs x dials per day): configured defaults, overridden from the app by SGA managers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.operation import audited
from core.warehouse import Warehouse
from core.words import day


@dataclass(frozen=True)
class Capacity:
    """How many leads the SGAs can call in a day, and who set it (``set_by`` "config": the configured default)."""
    sga_count: int
    dials_per_day: int
    set_by: str = "config"
    set_at: pd.Timestamp | None = None

    @property
    def daily(self) -> int:
        return self.sga_count * self.dials_per_day

    def words(self) -> str:
        """'12 SGAs × 40 dials = 480 a day, set by sam on 3 Dec 2026' (or 'the configured default')."""
        source = ("the configured default" if self.set_at is None
                  else f"set by {self.set_by} on {day(self.set_at)}")
        return f"{self.sga_count} SGAs × {self.dials_per_day} dials = {self.daily:,} a day, {source}"


def get_capacity(wh: Warehouse, settings: Settings) -> Capacity:
    """The newest capacity an SGA manager set, else the config's."""
    with wh.reader() as s:
        if s.table_exists("ops.capacity"):
            row = s.query("select sga_count, dials_per_day, set_by, set_at from ops.capacity order by set_at desc limit 1")
            if not row.empty:
                r = row.iloc[0]
                return Capacity(int(r.sga_count), int(r.dials_per_day), str(r.set_by), pd.Timestamp(r.set_at))
    return Capacity(int(settings.sga_count), int(settings.dials_per_day))


@audited("edit_capacity", "set_capacity")
def set_capacity(wh: Warehouse, actor: Actor, sga_count: int, dials_per_day: int) -> Capacity:
    if not (1 <= int(sga_count) <= 500 and 1 <= int(dials_per_day) <= 500):
        raise LeadScoringError("SGAs and dials per day must each be between 1 and 500.")
    cap = Capacity(int(sga_count), int(dials_per_day), actor.username, pd.Timestamp.now(tz="UTC"))
    with wh.writer("set capacity") as s:
        s.load("ops.capacity", pd.DataFrame([{"sga_count": cap.sga_count, "dials_per_day": cap.dials_per_day,
                                              "set_by": cap.set_by, "set_at": cap.set_at.to_pydatetime()}]), mode="append")
        audit.record(s, actor, "set_capacity", "", "ok", {"sga_count": cap.sga_count, "dials_per_day": cap.dials_per_day})
    return cap
