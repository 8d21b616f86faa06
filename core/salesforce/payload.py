"""What the write-back sends, as pure functions: scores -> Lead rows, their hashes, the changed ones, the CSV.

The dry-run file and the Bulk job body come from the same :func:`payload_csv`, so a dry run shows exactly
the bytes that would be sent. Text values are formula-neutralised in the payload itself (Salesforce reports
get exported to spreadsheets too), so the two never differ.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from core.export import neutralise
from core.salesforce.config import CONTRACT_WRITEBACK_FIELDS

# The timestamp changes every day; a change of score (or of experiment arm) does.
HASHED_FIELDS = tuple(f for f in CONTRACT_WRITEBACK_FIELDS if f != "Lead_Score_Updated__c")
HIDDEN_FIELDS = ("Lead_Score__c", "Lead_Score_Tier__c", "Lead_Score_Drivers__c")
NULL = "#N/A"  # Bulk API 2.0: an empty cell leaves a field unchanged; #N/A sets it to null


def _fit(text: str, limit: int) -> str:
    """Cut at a driver boundary ('; ') when the text is too long, else at the limit."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind("; ")] if "; " in cut else cut


def model_label(model_version: str, fallback_level: str) -> str:
    if fallback_level == "full_model":
        return str(model_version)[:40]
    if fallback_level == "heuristic_rule":
        return "heuristic_rule"
    return f"{model_version}:{fallback_level}"[:40]


def writeback_rows(scores: pd.DataFrame, field_map: dict) -> pd.DataFrame:
    """One row per scored lead: ``Id``, the mapped write-back fields, and ``values_hash``.

    ``scores`` may carry ``experiment_tag`` (``NAME:ARM``, sent as ``Lead_Score_Experiment__c``) and
    ``hide_score`` (the lead's arm must not see scores: score, tier and drivers are sent blank)."""
    if scores.empty:
        return pd.DataFrame(columns=["Id", *(field_map[f] for f in CONTRACT_WRITEBACK_FIELDS), "values_hash"])
    prob = pd.to_numeric(scores["prob_mql_30d"], errors="coerce").fillna(0.0).clip(0, 1)
    values = {
        "Lead_Score__c": np.rint(prob.to_numpy() * 100).astype(int).astype(str),
        "Lead_Score_Tier__c": scores["tier"].astype(str).to_numpy(),
        "Lead_Score_Drivers__c": [neutralise(_fit(str(d or ""), 255)) for d in scores["drivers"].fillna("")],
        "Lead_Score_Model_Version__c": [neutralise(model_label(m, f)) for m, f in
                                        zip(scores["model_version"], scores["fallback_level"])],
        "Lead_Score_Updated__c": pd.to_datetime(scores["scored_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_numpy(),
        "Lead_Score_Experiment__c": (scores["experiment_tag"].fillna("").astype(str).to_numpy()
                                     if "experiment_tag" in scores else np.full(len(scores), "", dtype=object)),
    }
    if "hide_score" in scores:
        hide = scores["hide_score"].fillna(False).astype(bool).to_numpy()
        for f in HIDDEN_FIELDS:
            values[f] = np.where(hide, "", np.asarray(values[f], dtype=object))
    out = pd.DataFrame({"Id": scores["lead_id"].astype(str).to_numpy()})
    for f in CONTRACT_WRITEBACK_FIELDS:
        out[field_map[f]] = values[f]
    return with_hash(out, field_map)


def with_hash(out: pd.DataFrame, field_map: dict) -> pd.DataFrame:
    hashed = [field_map[f] for f in HASHED_FIELDS]
    suffix = "\x1e" + "|".join(hashed)
    out["values_hash"] = [hashlib.sha1(("\x1f".join(v) + suffix).encode("utf-8")).hexdigest()[:20]
                          for v in zip(*(out[c].astype(str).tolist() for c in hashed))]
    return out


def cleared_rows(ledger: pd.DataFrame, scored_ids: set, field_map: dict, now, reasons: dict) -> pd.DataFrame:
    """Leads whose score last landed in Salesforce but which left the scored population (booked, closed,
    converted, gone from the export): their score, tier and drivers are cleared, once — the clear row's hash
    lands in the ledger like any other, so it is not sent again. ``reason`` says why (never sent)."""
    score_f, exp_f = field_map["Lead_Score__c"], field_map["Lead_Score_Experiment__c"]
    rows = []
    for lead_id, values in zip(ledger["lead_id"], ledger["values_json"]):
        if lead_id in scored_ids:
            continue
        landed = json.loads(values or "{}")
        if str(landed.get(score_f, "")) in ("", "nan", "None", NULL):
            continue  # already clear (or never scored): nothing to undo
        rows.append({"Id": lead_id, field_map["Lead_Score__c"]: "", field_map["Lead_Score_Tier__c"]: "",
                     field_map["Lead_Score_Drivers__c"]: "", field_map["Lead_Score_Model_Version__c"]: "",
                     field_map["Lead_Score_Updated__c"]: pd.Timestamp(now).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                     exp_f: str(landed.get(exp_f, "") or ""),
                     "reason": reasons.get(lead_id, "left the scored population")})
    cols = ["Id", *(field_map[f] for f in CONTRACT_WRITEBACK_FIELDS), "reason"]
    out = pd.DataFrame(rows, columns=cols)
    return with_hash(out, field_map) if len(out) else out.assign(values_hash=pd.Series(dtype=str))


def changed_rows(rows: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Rows whose values differ from what last landed in Salesforce (or never landed)."""
    if ledger.empty:
        return rows.assign(change="new")
    last = rows.Id.map(dict(zip(ledger.lead_id, ledger.values_hash)))
    out = rows.assign(change=np.where(last.isna(), "new", "changed"))
    return out[last.isna() | (last != rows.values_hash)]


def payload_csv(rows: pd.DataFrame) -> str:
    """The Bulk API 2.0 body: UTF-8 CSV, LF line endings, every value quoted. A field the engine wants empty
    (no drivers, a hidden arm's score, a cleared lead, no experiment) is sent as ``#N/A``, because an empty
    cell would leave Salesforce's old value in place."""
    body = rows.drop(columns=[c for c in ("values_hash", "change", "reason") if c in rows.columns]).fillna("")
    fields = [c for c in body.columns if c != "Id"]
    body[fields] = body[fields].astype(str).replace("", NULL)
    return body.to_csv(index=False, lineterminator="\n", quoting=1)


def values_json(rows: pd.DataFrame) -> list[str]:
    cols = [c for c in rows.columns if c not in ("Id", "values_hash", "change")]
    return [json.dumps(dict(zip(cols, vals))) for vals in rows[cols].astype(str).itertuples(index=False)]
