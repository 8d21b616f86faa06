"""Benchmarks for training, printed side by side in one run.

Quality: backtest from --test-from on the full-scale demo; AUC-PR of the engine's model vs ranking by the
truth file's best-achievable probability (the ceiling) vs the untuned boosting baseline, all on the same
test leads. Target: engine >= 0.95 x ceiling and above the baseline. Alongside, how much of the observed
ratio is the luck of one set of outcomes: a paired bootstrap interval, and the mean AUC-PR of both rankings
over outcomes redrawn from the truth probabilities.
Speed: a full `train` with time per stage. Target: <= 10 minutes on 2 cores.

Usage: python bench/bench_model.py DATA_DIR TRUTH_CSV [--test-from 2025-06-01] [--budget-minutes 8]
DATA_DIR holds the full-scale demo already loaded (load-territories, load-leads).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.modeling.backtest import backtest  # noqa: E402
from core.modeling.train import train  # noqa: E402
from truth_metrics import (expected_auc_pr, open_data_dir, paired_bootstrap_ratio,  # noqa: E402  (bench/)
                           truth_bench_parser, truth_probabilities)


def main() -> None:
    ap = truth_bench_parser()
    ap.add_argument("--budget-minutes", type=float, default=8.0)
    args = ap.parse_args()
    settings, wh = open_data_dir(args.data_dir)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "backtest.csv"
        bt = backtest(wh, settings, args.test_from, str(out), args.budget_minutes)
        scores = pd.read_csv(out, dtype={"lead_id": str})
    joined = scores.assign(true_prob_mql_30d=truth_probabilities(args.truth_csv, scores.lead_id))
    engine_ap = average_precision_score(joined.label, joined.score)
    ceiling = average_precision_score(joined.label, joined.true_prob_mql_30d)
    base = bt["baseline_untuned_auc_pr"]
    print(f"\nQuality — backtest from {args.test_from}: trained on {bt['train_n']:,} leads "
          f"({bt['train_positives']:,} positive); tested on {len(joined):,} leads ({int(joined.label.sum()):,} positive)")
    print(f"{'ranking':<46}{'AUC-PR':>8}{'x ceiling':>11}")
    print(f"{'truth: best achievable probability (ceiling)':<46}{ceiling:>8.4f}{1:>11.2f}")
    print(f"{'engine':<46}{engine_ap:>8.4f}{engine_ap / ceiling:>11.2f}  "
          f"({bt['model_chosen']}, {bt['features']} features)")
    print(f"{'untuned gradient boosting (baseline)':<46}{base:>8.4f}{base / ceiling:>11.2f}")
    print(f"target >= 0.95 x ceiling: {'PASS' if engine_ap >= 0.95 * ceiling else 'MISS'}; "
          f"above baseline: {'PASS' if engine_ap > base else 'MISS'}")
    # How much of that is the luck of one set of outcomes: the ratio over bootstrap resamples of these leads,
    # and both rankings scored on 500 fresh outcomes of the same leads drawn from their true probabilities.
    mid, lo, hi = paired_bootstrap_ratio(joined.label, joined.score, joined.true_prob_mql_30d)
    print(f"engine / ceiling over 1,000 paired bootstrap resamples: median {mid:.3f}, 90% interval {lo:.3f}-{hi:.3f}")
    exp = expected_auc_pr(joined.true_prob_mql_30d, {"engine": joined.score.to_numpy(),
                                                     "ceiling": joined.true_prob_mql_30d.to_numpy()})
    print(f"mean over 500 redrawn outcomes of the same leads: engine {exp['engine']:.4f}, ceiling "
          f"{exp['ceiling']:.4f}, ratio {exp['engine'] / exp['ceiling']:.3f} (the ranking itself, without label luck)")

    started = time.perf_counter()
    result = train(wh, settings, args.budget_minutes)
    total = time.perf_counter() - started
    print(f"\nSpeed — full train on {result.metrics['split']['fit_n'] + result.metrics['split']['calib_n'] + result.metrics['split']['test_n']:,} leads:")
    for stage, seconds in result.timings.items():
        print(f"  {stage:<22}{seconds:>8.1f} s")
    print(f"  {'wall total':<22}{total:>8.1f} s  (target <= 600 s: {'PASS' if total <= 600 else 'MISS'})")
    print(f"  model {result.model_id}: test AUC-PR {result.metrics['test']['auc_pr']:.4f}, gates "
          f"{'passed' if result.gates_passed else 'failed'}")


if __name__ == "__main__":
    main()
