"""The ``experiment`` and ``load-activities`` verbs (cli.md), kept out of core.cli's long dispatcher."""

from __future__ import annotations

import argparse
import json

from core.errors import LeadScoringError
from core.export import markdown_table


def add_parsers(sub) -> None:
    la = sub.add_parser("load-activities", help="load a Salesforce Task export (call activity): dials per lead")
    la.add_argument("file", nargs="?")
    la.add_argument("--from-salesforce", action="store_true", help="live SOQL pull of Tasks (needs Salesforce configured)")
    la.add_argument("--json", action="store_true")

    ex = sub.add_parser("experiment", help="design, assign and read out randomised experiments (spec §8)")
    es = ex.add_subparsers(dest="exp_verb", required=True)
    c = es.add_parser("create", help="design an experiment: power, strata, split; leads are assigned by the daily run")
    c.add_argument("name")
    c.add_argument("--start", required=True, help="first contact date that enters the experiment (YYYY-MM-DD)")
    c.add_argument("--end", help="last contact date (exclusive); default: the power analysis's duration, >= 4 weeks")
    c.add_argument("--split", type=float, default=0.5, help="treatment share, strictly between 0 and 1")
    c.add_argument("--strata", default="aum_tier,completeness,metro")
    c.add_argument("--arms", default="control,treatment", help="two arms, control first")
    c.add_argument("--hidden-arms", default=None, help="arms whose Salesforce score fields stay blank (default: control)")
    c.add_argument("--mde", type=float, default=0.2, help="minimum detectable relative lift (0.2 = +20%%)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--rollout", metavar="MODEL_ID", help="a gradual rollout of this shadowed challenger: arms "
                   "champion,challenger; the challenger arm sees the challenger's scores (start at --split 0.1)")
    c.add_argument("--json", action="store_true")
    ls = es.add_parser("list")
    ls.add_argument("--json", action="store_true")
    st = es.add_parser("stop")
    st.add_argument("name")
    ro = es.add_parser("rollout", help="change the treatment share of new assignments (10%% -> 50%% -> 100%%)")
    ro.add_argument("name")
    ro.add_argument("--split", type=float, required=True)
    a = es.add_parser("assign", help="assign newly scored leads now (the daily run does this)")
    a.add_argument("--json", action="store_true")
    pw = es.add_parser("power", help="sample size and weeks needed at the current lead volume")
    pw.add_argument("--mde", type=float, default=0.2)
    pw.add_argument("--split", type=float, default=0.5)
    pw.add_argument("--strata", default="aum_tier,completeness,metro")
    pw.add_argument("--json", action="store_true")
    rd = es.add_parser("readout", help="readout of an engine experiment or of one tagged in Experimentation_Tag__c")
    rd.add_argument("name")
    rd.add_argument("--as-of")
    rd.add_argument("--json", action="store_true")
    rd.add_argument("--out", help="also write the readout: .md for Markdown, .csv for the tables")
    aa = es.add_parser("aa-test", help="repeated random A/A splits of past matured leads through the full readout")
    aa.add_argument("--from", dest="date_from", required=True)
    aa.add_argument("--to", dest="date_to", required=True)
    aa.add_argument("--sims", type=int, default=1000)
    aa.add_argument("--seed", type=int, default=0)
    aa.add_argument("--lift", type=float, default=0.0, help="plant this relative lift: a power simulation instead")
    aa.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, wh, settings, progress) -> int:
    """Each verb is one small function returning the text to print (JSON with --json)."""
    if args.verb == "load-activities":
        print(_load_activities(args, wh, settings, progress))
        return 0
    verb = VERBS.get(args.exp_verb)
    if verb is None:
        raise LeadScoringError(f"unknown experiment verb {args.exp_verb}")
    print(verb(args, wh, settings))
    return 0


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, default=str)


def _load_activities(args, wh, settings, progress) -> str:
    if args.from_salesforce:
        if args.file:
            raise LeadScoringError("load-activities takes a FILE or --from-salesforce, not both.")
        from core.salesforce.pull import pull_activities

        result = pull_activities(wh, settings, progress=progress)
    else:
        if not args.file:
            raise LeadScoringError("load-activities needs a FILE (a Salesforce Task export) or --from-salesforce.")
        from core.ingest.activities import load_activity_file

        result = load_activity_file(wh, settings, args.file, progress=progress)
    if not args.json:
        return result.markdown()
    return _dump({"load_id": result.load_id, "rows_read": result.rows_read, "rows_loaded": result.rows_loaded,
                  "rows_quarantined": result.rows_quarantined, **result.summary})


