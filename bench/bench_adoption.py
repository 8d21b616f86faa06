"""SGA adoption (the Monitoring page's "Adoption" tab, `python -m core adoption`), read on demand at full scale.

Uses the full-scale warehouse `bench_monitor.py` prepares (13 territory months, the weekly backfill since the
monitoring window, one daily run): copies its warehouse into ``--root``/adoption (the monitor bench's own stays
without Tasks), loads the demo's Salesforce Task export into the copy, then measures, each in a fresh process
(wall time and peak RSS; median of ``--repeats``):

- baseline: a plain DuckDB GROUP BY counting each first-scored lead's dials (``ml.lead_first_scores`` left
  joined to ``marts.fact_tasks``) — the floor for reading the same rows once;
- ``adoption()``: the page's figures (the dial window's edges, bands within each week, the trend, per SGA).

No target is set by an issue: the tab is read when opened, so it should stay a fraction of a second and within a
small multiple of the plain GROUP BY.
Usage: python bench/bench_adoption.py --root /work/benchdata/monitor_full [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_monitor import ROOT, _env, prepare  # noqa: E402  (the same prepared warehouse)

MEASURE = r"""
import json, resource, sys, time
from core.config import load_settings
from core.warehouse import open_warehouse
import core.monitoring.adoption  # noqa: imports are not the step
s = load_settings(); wh = open_warehouse(s)
t0 = time.perf_counter()
if sys.argv[1] == "baseline":
    n = len(wh.read("select f.lead_id, count(t.task_id) as dials from ml.lead_first_scores as f left join "
                    "marts.fact_tasks as t on t.lead_id = f.lead_id and t.is_dial group by f.lead_id"))
else:
    n = len(core.monitoring.adoption.adoption(wh).leads)
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

LOAD_TASKS = r"""
import json, sys, time
from core.auth import Actor
from core.config import load_settings
from core.ingest.activities import load_activity_file
from core.warehouse import open_warehouse
s = load_settings(); t0 = time.perf_counter()
r = load_activity_file(open_warehouse(s), s, sys.argv[1], actor=Actor("bench", "system"))
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": r.rows_loaded}))
"""


def _run(code: str, root: Path, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=_env(root), check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, required=True, help="the monitor bench's root (prepared if missing)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scale", default="full", choices=["small", "full"])
    args = ap.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    prepare(args.root, args.scale)
    copy = args.root / "adoption"
    if not (copy / "tasks_loaded.json").exists():
        (copy / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy2(args.root / "data" / "warehouse.duckdb", copy / "data" / "warehouse.duckdb")
        loaded = _run(LOAD_TASKS, copy, str(args.root / "demo" / "salesforce_tasks.csv"))
        (copy / "tasks_loaded.json").write_text(json.dumps(loaded))
    loaded = json.loads((copy / "tasks_loaded.json").read_text())
    print(f"warehouse: the monitor bench's, with {loaded['rows']:,} Tasks loaded (in {loaded['seconds']:.1f} s)")
    rows = {w: [_run(MEASURE, copy, w) for _ in range(args.repeats)] for w in ("baseline", "adoption")}
    med = lambda w, k: statistics.median(r[k] for r in rows[w])  # noqa: E731
    base = med("baseline", "seconds")
    print(f"{'measure (median of ' + str(args.repeats) + ', fresh process each)':<48}{'seconds':>9}{'peak MB':>9}"
          f"{'x base':>8}{'rows':>9}")
    for w, label in [("baseline", "baseline: GROUP BY of first-scored leads' dials"),
                     ("adoption", "adoption(): bands, trend, per SGA")]:
        runs = ", ".join(f"{r['seconds']:.2f}" for r in rows[w])
        print(f"{label:<48}{med(w, 'seconds'):>9.2f}{med(w, 'peak_mb'):>9.0f}{med(w, 'seconds') / base:>8.1f}"
              f"{rows[w][-1]['rows']:>9,}   runs: {runs}")


if __name__ == "__main__":
    main()
