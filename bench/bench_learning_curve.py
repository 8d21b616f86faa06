"""How far the engine's model is from the truth ranking as a function of how much history it learns from.

On the backtest of bench_model.py (features as known on --test-from, every matured lead contacted before it
for training, every matured lead contacted on or after it for testing), the booster settings the guarded
choice can pick — the additive booster (depth-1 trees), the shallow depth-2 booster and the small-leaf
booster — are refitted on
random 25/50/75/100% subsets of the training rows. Each ranking of the test leads is scored against the
truth ranking on the same outcomes redrawn from the truth probabilities (the ratio bench_model.py reports
as "the ranking itself, without label luck"). The curve says whether the remaining gap to the ceiling is
the model's form or the amount of history.

Usage: python bench/bench_learning_curve.py DATA_DIR TRUTH_CSV [--test-from 2025-06-01]
DATA_DIR holds the full-scale demo already loaded (load-territories, load-leads); its present-day features
are rebuilt at the end, as after a backtest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.features.build import parse_as_of  # noqa: E402
from core.modeling.backtest import backtest_frames  # noqa: E402
from core.modeling.boosting import Imbalance, fit_booster  # noqa: E402
from core.modeling.train import ADDITIVE, SHALLOW, SMALL_LEAVES  # noqa: E402
from truth_metrics import learning_curve, open_data_dir, positives_for, truth_bench_parser, truth_probabilities  # noqa: E402
# (truth_metrics lives in bench/)


def main() -> None:
    ap = truth_bench_parser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    settings, wh = open_data_dir(args.data_dir)
    train, test, _ = backtest_frames(wh, settings, parse_as_of(args.test_from))
    q = truth_probabilities(args.truth_csv, test.ids)
    print(f"Backtest from {args.test_from}: {len(train):,} training leads ({train.positives:,} positive), "
          f"{len(test):,} test leads ({test.positives:,} positive), {train.X.shape[1]} features")
    plain = Imbalance("none", "pos_weight", pos_weight=1.0)
    for name, params in [("additive booster (depth-1)", ADDITIVE), ("shallow booster (depth-2)", SHALLOW),
                         ("small-leaf booster (8 leaves, early-stopped)", SMALL_LEAVES)]:
        started = time.perf_counter()
        curve = learning_curve(lambda X, y, p=params: fit_booster(X, y, p, plain), train.X, train.y, test.X, q,
                               repeats=args.repeats)
        print(f"\n{name} — ratio to the ceiling, mean over 300 redrawn outcomes ({time.perf_counter() - started:.0f} s)")
        print(f"{'share of history':>17}{'rows':>9}{'positives':>11}{'ratio':>8}  each subset")
        for c in curve:
            print(f"{c['fraction']:>17.0%}{c['rows']:>9,}{c['positives']:>11,.0f}{c['ratio']:>8.3f}  {c['ratios']}")
        need = positives_for(curve, 0.95)
        print("  power-law fit of the gap (1 - ratio) against positives: "
              + (f"0.95 x ceiling expected at about {need:,.0f} training positives" if need else "no decreasing trend"))


if __name__ == "__main__":
    main()
