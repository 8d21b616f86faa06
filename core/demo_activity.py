"""The demo's call activity and its scripted experiment (kept apart from ``core.demo`` for size).

Every stream here has its own seed, so the leads, the territories and the truth of every lead outside the
experiment are the same as without it.

**Two experiments**, on disjoint leads, each with treatment SGAs calling in model order, which raises each
treated lead's 30-day MQL probability by ``TRUE_LIFT`` (relative); dials per lead follow the same law in both
arms. The true effect on the primary KPI, MQLs per 100 dials, is computed by simulating both potential
outcomes of every lead in the experiment, and written to ``truth/experiment_truth.json``.

- ``scoring-pilot`` (``TAGGED``), run outside the engine: leads contacted in its window are assigned 50/50
  in permuted blocks of 4 within the advisor's true AUM tier, in contact order, and recorded in
  ``Experimentation_Tag__c`` as ``NAME:ARM``.
- ``tiering-pilot`` (``ENGINE``), the engine's own: its arms are exactly the ones the engine's assignment
  gives (``core.experiments.assign.arms_for``, one stratum, positions in contact order over every contacted
  lead of the window), so the first start creates it with the same design and reads it out.

**Dials** (``salesforce_tasks.csv``, contract ``salesforce_task_columns.csv``): the contact itself is a
dial; ``DIALS_MEAN`` more calls follow, spread over 45 days; calls stop once the discovery call is booked.
Mixed in, as in real exports: e-mails, calls logged with a blank ``TaskSubtype`` and ``Type = Call``,
Tasks on Contacts (``003…`` WhoIds, ignored), rows exported twice with an older edit time, two rows
without a Task Id (quarantined).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

EXPERIMENT_ARMS = ("control", "treatment")
TAGGED = {"name": "scoring-pilot", "start": pd.Timestamp("2025-01-06", tz="UTC"),
          "end": pd.Timestamp("2025-05-05", tz="UTC")}  # end exclusive
ENGINE = {"name": "tiering-pilot", "start": pd.Timestamp("2025-06-02", tz="UTC"),
          "end": pd.Timestamp("2025-09-22", tz="UTC"), "seed": 0, "split": 0.5, "strata": ""}
EXPERIMENT = TAGGED["name"]
TRUE_LIFT = 0.6  # relative rise of each treated lead's 30-day MQL probability
DIALS_MEAN = 2.4  # follow-up calls after the contact dial (Poisson), spread over DIAL_SPREAD_DAYS
DIAL_SPREAD_DAYS = 45
WINDOW_DAYS = 30


def aum_tier(aum_millions) -> np.ndarray:
    a = pd.to_numeric(pd.Series(aum_millions), errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(a), "unknown", np.where(a < 100, "lt100", np.where(a < 500, "100-500", "500+")))


def blocked_arms(rng, strata: np.ndarray, order: np.ndarray, block: int = 4) -> np.ndarray:
    """Permuted blocks of ``block`` within each stratum, leads taken in ``order``: 1 = treatment."""
    arms = np.zeros(len(strata), dtype=int)
    for s in np.unique(strata):
        idx = order[strata[order] == s]
        k = int(np.ceil(len(idx) / block))
        blocks = np.concatenate([rng.permutation(np.r_[np.zeros(block // 2), np.ones(block - block // 2)])
                                 for _ in range(k)])
        arms[idx] = blocks[: len(idx)].astype(int)
    return arms


def assign_experiment(seed: int, contact: pd.Series, contacted: np.ndarray, aum_millions,
                      ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per lead: arm (-1 outside both experiments, 0 control, 1 treatment) and experiment (0 tagged, 1 engine)."""
    from core.experiments.assign import arms_for

    arm = np.full(len(contact), -1)
    which = np.full(len(contact), -1)
    c = contact.to_numpy()
    # The tagged experiment: permuted blocks of 4 within the true AUM tier.
    rng = np.random.default_rng(seed + 104_729)
    inside = contacted & (contact >= TAGGED["start"]).to_numpy() & (contact < TAGGED["end"]).to_numpy()
    idx = np.where(inside)[0]
    order = np.argsort(c[idx], kind="stable")
    arm[idx] = blocked_arms(rng, aum_tier(np.asarray(aum_millions)[idx]), order)
    which[idx] = 0
    # The engine's experiment: the engine's own rule (positions by contact second, then lead id).
    inside = contacted & (contact >= ENGINE["start"]).to_numpy() & (contact < ENGINE["end"]).to_numpy()
    idx = np.where(inside)[0]
    key = pd.DataFrame({"t": contact.iloc[idx].dt.floor("s").to_numpy(), "id": ids[idx], "i": idx})
    key = key.sort_values(["t", "id"], kind="stable")
    arm[key["i"].to_numpy()] = arms_for(ENGINE["name"], ENGINE["seed"], "all leads", np.arange(len(key)), ENGINE["split"])
    which[key["i"].to_numpy()] = 1
    return arm, which


