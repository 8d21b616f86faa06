"""What a heavy step will cost on BigQuery, before it runs: a free dry run of the statements it reads with.

DuckDB has no bill, so there the estimate is ``None`` and the pages say nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.warehouse.base import Warehouse

# What each step reads, as BigQuery bills it (every column of every row it scans).
_READS = {
    # The monthly replace rewrites the territory table in one CREATE OR REPLACE (see the README).
    "territory_load": ("select * from staging.stg_territory_reps",),
    # A retrain rebuilds labels and features from the leads and every territory snapshot.
    "retrain": ("select * from marts.dim_leads", "select * from staging.stg_territory_reps"),
}
_LABEL = {"territory_load": "this monthly load", "retrain": "a retrain's feature build"}


@dataclass(frozen=True)
class CostEstimate:
    step: str
    bytes: int | None
    limit: int
    note: str = ""

    def sentence(self) -> str:
        if self.bytes is None:
            return f"BigQuery gave no estimate for {_LABEL[self.step]} ({self.note}). The byte limit still applies."
        share = self.bytes / self.limit if self.limit else 0
        warn = " — above the limit: raise bigquery_max_bytes_billed or the step will be refused." if share > 1 else ""
        return (f"BigQuery estimate for {_LABEL[self.step]}: about {_gb(self.bytes)} scanned "
                f"({share:.0%} of the {_gb(self.limit)} limit){warn}")


def _gb(n: int) -> str:
    return f"{n / 1024 ** 3:.2f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.1f} MiB"


def estimate(wh: Warehouse, step: str) -> CostEstimate | None:
    """A dry-run estimate of ``step`` ("territory_load" | "retrain") on BigQuery; None on DuckDB."""
    if wh.kind != "bigquery":
        return None
    with wh.reader() as s:
        sqls = [q for q in _READS[step] if s.table_exists(q.rsplit(" ", 1)[-1])]
        try:
            total = sum(s.estimate_bytes(q) for q in sqls)
        except Exception as exc:  # noqa: BLE001 - an estimate must never stop the step it describes
            return CostEstimate(step, None, wh.max_bytes_billed, str(exc).splitlines()[0][:160])
    return CostEstimate(step, total, wh.max_bytes_billed)