def _create(args, wh, settings) -> str:
    from core.experiments import design as D  # statsmodels: only when a verb needs it

    d = D.create_experiment(wh, settings, args.name, args.start, split=args.split, strata=args.strata,
                            arms=args.arms, mde=args.mde, hidden_arms=args.hidden_arms, seed=args.seed,
                            end=args.end, challenger=args.rollout)
    if args.json:
        return _dump({"name": d.name, "arms": list(d.arms), "split": d.split, "hidden_arms": list(d.hidden_arms),
                      "strata": list(d.strata), "start": d.start_at.isoformat(),
                      "planned_end": d.planned_end_at.isoformat(), "planned_leads": d.planned_leads, "power": d.power})
    blocking = "blocked by " + ", ".join(d.strata) if d.strata else "in blocks of contact order (no strata)"
    return (f"Created {d.name}: {', '.join(d.arms)} at {1 - d.split:.0%}/{d.split:.0%}, {blocking}; from "
            f"{d.start_at:%Y-%m-%d} to {d.planned_end_at:%Y-%m-%d} (about {d.planned_leads:,} leads). The daily run "
            "assigns leads as they are scored.")


def _list(args, wh, settings) -> str:
    from core.experiments import design as D

    exps = D.list_experiments(wh)
    if args.json:
        return exps.to_json(orient="records", date_format="iso")
    return "No experiments yet." if exps.empty else \
        markdown_table(exps[["name", "source", "status", "arms", "leads", "start_at", "planned_end_at"]])


def _stop(args, wh, settings) -> str:
    from core.experiments import design as D

    d = D.stop_experiment(wh, args.name)
    return f"Stopped {d.name}: no new leads are assigned; hidden arms see scores again from the next push."


def _rollout(args, wh, settings) -> str:
    from core.experiments import design as D

    d = D.set_split(wh, args.name, args.split)
    return f"{d.name}: new leads now go {d.split:.0%} to {d.arms[1]}; assigned leads keep their arm."


def _assign(args, wh, settings) -> str:
    from core.experiments.assign import assign_new_leads

    out = assign_new_leads(wh, settings)
    if args.json:
        return json.dumps(out)
    return "No running experiment." if not out else "; ".join(f"{k}: {n:,} leads assigned" for k, n in out.items())


def _power(args, wh, settings) -> str:
    from core.experiments import design as D

    from core.experiments.units import check_strata

    p = D.power_analysis(wh, settings, mde=args.mde, split=args.split, strata=check_strata(args.strata))
    if args.json:
        return json.dumps(p.as_dict(), indent=2)
    return (f"Primary KPI {p.primary_metric} at {p.baseline:.3f}; to detect {p.mde:+.0%} with {p.power:.0%} power "
            f"(alpha {p.alpha}):\n- simple randomisation: {p.leads_simple:,} leads ({p.weeks_simple:.1f} weeks)\n"
            f"- blocked by strata: {p.leads_blocked:,} leads ({p.weeks_blocked:.1f} weeks)\n"
            f"- blocked + score adjustment: {p.leads_adjusted:,} leads ({p.weeks_adjusted:.1f} weeks)\n"
            f"Planned duration {p.planned_weeks:.0f} weeks at {p.weekly_leads:,.0f} contacted leads a week."
            + "".join(f"\n- {n}" for n in p.notes))


def _readout(args, wh, settings) -> str:
    from core.experiments.readout import readout
    from core.features.build import parse_as_of

    r = readout(wh, settings, args.name, parse_as_of(args.as_of) if args.as_of else None)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(r.csv() if str(args.out).lower().endswith(".csv") else r.markdown())
    return _dump(r.as_json()) if args.json else r.markdown()


def _aa_test(args, wh, settings) -> str:
    from core.experiments.aa import aa_test, power_simulation

    res = (power_simulation(wh, settings, args.date_from, args.date_to, args.lift, args.sims, args.seed)
           if args.lift else aa_test(wh, settings, args.date_from, args.date_to, args.sims, args.seed))
    j = res.as_json()
    return json.dumps(j, indent=2) if args.json else "\n".join(f"{k}: {val}" for k, val in j.items())


VERBS = {"create": _create, "list": _list, "stop": _stop, "rollout": _rollout, "assign": _assign, "power": _power,
         "readout": _readout, "aa-test": _aa_test}
