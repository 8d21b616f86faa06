"""Benchmark: daily scoring at full demo scale with an XGBoost champion (300 trees, depth 6, exact
TreeSHAP drivers) — a naive full recompute next to the incremental daily run, in the same run.

Usage: python bench/bench_scoring.py DATA_DIR [--new-leads 70]
DATA_DIR holds the full-scale demo already loaded; it is copied, never modified. The "usual day" marks
--new-leads leads as changed (≈ 40,000 contacts over 19 months ≈ 70 a day). Targets on 2 cores: daily
run-daily <= 15 s wall; full rescore of every open lead with drivers <= 60 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETUP = r"""
import sys; sys.path.insert(0, sys.argv[2])
from pathlib import Path
import numpy as np
from core.auth import Actor
from core.config import load_settings, with_overrides
from core.features.build import feature_matrix, latest_feature_set
from core.modeling import registry
from core.modeling.boosting import Imbalance, fit_booster
from core.modeling.calibration import SegmentCalibrator
from core.modeling.data import aum_segment, frame_from, time_split
s = with_overrides(load_settings(), data_dir=Path(sys.argv[1]))
from core.warehouse import open_warehouse
wh = open_warehouse(s)
fs = latest_feature_set(wh)
fr = frame_from(feature_matrix(wh, training_only=True))
fit, cal = time_split(fr, 0.15)
b = fit_booster(fit.X, fit.y, {"n_estimators": 300, "max_depth": 6, "learning_rate": 0.05}, Imbalance("none", "pos_weight", pos_weight=1.0))
c = SegmentCalibrator().fit(b.predict(cal.X), cal.y, aum_segment(cal.X["TotalAssetsInMillions"]))
meta = {"model_id": "bench-xgb", "kind": "xgboost", "features": list(fit.X.columns), "levels": fs["levels"], "medians": None,
        "params": {"n_estimators": 300, "max_depth": 6}, "calibration": c.to_dict(), "metrics": {}, "gates": [],
        "gates_passed": False, "training_fingerprint": "bench"}
registry.save_model(wh, s, "bench-xgb", "xgboost", b.model, meta, "# benchmark model", Actor("bench", "system"))
registry.promote(wh, "bench-xgb", Actor("bench", "system"), force=True, reason="scoring benchmark")
print("{}")
"""

MEASURE = r"""
import json, resource, sys, time; sys.path.insert(0, sys.argv[2])
from pathlib import Path
from core.config import load_settings, with_overrides
from core.warehouse import open_warehouse
s = with_overrides(load_settings(), data_dir=Path(sys.argv[1]))
wh = open_warehouse(s)
mode = sys.argv[3]
t = time.perf_counter()
if mode == "full":
    from core.scoring.score import score_leads
    run, _ = score_leads(wh, s, full=True)
    timings = run.timings
else:
    with wh.writer("simulate a day") as w:
        w.execute("update ml.lead_scores set feature_hash = 'new' where lead_id in "
                  f"(select lead_id from ml.lead_scores order by lead_id limit {int(sys.argv[4])})")
    from core.daily import run_daily
    res = run_daily(wh, s)
    timings = res.timings
print(json.dumps({"seconds": time.perf_counter() - t, "timings": timings,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("--new-leads", type=int, default=70)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data)
        _run(SETUP, str(data), str(ROOT))
        full = _run(MEASURE, str(data), str(ROOT), "full")
        daily = _run(MEASURE, str(data), str(ROOT), "daily", str(args.new_leads))
    print(f"{'measure':<52}{'wall s':>8}{'peak MB':>9}")
    print(f"{'naive full recompute (every open lead, TreeSHAP)':<52}{full['seconds']:>8.1f}{full['peak_mb']:>9.0f}")
    print("   stages: " + ", ".join(f"{k} {v}" for k, v in full["timings"].items()))
    print(f"{'incremental run-daily (~' + str(args.new_leads) + ' new/changed leads)':<52}{daily['seconds']:>8.1f}{daily['peak_mb']:>9.0f}")
    print("   stages: " + ", ".join(f"{k} {v}" for k, v in daily["timings"].items()))
    print(f"targets: daily <= 15 s -> {'PASS' if daily['seconds'] <= 15 else 'MISS'}; "
          f"full rescore <= 60 s -> {'PASS' if full['seconds'] <= 60 else 'MISS'}; "
          f"speed-up {full['seconds'] / daily['seconds']:.1f}x")


if __name__ == "__main__":
    main()
