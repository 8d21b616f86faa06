"""Model quality against peers, per demo truth family, side by side in one run.

For each truth family (``demo-data --truth``), on the full-scale demo: backtest from --test-from. On the same
training and test leads, with the same labels:

- the engine (``backtest``: its features, categories, model choice and calibration);
- scikit-learn's ``HistGradientBoostingClassifier()`` with its defaults, given the raw columns (every
  non-PII MarketPro column of the point-in-time snapshot, the CRM fields known at contact, the contact day
  and hour and the lead's age; text as pandas categories);
- FLAML AutoML (``flaml`` + ``lightgbm`` from ``bench/requirements-bench.txt``, never a runtime dependency)
  on the same raw columns, metric average precision, given the engine's backtest wall-clock time as budget;
- the ceiling: each lead's true probability from the truth file (the engine never reads it).

Measures: AUC-PR on the realised labels and in expectation over 300 outcomes redrawn from the truth
(the ranking itself, without the luck of one draw), top-decile lift, ECE. Target: the engine ≥ the better
peer on every family in expectation, with ECE ≤ 0.01.

Usage: python bench/bench_model.py [--truth all|additive|interactions|thresholds|long-tail] [--root DIR]
       [--test-from 2025-06-01] [--budget-minutes 5] [--train-speed]
ROOT/<family>/ holds ``demo-data ROOT/<family> --scale full --truth <family>`` and ROOT/wh_<family>/ the
engine's data folder with it loaded; both are created when missing (a few minutes per family).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT_DIR))

from core.contract import marketpro_columns  # noqa: E402
from core.features.build import parse_as_of  # noqa: E402
from core.modeling import metrics  # noqa: E402
from core.modeling.backtest import backtest, backtest_frames  # noqa: E402
from core.modeling.train import train  # noqa: E402
from truth_metrics import expected_auc_pr, open_data_dir, truth_probabilities  # noqa: E402  (bench/)

FAMILIES = ("additive", "interactions", "thresholds", "long-tail")
DROP_RAW = {"RepCRD", "RIAFirmCRD", "RIAFirmName", "Branch_ZipCode", "Home_ZipCode", "Branch_City"}


def ensure_data(root: Path, family: str) -> tuple[Path, Path]:
    """(data folder with the family's full demo loaded, truth CSV); generated and loaded when missing."""
    src, data = root / family, root / f"wh_{family}"
    env = {**os.environ, "LEADSCORE_DATA_DIR": str(data)}
    py = [sys.executable, "-m", "core"]
    if not (src / "salesforce_leads.csv").exists():
        subprocess.run(py + ["demo-data", str(src), "--scale", "full", "--truth", family], check=True, cwd=ROOT_DIR,
                       env=env, stdout=subprocess.DEVNULL)
    if not (data / "warehouse.duckdb").exists():
        subprocess.run(py + ["load-territories", *map(str, sorted(src.glob("discovery_t*_*.csv")))], check=True,
                       cwd=ROOT_DIR, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(py + ["load-leads", str(src / "salesforce_leads.csv")], check=True, cwd=ROOT_DIR, env=env,
                       stdout=subprocess.DEVNULL)
    return data, src / "truth" / "demo_truth.csv"


def raw_columns(wh, lead_ids: pd.Series) -> pd.DataFrame:
    """What an analyst would hand a peer: the point-in-time snapshot's non-PII columns as parsed, the CRM
    fields known at contact, contact weekday/hour and lead age — one row per lead, in ``lead_ids`` order."""
    rep_cols = [c.name for c in marketpro_columns() if not c.is_pii and c.name not in DROP_RAW]
    with wh.reader() as s:
        have = set(s.query("select * from marts.dim_rep_snapshots limit 0").columns)
        cols = ", ".join(f"r.{c}" for c in rep_cols if c in have)
        df = s.query(
            f"select lb.lead_id, {cols}, l.LeadSource, l.Lead_List_Name__c, l.External_Agency__c, l.OwnerId, "
            "cast(l.has_LinkedIn_Profile_Apollo__c as integer) as has_linkedin, lb.contacted_at, lb.created_at "
            "from ml.lead_labels as lb inner join ml.lead_snapshot_choice as p on lb.lead_id = p.lead_id "
            "inner join marts.dim_leads as l on lb.lead_id = l.Id "
            "left join marts.dim_rep_snapshots as r on r.snapshot_month = p.snapshot_month and r.RepCRD = lb.crd")
    df = df.set_index("lead_id").reindex(pd.Series(lead_ids).astype(str).to_numpy())
    contacted = pd.to_datetime(df.pop("contacted_at"), utc=True)
    created = pd.to_datetime(df.pop("created_at"), utc=True)
    df["contact_weekday"] = contacted.dt.day_of_week.astype(float)
    df["contact_hour"] = contacted.dt.hour.astype(float)
    df["lead_age_days"] = (contacted - created).dt.total_seconds() / 86400
    for c in df.columns:
        if df[c].dtype == bool or str(df[c].dtype) == "boolean":
            df[c] = df[c].astype(float)
        elif not pd.api.types.is_numeric_dtype(df[c]):
            df[c] = df[c].astype("string")
    return df.reset_index(drop=True)


def as_categories(train: pd.DataFrame, test: pd.DataFrame, max_levels: int = 254):
    """Text columns as pandas categories with the training levels (frequency rank as a number above
    ``max_levels``, which HGB cannot bin)."""
    tr, te = train.copy(), test.copy()
    for c in train.columns:
        if pd.api.types.is_string_dtype(train[c]):
            levels = list(train[c].dropna().value_counts().index)
            if len(levels) <= max_levels:
                tr[c] = pd.Categorical(train[c], categories=levels)
                te[c] = pd.Categorical(test[c].where(test[c].isin(levels)), categories=levels)
            else:
                rank = {k: i for i, k in enumerate(levels)}
                tr[c], te[c] = train[c].map(rank).astype(float), test[c].map(rank).astype(float)
    return tr, te


def hgb_defaults(Xtr, ytr, Xte) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    a, b = as_categories(Xtr, Xte)
    keep = [c for c in a.columns if a[c].notna().any()]
    return HistGradientBoostingClassifier(random_state=42).fit(a[keep], ytr).predict_proba(b[keep])[:, 1]


def flaml_automl(Xtr, ytr, Xte, seconds: float) -> tuple[np.ndarray, str]:
    from flaml import AutoML

    a, b = as_categories(Xtr, Xte, max_levels=10_000)
    automl = AutoML()
    automl.fit(a, ytr, task="classification", metric="ap", time_budget=max(int(seconds), 30), seed=42, verbose=0,
               n_jobs=2, estimator_list=["lgbm", "xgboost", "rf", "extra_tree", "lrl1"])
    return automl.predict_proba(b)[:, 1], f"{automl.best_estimator} {json.dumps(automl.best_config)}"


def run_family(root: Path, family: str, test_from: str, budget: float) -> dict:
    data, truth_csv = ensure_data(root, family)
    settings, wh = open_data_dir(data)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "backtest.csv"
        bt = backtest(wh, settings, test_from, str(out), budget)
        engine_seconds = time.perf_counter() - started
        scores = pd.read_csv(out, dtype={"lead_id": str})
    rows = backtest_frames(wh, settings, parse_as_of(test_from))
    train_ids, test_ids = rows.train.ids.astype(str), rows.test.ids.astype(str)
    assert list(test_ids) == list(scores.lead_id), "peers must score the engine's test leads"
    raw_tr, raw_te = raw_columns(wh, train_ids), raw_columns(wh, test_ids)
    y_tr, y = rows.train.y, scores.label.to_numpy()
    t0 = time.perf_counter()
    hgb = hgb_defaults(raw_tr, y_tr, raw_te)
    hgb_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    fl, fl_best = flaml_automl(raw_tr, y_tr, raw_te, engine_seconds)
    fl_seconds = time.perf_counter() - t0
    q = truth_probabilities(truth_csv, scores.lead_id)
    rankings = {"engine": scores.score.to_numpy(), "HGB defaults": hgb, "FLAML": fl, "ceiling": q}
    expected = expected_auc_pr(q, rankings, draws=300)
    out = {"family": family, "train_n": len(y_tr), "train_positives": int(y_tr.sum()), "test_n": len(y),
           "test_positives": int(y.sum()), "model_chosen": bt["model_chosen"], "engine_seconds": round(engine_seconds),
           "hgb_seconds": round(hgb_seconds), "flaml_seconds": round(fl_seconds), "flaml_best": fl_best, "models": {}}
    for name, p in rankings.items():
        out["models"][name] = {"auc_pr": metrics.auc_pr(y, p), "expected_auc_pr": expected[name],
                               "x_ceiling": expected[name] / expected["ceiling"],
                               "top_decile_lift": metrics.summary(y, p)["top_decile_lift"], "ece": metrics.ece(y, p)}
    return out


def print_family(r: dict) -> None:
    print(f"\n## {r['family']}: trained on {r['train_n']:,} leads ({r['train_positives']:,} positive), tested on "
          f"{r['test_n']:,} ({r['test_positives']:,} positive); engine chose {r['model_chosen']} "
          f"({r['engine_seconds']} s), FLAML {r['flaml_seconds']} s: {r['flaml_best'][:120]}")
    print(f"{'ranking':<16}{'AUC-PR':>8}{'E[AUC-PR]':>11}{'x ceiling':>11}{'top-10% lift':>14}{'ECE':>8}")
    for name, m in r["models"].items():
        print(f"{name:<16}{m['auc_pr']:>8.4f}{m['expected_auc_pr']:>11.4f}{m['x_ceiling']:>11.3f}"
              f"{m['top_decile_lift']:>14.2f}{m['ece']:>8.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", default="all", choices=("all",) + FAMILIES)
    ap.add_argument("--root", default=str(ROOT_DIR / "data" / "bench"))
    ap.add_argument("--test-from", default="2025-06-01")
    ap.add_argument("--budget-minutes", type=float, default=5.0)
    ap.add_argument("--train-speed", action="store_true", help="also time a full `train` on the first family")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    args = ap.parse_args()
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    results = []
    for family in (FAMILIES if args.truth == "all" else (args.truth,)):
        results.append(run_family(root, family, args.test_from, args.budget_minutes))
        print_family(results[-1])
        sys.stdout.flush()
    print("\n## Summary: expected AUC-PR over redrawn outcomes, as a share of the ceiling")
    print(f"{'family':<14}{'engine':>8}{'HGB':>8}{'FLAML':>8}{'engine ECE':>12}  verdict")
    for r in results:
        m = r["models"]
        peer = max(m["HGB defaults"]["expected_auc_pr"], m["FLAML"]["expected_auc_pr"])
        ok = m["engine"]["expected_auc_pr"] >= peer and m["engine"]["ece"] <= 0.01
        print(f"{r['family']:<14}{m['engine']['x_ceiling']:>8.3f}{m['HGB defaults']['x_ceiling']:>8.3f}"
              f"{m['FLAML']['x_ceiling']:>8.3f}{m['engine']['ece']:>12.4f}  {'PASS' if ok else 'MISS'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))
    if args.train_speed:
        settings, wh = open_data_dir(ensure_data(root, results[0]["family"])[0])
        started = time.perf_counter()
        result = train(wh, settings, args.budget_minutes)
        total = time.perf_counter() - started
        print(f"\nSpeed — full train ({results[0]['family']}):")
        for stage, seconds in result.timings.items():
            print(f"  {stage:<26}{seconds:>8.1f} s")
        print(f"  {'wall total':<26}{total:>8.1f} s  (target <= 600 s: {'PASS' if total <= 600 else 'MISS'})")


if __name__ == "__main__":
    main()
