"""Daily capacity (SGAs x dials per day): configured defaults, overridden from the app by SGA managers."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from core import audit
from core.auth import Actor
from core.config import Settings
from core.errors import LeadScoringError
from core.operation import audited
from core.warehouse import Warehouse


def get_capacity(wh: Warehouse, settings: Settings) -> dict:
    with wh.reader() as s:
        if s.table_exists("ops.capacity"):
            row = s.query("select sga_count, dials_per_day, set_by, set_at from ops.capacity order by set_at desc limit 1")
            if not row.empty:
                r = row.iloc[0]
                return {"sga_count": int(r.sga_count), "dials_per_day": int(r.dials_per_day),
                        "capacity": int(r.sga_count) * int(r.dials_per_day), "set_by": r.set_by, "set_at": str(r.set_at)}
    return {"sga_count": settings.sga_count, "dials_per_day": settings.dials_per_day,
            "capacity": settings.daily_capacity, "set_by": "config", "set_at": None}


@audited("edit_capacity", "set_capacity")
def set_capacity(wh: Warehouse, actor: Actor, sga_count: int, dials_per_day: int) -> dict:
    if not (1 <= int(sga_count) <= 500 and 1 <= int(dials_per_day) <= 500):
        raise LeadScoringError("SGAs and dials per day must each be between 1 and 500.")
    with wh.writer("set capacity") as s:
        s.load("ops.capacity", pd.DataFrame([{"sga_count": int(sga_count), "dials_per_day": int(dials_per_day),
                                              "set_by": actor.username, "set_at": datetime.now(timezone.utc)}]), mode="append")
        audit.record(s, actor, "set_capacity", "", "ok", {"sga_count": sga_count, "dials_per_day": dials_per_day})
    return {"sga_count": int(sga_count), "dials_per_day": int(dials_per_day), "capacity": int(sga_count) * int(dials_per_day)}
