"""Benchmark: build-features at full demo scale, next to a plain join of the same inputs (baseline).

Usage: python bench/bench_features.py DATA_DIR [--repeat N]
DATA_DIR is a warehouse data folder already holding the full-scale demo (load-territories + load-leads).
Prints wall-time medians, peak memory of each child process and the ratio. Target: <= 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from core.config import load_settings, with_overrides
from core.warehouse import open_warehouse
wh = open_warehouse(with_overrides(load_settings(), data_dir=Path(sys.argv[1])))
t = time.perf_counter()
with wh.writer("baseline") as s:
    s.execute("create or replace table ml.bench_join as select l.*, r.* from marts.dim_leads l "
              "left join marts.dim_reps_current r on l.FA_CRD__c = r.RepCRD where l.Stage_Entered_Contacting__c is not null")
    s.execute("drop table ml.bench_join")
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BUILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from core.config import load_settings, with_overrides
from core.warehouse import open_warehouse
from core.features.build import build_features
s = with_overrides(load_settings(), data_dir=Path(sys.argv[1]))
wh = open_warehouse(s)
t = time.perf_counter()
b = build_features(wh, s)
print(json.dumps({"seconds": time.perf_counter() - t, "features": len(b.features), "rows": sum(b.status_counts.values()),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, data: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, data, str(ROOT)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    base = [_run(BASELINE, args.data_dir) for _ in range(args.repeat)]
    build = [_run(BUILD, args.data_dir) for _ in range(args.repeat)]
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    print(f"{'measure':<44}{'median s':>10}{'peak MB':>10}")
    print(f"{'plain lead x rep join (baseline)':<44}{med(base, 'seconds'):>10.2f}{med(base, 'peak_mb'):>10.0f}")
    print(f"{'build-features (labels, PIT, levels, features)':<44}{med(build, 'seconds'):>10.2f}{med(build, 'peak_mb'):>10.0f}")
    print(f"{build[0]['features']} features x {build[0]['rows']:,} contacted leads; "
          f"ratio {med(build, 'seconds') / med(base, 'seconds'):.1f}x; target <= 10 s -> "
          f"{'PASS' if med(build, 'seconds') <= 10 else 'MISS'}")


if __name__ == "__main__":
    main()
