"""Benchmark: Salesforce sync at full demo scale against the local HTTPS stand-in, each measure next to its
baseline in the same run.

Usage: python bench/bench_salesforce.py DATA_DIR LEADS_CSV [--tasks TASKS_CSV] [--repeats 3]
DATA_DIR holds the full-scale demo already loaded (it is copied, never modified); LEADS_CSV is the demo's
salesforce_leads.csv, which seeds the stand-in; TASKS_CSV (default: salesforce_tasks.csv beside it) its Tasks.

- pull: `load-leads --from-salesforce` (SOQL, 2,000-row pages, then the file ingestion path) vs loading
  the same Leads from an export file (`load-leads FILE`);
- push: the first full push of every open lead's score; the daily changed-only push when nothing changed
  (vs resending everything, the first push's cost); a fault-injected push (5% lock errors, two 503s, one
  permanent error) with its reconciliation: intended = landed + failure ledger, nothing landed twice;
- Lead pull: the daily incremental pull after a day's changes (1% of contacted Leads edited, 0.5% newly
  contacted, 0.1% deleted) vs the full pull (its baseline), requests and seconds; the two loads are checked equal;
- Task pull: the daily incremental pull after a day's changes (1% of Tasks edited, 1% logged, 0.1% deleted) vs
  the full pull of every Task (its baseline), requests and seconds; the two loads are checked equal.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("leads_csv")
    ap.add_argument("--tasks", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tasks_csv = Path(args.tasks) if args.tasks else Path(args.leads_csv).parent / "salesforce_tasks.csv"

    from core.auth import cli_actor
    from core.config import load_settings, with_overrides
    from core.ingest.leads import load_lead_file
    from core.salesforce.standin import SalesforceStandin
    from core.salesforce.ledger import pending_changes
    from core.salesforce.pull import pull_activities, pull_leads
    from core.salesforce.push import push_scores
    from core.scoring.capacity import set_capacity
    from core.scoring.score import score_leads
    from core.warehouse import open_warehouse

    with tempfile.TemporaryDirectory() as tmp, SalesforceStandin(args.leads_csv) as sf:
        data = Path(tmp) / "data"
        shutil.copytree(args.data_dir, data, ignore=shutil.ignore_patterns("*.lock*"))
        s = with_overrides(load_settings(), data_dir=data, db_path=None,
                           salesforce={**sf.settings(), "poll_seconds": 0.05, "backoff_seconds": 0.05})
        wh = open_warehouse(s)

        def timed(fn):
            t0 = time.perf_counter()
            out = fn()
            return time.perf_counter() - t0, out

        file_t = [timed(lambda: load_lead_file(wh, s, args.leads_csv))[0] for _ in range(args.repeats)]
        pull_t = []
        for _ in range(args.repeats):
            t, load = timed(lambda: pull_leads(wh, s))
            pull_t.append(t)
        pages = sum(1 for m, p, _ in sf.requests if m == "GET" and "/query" in p) // args.repeats
        print(f"pull: {load.rows_read:,} contacted Leads in {pages} pages; median {statistics.median(pull_t):.2f} s "
              f"vs export file (all {sum(1 for _ in sf.leads):,} Leads) {statistics.median(file_t):.2f} s "
              f"({statistics.median(pull_t) / statistics.median(file_t):.2f}x)")

        lead_pulls(wh, s, sf, args.repeats, timed, pull_leads)

        score_leads(wh, s)
        t_full, full = timed(lambda: push_scores(wh, s))
        print(f"first push: {full.succeeded:,} of {full.intended:,} rows landed in {len(full.job_ids)} job(s), "
              f"{t_full:.2f} s ({full.outcome})")
        idle = [timed(lambda: push_scores(wh, s)) for _ in range(args.repeats)]
        print(f"daily push with nothing changed: median {statistics.median(t for t, _ in idle):.2f} s, "
              f"{idle[-1][1].intended} rows sent (baseline, resending everything: {t_full:.2f} s)")

        before = len(sf.applied)
        set_capacity(wh, cli_actor(), sga_count=20, dials_per_day=10)
        score_leads(wh, s)
        changed = pending_changes(wh, s).Id.tolist()
        sf.faults.lock_rate, sf.faults.http_503 = 0.05, 2
        sf.faults.permanent_errors = {changed[0]: "ENTITY_IS_DELETED:entity is deleted:--"}
        t_fault, fault = timed(lambda: push_scores(wh, s))
        landed = [lead for _, lead, _ in sf.applied[before:]]
        ledger = wh.read(f"select count(*) as n from ops.sf_push_failures where sync_id = '{fault.sync_id}'").n.iloc[0]
        print(f"fault-injected push (5% lock errors, 2x 503, 1 deleted Lead): {fault.intended:,} intended = "
              f"{fault.succeeded:,} landed + {int(ledger)} in the failure ledger; landed twice: "
              f"{len(landed) - len(set(landed))}; HTTP retries {fault.retries}; {len(fault.job_ids)} jobs; "
              f"{t_fault:.2f} s ({fault.outcome})")

        if tasks_csv.is_file():
            task_pulls(wh, s, sf, tasks_csv, args.repeats, timed, pull_activities)


def incremental_vs_full(sf, repeats: int, timed, pull, a_day, read, what: str) -> None:
    """The daily incremental pull after a day's changes in the org (``a_day(i, stamp)``) vs the full pull (its
    baseline): seconds and query requests; the incremental load is checked equal to a full pull's (``read``)."""
    import datetime as dt

    import pandas as pd

    from core.salesforce.standin import _sf_timestamp

    queries = lambda: sum(1 for m, p, _ in sf.requests if m == "GET" and "/query" in p)  # noqa: E731
    full_t, incr_t, full_q, incr_q = [], [], [], []
    for i in range(repeats):
        q0 = queries()
        full_t.append(timed(pull)[0])
        full_q.append(queries() - q0)
        a_day(i, _sf_timestamp(dt.datetime.now(dt.timezone.utc).isoformat()))
        q0 = queries()
        incr_t.append(timed(lambda: pull(incremental=True))[0])
        incr_q.append(queries() - q0)
        merged = read()
        pull()  # the full pull of the changed org: the incremental load must equal it
        pd.testing.assert_frame_equal(merged, read())
    ft, it = statistics.median(full_t), statistics.median(incr_t)
    print(f"{what.lower()} pull: full pull (baseline) median {ft:.2f} s, {statistics.median(full_q):.0f} query "
          f"requests; daily incremental pull after a day's changes median {it:.2f} s ({it / ft:.2f}x), "
          f"{statistics.median(incr_q):.0f} query requests; incremental load equal to a full pull's: yes "
          f"({len(merged):,} {what})")


