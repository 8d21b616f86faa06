"""The logistic model with and without winsorising, per demo truth family, side by side in one run.

The L2 logistic regression is the engine's simplest contender, its small-data champion, its CRM fallback and a
baseline. A linear model extrapolates without limit, so the engine holds numeric inputs to their training
0.5–99.5% quantiles (``core.modeling.baselines.clip_bounds``). This measures that decision on the backtest's
point-in-time rows (``backtest_frames``: features as known at the cut-off for training, matured leads after it
for testing) of each truth family — not on one functional form: the same model with its inputs unclipped
(the baseline, fitted in the same run on the same rows) against the winsorised one, on the realised labels and in
expectation over 300 outcomes redrawn from the truth (the engine never reads it).

Unlike bench_model.py, every monthly territory snapshot is loaded (point-in-time joins use the month current at
each contact), so the test period holds the demo's scripted vendor fault (2025-06: one territory's AUM in
thousands) as a real feed would deliver it.

Usage: python bench/bench_winsorising.py [--truth all|additive|interactions|thresholds|long-tail] [--root DIR]
       [--test-from 2025-06-01]
ROOT/<family>/ holds ``demo-data ROOT/<family> --scale full --truth <family>`` (bench_model.py's layout, reused when
present) and ROOT/wh_history_<family>/ the engine's data folder with its whole history loaded; both are created
when missing (a few minutes per family).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import os  # noqa: E402
import subprocess  # noqa: E402

from bench_model import FAMILIES  # noqa: E402  (bench/)
from core.features.build import parse_as_of  # noqa: E402
from core.modeling import metrics  # noqa: E402
from core.modeling.backtest import backtest_frames  # noqa: E402
from core.modeling.baselines import LogisticBaseline  # noqa: E402
from truth_metrics import expected_auc_pr, open_data_dir, truth_probabilities  # noqa: E402


class Unclipped(LogisticBaseline):
    """The baseline: the same model with its inputs as they come (the release before winsorising)."""

    def _clipped(self, X):
        return X[self.usable_].to_numpy(dtype=float)


def ensure_history(root: Path, family: str) -> tuple[Path, Path]:
    """(data folder with the family's full demo and every territory month loaded, truth CSV)."""
    src, data = root / family, root / f"wh_history_{family}"
    if not (src / "salesforce_leads.csv").exists():
        subprocess.run([sys.executable, "-m", "core", "demo-data", str(src), "--scale", "full", "--truth", family],
                       check=True, cwd=ROOT_DIR, env={**os.environ, "LEADSCORE_DATA_DIR": str(data)},
                       stdout=subprocess.DEVNULL)
    if not (data / "warehouse.duckdb").exists():
        from core.demo import territory_files
        from core.ingest.leads import load_lead_file
        from core.ingest.territories import load_territory_months

        settings, wh = open_data_dir(data)
        load_territory_months(wh, settings, territory_files(src))
        load_lead_file(wh, settings, src / "salesforce_leads.csv")
    return data, src / "truth" / "demo_truth.csv"


def run_family(root: Path, family: str, test_from: str) -> dict:
    data, truth_csv = ensure_history(root, family)
    settings, wh = open_data_dir(data)
    rows = backtest_frames(wh, settings, parse_as_of(test_from))
    tr, te = rows.train, rows.test
    scores = {name: model.fit(tr.X, tr.y).predict(te.X) for name, model in
              [("unclipped (baseline)", Unclipped()), ("winsorised (engine)", LogisticBaseline())]}
    q = truth_probabilities(truth_csv, te.ids.astype(str))
    expected = expected_auc_pr(q, {**scores, "ceiling": q}, draws=300)
    print(f"\n{family}: train {len(tr):,} leads ({tr.positives:,} positive), test {len(te):,} ({te.positives:,} positive)")
    print(f"{'model':<24}{'AUC-PR':>8}{'AUC-ROC':>9}{'expected AUC-PR':>17}{'x ceiling':>11}{'max |logit|':>13}")
    out = {}
    for name, p in scores.items():
        logit = np.abs(np.log(np.clip(p, 1e-300, 1) / np.clip(1 - p, 1e-300, 1)))
        out[name] = expected[name]
        print(f"{name:<24}{metrics.auc_pr(te.y, p):>8.4f}{metrics.auc_roc(te.y, p):>9.4f}{expected[name]:>17.4f}"
              f"{expected[name] / expected['ceiling']:>11.3f}{logit.max():>13.1f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", default="all", choices=("all",) + FAMILIES)
    ap.add_argument("--root", type=Path, default=ROOT_DIR / "data" / "bench")
    ap.add_argument("--test-from", default="2025-06-01")
    args = ap.parse_args()
    results = {f: run_family(args.root, f, args.test_from) for f in (FAMILIES if args.truth == "all" else (args.truth,))}
    print("\nexpected AUC-PR, winsorised minus unclipped: " + ", ".join(
        f"{f} {r['winsorised (engine)'] - r['unclipped (baseline)']:+.4f}" for f, r in results.items()))


if __name__ == "__main__":
    main()