def treated_extra_mqls(seed: int, p: np.ndarray, arm: np.ndarray, mql30: np.ndarray) -> np.ndarray:
    """Treated leads who book inside 30 days only because of the treatment (raises p to p·(1+lift))."""
    rng = np.random.default_rng(seed + 130_363)
    p1 = np.minimum(p * (1 + TRUE_LIFT), 0.95)
    flip = (p1 - p) / np.maximum(1 - p, 1e-9)
    return (arm == 1) & ~mql30 & (rng.random(len(p)) < flip)


def apply_treatment(seed: int, p: np.ndarray, arm: np.ndarray, mql30: np.ndarray, late: np.ndarray,
                    mql_at: pd.Series, contact: pd.Series):
    """Treated leads book inside 30 days with probability p·(1+lift): the extra bookings get a booking time,
    stop being late ones, and the truth records each lead's probability in its own arm.
    Returns (mql30, late, mql_at, realised probability)."""
    extra = treated_extra_mqls(seed, p, arm, mql30)
    xrng = np.random.default_rng(seed + 99_991)
    days = xrng.gamma(1.2, 6, len(p)).clip(0.01, 29.9)
    mql_at = mql_at.where(~extra, contact + pd.to_timedelta(days * 86400, unit="s"))
    realised = np.where(arm == 1, np.minimum(p * (1 + TRUE_LIFT), 0.95), p)
    return mql30 | extra, late & ~extra, mql_at, realised