def lead_pulls(wh, s, sf, repeats: int, timed, pull_leads) -> None:
    def a_day(i: int, stamp: str) -> None:  # 1% of the contacted Leads edited, 0.5% newly contacted, 0.1% deleted
        contacted = sorted(k for k, r in sf.leads.items() if r.get("Stage_Entered_Contacting__c") and not r.get("IsDeleted"))
        n, ids = len(contacted), contacted[i::7]
        for lead_id in ids[: n // 100]:
            sf.leads[lead_id].update(Status="Qualified", LastModifiedDate=stamp)
        for k, lead_id in enumerate(ids[n // 100: n // 100 + n // 200]):
            new = dict(sf.leads[lead_id]) | {"Id": f"00QBENCH{i:02d}{k:07d}AA", "CreatedDate": stamp,
                                             "LastModifiedDate": stamp, "FA_CRD__c": None}
            sf.leads[new["Id"]] = new
        for lead_id in ids[n // 100 + n // 200: n // 100 + n // 200 + n // 1000]:
            sf.leads[lead_id].update(IsDeleted=True, LastModifiedDate=stamp)

    cols = "Id, FA_CRD__c, Stage_Entered_Contacting__c, Stage_Entered_Call_Scheduled__c, Owner_Name, IsConverted, Status"
    incremental_vs_full(sf, repeats, timed, lambda **kw: pull_leads(wh, s, **kw), a_day,
                        lambda: wh.read(f"select {cols} from marts.dim_leads order by Id"), "Leads")


def task_pulls(wh, s, sf, tasks_csv: Path, repeats: int, timed, pull_activities) -> None:
    sf.seed_tasks(tasks_csv)

    def a_day(i: int, stamp: str) -> None:  # 1% of the Tasks edited, 1% logged, 0.1% deleted
        ids = sorted(k for k, r in sf.tasks.items() if not r.get("IsDeleted"))
        n, ids = len(ids), ids[i::7]
        for task_id in ids[: n // 100]:
            sf.tasks[task_id].update(CallDisposition="Connected", LastModifiedDate=stamp)
        for k, task_id in enumerate(ids[n // 100: n // 50]):
            new = dict(sf.tasks[task_id]) | {"Id": f"00TBENCH{i:02d}{k:06d}", "CreatedDate": stamp, "LastModifiedDate": stamp}
            sf.tasks[new["Id"]] = new
        for task_id in ids[n // 50: n // 50 + n // 1000]:
            sf.tasks[task_id].update(IsDeleted=True, LastModifiedDate=stamp)

    cols = "task_id, lead_id, created_at, task_subtype, call_disposition, last_modified_at, is_dial"
    incremental_vs_full(sf, repeats, timed, lambda **kw: pull_activities(wh, s, **kw), a_day,
                        lambda: wh.read(f"select {cols} from marts.fact_tasks order by task_id"), "Tasks")


if __name__ == "__main__":
    main()
