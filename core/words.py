"""How names and times read on a page: column headers, which integer columns are counts, timestamps and months.
Pure; pages and the view models behind them use it."""

from __future__ import annotations

import re

import pandas as pd

_ORDINAL = re.compile(r"year|rank|(^|_)id$|week|month|day|decile|bin|version|seed|depth", re.IGNORECASE)


def header(name) -> str:
    """A column name as a header: 'rows_quarantined' → 'Rows quarantined'. A Salesforce API name
    ('Lead_Score__c') stays as it is: it is what RevOps finds in Setup."""
    if str(name).endswith("__c"):
        return str(name)
    text = str(name).replace("_", " ").strip().capitalize()
    text = " ".join(ACRONYMS.get(w.lower(), w) for w in text.split(" "))
    return re.sub(r"\b(Tier|tier) ([abc])\b", lambda m: f"{m.group(1)} {m.group(2).upper()}", text)  # "Tier A leads"


# words a header writes in capitals ("crd" → "CRD"); whole words only, so "idle_days" keeps its "id"
ACRONYMS = {"crd": "CRD", "aum": "AUM", "id": "ID", "sga": "SGA", "mql": "MQL", "mqls": "MQLs", "psi": "PSI",
            "shap": "SHAP", "csv": "CSV", "url": "URL"}


def is_count(name) -> bool:
    """An integer column that counts things (shown with thousands separators), not a year, rank, id or week."""
    return not _ORDINAL.search(str(name))


def when(value) -> str:
    """A timestamp as people read it: '3 Dec 2026, 10:02 UTC' (never ISO with microseconds)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    from core.features.build import as_utc

    try:
        ts = as_utc(value)
    except (ValueError, TypeError):
        return str(value)
    return f"{ts.day} {ts.strftime('%b %Y, %H:%M')} UTC"


def day(value) -> str:
    """A date as people read it: '3 Dec 2026'."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    ts = pd.Timestamp(value)
    return f"{ts.day} {ts.strftime('%b %Y')}"


def month_label(value) -> str:
    """'2025-10' → 'Oct 2025'; anything that is not a month stays as it is."""
    try:
        return pd.Timestamp(f"{value}-01" if len(str(value)) == 7 else value).strftime("%b %Y")
    except (ValueError, TypeError):
        return str(value)


# a check's outcome in text glyphs every font has (an emoji showed as a box where no emoji font is installed)
CHECK_WORDS = {"pass": "✓ pass", "fail": "✗ fail", "warn": "⚠ warn", "n/a": "n/a"}

# An experiment's decision as a leader reads it. At the final look without crossing the boundary the test found no
# lift it could tell from noise — which is not evidence of no effect (an underpowered pilot's interval spans large
# gains and losses alike), so it is never shown as "No effect": "Inconclusive", as experimentation platforms say it
# (and short enough for the page's Decision figure, which cuts a longer value off).
DECISION_WORDS = {"continue": "Continue", "stop for efficacy": "Treatment wins", "stop for harm": "Treatment harms",
                  "no effect": "Inconclusive", "invalid": "INVALID"}
DECISION_HELP = {
    "continue": "The interim look did not cross its boundary: keep the experiment running to its final look.",
    "stop for efficacy": "The lift crossed the efficacy boundary, which already allows for looking more than once: "
                         "treatment books more MQLs than control beyond chance.",
    "stop for harm": "The lift crossed the harm boundary: treatment books fewer MQLs than control beyond chance. "
                     "Stop it.",
    "no effect": "The final look did not cross the boundary: the data cannot tell the lift from noise. That is not "
                 "evidence of no effect; the interval beside it says how large a gain or loss is still possible.",
    "invalid": "The arms' sizes differ from the planned split beyond chance (sample ratio mismatch): assignment is "
               "broken, and no lift can be read from these leads.",
}


# The file names the engine gives its own Salesforce pulls (core.salesforce.pull), and how a load of one reads: a
# user never chose "salesforce_tasks_pull_20261207T061500_3f2a….csv", and it means nothing to them
LEAD_PULL_PREFIX, TASK_PULL_PREFIX = "salesforce_pull", "salesforce_tasks_pull"
PULL_FILES = {LEAD_PULL_PREFIX: "Pulled from Salesforce (Leads)", TASK_PULL_PREFIX: "Pulled from Salesforce (Tasks)"}


def load_source(file_name) -> str:
    """What a load read, as a page shows it: an uploaded file's own name, or where an engine-made pull came from."""
    name = str(file_name)
    for prefix, words in PULL_FILES.items():
        if re.fullmatch(rf"{prefix}_\d{{8}}T\d{{6}}_[0-9a-f]+\.csv", name):
            return words
    return name


ROLE_WORDS = {"admin": "Admin", "revops": "RevOps", "analyst": "Analyst", "sga_manager": "SGA manager", "system": "System"}


def role_words(role) -> str:
    """A role code as people say it: 'sga_manager' → 'SGA manager', 'revops' → 'RevOps'."""
    return ROLE_WORDS.get(str(role), str(role).replace("_", " ").capitalize())


MODEL_KINDS = {"xgboost": "Gradient boosting", "logistic": "Logistic regression"}


def model_words(kind, created_at) -> str:
    """A registered model as people name it: 'Gradient boosting, trained 3 Dec 2026, 10:02 UTC'."""
    return f"{model_kind(kind)}, trained {when(created_at)}"


def model_kind(kind) -> str:
    """A registered model's kind as people say it: 'xgboost' → 'Gradient boosting'."""
    return MODEL_KINDS.get(str(kind), str(kind))
