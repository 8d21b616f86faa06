"""First start, measured: what a newcomer waits for before the control panel shows a trained champion.

Runs `python -m core demo-start` (what the app's first start does: small demo generated and loaded,
reconciled, a quick champion trained on leads before the monitoring window and promoted, the score
history backfilled, leads scored and monitored) in a fresh data folder, --repeats times,
next to a baseline measured in the same run: the same demo generated and loaded without a model
(`demo-data`, `load-territories` per month, `load-leads`). Prints medians. Target: first start ≤ 90 s on 2 cores.

Usage: python bench/bench_first_start.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], data: Path) -> str:
    env = {**os.environ, "LEADSCORE_DATA_DIR": str(data), "LEADSCORE_ADMIN_PASSWORD": "bench-only"}
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    first, train, base, kinds = [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "a"
            started = time.perf_counter()
            summary = json.loads(_run(["demo-start", "--json"], data))
            first.append(time.perf_counter() - started)
            train.append(summary["train_seconds"])
            kinds.append(_run(["models", "list"], data).split("\t")[1])
            data = Path(tmp) / "b"
            started = time.perf_counter()
            _run(["demo-data", str(data / "demo")], data)
            months: dict[str, list[str]] = {}
            for f in sorted((data / "demo").glob("**/discovery_t*_*.csv")):
                months.setdefault(f.stem[-7:], []).append(str(f))
            for files in dict(sorted(months.items())).values():  # one month at a time, oldest first
                _run(["load-territories", *files], data)
            _run(["load-leads", str(data / "demo" / "salesforce_leads.csv")], data)
            base.append(time.perf_counter() - started)
    med = statistics.median
    print(f"{'measure (median of ' + str(args.repeats) + ')':<58}{'seconds':>9}")
    print(f"{'baseline: small demo (19 months) generated and loaded, no model':<58}{med(base):>9.1f}")
    print(f"{'first start: + reconcile, train, backfill, score, monitor':<58}{med(first):>9.1f}")
    print(f"{'  of which training the champion':<58}{med(train):>9.1f}")
    print(f"ratio {med(first) / med(base):.1f}x the load alone; champion kinds: {', '.join(kinds)}; "
          f"target <= 90 s: {'PASS' if med(first) <= 90 else 'MISS'}")


if __name__ == "__main__":
    main()
