"""`python -m core [--db PATH] [--config PATH] VERB ...` — the cron-able face of the engine.

Exit codes (shared/contract/cli.md): 0 success; 2 a user-caused problem, explained in one paragraph
without a traceback; 1 an internal failure.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from core.errors import LeadScoringError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description="Lead scoring engine for RevOps teams.")
    p.add_argument("--db", help="DuckDB warehouse file (default: the one named in the config, under data/)")
    p.add_argument("--config", help="TOML config file (default: ./leadscore.toml when present)")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    _data_verbs(sub)
    _feature_verbs(sub)
    _model_verbs(sub)
    _run_verbs(sub)
    sub.add_parser("status", help="what the warehouse holds (loads, months, reports)")
    from core.experiments.cli import add_parsers

    add_parsers(sub)
    return p


def _data_verbs(sub) -> None:
    """Demo data, loads, reconciliation, users."""
    d = sub.add_parser("demo-data", help="write realistic demo exports per shared/contract plus a truth file")
    d.add_argument("outdir")
    d.add_argument("--scale", choices=["small", "full", "3x", "10x"], default="small",
                   help="small (first start), full (the spec's volumes), 3x or 10x (a larger firm, for bench_scale)")
    d.add_argument("--history-months", type=int, default=None,
                   help="monthly territory snapshots to write (default 19 small, 13 otherwise)")
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--truth", choices=["additive", "interactions", "thresholds", "long-tail"], default="additive",
                   help="shape of the hidden outcome model (see truth/GENERATIVE_MODEL.md)")

    t = sub.add_parser("load-territories", help="monthly MarketPro load (atomic replace, snapshot kept)")
    t.add_argument("files", nargs="+", help="one month's files; files of several months (as their names date "
                                             "them) are loaded month by month, oldest first")
    t.add_argument("--month", help="YYYY-MM (default: from the file names)")
    t.add_argument("--territory", help="T1/T2/T3 for a single file whose name does not say")
    t.add_argument("--json", action="store_true", help="print the row accounting as JSON")

    ld = sub.add_parser("load-leads", help="load a Salesforce Lead export file")
    ld.add_argument("file", nargs="?")
    ld.add_argument("--from-salesforce", action="store_true", help="live pull (needs Salesforce configured)")
    ld.add_argument("--allow-older", action="store_true",
                    help="load an export older than the one loaded (moves labels, scores and tiers back to it)")
    ld.add_argument("--allow-fewer", action="store_true",
                    help="load an export (or pull) lacking 10%% or more of the contacted Leads loaded (they were deleted)")
    ld.add_argument("--json", action="store_true")

    r = sub.add_parser("reconcile", help="reconciliation QA report")
    r.add_argument("--json", action="store_true")
    r.add_argument("--missing-crds", metavar="CSV", help="also write the Salesforce CRDs missing from MarketPro")

    u = sub.add_parser("users", help="manage control-panel users (local users file)")
    usub = u.add_subparsers(dest="users_verb", required=True)
    ua = usub.add_parser("add")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=["admin", "revops", "analyst", "sga_manager"])
    ua.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    usub.add_parser("list")
    ur = usub.add_parser("remove")
    ur.add_argument("username")
    for verb in ("disable", "enable"):
        usub.add_parser(verb).add_argument("username")
    rp = usub.add_parser("reset-password")
    rp.add_argument("username")
    rp.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _feature_verbs(sub) -> None:
    """Features: build, leakage report, training table, catalog, quality."""
    bf = sub.add_parser("build-features", help="labels and point-in-time features")
    bf.add_argument("--as-of", help="judge labels as of this time (default: the Lead export time)")
    lk = sub.add_parser("leakage-report", help="point-in-time and blocked-field report")
    lk.add_argument("--json", action="store_true")
    et = sub.add_parser("export-training-table", help="the training table as CSV")
    et.add_argument("path")
    fc = sub.add_parser("feature-catalog", help="write the feature catalog as Markdown")
    fc.add_argument("--out", default="docs/feature_catalog.md")
    sq = sub.add_parser("feature-quality", help="per-feature scorecard and class-imbalance summary")
    sq.add_argument("--json", action="store_true")


def _model_verbs(sub) -> None:
    """Training, first start, backtest, the registry, shadow, monitoring."""
    tr = sub.add_parser("train", help="selection, imbalance comparison, tuning, calibration, evaluation, registry")
    tr.add_argument("--budget-minutes", type=float, default=None)
    tr.add_argument("--promote", action="store_true", help="make it champion when every gate passes")
    tr.add_argument("--quick", action="store_true",
                    help="the first-start recipe: no SMOTE comparison, tuning or pruning (a minute on the small demo)")
    ds = sub.add_parser("demo-start", help="what the control panel's first start does, headless: small demo data "
                                           "generated and loaded, a quick champion trained and promoted, leads scored")
    ds.add_argument("--json", action="store_true")
    bt = sub.add_parser("backtest", help="train on what was known before DATE, score leads contacted on/after it")
    bt.add_argument("--test-from", required=True)
    bt.add_argument("--out", required=True)
    bt.add_argument("--budget-minutes", type=float, default=None)
    md = sub.add_parser("models", help="model registry")
    msub = md.add_subparsers(dest="models_verb", required=True)
    msub.add_parser("list")
    mp = msub.add_parser("promote")
    mp.add_argument("model_id")
    mp.add_argument("--force", action="store_true")
    mp.add_argument("--reason", default="")
    msub.add_parser("rollback")
    msh = msub.add_parser("shadow", help="score a challenger beside the champion in every daily run (never sent)")
    msh.add_argument("model_id", nargs="?")
    msh.add_argument("--stop", action="store_true")
    mc = msub.add_parser("compare", help="champion vs the shadowed challenger on leads matured since the shadow began")
    mc.add_argument("--json", action="store_true")
    mc.add_argument("--promote", action="store_true", help="promote the challenger if it passes the shadow gate")
    mr = msub.add_parser("recalibrate", help="refit the champion's calibration on the newest matured leads (spec "
                                             "§9.3 step 3); registered as a new version when it beats the current one")
    mr.add_argument("--days", type=int, default=30, help="matured leads contacted in this many days (7-365)")
    mr.add_argument("--json", action="store_true")

    mo = sub.add_parser("monitor", help="drift, matured-label performance, feed health and alerts (stored)")
    mo.add_argument("--as-of")
    mo.add_argument("--json", action="store_true")
    mo.add_argument("--acknowledge", metavar="ALERT_KEY", help="acknowledge one alert (kind|subject, as listed)")
    ad = sub.add_parser("adoption", help="are the call lists worked in score order: follow-up dials by score band, per SGA")
    ad.add_argument("--days", type=int, default=7, help="a follow-up dial within this many days of the list (1-30)")
    ad.add_argument("--json", action="store_true")
    le = sub.add_parser("lead", help="one lead's story: where its outcome window stands, every scoring day (tier, "
                                     "rank, probability, model, reasons) and why its tier changed")
    le.add_argument("lead_id", metavar="ID", help="the Lead's 15- or 18-character Id, or its record's address")
    le.add_argument("--json", action="store_true")


def _run_verbs(sub) -> None:
    """Scoring, the daily run, Salesforce write-back, status and the local stand-in."""
    sc = sub.add_parser("score", help="score open contacted leads with the champion: tiers and drivers")
    sc.add_argument("--as-of")
    sc.add_argument("--out", help="write the scores as CSV (cli.md columns)")
    sc.add_argument("--full", action="store_true", help="recompute every lead (default: only new or changed leads)")
    rd = sub.add_parser("run-daily", help="leads -> features -> score -> tiers (-> write-back when configured)")
    rd.add_argument("--leads", help="a fresh Salesforce Lead export to load first (default: a Salesforce pull when "
                    "configured)")

    ps = sub.add_parser("push-scores", help="Salesforce write-back of changed scores (Bulk API 2.0)")
    ps.add_argument("--dry-run", metavar="CSV", help="write exactly the rows and columns that would be sent; send nothing")
    ps.add_argument("--retry-failed", action="store_true", help="send only the rows in the open failure ledger")
    ps.add_argument("--json", action="store_true")
    sfs = sub.add_parser("sf-status", help="Salesforce connection check (never prints secrets)")
    sfs.add_argument("--org", action="store_true", help="also check each mapped write-back field (exists, updateable) "
                     "and the daily API allowance")
    sfs.add_argument("--json", action="store_true")
    st_ = sub.add_parser("sf-standin", help="run the local HTTPS Salesforce stand-in for demos (Ctrl-C stops it)")
    st_.add_argument("--seed", required=True, help="a contract-format Salesforce Lead file to serve")
    st_.add_argument("--tasks", help="a contract-format Salesforce Task file to serve too (default: salesforce_tasks.csv "
                     "beside the Lead file, when there is one)")
    st_.add_argument("--port", type=int, default=8443)
    st_.add_argument("--page-size", type=int, default=2000)
    st_.add_argument("--lock-rate", type=float, default=0.0, help="share of Leads whose first update hits UNABLE_TO_LOCK_ROW")
    st_.add_argument("--slow-job-seconds", type=float, default=0.0)
    st_.add_argument("--workdir", help="where the certificate is written (default: a temporary folder)")

def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def _demo_data(args, settings) -> int:
    from core.demo import generate

    summary = generate(args.outdir, args.scale, args.seed, progress=_progress, truth=args.truth,
                       history=args.history_months)
    print(json.dumps(summary, indent=2))
    return 0


def _users(args, settings) -> int:
    from core.auth import UserStore

    from core import users as user_admin
    from core.warehouse import open_warehouse

    store = UserStore(settings.users_path)
    if args.users_verb == "list":
        for row in store.table():
            print(f"{row['user']}\t{row['role']}" + ("\tdisabled" if row["disabled"] else ""))
        return 0
    wh = open_warehouse(settings)  # every change is audited, from the command line too
    if args.users_verb == "remove":
        print(user_admin.remove_user(store, wh, args.username))
    elif args.users_verb in ("disable", "enable"):
        print(user_admin.set_disabled(store, wh, args.username, args.users_verb == "disable"))
    else:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
        if args.users_verb == "reset-password":
            print(user_admin.reset_password(store, wh, args.username, password))
        else:
            print(user_admin.save_user(store, wh, args.username, password, args.role))
    return 0


def _sf_standin(args, settings) -> int:
    return _serve_standin(args)


def _sf_status(args, settings) -> int:
    from core.salesforce.status import connection_status

    status = connection_status(settings, org=args.org)
    if args.json:
        print(json.dumps(status.to_json(), indent=2, default=str))
        return 0
    if not status.configured:
        print("Salesforce is not configured: missing " + "; ".join(status.missing))
        return 0
    print(f"Connected to {status.instance} ({status.auth_method}) in {status.seconds} s: "
          f"{status.contacted_leads:,} contacted Leads.")
    if status.fields:
        print(f"Daily API requests left: {status.api_remaining:,} of {status.api_max:,} "
              f"({status.api_floor:,} kept for other integrations).")
        for f in status.fields:
            state = "ok" if f.exists and f.updateable else "not updateable by this user" if f.exists else "missing"
            print(f"  {f.field} → {f.api_name}: {state}")
        print(status.call_activity)
    return 0


def _feature_catalog(args, settings) -> int:
    from core.features.catalog import catalog_markdown

    from core.export import write_text_file

    out = write_text_file(catalog_markdown(), args.out, "--out")
    print(f"wrote {out}")
    return 0


def _build_features(args, settings, wh) -> int:
    from core.features.build import build_features, parse_as_of

    print(build_features(wh, settings, parse_as_of(args.as_of)).markdown())
    return 0


def _leakage_report(args, settings, wh) -> int:
    from core.quality.feature_quality import leakage_report

    report = leakage_report(wh, settings)
    print(json.dumps(report.to_json(), indent=2, default=str) if args.json else report.markdown())
    return 0


def _export_training_table(args, settings, wh) -> int:
    from core.export import output_path, write_csv
    from core.features.build import training_table

    output_path(args.path, "export-training-table PATH")
    table = training_table(wh)
    write_csv(table, args.path, "export-training-table PATH")
    print(f"wrote {len(table):,} rows x {table.shape[1] - 3} features to {args.path}")
    return 0


def _feature_quality(args, settings, wh) -> int:
    from core.features.build import META_COLUMNS, feature_matrix
    from core.quality.feature_quality import class_summary, scorecard

    df = feature_matrix(wh)
    card = scorecard(df, [c for c in df.columns if c not in META_COLUMNS])
    summary = class_summary(df)
    if args.json:
        print(json.dumps({"class_summary": summary, "scorecard": card.to_dict(orient="records")},
                         indent=2, default=str))
    else:
        print(json.dumps({k: v for k, v in summary.items() if not k.startswith("by_")}, indent=2))
        print(card.to_string(index=False))
    return 0


def _load_territories(args, settings, wh) -> int:
    from core.ingest.territories import load_territory_files, load_territory_months, spanned_months

    if not args.month and not args.territory and len(spanned_months(args.files)) > 1:
        # files dated to several months by their names: each month on its own, oldest first
        results = load_territory_months(wh, settings, args.files, progress=_progress)
        print(json.dumps({"months": [_load_json(r) for r in results]}, indent=2) if args.json else
              "\n\n".join(f"## {r.summary['snapshot_month']}\n{r.markdown()}" for r in results))
        return 0
    result = load_territory_files(wh, settings, args.files, args.month, args.territory, progress=_progress)
    print(json.dumps(_load_json(result), indent=2) if args.json else result.markdown())
    return 0


def _load_leads(args, settings, wh) -> int:
    if args.from_salesforce:
        if args.file:
            raise LeadScoringError("load-leads takes a FILE or --from-salesforce, not both.")
        from core.salesforce.pull import pull_leads

        result = pull_leads(wh, settings, progress=_progress, allow_fewer=args.allow_fewer)
        print(json.dumps(_load_json(result), indent=2) if args.json else result.markdown())
        return 0
    if not args.file:
        raise LeadScoringError("load-leads needs a FILE (a Salesforce Lead export) or --from-salesforce.")
    from core.ingest.leads import load_lead_file

    result = load_lead_file(wh, settings, args.file, progress=_progress, allow_older=args.allow_older,
                            allow_fewer=args.allow_fewer)
    print(json.dumps(_load_json(result), indent=2) if args.json else result.markdown())
    return 0


def _reconcile(args, settings, wh) -> int:
    from core.export import output_path, write_csv
    from core.quality.reconcile import missing_crds, reconcile, to_markdown

    if args.missing_crds:
        output_path(args.missing_crds, "--missing-crds")
    report = reconcile(wh, settings)
    if args.missing_crds:
        write_csv(missing_crds(wh), args.missing_crds, "--missing-crds")
    print(json.dumps(report.to_json(), indent=2, default=str) if args.json else to_markdown(report))
    return 0


def _train(args, settings, wh) -> int:
    from core.modeling.train import train

    result = train(wh, settings, args.budget_minutes, args.promote, progress=_progress, quick=args.quick)
    print(result.report)
    print(f"model {result.model_id}: gates {'PASSED' if result.gates_passed else 'FAILED'}"
          + ("; promoted to champion" if result.promoted else ""))
    return 0


def _demo_start(args, settings, wh) -> int:
    from core.pipeline import bootstrap_demo, has_data

    if has_data(wh):
        raise LeadScoringError(f"The warehouse {settings.warehouse_path.name} already holds data: demo-start only runs "
                               "on an empty one (pass --db with a new file, or LEADSCORE_DATA_DIR=a new folder).")
    started = bootstrap_demo(wh, settings, progress=_progress)
    print(json.dumps(started.to_json(), indent=2) if args.json else
          f"Demo data loaded; champion {started.champion} trained in {started.train_seconds} s and promoted; "
          "leads scored. Open the control panel: .venv/bin/streamlit run app.py")
    return 0


def _backtest(args, settings, wh) -> int:
    from core.export import output_path
    from core.modeling.backtest import backtest

    output_path(args.out, "--out")
    result = backtest(wh, settings, args.test_from, args.out, args.budget_minutes, progress=_progress)
    print(result["markdown"])
    return 0


def _models(args, settings, wh) -> int:
    from core.modeling import registry

    if args.models_verb == "list":
        df = registry.list_models(wh)
        for r in df.itertuples():
            ap = r.test_auc_pr
            print(f"{r.model_id}\t{r.kind}\t{'champion' if r.is_champion else '':8}\tgates "
                  f"{'pass' if r.gates_passed else 'FAIL'}\tAUC-PR {ap if ap is None else round(ap, 4)}\t{r.created_at}")
        if df.empty:
            print("no models yet: run `python -m core train`")
    elif args.models_verb == "promote":
        previous = registry.promote(wh, args.model_id, force=args.force, reason=args.reason)
        print(f"{args.model_id} is now champion (was {previous})")
    elif args.models_verb == "shadow":
        from core.monitoring import shadow

        if args.stop:
            print(f"stopped shadowing {shadow.stop_shadow(wh)}")
        elif not args.model_id:
            raise LeadScoringError("models shadow: name the challenger (`models shadow MODEL_ID`) or pass --stop.")
        else:
            started = shadow.start_shadow(wh, args.model_id)
            print(f"{started.model_id} now scores in shadow beside the champion in every daily run "
                  "(stored in ml.shadow_scores, never written to Salesforce)")
    elif args.models_verb == "compare":
        from core.monitoring import shadow

        if args.promote:
            print(f"{shadow.promote_challenger(wh, settings)} passed the shadow gate and is now champion")
            return 0
        result = shadow.compare(wh, settings)
        if args.json:
            print(json.dumps(result.to_json(), indent=2, default=str))
        else:
            print(result.markdown())
    elif args.models_verb == "recalibrate":
        from core.modeling.recalibrate import recalibrate

        result = recalibrate(wh, settings, args.days)
        print(json.dumps(result.to_json(), indent=2, default=str) if args.json else result.markdown())
    else:
        print(f"rolled back: {registry.rollback(wh)} is champion again")
    return 0


def _monitor(args, settings, wh) -> int:
    from core.features.build import parse_as_of
    from core.monitoring.monitor import run_monitor, summary_markdown
    from core.monitoring.store import acknowledge

    if args.acknowledge:
        acknowledge(wh, args.acknowledge)
        print(f"acknowledged {args.acknowledge}")
        return 0
    result = run_monitor(wh, settings, parse_as_of(args.as_of), progress=_progress, notify=True)
    print(json.dumps(result.to_json(), indent=2, default=str) if args.json else summary_markdown(result))
    return 0


def _adoption(args, settings, wh) -> int:
    from core.monitoring.adoption import adoption

    a = adoption(wh, args.days)
    if args.json:
        print(json.dumps(a.to_json(), indent=2, default=str))
    else:
        print(a.markdown())
    return 0


def _lead(args, settings, wh) -> int:
    from core.scoring.lead_history import lead_history

    story = lead_history(wh, settings, args.lead_id)
    print(json.dumps(story.to_json(), indent=2, default=str) if args.json else story.markdown())
    return 0


def _experiment(args, settings, wh) -> int:
    from core.experiments.cli import run as run_experiment

    return run_experiment(args, wh, settings, _progress)


def _score(args, settings, wh) -> int:
    from core.export import output_path, write_csv
    from core.features.build import parse_as_of
    from core.scoring.score import SCORE_COLUMNS, score_leads, statuses_that_read_closed

    if args.out:
        output_path(args.out, "--out")  # before scoring: a bad path is said at once
    run, scores = score_leads(wh, settings, parse_as_of(args.as_of), full=args.full)
    if args.out:
        write_csv(scores[SCORE_COLUMNS], args.out, "--out")
    print(run.markdown())
    if closed := statuses_that_read_closed(wh, settings):
        print(f"Warning: {closed}")
    return 0


def _run_daily(args, settings, wh) -> int:
    from core.daily import run_daily

    result = run_daily(wh, settings, args.leads, progress=_progress)
    print(json.dumps(result.to_json(), indent=2, default=str))
    return 0


def _push_scores(args, settings, wh) -> int:
    from dataclasses import asdict

    from core.export import output_path
    from core.salesforce.push import push_scores

    if args.dry_run:
        output_path(args.dry_run, "--dry-run")  # a bad path is said before anything is computed or audited
    result = push_scores(wh, settings, dry_run=args.dry_run, retry_failed=args.retry_failed, progress=_progress)
    print(json.dumps(asdict(result), indent=2, default=str) if args.json else result.markdown())
    return 0


def _status(args, settings, wh) -> int:
    from core.pipeline import pipeline_state

    print(json.dumps(pipeline_state(wh).to_json(), indent=2, default=str))
    return 0


# Verb -> handler (the parser's subcommands; each handler returns the exit code).
WITHOUT_WAREHOUSE = {
    "demo-data": _demo_data,
    "users": _users,
    "sf-standin": _sf_standin,
    "sf-status": _sf_status,
    "feature-catalog": _feature_catalog,
}
WITH_WAREHOUSE = {
    "build-features": _build_features,
    "leakage-report": _leakage_report,
    "export-training-table": _export_training_table,
    "feature-quality": _feature_quality,
    "load-territories": _load_territories,
    "load-leads": _load_leads,
    "reconcile": _reconcile,
    "train": _train,
    "demo-start": _demo_start,
    "backtest": _backtest,
    "models": _models,
    "monitor": _monitor,
    "adoption": _adoption,
    "lead": _lead,
    "experiment": _experiment,
    "load-activities": _experiment,
    "score": _score,
    "run-daily": _run_daily,
    "push-scores": _push_scores,
    "status": _status,
}


def run(args: argparse.Namespace) -> int:
    from core.config import load_settings

    settings = load_settings(args.config, args.db)
    if args.verb in WITHOUT_WAREHOUSE:
        return WITHOUT_WAREHOUSE[args.verb](args, settings)
    from core.warehouse import open_warehouse

    handler = WITH_WAREHOUSE[args.verb]
    return handler(args, settings, open_warehouse(settings))


def _serve_standin(args) -> int:
    import signal
    import threading

    from core.salesforce.standin import SalesforceStandin

    if not Path(args.seed).exists():
        raise LeadScoringError(f"--seed {args.seed}: no such file. Pass a Salesforce Lead export (e.g. from demo-data).")
    # the daily run pulls the call activity after the Leads: a stand-in without Tasks made it fail every day
    tasks = Path(args.tasks) if args.tasks else Path(args.seed).with_name("salesforce_tasks.csv")
    if args.tasks and not tasks.exists():
        raise LeadScoringError(f"--tasks {args.tasks}: no such file. Pass a Salesforce Task export (e.g. from demo-data).")
    # Ctrl-C (SIGINT) and SIGTERM both stop it cleanly, even when they arrive during start-up. The handlers
    # are installed explicitly: a process started in the background by a non-interactive shell inherits
    # SIGINT as ignored, and Python then never raises KeyboardInterrupt.
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    standin = None
    try:
        standin = SalesforceStandin(args.seed, port=args.port, page_size=args.page_size, workdir=args.workdir)
        standin.faults.lock_rate = args.lock_rate
        standin.faults.slow_job_seconds = args.slow_job_seconds
        n_tasks = standin.seed_tasks(tasks) if tasks.exists() else 0
        try:
            standin.start()
        except OSError as exc:
            raise LeadScoringError(f"Cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); pick another --port.") from None
        cfg = standin.settings()
        # The stand-in's own throwaway credentials, printed for the demo like any local dev server's.
        print(f"Salesforce stand-in serving {len(standin.leads):,} Leads and {n_tasks:,} Tasks at {standin.url}\n"
              "Point the engine at it (another shell):\n"
              f"  export LEADSCORE_SF_ENABLED=1 LEADSCORE_SF_LOGIN_URL={cfg['login_url']} "
              f"LEADSCORE_SF_USERNAME={cfg['username']}\n"
              f"  export LEADSCORE_SF_PASSWORD='{cfg['password']}' LEADSCORE_SF_TOKEN='{cfg['security_token']}' "
              f"LEADSCORE_SF_CA_BUNDLE={cfg['ca_bundle']}\n"
              "Ctrl-C stops it.", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        if standin is not None:
            standin.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Salesforce stand-in stopped.", flush=True)
    return 0


def _load_json(result) -> dict:
    return {
        "load_id": result.load_id, "kind": result.kind, "seconds": round(result.seconds, 2),
        "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "files": result.files_frame().to_dict(orient="records"), **{k: str(v) for k, v in result.summary.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except LeadScoringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
