"""Lead-level assignment, blocked within strata (spec §8.1–8.2), sticky and reproducible.

Each running experiment takes the leads contacted inside its window that are in no experiment yet
(engine-assigned or tagged in Experimentation_Tag__c): a lead is in at most one experiment, once. Within a
stratum, the window's contacted leads are numbered in contact order; position ``p`` falls in block ``p // b``
and gets the arm at
``p % b`` of that block's permutation of the design's pattern (``b`` the smallest block that carries the
split exactly: 2 for 50/50, 10 for a 10% rollout). The permutation is seeded by a hash of (experiment,
seed, stratum, block), so re-running the assignment gives the same arms; assignments are appended, never
rewritten, with the time, the stratum, the position, the split in force and the champion's score at
assignment (scores are computed for every lead, in both arms).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from core.auth import Actor
from core.config import Settings
from core.experiments import units as U
from core.experiments.design import Design, design_from_row
from core.operation import audited
from core.warehouse import Warehouse


def block_pattern(split: float) -> np.ndarray:
    """The arms of one block (1 = treatment): the smallest block size carrying ``split`` exactly."""
    for b in range(2, 101):
        k = split * b
        if abs(k - round(k)) < 1e-9 and 0 < round(k) < b:
            return np.r_[np.ones(int(round(k)), dtype=int), np.zeros(b - int(round(k)), dtype=int)]
    k = min(max(int(round(split * 100)), 1), 99)
    return np.r_[np.ones(k, dtype=int), np.zeros(100 - k, dtype=int)]


def _block_seed(name: str, seed: int, stratum: str, block: int, split: float) -> int:
    key = f"{name}|{seed}|{stratum}|{block}|{split:.6f}".encode("utf-8")
    return int(hashlib.sha256(key).hexdigest()[:16], 16)


def arms_for(name: str, seed: int, stratum: str, positions: np.ndarray, split: float) -> np.ndarray:
    pattern = block_pattern(split)
    b = len(pattern)
    out = np.empty(len(positions), dtype=int)
    blocks: dict[int, np.ndarray] = {}
    for i, p in enumerate(positions):
        blk = int(p) // b
        if blk not in blocks:
            blocks[blk] = np.random.default_rng(_block_seed(name, seed, stratum, blk, split)).permutation(pattern)
        out[i] = blocks[blk][int(p) % b]
    return out


def running(wh: Warehouse) -> list[Design]:
    with wh.reader() as s:
        if not s.table_exists("ops.experiments"):
            return []
        rows = s.query("select * from ops.experiments where status = 'running' and kind in ('engine', 'rollout') "
                       "order by created_at")
    return [design_from_row(r) for r in rows.to_dict("records")]


def window_positions(labels: pd.DataFrame, strata: pd.DataFrame, d: Design) -> pd.DataFrame:
    """Every contacted lead in the experiment's window with its stratum and its position in that stratum:
    the rank by (contact time, lead id) among *all* contacted leads of the stratum in the window. Positions
    depend only on when leads were contacted, never on when they were scored or whether another experiment
    took a neighbour, so an arm is fixed by the data and the design alone."""
    w = labels[(labels["contacted_at"] >= d.start_at) & (labels["contacted_at"] < d.planned_end_at)]
    w = w.merge(strata, on="lead_id", how="left").fillna({c: "unknown" for c in U.STRATA})
    w["stratum"] = U.stratum_label(w, d.strata)
    w = w.sort_values(["contacted_at", "lead_id"], kind="stable")
    w["position"] = w.groupby("stratum").cumcount()
    return w


@audited("run_pipeline", "experiment_assign")
def assign_new_leads(wh: Warehouse, settings: Settings, actor: Actor | None = None) -> dict[str, int]:
    """Assign every contacted lead of a running experiment's window that is in no experiment yet; returns the
    leads assigned per experiment. The score at assignment is the lead's current score, else its first score
    within a week of contact (a lead contacted before scoring began keeps none)."""
    designs = running(wh)
    if not designs:
        return {}
    with wh.reader() as s:
        if not s.table_exists("ml.lead_labels") or not s.table_exists("ml.lead_features"):
            return {}
        labels = s.query("select lead_id, contacted_at from ml.lead_labels where contacted_at is not null")
        current = s.query("select lead_id, prob_mql_30d from ml.lead_scores") if s.table_exists("ml.lead_scores") \
            else pd.DataFrame(columns=["lead_id", "prob_mql_30d"])
        first = U.first_scores(s)
        taken = set(s.query("select lead_id from ops.experiment_assignments")["lead_id"])
        tagged = s.query("select Id as lead_id from marts.dim_leads where Experimentation_Tag__c is not null "
                         "and trim(Experimentation_Tag__c) != ''")["lead_id"] if "experimentation_tag__c" in \
            s.columns("marts.dim_leads") else pd.Series(dtype=object)
        feats = U.lead_features(s)
    taken |= set(tagged)
    labels["contacted_at"] = pd.to_datetime(labels["contacted_at"], utc=True)
    strata = U.strata_columns(feats)
    score = first.set_index("lead_id")["first_score"]
    score.update(current.set_index("lead_id")["prob_mql_30d"])
    now = datetime.now(timezone.utc)
    out, frames = {}, []
    for d in designs:
        w = window_positions(labels, strata, d)
        pool = w[~w["lead_id"].isin(taken)]
        if pool.empty:
            out[d.name] = 0
            continue
        arm_idx = np.empty(len(pool), dtype=int)
        for stratum, idx in pool.groupby("stratum").indices.items():
            arm_idx[idx] = arms_for(d.name, d.seed, stratum, pool["position"].to_numpy()[idx], d.split)
        new = pd.DataFrame({
            "experiment": d.name, "lead_id": pool["lead_id"].to_numpy(),
            "arm": np.asarray(d.arms, dtype=object)[arm_idx], "stratum": pool["stratum"].to_numpy(),
            "position": pool["position"].to_numpy(), "contacted_at": pool["contacted_at"].to_numpy(),
            "score_at_assignment": pool["lead_id"].map(score).to_numpy(dtype=float),
            "split": d.split, "assigned_at": now,
        })
        taken |= set(new["lead_id"])
        frames.append(new)
        out[d.name] = len(new)
    if frames:
        from core import audit

        with wh.writer("experiment assignment") as s:
            s.load("ops.experiment_assignments", pd.concat(frames, ignore_index=True), mode="append")
            audit.record(s, actor, "experiment_assign", ", ".join(k for k, v in out.items() if v), "ok",
                         {k: v for k, v in out.items()})
    return out


def writeback_arms(wh: Warehouse) -> pd.DataFrame:
    """lead_id, experiment_tag (NAME:ARM), hide_score and challenger for the write-back. A hidden arm stays
    hidden while its experiment runs; a running rollout's challenger arm is sent the challenger's scores."""
    with wh.reader() as s:
        if not s.table_exists("ops.experiment_assignments") or not s.table_exists("ops.experiments"):
            return pd.DataFrame(columns=["lead_id", "experiment_tag", "hide_score", "challenger"])
        rows = s.query("select a.lead_id, a.experiment, a.arm, e.hidden_arms, e.status, e.kind, e.design_json "
                       "from ops.experiment_assignments as a inner join ops.experiments as e on a.experiment = e.name")
    hidden = [arm in (h or "").split(",") and st == "running" for arm, h, st in zip(rows["arm"], rows["hidden_arms"], rows["status"])]
    challenger = [json.loads(d or "{}").get("challenger") if k == "rollout" and st == "running" and arm == "challenger"
                  else None for k, st, arm, d in zip(rows["kind"], rows["status"], rows["arm"], rows["design_json"])]
    return pd.DataFrame({"lead_id": rows["lead_id"], "experiment_tag": rows["experiment"] + ":" + rows["arm"],
                         "hide_score": hidden, "challenger": challenger})


def with_challenger_scores(wh: Warehouse, scores: pd.DataFrame) -> pd.DataFrame:
    """A rollout's challenger arm: its leads carry the challenger's latest shadow score and tier (drivers are
    the champion's explanation, so they are left empty) and the challenger's model id."""
    if "challenger" not in scores or scores["challenger"].isna().all():
        return scores
    with wh.reader() as s:
        if not s.table_exists("ml.shadow_scores"):
            return scores
        shadow = s.query("select lead_id, model_version, prob_mql_30d, tier, score_date from ml.shadow_scores")
    shadow = shadow.sort_values("score_date").drop_duplicates(["lead_id", "model_version"], keep="last")
    out = scores.copy()
    key = out[["lead_id", "challenger"]].merge(shadow, left_on=["lead_id", "challenger"],
                                               right_on=["lead_id", "model_version"], how="left")
    use = key["prob_mql_30d"].notna().to_numpy()
    out.loc[use, "prob_mql_30d"] = key.loc[use, "prob_mql_30d"].to_numpy()
    out.loc[use, "tier"] = key.loc[use, "tier"].to_numpy()
    out.loc[use, "drivers"] = ""
    out.loc[use, "model_version"] = key.loc[use, "model_version"].to_numpy()
    out.loc[use, "fallback_level"] = "full_model"
    return out