def _dial_days(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per lead, the day offsets of its dials (first is the contact itself): (lead index, day)."""
    k = 1 + rng.poisson(DIALS_MEAN, n)
    who = np.repeat(np.arange(n), k)
    first = np.r_[0, np.cumsum(k)[:-1]]
    day = rng.uniform(0, DIAL_SPREAD_DAYS, len(who))
    day[first] = 0.0
    return who, day


def true_effect(seed: int, p: np.ndarray, arm: np.ndarray, sims: int = 200) -> dict:
    """The experiment's true effect, by simulating both potential outcomes of every lead in it."""
    rng = np.random.default_rng(seed + 7_777)
    idx = np.where(arm >= 0)[0]
    p0 = p[idx]
    p1 = np.minimum(p0 * (1 + TRUE_LIFT), 0.95)
    totals = {0: [0.0, 0.0], 1: [0.0, 0.0]}
    for _ in range(sims):
        u = rng.random(len(idx))
        mql_day = rng.gamma(1.2, 6, len(idx)).clip(0.01, 29.9)
        who, day = _dial_days(rng, len(idx))
        for a, pa in ((0, p0), (1, p1)):
            y = u < pa
            stop = np.where(y, mql_day, WINDOW_DAYS)[who]
            dials = np.bincount(who[(day < WINDOW_DAYS) & (day <= stop)], minlength=len(idx))
            totals[a][0] += y.sum()
            totals[a][1] += dials.sum()
    per100 = {a: 100 * totals[a][0] / totals[a][1] for a in (0, 1)}
    rate = {a: totals[a][0] / (sims * len(idx)) for a in (0, 1)}
    return {
        "mqls_per_100_dials": {"control": round(per100[0], 4), "treatment": round(per100[1], 4)},
        "mql_rate": {"control": round(rate[0], 5), "treatment": round(rate[1], 5)},
        "true_effect_per_100_dials": round(per100[1] / per100[0] - 1, 4),
        "true_effect_mql_rate": round(rate[1] / rate[0] - 1, 4),
    }


def tasks_frame(seed: int, ids: np.ndarray, contact: pd.Series, mql_at: pd.Series, contacted: np.ndarray,
                owner_ids: np.ndarray, export_at: pd.Timestamp) -> pd.DataFrame:
    """The Task export: dials, e-mails and the usual mess, all logged no later than the export."""
    rng = np.random.default_rng(seed + 15_485_863)
    c_idx = np.where(contacted)[0]
    who, day = _dial_days(rng, len(c_idx))
    lead = c_idx[who]
    naive = contact.dt.tz_convert(None).to_numpy()
    at = pd.Series(naive[lead] + (day * 86400e9).astype("timedelta64[ns]")).dt.tz_localize("UTC")
    booked = pd.Series(mql_at.dt.tz_convert(None).to_numpy()[lead]).dt.tz_localize("UTC")
    after_booking = booked.notna() & (booked >= pd.Series(naive[lead]).dt.tz_localize("UTC")) & (at > booked)
    keep = (at <= export_at) & ~after_booking
    lead, at = lead[keep.to_numpy()], at[keep].reset_index(drop=True)
    n = len(lead)
    blank_subtype = rng.random(n) < 0.05
    seconds = np.where(rng.random(n) < 0.3, rng.integers(20, 900, n), 0)
    disposition = np.where(seconds > 0, "Connected", rng.choice(["Left Voicemail", "No Answer", "Busy"], n))
    calls = pd.DataFrame({
        "WhoId": ids[lead], "OwnerId": owner_ids[lead], "CreatedDate": at,
        "TaskSubtype": np.where(blank_subtype, "", "Call"), "Type": "Call",
        "CallDurationInSeconds": seconds.astype(str), "CallDisposition": disposition, "Status": "Completed",
    })
    # E-mails alongside (never dials), and a few Tasks on Contacts (ignored: not a Lead).
    e_lead = rng.choice(c_idx, len(c_idx) // 2)
    emails = pd.DataFrame({
        "WhoId": ids[e_lead], "OwnerId": owner_ids[e_lead],
        "CreatedDate": contact.iloc[e_lead].reset_index(drop=True) + pd.to_timedelta(rng.uniform(0, 20, len(e_lead)), unit="D"),
        "TaskSubtype": "Email", "Type": "Email", "CallDurationInSeconds": "", "CallDisposition": "",
        "Status": "Completed",
    })
    emails = emails[emails.CreatedDate <= export_at]
    k = max(3, len(c_idx) // 500)
    others = calls.sample(k, random_state=seed).assign(
        WhoId=[f"0035f00000{i:05d}" for i in range(k)])
    tasks = pd.concat([calls, emails, others], ignore_index=True)
    tasks["Id"] = [f"00T5f{i:010d}" for i in range(len(tasks))]
    tasks["ActivityDate"] = tasks.CreatedDate.dt.strftime("%Y-%m-%d")
    edit = tasks.CreatedDate + pd.to_timedelta(rng.uniform(0, 120, len(tasks)), unit="min")
    tasks["LastModifiedDate"] = edit.where(edit <= export_at, export_at)
    # Overlapping export pages: some rows twice, the second copy with an older edit time.
    again = tasks.sample(max(2, len(tasks) // 2000), random_state=seed + 1).copy()
    again["LastModifiedDate"] = again.CreatedDate
    again["CallDisposition"] = "Dialing"
    tasks = pd.concat([tasks, again], ignore_index=True)
    for col in ("CreatedDate", "LastModifiedDate"):
        tasks[col] = tasks[col].dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    broken = tasks.sample(2, random_state=seed + 2).index
    tasks.loc[broken, "Id"] = ""
    tasks = tasks.sample(frac=1.0, random_state=seed + 3)
    from core.contract import task_columns
    return tasks[[c.name for c in task_columns()]]


def truth_json(seed: int, p: np.ndarray, arm: np.ndarray, which: np.ndarray) -> str:
    out = {}
    for k, (exp, blocking, source) in enumerate((
            (TAGGED, "permuted blocks of 4 within true AUM tier (<$100M, $100M-$500M, $500M+, unknown), contact "
                     "order", "Experimentation_Tag__c"),
            (ENGINE, "the engine's assignment: one stratum, blocks of 2 in contact order, hash-seeded", "engine"))):
        a = np.where(which == k, arm, -1)
        out[exp["name"]] = {
            "source": source, "arms": list(EXPERIMENT_ARMS), "split": 0.5,
            "start": exp["start"].isoformat(), "end_exclusive": exp["end"].isoformat(), "blocking": blocking,
            "true_relative_lift_in_mql_probability": TRUE_LIFT,
            "leads": {"control": int((a == 0).sum()), "treatment": int((a == 1).sum())},
            **true_effect(seed + k, p, a),
        }
    return json.dumps(out, indent=2)
