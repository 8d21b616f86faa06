"""Benchmark: territory ingestion vs DuckDB's plain read_csv of the same files, in the same run.

Usage: python bench/bench_ingest.py [DATA_DIR] [--repeat N]
DATA_DIR defaults to artifacts/demo_full (generated at full scale when missing). Prints wall time and peak
memory (RSS high-water mark of a fresh child process per measurement), medians over N repeats, and the
ratio ingest / scan. Target: ingest <= 2x the scan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCAN = r"""
import duckdb, glob, json, resource, sys, time
files = sorted(glob.glob(sys.argv[1] + '/discovery_t*_*.csv'))
con = duckdb.connect(sys.argv[2])
t = time.perf_counter()
n = 0
for i, f in enumerate(files):
    # Each file as it comes: the T3 export is Latin-1, which DuckDB needs to be told.
    enc = 'latin-1' if open(f, 'rb').read().find(b'\xe9') >= 0 or '_t3_' in f else 'utf-8'
    try:
        con.execute(f"create table t{i} as select * from read_csv(?, encoding = '{enc}')", [f])
    except duckdb.Error:
        con.execute(f"create table t{i} as select * from read_csv(?, encoding = '{enc}', all_varchar = true)", [f])
    n += con.execute(f"select count(*) from t{i}").fetchone()[0]
con.close()
print(json.dumps({"seconds": time.perf_counter() - t, "rows": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

INGEST = r"""
import glob, json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from core.config import load_settings, with_overrides
from core.warehouse import open_warehouse
from core.ingest.territories import load_territory_files
files = sorted(glob.glob(sys.argv[1] + '/discovery_t*_*.csv'))
s = with_overrides(load_settings(), data_dir=Path(sys.argv[2]))
wh = open_warehouse(s)
t = time.perf_counter()
r = load_territory_files(wh, s, files)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": r.rows_loaded, "quarantined": r.rows_quarantined,
                  "unique_reps": r.summary["unique_reps_in_month"],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", nargs="?", default=str(ROOT / "artifacts" / "demo_full"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = Path(args.data_dir)
    if not list(data.glob("discovery_t*_*.csv")):
        print(f"generating full-scale demo data into {data} ...", flush=True)
        subprocess.run([sys.executable, "-m", "core", "demo-data", str(data), "--scale", "full"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    size_mb = sum(f.stat().st_size for f in data.glob("discovery_t*_*.csv")) / 1e6
    scans, ingests = [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            scans.append(_run(SCAN, str(data), str(Path(tmp) / "scan.duckdb")))
        with tempfile.TemporaryDirectory() as tmp:
            ingests.append(_run(INGEST, str(data), tmp, str(ROOT)))
        print(f"run {i + 1}: scan {scans[-1]['seconds']:.2f} s, ingest {ingests[-1]['seconds']:.2f} s", flush=True)
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    print()
    print(f"territory files: {size_mb:.0f} MB, {ingests[0]['rows'] + ingests[0]['quarantined']:,} rows")
    print(f"{'measure':<34}{'median s':>10}{'peak MB':>10}")
    print(f"{'DuckDB read_csv (baseline)':<34}{med(scans, 'seconds'):>10.2f}{med(scans, 'peak_mb'):>10.0f}")
    print(f"{'load-territories (ingest)':<34}{med(ingests, 'seconds'):>10.2f}{med(ingests, 'peak_mb'):>10.0f}")
    ratio = med(ingests, "seconds") / med(scans, "seconds")
    print(f"ratio ingest / scan: {ratio:.2f}x (target <= 2.0x) -> {'PASS' if ratio <= 2.0 else 'MISS'}")
    print(f"loaded {ingests[0]['rows']:,} rows, quarantined {ingests[0]['quarantined']:,}, "
          f"unique reps {ingests[0]['unique_reps']:,}")


if __name__ == "__main__":
    main()
