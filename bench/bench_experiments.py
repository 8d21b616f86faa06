"""Experiment readout and A/A simulation timings (issue #15), each printed next to a baseline measured in
the same run.

    .venv/bin/python bench/bench_experiments.py --root DATA_DIR [--name scoring-pilot] [--sims 1000]

DATA_DIR is a data folder after a first start (``demo-start``) or any warehouse holding the experiment.
Targets: a readout ≤ 2 s at full scale; 1,000 A/A simulations ≤ 60 s on 2 cores. The baseline for the
readout is a plain DuckDB count of the experiment's leads by arm; the A/A figure is printed beside the time
of one plain readout.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import load_settings, with_overrides  # noqa: E402
from core.experiments.aa import pool, simulate  # noqa: E402
from core.experiments.readout import readout  # noqa: E402
from core.warehouse import open_warehouse  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--name", default="scoring-pilot")
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--from", dest="date_from", default="2024-06-01")
    ap.add_argument("--to", dest="date_to", default="2025-06-01")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    s = with_overrides(load_settings(), data_dir=Path(a.root), db_path=None)
    wh = open_warehouse(s)
    base, reads = [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        wh.read("select split_part(Experimentation_Tag__c, ':', 2) as arm, count(*) as n from marts.dim_leads "
                "where Experimentation_Tag__c is not null group by 1")
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        r = readout(wh, s, a.name)
        reads.append(time.perf_counter() - t)
    j = r.as_json()
    print(f"leads in experiment: {sum(v['leads'] for v in j['arms'].values()):,}; matured "
          f"{j['planned']['matured_leads']:,}; MQLs {j['planned']['mql_outcomes']:,}")
    print(f"plain GROUP BY baseline: median {statistics.median(base):.3f} s")
    print(f"readout: median {statistics.median(reads):.3f} s "
          f"({statistics.median(reads) / statistics.median(base):.0f}x baseline); target <= 2 s")
    print(f"readout: lift {j['effect']:+.3f} [{j['ci_low']:+.3f}, {j['ci_high']:+.3f}], adjusted "
          f"{j['adjusted_effect']}, decision {j['decision']}")
    t = time.perf_counter()
    p = pool(wh, s, a.date_from, a.date_to)
    prep = time.perf_counter() - t
    res = simulate(p, a.sims, seed=0)
    print(f"A/A: {res.sims:,} simulations on {res.leads:,} leads ({res.mqls:,} MQLs) in {res.seconds:.1f} s "
          f"(+{prep:.1f} s to gather), {res.seconds / statistics.median(reads):.0f}x one plain readout; "
          f"target <= 60 s")
    print(f"A/A: false-positive rate {res.false_positive_rate:.3%} (alpha 5%), SRM false alarms "
          f"{res.srm_false_alarm_rate:.3%}, CMH false positives {res.cmh_false_positive_rate:.3%}, "
          f"interim stops {res.interim_stops}")
    for lift in (0.3, 0.6):
        pw = simulate(p, max(a.sims // 2, 50), seed=1, lift=lift)
        print(f"power simulation: planted +{lift:.0%}: detected {pw.detection_rate:.1%} of {pw.sims} vs the design's "
              f"{pw.design_power:.1%}")


if __name__ == "__main__":
    main()
