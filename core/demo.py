"""Realistic demo data following ``shared/contract``: MarketPro territory exports, a Salesforce Lead
export, and — kept apart in ``truth/`` — the probability each lead really had.

The generative model (documented in ``truth/GENERATIVE_MODEL.md`` next to the data) draws each contacted
lead's MQL-within-30-days from a probability that depends only on what the engine can observe: the
rep's territory record *as exported* (after the mess below turns some values into NULL), the lead's
CRM fields known at contact and the contact timestamp. There is no unobserved noise besides the final
coin flip, so the truth file's probability is the best any model can do from the inputs.

The mess of real exports is reproduced on purpose: ``$1,234.50``, ``12.5%``, thousands separators, the
six NA spellings, a city name in a numeric column, CRDs as ``123.0`` / `` 00123 ``, Yes/Y/TRUE/1
booleans, a UTF-8-BOM file (T1), a CRLF file (T2), a Latin-1 file (T3), an unknown extra column,
duplicate Leads, negative days-to-MQL and right-censored recent contacts.

The engine never reads this module's truth output; only benchmarks and tests do.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from core import demo_activity
from core.contract import marketpro_columns, salesforce_columns
from core.errors import LeadScoringError
from core.salesforce.ids import to18_array

NA_SPELLINGS = np.array(["", "NA", "N/A", "null", "NULL", "None"])

TERRITORY_STATES = {
    "T1": ["NY", "FL", "MA", "NJ", "PA", "CT", "GA", "NC", "VA", "MD"],
    "T2": ["TX", "IL", "OH", "MI", "MN", "MO", "WI", "IN", "TN", "CO"],
    "T3": ["CA", "WA", "OR", "AZ", "NV", "UT"],
}
TERRITORY_SHARE = {"T1": 0.41, "T2": 0.365, "T3": 0.225}

METROS = {  # metro -> (states it lives in, share of reps in its territory, conversion effect)
    "New York-Newark-Jersey City NY-NJ": ("T1", 0.26, -0.55),
    "Miami-Fort Lauderdale-West Palm Beach FL": ("T1", 0.12, -0.15),
    "Boston-Cambridge-Newton MA-NH": ("T1", 0.10, -0.05),
    "Chicago-Naperville-Elgin IL-IN": ("T2", 0.22, -0.15),
    "Dallas-Fort Worth-Arlington TX": ("T2", 0.18, -0.10),
    "Minneapolis-St. Paul-Bloomington MN-WI": ("T2", 0.08, 0.05),
    "Los Angeles-Long Beach-Anaheim CA": ("T3", 0.34, -0.60),
    "Seattle-Tacoma-Bellevue WA": ("T3", 0.14, 0.0),
    "Phoenix-Mesa-Chandler AZ": ("T3", 0.10, 0.05),
}
FIRST = ["Dana", "Chris", "Alex", "Jordan", "Taylor", "Morgan", "Sam", "Jamie", "Casey", "Riley", "Pat",
         "Robin", "José", "Renée", "Zoë", "François", "Inés", "Björn", "Ana", "Lee", "Kim", "Noah", "Maya"]
LAST = ["Okafor", "Smith", "Nguyen", "Garcia", "Müller", "Peña", "O'Brien", "Johnson", "Brown", "Lee",
        "Patel", "Kowalski", "Rossi", "Dubois", "Andersson", "Cohen", "Silva", "Kim", "Walker", "Young"]
CITIES = ["Osseo", "Springfield", "Fairview", "Madison", "Georgetown", "Clinton", "Salem", "Franklin"]
FIRM_WORDS = ["Harbor", "Point", "Summit", "Oak", "Granite", "Bridge", "Legacy", "Pinnacle", "River", "Cedar"]


def firm_name(i: int) -> str:
    """Firm ``i``'s name: two different words (90 names, then they repeat, as unrelated firms' names do)."""
    first, second = i % 10, (i // 10) % 9
    return f"{FIRM_WORDS[first]} {FIRM_WORDS[second + (second >= first)]} Wealth LLC"


BUSINESS_MODELS = np.array(["Fee-Only", "Fee-Based (Hybrid)", "Commission", "Insurance-Focused"])
BM_EFFECT = np.array([0.05, 0.30, -0.25, -0.35])
CUSTODIANS = np.array(["Schwab", "Fidelity", "Pershing", "LPL", "TD Ameritrade", "Raymond James"])
CRMS = np.array(["Redtail", "Salesforce", "Wealthbox", "Junxure", "None Used"])
DISCLOSURE_TYPES = np.array(["Customer Dispute", "Regulatory", "Termination", "Financial", "Criminal"])
LEAD_SOURCES = np.array(["Provided Lead List", "LinkedIn", "Referral", "Event", "Website"])
LEAD_SOURCE_P = np.array([0.55, 0.2, 0.08, 0.07, 0.10])
LEAD_SOURCE_EFFECT = np.array([-0.05, 0.10, 0.65, 0.30, 0.15])
LEAD_LISTS = np.array(["MarketPro Q1 RIA", "MarketPro Q2 RIA", "Apollo Fintech", "Conference 2024", "Partner List A"])
AGENCIES = np.array(["", "Blue Fox Agency", "Northwind Sourcing"])
SGAS = [("005A0000001%03dAAA" % i, n) for i, n in enumerate(
    ["Avery Stone", "Blake Rivera", "Cameron Diaz", "Devon Clarke", "Emerson Hale", "Finley Brooks",
     "Harper Quinn", "Jules Moreno", "Kendall Price", "Logan Pierce", "Micah Tran", "Parker Lowe"])]


@dataclass(frozen=True)
class Scale:
    unique_reps: int
    cross_territory_dups: int
    leads: int
    contact_share: float


SCALES = {
    "small": Scale(unique_reps=6_000, cross_territory_dups=190, leads=5_000, contact_share=0.58),
    "full": Scale(unique_reps=463_000, cross_territory_dups=15_200, leads=70_000, contact_share=0.575),
    # A firm ten (three) times larger: the same rates and messiness, for the scale benchmark (#18).
    "3x": Scale(unique_reps=1_389_000, cross_territory_dups=45_600, leads=210_000, contact_share=0.575),
    "10x": Scale(unique_reps=4_630_000, cross_territory_dups=152_000, leads=700_000, contact_share=0.575),
}
CHUNK_REPS = 600_000  # territory rows rendered and written at a time: bounded memory at any scale
EXPORT_AT = datetime(2025, 10, 27, 16, 30, tzinfo=timezone.utc)
MONTHLY_CHURN = 0.004  # share of reps who leave (and, as many, who join) each month
MONTHLY_MOVES = 0.006  # share of reps who move to another firm each month
HISTORY_MONTHS = {"small": 19, "full": 13}  # territory snapshots ending with the export month
FAULT_MONTH, FAULT_TERRITORY = "2025-06", "T2"  # vendor fault: T2's money columns arrive in thousands that month
FAULT_COLUMNS = ("TotalAssetsInMillions", "Assets_In_Millions_Individuals", "Assets_In_Millions_HNW")
SHIFT_FROM, SHIFT_SHARE = "2025-08-01", 0.45  # population shift: from then, 45% of new leads come from...
SHIFT_LIST = "Apollo West Coast RIA 2025"  # ...a new purchased list of West-territory (T3) advisors
BASE_RATE_30D = 0.041  # target share of contacted leads with an MQL inside 30 days
SIGNAL = 2.1  # multiplies the advisor-level log-odds terms; sets the best achievable AUC-PR (~0.27)
LATE_SHARE = 0.10  # share of all MQLs that arrive after the window


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _na(rng, n):
    return NA_SPELLINGS[rng.integers(0, len(NA_SPELLINGS), n)]


def _fmt_num(values: np.ndarray, fmt: str) -> np.ndarray:
    out = np.char.mod(fmt, np.nan_to_num(values))
    return out.astype(object)


def _with_missing(rng, text: np.ndarray, observed: np.ndarray, rate: float) -> np.ndarray:
    """Blank out ``rate`` of the cells with random NA spellings; mark them NaN in ``observed``."""
    mask = rng.random(len(text)) < rate
    text = text.copy()
    text[mask] = _na(rng, int(mask.sum()))
    observed[mask] = np.nan
    return text


def _crd_text(rng, crd: np.ndarray) -> np.ndarray:
    text = crd.astype(str).astype(object)
    r = rng.random(len(crd))
    text[r < 0.10] = np.char.add(crd[r < 0.10].astype(str), ".0").astype(object)
    pad = (r >= 0.10) & (r < 0.15)
    text[pad] = np.char.add(np.char.add(" 00", crd[pad].astype(str)), " ").astype(object)
    return text


def _bool_text(rng, values: np.ndarray) -> np.ndarray:
    yes = np.array(["Yes", "Y", "TRUE", "1", "yes"])
    no = np.array(["No", "N", "FALSE", "0", "no"])
    pick = rng.integers(0, 5, len(values))
    return np.where(values, yes[pick], no[pick]).astype(object)


def _reps(rng, n: int) -> pd.DataFrame:
    """Clean (true) rep attributes, before any export mess. The parts draw from ``rng`` in a fixed order (the
    demo is reproducible from its seed)."""
    terr = rng.choice(list(TERRITORY_SHARE), n, p=np.array(list(TERRITORY_SHARE.values())) / sum(TERRITORY_SHARE.values()))
    df = pd.DataFrame({"territory": terr})
    _firm_and_book(df, rng, n)
    _career_and_practice(df, rng, n)
    _geography(df, rng, n, terr)
    _identity(df, rng, n)
    return df


def _firm_and_book(df: pd.DataFrame, rng, n: int) -> None:
    """Rep and firm CRDs, firm size and AUM, clients, assets and growth."""
    df["RepCRD"] = rng.choice(np.arange(1_000_000, 8_000_000), n, replace=False)
    n_firms = max(n // 6, 50)
    firm_of = rng.integers(0, n_firms, n)
    firm_aum = np.exp(rng.normal(4.6, 1.5, n_firms))  # millions; median ~100M
    firm_emp = np.maximum(1, np.round(np.exp(rng.normal(2.3, 1.1, n_firms)))).astype(int)
    df["RIAFirmCRD"] = 100_000 + firm_of
    df["RIAFirmName"] = [firm_name(i) for i in firm_of]
    df["TotalAssetsInMillions"] = np.round(firm_aum[firm_of], 1)
    df["Number_Employees"] = firm_emp[firm_of]
    df["Number_IAReps"] = np.maximum(1, np.round(firm_emp[firm_of] * rng.uniform(0.3, 0.8, n))).astype(int)
    clients = np.maximum(5, np.round(df["TotalAssetsInMillions"] * rng.uniform(0.6, 3.5, n))).astype(int)
    df["Number_Investment_Advisory_Clients"] = clients
    df["Number_Clients_Individuals"] = np.round(clients * rng.uniform(0.6, 1.0, n)).astype(int)
    hnw_share = rng.beta(2, 4, n)
    df["Number_Clients_HNW_Individuals"] = np.round(df["Number_Clients_Individuals"] * hnw_share).astype(int)
    df["Assets_In_Millions_Individuals"] = np.round(df["TotalAssetsInMillions"] * rng.uniform(0.4, 0.95, n), 1)
    df["Assets_In_Millions_HNW"] = np.round(df["Assets_In_Millions_Individuals"] * np.clip(hnw_share * 1.6, 0, 1), 1)
    df["AUMGrowthRate_1Year"] = np.round(rng.normal(8, 14, n), 1)
    df["AUMGrowthRate_5Year"] = np.round(np.maximum(df["AUMGrowthRate_1Year"] * 3 + rng.normal(15, 25, n), -90), 1)
    df["Number_BranchAdvisors"] = np.maximum(1, rng.poisson(3, n))
    df["Percent_Clients_US"] = np.clip(np.round(100 - rng.exponential(3, n)), 40, 100)
    df["Percent_Assets_Alternatives"] = np.clip(np.round(rng.exponential(4, n), 1), 0, 60)


def _career_and_practice(df: pd.DataFrame, rng, n: int) -> None:
    """Years in the industry and at the firm, prior firms and moves, team, disclosures, licenses, designations,
    business model, custodian and CRM."""
    rep_years = np.round(np.clip(rng.gamma(3, 5, n), 0.3, 45), 1)
    df["Date_Became_Rep_Number_Of_Years"] = rep_years
    df["Date_Of_Hire_At_Current_Firm_Years"] = np.round(np.minimum(rep_years, rng.gamma(1.6, 3.5, n)), 1)
    df["Number_Firm_Associations"] = 1 + rng.binomial(2, 0.15, n)
    df["Number_RIA_Firm_Associations"] = rng.binomial(2, 0.4, n)
    prior = rng.poisson(np.clip(rep_years / 6, 0.2, 6))
    df["NumberOfPriorFirms"] = prior
    df["AverageTenureAtPriorFirms"] = np.where(prior > 0, np.round((rep_years - df["Date_Of_Hire_At_Current_Firm_Years"]) / np.maximum(prior, 1), 1), np.nan)
    df["Firm_Moves_10yr"] = np.minimum(prior, rng.poisson(0.8, n))
    df["Is_Primary_RIA"] = rng.random(n) < 0.8
    df["Is_Team_Lead"] = rng.random(n) < 0.22
    df["Team_Size"] = np.where(df["Is_Team_Lead"], 2 + rng.poisson(3, n), 1 + rng.poisson(1, n))
    df["Has_Disclosure"] = rng.random(n) < 0.08
    df["Disclosure_Type"] = np.where(df["Has_Disclosure"], rng.choice(DISCLOSURE_TYPES, n, p=[0.5, 0.2, 0.15, 0.1, 0.05]), "")
    lic = rng.random((n, 4))
    lic_names = np.array(["Series 7", "Series 65", "Series 66", "Series 63"])
    df["Licenses"] = ["; ".join(lic_names[row < [0.55, 0.6, 0.3, 0.4]]) for row in lic]
    des = rng.random((n, 3))
    des_names = np.array(["CFP", "CFA", "ChFC"])
    df["Designations"] = ["; ".join(des_names[row < [0.3, 0.08, 0.1]]) for row in des]
    df["Business_Model"] = rng.choice(BUSINESS_MODELS, n, p=[0.3, 0.4, 0.2, 0.1])
    spec = np.array(["HNW", "Retirement", "Small Business", "Estate Planning"])
    df["Specialties"] = ["; ".join(spec[row < [0.3, 0.45, 0.15, 0.2]]) for row in rng.random((n, 4))]
    df["Current_Custodian"] = rng.choice(CUSTODIANS, n)
    df["CRM_Used"] = rng.choice(CRMS, n)


def _geography(df: pd.DataFrame, rng, n: int, terr: np.ndarray) -> None:
    """State from the territory, metro from a territory-specific mix; cities, zips and distances."""
    states = np.empty(n, dtype=object)
    metros = np.empty(n, dtype=object)
    for t, st in TERRITORY_STATES.items():
        idx = np.where(terr == t)[0]
        states[idx] = rng.choice(st, len(idx))
        names = [m for m, (tt, _, _) in METROS.items() if tt == t]
        shares = np.array([METROS[m][1] for m in names])
        choice = rng.random(len(idx))
        cum = np.cumsum(shares)
        metro_idx = np.searchsorted(cum, choice)
        local = np.array(names + [None], dtype=object)
        picked = local[np.minimum(metro_idx, len(names))]
        other = picked == None  # noqa: E711 - numpy elementwise
        picked[other] = np.char.add(rng.choice(CITIES, int(other.sum())).astype(str), np.char.add(" Area ", states[idx][other].astype(str)))
        metros[idx] = picked
    df["Branch_State"] = states
    df["Home_State"] = np.where(rng.random(n) < 0.93, states, rng.choice(sum(TERRITORY_STATES.values(), []), n))
    df["Home_MetropolitanArea"] = metros
    df["Branch_City"] = rng.choice(CITIES, n)
    df["Branch_ZipCode"] = np.char.zfill(rng.integers(1000, 99999, n).astype(str), 5)
    df["Home_ZipCode"] = np.char.zfill(rng.integers(1000, 99999, n).astype(str), 5)
    df["Miles_Distance_Home_To_Branch"] = np.round(rng.gamma(1.5, 9, n), 1)


def _identity(df: pd.DataFrame, rng, n: int) -> None:
    """Names, email and title: PII the engine must never use."""
    df["FirstName"] = rng.choice(FIRST, n)
    df["LastName"] = rng.choice(LAST, n)
    df["Email"] = [f"{f[0].lower()}{i}@{w.lower()}.example" for i, (f, w) in enumerate(zip(df["FirstName"], rng.choice(FIRM_WORDS, n)))]
    df["Title"] = rng.choice(["Managing Partner", "Financial Advisor", "Wealth Manager", "Principal", "Senior Advisor"], n)


NUMERIC_FORMATS = {
    "TotalAssetsInMillions": "money", "Assets_In_Millions_Individuals": "money", "Assets_In_Millions_HNW": "money",
    "AUMGrowthRate_1Year": "percent", "AUMGrowthRate_5Year": "percent", "Percent_Clients_US": "percent",
    "Percent_Assets_Alternatives": "percent",
    "Number_Employees": "count", "Number_IAReps": "count", "Number_BranchAdvisors": "count",
    "Number_Investment_Advisory_Clients": "count", "Number_Clients_Individuals": "count",
    "Number_Clients_HNW_Individuals": "count", "Number_Firm_Associations": "count",
    "Number_RIA_Firm_Associations": "count", "NumberOfPriorFirms": "count", "Firm_Moves_10yr": "count",
    "Team_Size": "count",
    "Date_Became_Rep_Number_Of_Years": "years", "Date_Of_Hire_At_Current_Firm_Years": "years",
    "AverageTenureAtPriorFirms": "years", "Miles_Distance_Home_To_Branch": "years",
}
MISSING_RATE = {  # realistic: firm-level growth and composition fields are often absent
    "AUMGrowthRate_1Year": 0.12, "AUMGrowthRate_5Year": 0.18, "Assets_In_Millions_HNW": 0.25,
    "Number_Clients_HNW_Individuals": 0.10, "AverageTenureAtPriorFirms": 0.08, "Percent_Assets_Alternatives": 0.30,
    "TotalAssetsInMillions": 0.04, "Miles_Distance_Home_To_Branch": 0.15,
}
BOOL_COLS = ["Is_Primary_RIA", "Is_Team_Lead", "Has_Disclosure"]


def _render_territory(rng, reps: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (text frame as exported, observed values as the engine will parse them)."""
    n = len(reps)
    text = pd.DataFrame(index=reps.index)
    observed = pd.DataFrame(index=reps.index)
    text["RepCRD"] = _crd_text(rng, reps["RepCRD"].to_numpy())
    lost = rng.random(n) < 0.0003  # a few rows whose CRD is missing: quarantined by the engine
    text.loc[lost, "RepCRD"] = _na(rng, int(lost.sum()))
    observed["RepCRD"] = np.where(lost, np.nan, reps["RepCRD"].to_numpy().astype(float))
    text["RIAFirmCRD"] = _crd_text(rng, reps["RIAFirmCRD"].to_numpy())
    for col, kind in NUMERIC_FORMATS.items():
        values = reps[col].to_numpy(dtype=float).copy()
        obs = values.copy()
        if kind == "money":
            plain = _fmt_num(values, "%.1f")
            r = rng.random(n)
            dollars = np.array([f"${v:,.2f}" for v in np.nan_to_num(values[r < 0.3])], dtype=object)
            plain[r < 0.3] = dollars
            spaced = (r >= 0.3) & (r < 0.4)
            plain[spaced] = np.char.add(np.char.add(" ", plain[spaced].astype(str)), " ").astype(object)
        elif kind == "percent":
            plain = _fmt_num(values, "%.1f")
            pct = rng.random(n) < 0.4
            plain[pct] = np.char.add(plain[pct].astype(str), "%").astype(object)
        elif kind == "count":
            plain = _fmt_num(values, "%.0f")
            big = (values >= 1000) & (rng.random(n) < 0.5)
            plain[big] = np.array([f"{int(v):,}" for v in values[big]], dtype=object)
        else:
            plain = _fmt_num(values, "%.1f")
        plain[np.isnan(values)] = _na(rng, int(np.isnan(values).sum()))
        plain = _with_missing(rng, plain, obs, MISSING_RATE.get(col, 0.02))
        text[col] = plain
        observed[col] = obs
    # A city name slipped into a numeric column (shifted export): the engine must quarantine it.
    shifted = rng.random(n) < 0.0002
    text.loc[shifted, "Miles_Distance_Home_To_Branch"] = "Osseo"
    observed.loc[shifted, "Miles_Distance_Home_To_Branch"] = np.nan
    for col in BOOL_COLS:
        values = reps[col].to_numpy()
        obs = values.astype(float)
        t = _bool_text(rng, values)
        text[col] = _with_missing(rng, t, obs, 0.03)
        observed[col] = obs
    for col in ["RIAFirmName", "Title", "Branch_City", "Branch_State", "Branch_ZipCode", "Home_State",
                "Home_ZipCode", "Home_MetropolitanArea", "Disclosure_Type", "Licenses", "Designations",
                "Business_Model", "Specialties", "Current_Custodian", "CRM_Used", "FirstName", "LastName", "Email"]:
        values = reps[col].astype(object).to_numpy().copy()
        empty = (values == "") | pd.isna(values)
        values[empty] = _na(rng, int(empty.sum()))
        miss = rng.random(n) < (0.05 if col in ("Home_MetropolitanArea", "Business_Model", "CRM_Used") else 0.01)
        values[miss] = _na(rng, int(miss.sum()))
        text[col] = values
        obs = reps[col].astype(object).to_numpy().copy()
        obs[empty | miss] = None
        observed[col] = obs
    # ZIPs lose leading zeros in spreadsheet round-trips.
    z = rng.random(n) < 0.2
    text.loc[z, "Branch_ZipCode"] = text.loc[z, "Branch_ZipCode"].astype(str).str.lstrip("0")
    return text[[c.name for c in marketpro_columns()]], observed


def _duplicate_rows(rng, text: pd.DataFrame, terr: np.ndarray, k: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Copies of ``k`` reps exported again by a neighbouring territory, with extra blanks (less complete)."""
    idx = rng.choice(len(text), k, replace=False)
    dup = text.iloc[idx].copy()
    others = {"T1": ["T2"], "T2": ["T1", "T3"], "T3": ["T2"]}
    dup_terr = np.array([rng.choice(others[t]) for t in terr[idx]])
    blank_cols = ["AUMGrowthRate_5Year", "Assets_In_Millions_HNW", "Number_Clients_HNW_Individuals",
                  "Percent_Assets_Alternatives", "Designations", "Specialties", "CRM_Used", "Team_Size"]
    for col in blank_cols:
        dup[col] = "NA"
    return dup, dup_terr


def _true_logit(obs: pd.DataFrame, weekend: np.ndarray, source_idx: np.ndarray, has_linkedin: np.ndarray,
                matched: np.ndarray) -> np.ndarray:
    """Log-odds of an MQL within 30 days, from observable values only (NaN contributes nothing)."""
    def f(col):
        return obs[col].to_numpy(dtype=float)

    z = np.zeros(len(obs))
    aum = f("TotalAssetsInMillions")
    g1 = np.clip(f("AUMGrowthRate_1Year"), -50, 200)
    z += np.nan_to_num(np.where(g1 < 0, 0.35, np.where(g1 < 10, 0.15, np.where(g1 > 30, -0.25, 0.0))))
    t = f("Date_Of_Hire_At_Current_Firm_Years")
    z += np.nan_to_num(np.where((t >= 3) & (t <= 7), 0.75, np.where((t >= 2) & (t <= 10), 0.3, np.where(t > 15, -0.55, 0.0))))
    moves = f("Firm_Moves_10yr")
    z += np.nan_to_num(0.22 * np.minimum(moves, 3))
    z += np.nan_to_num(0.45 * f("Has_Disclosure"))
    hnw = f("Number_Clients_HNW_Individuals") / np.where(f("Number_Investment_Advisory_Clients") > 0, f("Number_Investment_Advisory_Clients"), np.nan)
    z += np.nan_to_num(0.9 * np.clip(hnw, 0, 1))
    z += np.nan_to_num(0.25 * f("Is_Team_Lead"))
    bm = obs["Business_Model"].to_numpy(dtype=object)
    for name, eff in zip(BUSINESS_MODELS, BM_EFFECT):
        z += np.where(bm == name, eff, 0.0)
    des = obs["Designations"].fillna("").astype(str).to_numpy()
    z += np.where(np.char.find(des.astype(str), "CFP") >= 0, 0.25, 0.0)
    vet = f("Date_Became_Rep_Number_Of_Years") > 10
    z += np.where(vet & (np.nan_to_num(moves) >= 2), 0.35, 0.0)
    z += LEAD_SOURCE_EFFECT[source_idx]
    z += np.where(has_linkedin, 0.15, 0.0)
    z *= SIGNAL  # advisor-level signal strength (see GENERATIVE_MODEL.md)
    # Firm size, metro and contact day keep the spec's observed marginal effects (not scaled).
    z += np.nan_to_num(-0.45 * np.clip(np.log10(np.clip(aum, 1, None)) - 2.0, -1.2, 1.8))
    metro = obs["Home_MetropolitanArea"].to_numpy(dtype=object)
    for name, (_, _, eff) in METROS.items():
        z += np.where(metro == name, eff, 0.0)
    crm_only = SIGNAL * (LEAD_SOURCE_EFFECT[source_idx] + np.where(has_linkedin, 0.15, 0.0)) - 0.15
    z = np.where(matched, z, crm_only)  # no discovery data: only the CRM signal remains
    z += np.where(weekend, 0.8, 0.0)
    return z


TRUTHS = ("additive", "interactions", "thresholds", "long-tail")
# Long-tail families draw lists and agencies from longer, Zipf-shaped menus (what real orgs accumulate).
LONG_TAIL_LISTS = np.array(list(LEAD_LISTS) + [f"{w} {k} Advisors {y}" for y in (2023, 2024, 2025)
                                               for w in ("Apollo", "ZoomInfo", "Seamless", "Broker Check")
                                               for k in ("RIA", "IBD", "Hybrid")])
LONG_TAIL_AGENCIES = np.array(["", "Blue Fox Agency", "Northwind Sourcing", "Keystone Talent", "Ridgeline Partners",
                               "Harborview Search", "Atlas Outreach", "Summit Lead Co", "Bluewater Group",
                               "Crescent Prospecting", "Evergreen Sourcing", "Lakeside Leads"])


def level_effect(family: str, column: str, level, sd: float) -> float:
    """A fixed effect for one category level: a normal draw seeded by the level's name, so the same level
    has the same effect in every file, at every scale and seed (a property of the world, not of the draw)."""
    if level is None or (isinstance(level, float) and np.isnan(level)) or level == "":
        return 0.0
    key = zlib.crc32(f"{family}|{column}|{level}".encode("utf-8"))
    return float(np.random.default_rng(key).normal(0.0, sd))


def _level_effects(family: str, column: str, values: np.ndarray, sd: float) -> np.ndarray:
    values = pd.Series(values, dtype=object)
    uniq = {v: level_effect(family, column, v, sd) for v in values.dropna().unique()}
    return values.map(uniq).fillna(0.0).to_numpy(dtype=float)


def _interactions_logit(obs, weekend, source_idx, has_linkedin, matched, cats) -> np.ndarray:
    """Pairwise effects carry most of the signal: each factor alone moves little, the pair moves a lot."""
    def f(col):
        return obs[col].to_numpy(dtype=float)

    z = np.zeros(len(obs))
    tenure, moves = f("Date_Of_Hire_At_Current_Firm_Years"), f("Firm_Moves_10yr")
    in_window = (tenure >= 2.5) & (tenure <= 8)
    z += np.where(in_window & (moves >= 1), 1.1, 0.0) + np.where(in_window & ~(moves >= 1), 0.15, 0.0)
    aum, g1 = f("TotalAssetsInMillions"), np.clip(f("AUMGrowthRate_1Year"), -50, 200)
    small, large = aum < 100, aum >= 300
    z += np.where(small & (g1 > 10), 0.9, 0.0) + np.where(large & (g1 < 0), 0.8, 0.0) - np.where(large & (g1 > 20), 0.4, 0.0)
    hnw = f("Number_Clients_HNW_Individuals") / np.where(f("Number_Investment_Advisory_Clients") > 0,
                                                         f("Number_Investment_Advisory_Clients"), np.nan)
    bm = obs["Business_Model"].to_numpy(dtype=object)
    z += np.where((bm == "Fee-Based (Hybrid)") & (hnw > 0.3), 0.9, 0.0)
    z += np.where((bm == "Commission") & (hnw < 0.2), -0.6, 0.0)
    disc, lead = f("Has_Disclosure") == 1, f("Is_Team_Lead") == 1
    z += np.where(disc & ~lead, 0.7, 0.0) + np.where(disc & lead, -0.5, 0.0)
    vet = f("Date_Became_Rep_Number_Of_Years") > 12
    z += np.where(vet & (f("Percent_Assets_Alternatives") > 8), 0.7, 0.0)
    z += LEAD_SOURCE_EFFECT[source_idx] * 0.5 + np.where(has_linkedin, 0.1, 0.0)
    z *= 1.5
    crm_only = 1.5 * (LEAD_SOURCE_EFFECT[source_idx] * 0.5 + np.where(has_linkedin, 0.1, 0.0)) - 0.15
    z = np.where(matched, z, crm_only)
    referral = LEAD_SOURCES[source_idx] == "Referral"
    z += np.where(weekend & referral, 1.4, np.where(weekend, 0.4, 0.0))
    return z


def _thresholds_logit(obs, weekend, source_idx, has_linkedin, matched, cats) -> np.ndarray:
    """Non-monotone bumps and hard thresholds: the middle converts, both ends do not."""
    def f(col):
        return obs[col].to_numpy(dtype=float)

    z = np.zeros(len(obs))
    la = np.log10(np.clip(f("TotalAssetsInMillions"), 0.1, None))
    z += np.where((la >= 2.0) & (la <= 2.6), 0.8, np.where(la > 3.2, -0.5, 0.0))  # $100M-$400M sweet spot
    g1 = np.clip(f("AUMGrowthRate_1Year"), -50, 200)
    z += np.where((g1 >= 4) & (g1 <= 14), 0.55, np.where(g1 > 35, -0.45, 0.0))
    years = f("Date_Became_Rep_Number_Of_Years")
    z += np.where((years >= 8) & (years <= 15), 0.6, np.where(years > 30, -0.5, 0.0))
    z += np.where(f("Miles_Distance_Home_To_Branch") > 35, 0.55, 0.0)
    z += np.where(f("Team_Size") >= 6, 0.5, 0.0)
    z += np.where(f("Percent_Clients_US") < 92, 0.45, 0.0)
    prior = f("NumberOfPriorFirms")
    z += np.where(prior == 2, 0.6, np.where(prior >= 5, -0.4, 0.0))
    z += np.where(f("Number_Employees") <= 3, 0.5, 0.0)
    z += LEAD_SOURCE_EFFECT[source_idx] + np.where(has_linkedin, 0.15, 0.0)
    z *= 1.7
    crm_only = 1.7 * (LEAD_SOURCE_EFFECT[source_idx] + np.where(has_linkedin, 0.15, 0.0)) - 0.15
    z = np.where(matched, z, crm_only)
    z += np.where(weekend, 0.8, 0.0)
    return z


def _long_tail_logit(obs, weekend, source_idx, has_linkedin, matched, cats) -> np.ndarray:
    """Much of the signal sits in categories with many levels: every home metro (not only the big five),
    the owning SGA, the purchased list, the agency, the custodian and the CRM each have their own effect."""
    fam = "long-tail"
    z = 0.45 * _true_logit(obs, np.zeros(len(obs), bool), source_idx, has_linkedin, np.ones(len(obs), bool))
    z += _level_effects(fam, "metro", obs["Home_MetropolitanArea"].to_numpy(dtype=object), 0.7)
    z += _level_effects(fam, "custodian", obs["Current_Custodian"].to_numpy(dtype=object), 0.35)
    z += _level_effects(fam, "crm", obs["CRM_Used"].to_numpy(dtype=object), 0.3)
    z += _level_effects(fam, "title", obs["Title"].to_numpy(dtype=object), 0.3)
    crm_side = (_level_effects(fam, "owner", cats["owner"], 0.4) + _level_effects(fam, "list", cats["list"], 0.55)
                + _level_effects(fam, "agency", cats["agency"], 0.5))
    z = np.where(matched, z, 0.45 * 2.1 * LEAD_SOURCE_EFFECT[source_idx] - 0.15) + crm_side
    z += np.where(weekend, 0.8, 0.0)
    return z


def truth_logit(family: str, obs, weekend, source_idx, has_linkedin, matched, cats) -> np.ndarray:
    if family == "additive":
        return _true_logit(obs, weekend, source_idx, has_linkedin, matched)
    return {"interactions": _interactions_logit, "thresholds": _thresholds_logit,
            "long-tail": _long_tail_logit}[family](obs, weekend, source_idx, has_linkedin, matched, cats)


def _sf_id(prefix: str, i: np.ndarray) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(i.astype(str), 15 - len(prefix))).astype(object)


def _ts_text(ts: pd.Series) -> np.ndarray:
    """Salesforce's export format: 2025-03-04T15:22:10.000+0000."""
    out = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.000+0000").to_numpy(dtype=object)
    out[ts.isna().to_numpy()] = ""
    return out


def history_months(sc: Scale, count: int | None = None) -> list[str]:
    """The territory snapshot months, oldest first, ending with the export month (``count`` of them)."""
    end = pd.Period(EXPORT_AT.strftime("%Y-%m"), "M")
    count = count or HISTORY_MONTHS["small" if sc is SCALES["small"] else "full"]
    return [str(end - k) for k in range(count - 1, -1, -1)]


def _evolve(rng, reps: pd.DataFrame, present: np.ndarray) -> None:
    """One month passes: tenure ages, firm assets move with the market and the firm, growth rates wander,
    and some advisors move to another firm (new firm's figures, tenure restarts, one more prior firm)."""
    n = len(reps)
    for col in ("Date_Became_Rep_Number_Of_Years", "Date_Of_Hire_At_Current_Firm_Years"):
        reps[col] = np.round(reps[col] + 1 / 12, 2)
    firm, inv = np.unique(reps["RIAFirmCRD"].to_numpy(), return_inverse=True)
    factor = np.exp(rng.normal(0.005, 0.02, len(firm)) + rng.normal(0, 0.01))[inv]
    for col in FAULT_COLUMNS:
        reps[col] = np.round(reps[col] * factor, 1)
    reps["AUMGrowthRate_1Year"] = np.round(np.maximum(reps["AUMGrowthRate_1Year"] + rng.normal(0, 1.2, n), -90), 1)
    reps["AUMGrowthRate_5Year"] = np.round(np.maximum(reps["AUMGrowthRate_5Year"] + rng.normal(0, 0.8, n), -90), 1)
    movers = np.where(present & (rng.random(n) < MONTHLY_MOVES))[0]
    if len(movers):
        donors = rng.choice(np.where(present)[0], len(movers))
        for col in ("RIAFirmCRD", "RIAFirmName", "Number_Employees", "Number_IAReps", *FAULT_COLUMNS):
            reps.iloc[movers, reps.columns.get_loc(col)] = reps[col].to_numpy()[donors]
        prior = reps["NumberOfPriorFirms"].to_numpy()[movers] + 1
        years = reps["Date_Became_Rep_Number_Of_Years"].to_numpy()[movers]
        reps.iloc[movers, reps.columns.get_loc("NumberOfPriorFirms")] = prior
        reps.iloc[movers, reps.columns.get_loc("Firm_Moves_10yr")] = reps["Firm_Moves_10yr"].to_numpy()[movers] + 1
        reps.iloc[movers, reps.columns.get_loc("AverageTenureAtPriorFirms")] = np.round((years - 0.04) / prior, 1)
        reps.iloc[movers, reps.columns.get_loc("Date_Of_Hire_At_Current_Firm_Years")] = 0.04


def _vendor_fault(text: pd.DataFrame, observed: pd.DataFrame, terr: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scripted vendor fault: one territory's money columns arrive in thousands (text and parsed values)."""
    text, observed = text.copy(), observed.copy()
    hit = terr == FAULT_TERRITORY
    for col in FAULT_COLUMNS:
        v = observed.loc[hit, col].to_numpy(dtype=float) * 1000
        shown = _fmt_num(v, "%.1f")
        shown[np.isnan(v)] = text.loc[hit, col].to_numpy()[np.isnan(v)]
        text.loc[hit, col] = shown
        observed.loc[hit, col] = v
    return text, observed


def _write_exports(rng, rows: pd.DataFrame, terr: np.ndarray, folder: Path, month: str, seed: int,
                   append: bool = False) -> dict[str, int]:
    """One month's three territory files, each with its own encoding and line ending; rows written per file.
    ``append``: a further chunk of the same month (no header, no second byte-order mark)."""
    folder.mkdir(exist_ok=True)
    counts = {}
    for t, (encoding, newline) in {"T1": ("utf-8-sig", "\n"), "T2": ("utf-8", "\r\n"), "T3": ("latin-1", "\n")}.items():
        part = rows[terr == t].sample(frac=1.0, random_state=seed)  # exports are not sorted
        if t == "T3":
            part = part.assign(Firm_Website=np.where(rng.random(len(part)) < 0.3, "www.example.com", ""))
        part.to_csv(folder / f"discovery_{t.lower()}_{month.replace('-', '_')}.csv", index=False,
                    encoding="utf-8" if append and encoding == "utf-8-sig" else encoding, mode="a" if append else "w",
                    header=not append, lineterminator=newline, errors="replace")
        counts[t] = len(part)
    return counts


def _write_month(rng, reps: pd.DataFrame, idx_present: np.ndarray, month: str, dups: int, folder: Path,
                 seed: int) -> tuple[dict[str, int], list[pd.DataFrame]]:
    """Render and write one month's territory files in chunks of ``CHUNK_REPS`` reps (one chunk up to the full
    scale, so those files are as before). Returns rows written per file and what the engine will observe of
    every present rep, chunk by chunk (never concatenated: see ``_observed_rows``), before the vendor fault
    (the fault is in the file, not the world)."""
    counts = {"T1": 0, "T2": 0, "T3": 0}
    observed_parts = []
    chunks = np.array_split(idx_present, max(1, -(-len(idx_present) // CHUNK_REPS)))
    for i, chunk in enumerate(chunks):
        text, observed = _render_territory(rng, reps.iloc[chunk])
        observed_parts.append(observed)
        terr = reps["territory"].to_numpy()[chunk]
        if month == FAULT_MONTH:
            text, _ = _vendor_fault(text, observed, terr)
        k = dups if len(chunks) == 1 else int(round(dups * len(chunk) / len(idx_present)))
        dup_text, dup_terr = _duplicate_rows(rng, text, terr, k)
        written = _write_exports(rng, pd.concat([text, dup_text]), np.r_[terr, dup_terr], folder, month, seed, append=i > 0)
        counts = {t: counts[t] + written[t] for t in counts}
        del text, dup_text
    return counts, observed_parts


def _observed_rows(parts: list[pd.DataFrame], positions: np.ndarray) -> pd.DataFrame:
    """Rows ``positions`` (in the month's order of present reps) of the chunked observed values."""
    if len(parts) == 1:
        return parts[0].iloc[positions]
    starts = np.cumsum([0] + [len(p) for p in parts])
    which = np.searchsorted(starts, positions, side="right") - 1
    order = np.argsort(which, kind="stable")
    picked = pd.concat([parts[k].iloc[positions[order][which[order] == k] - starts[k]] for k in range(len(parts))])
    return picked.iloc[np.argsort(order, kind="stable")]


def _pick_advisors(rng, mine, shifted_lead, rep_idx, used, present, west) -> None:
    """Leads whose snapshot is this month pick an advisor exported this month, never one picked before; the
    population shift's leads come from the West (T3) territory while it lasts. Fills ``rep_idx`` and ``used``."""
    for want_shift in (True, False):
        who = mine[(shifted_lead[mine] == want_shift) & (rep_idx[mine] < 0)]
        pool = np.where(present & ~used & (west if want_shift else True))[0]
        take = rng.choice(pool, min(len(who), len(pool)), replace=False)
        rep_idx[who[: len(take)]] = take
        used[take] = True
    left = mine[rep_idx[mine] < 0]  # the West ran short: the rest come from anywhere
    take = rng.choice(np.where(present & ~used)[0], len(left), replace=False)
    rep_idx[left], used[take] = take, True


@dataclass
class LeadTiming:
    """When each Lead was created and first contacted (before the outcome is drawn)."""
    created: pd.Series
    contacted: np.ndarray
    contact: pd.Series
    lead_month: np.ndarray
    shifted_lead: np.ndarray
    matched: np.ndarray  # will match MarketPro, before the advisor draw can take that away


@dataclass
class DemoLeads:
    """Every Lead of one demo draw, as arrays in Lead order: timing, the advisor each one reached, CRM fields,
    the hidden probability and the outcome (``p`` before the scripted treatment, ``p_realised`` after)."""
    ids: np.ndarray
    created: pd.Series
    contact: pd.Series  # NaT where never contacted
    contacted: np.ndarray
    lead_month: np.ndarray  # the territory month each lead's advisor record comes from
    shifted_lead: np.ndarray  # part of the scripted population shift
    matched: np.ndarray  # matched to a MarketPro advisor the engine keeps
    lead_crd: np.ndarray
    rep_idx: np.ndarray
    rep_obs: pd.DataFrame  # the advisor record as the engine observes it (before any vendor fault)
    weekend: np.ndarray
    source_idx: np.ndarray
    has_linkedin: np.ndarray
    owner: np.ndarray
    lead_list: np.ndarray
    agency: np.ndarray
    arm: np.ndarray
    which: np.ndarray
    p: np.ndarray
    p_realised: np.ndarray
    mql30: np.ndarray
    mql_at: pd.Series
    last_mod: pd.Series

    @property
    def n(self) -> int:
        return len(self.ids)


def territory_files(folder: str | Path) -> list[Path]:
    """Every territory export a generated demo folder holds: the monthly history (``history/``), then the newest
    month; ``load_territory_months`` loads them month by month, oldest first."""
    folder = Path(folder)
    return sorted(folder.glob("history/discovery_t*_*.csv")) + sorted(folder.glob("discovery_t*_*.csv"))


def generate(outdir: str | Path, scale: str = "small", seed: int = 42, progress=None, truth: str = "additive",
             history: int | None = None) -> dict:
    """Write the territory files, the Salesforce export and the truth file; return a summary dict.
    ``truth`` picks the shape of the hidden outcome model (``TRUTHS``; see ``GENERATIVE_MODEL_DOC``);
    ``history`` the number of monthly territory snapshots (default: 19 small, 13 otherwise).
    Steps, in the order they draw from the one random stream: reps → lead timing → territory months (and the
    advisor each contacted lead reached) → outcomes → the Salesforce export and call activity → the truth files."""
    if history is not None and not 1 <= history <= 36:
        raise LeadScoringError(f"--history-months {history}: choose between 1 and 36.")
    if scale not in SCALES:
        raise LeadScoringError(f"--scale {scale!r}: choose {', '.join(SCALES)}.")
    if truth not in TRUTHS:
        raise LeadScoringError(f"--truth {truth!r}: choose one of {', '.join(TRUTHS)}.")
    progress = progress or (lambda f, m: None)
    started = time.perf_counter()
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise LeadScoringError(f"demo-data {outdir}: is a file; give a folder to write the demo exports into.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeadScoringError(f"demo-data {outdir}: cannot make the folder ({exc.strerror}); choose a folder you can "
                               "write to.") from exc
    (out / "truth").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    sc = SCALES[scale]
    progress(0.02, "Generating reps")
    months = history_months(sc, history)
    joiners = int(round(sc.unique_reps * MONTHLY_CHURN * (len(months) - 1)))
    reps = _reps(rng, sc.unique_reps + joiners)
    join_month = np.r_[np.zeros(sc.unique_reps, dtype=int), rng.integers(1, len(months), joiners)]
    timing = _lead_timing(rng, sc.leads, sc.contact_share, months)
    files, rep_idx, rep_obs = _territory_history(rng, reps, join_month, months, sc, timing, out, seed, progress)
    progress(0.6, "Generating leads")
    leads = _outcomes(rng, seed, truth, reps, timing, rep_idx, rep_obs)
    progress(0.75, "Writing the Salesforce export")
    sf_rows = _write_salesforce(rng, seed, reps, leads, out)
    progress(0.85, "Writing the call activity")
    tasks = demo_activity.tasks_frame(seed, leads.ids, leads.contact, leads.mql_at, leads.contacted,
                                      np.array([SGAS[i][0] for i in leads.owner], dtype=object), pd.Timestamp(EXPORT_AT))
    tasks.to_csv(out / "salesforce_tasks.csv", index=False, encoding="utf-8")
    progress(0.9, "Writing the truth file")
    c = _write_truth(seed, truth, leads, out)
    summary = {
        "scale": scale, "seed": seed, "truth": truth, "export_at": EXPORT_AT.isoformat(),
        "tasks": int(len(tasks)),
        "territory_rows": int(sum(files.values())), "territory_rows_by_file": files,
        "unique_reps": int(sc.unique_reps), "salesforce_rows": int(sf_rows), "leads": int(leads.n),
        "contacted": int(c.shape[0]), "positive_rate_30d_drawn": round(float(c.drew_mql_30d.mean()), 4),
        "mean_true_prob_contacted": round(float(c.true_prob_mql_30d.mean()), 4),
        "weekend_rate": round(float(c[c.weekend_contact].drew_mql_30d.mean()), 4),
        "weekday_rate": round(float(c[~c.weekend_contact].drew_mql_30d.mean()), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }
    progress(1.0, "Demo data written")
    return summary


def _lead_timing(rng, n: int, contact_share: float, months: list[str]) -> LeadTiming:
    """When each Lead was created and contacted, and so which territory month its advisor is read from; which
    leads belong to the population shift; which will match MarketPro."""
    span = timedelta(days=570)
    created = pd.Series(pd.to_datetime(EXPORT_AT - span) + pd.to_timedelta(rng.uniform(0, span.total_seconds(), n), unit="s"))
    contacted = rng.random(n) < contact_share
    delay = pd.to_timedelta(rng.exponential(4 * 86400, n), unit="s")
    contact = created + delay
    # Day-of-week mix: SGAs work weekdays, some weekends.
    dow_shift = rng.choice(7, n, p=[0.185, 0.185, 0.185, 0.185, 0.16, 0.065, 0.035])
    forward = (dow_shift - contact.dt.day_of_week.to_numpy()) % 7
    contact = contact.dt.normalize() + pd.to_timedelta(forward, unit="D") \
        + pd.to_timedelta(rng.uniform(8, 18, n) * 3600, unit="s")
    contact = contact.where(contact > created, contact + pd.Timedelta(days=7))
    contacted &= (contact <= pd.Timestamp(EXPORT_AT)).to_numpy()
    lead_month = np.where(contacted, contact.dt.strftime("%Y-%m").to_numpy(dtype=object), months[-1])
    lead_month = np.where(lead_month.astype(str) < months[0], months[0], lead_month.astype(str))  # before the first snapshot: the first one
    shifted_lead = (created >= pd.Timestamp(SHIFT_FROM, tz="UTC")).to_numpy() & (rng.random(n) < SHIFT_SHARE)
    matched = rng.random(n) < 0.95
    return LeadTiming(created, contacted, contact, lead_month, shifted_lead, matched)


def _territory_history(rng, reps: pd.DataFrame, join_month: np.ndarray, months: list[str], sc: Scale, timing: LeadTiming,
                       out: Path, seed: int, progress) -> tuple[dict, np.ndarray, pd.DataFrame]:
    """Each month: reps evolve, join and leave; the month's files are written (the newest in ``out``, earlier
    ones in ``out/history``); leads contacted that month pick an advisor exported that month. Returns the newest
    month's files, each lead's advisor (-1: none) and that advisor's record as the engine observes it."""
    n_reps, n = sc.unique_reps, len(timing.created)
    lead_month, shifted_lead = timing.lead_month, timing.shifted_lead
    present = np.zeros(len(reps), dtype=bool)
    present[:n_reps] = True
    rep_idx = np.full(n, -1)
    used = np.zeros(len(reps), dtype=bool)
    rep_obs_parts, files = [], {}
    for m_i, m in enumerate(months):
        progress(0.05 + 0.5 * m_i / len(months), f"Territory month {m} ({m_i + 1} of {len(months)})")
        if m_i:
            _evolve(rng, reps, present)
            present |= join_month == m_i
            present &= ~((rng.random(len(reps)) < MONTHLY_CHURN) & (join_month < m_i))
        idx_present = np.where(present)[0]
        written, truth_obs = _write_month(
            rng, reps, idx_present, m, int(round(sc.cross_territory_dups * len(idx_present) / n_reps)),
            out if m == months[-1] else out / "history", seed)
        files = written if m == months[-1] else files
        # Leads whose snapshot is this month pick an advisor exported this month (never one picked before);
        # the population shift's leads come from the West (T3) territory.
        mine = np.where(lead_month == m)[0]
        _pick_advisors(rng, mine, shifted_lead, rep_idx, used, present, reps["territory"].to_numpy() == "T3")
        # The truth reads what the engine can observe, before the vendor fault (the fault is in the file, not the world).
        pos = pd.Series(np.arange(len(idx_present)), index=idx_present)
        sel = mine[rep_idx[mine] >= 0]
        part = _observed_rows(truth_obs, pos.reindex(rep_idx[sel]).to_numpy()).reset_index(drop=True)
        part.index = sel
        rep_obs_parts.append(part)
    return files, rep_idx, pd.concat(rep_obs_parts).reindex(np.arange(n))


def _outcomes(rng, seed: int, family: str, reps: pd.DataFrame, timing: LeadTiming, rep_idx: np.ndarray,
              rep_obs: pd.DataFrame) -> DemoLeads:
    """CRD matching, CRM fields, the hidden probability (intercept solved for the target base rate, the scripted
    experiment's lift included), the drawn MQLs and their timing, and the data-quality defects."""
    created, contacted, contact = timing.created, timing.contacted, timing.contact
    shifted_lead, matched = timing.shifted_lead, timing.matched
    n = len(created)
    crd_pool = reps["RepCRD"].to_numpy()
    matched &= rep_idx >= 0
    lead_crd = np.where(matched, crd_pool[np.maximum(rep_idx, 0)], rng.integers(8_000_001, 9_900_000, n)).astype(float)
    crd_lost = rng.random(n) < 0.004  # a few Leads without a CRD at all
    lead_crd[crd_lost] = np.nan
    # Matched leads see the rep record the engine will keep; a rep whose CRD row was quarantined is unmatched.
    matched = matched & ~crd_lost & ~np.isnan(rep_obs["RepCRD"].to_numpy(dtype=float))
    rep_idx = np.maximum(rep_idx, 0)
    weekend = contact.dt.day_of_week.to_numpy() >= 5
    source_idx = rng.choice(len(LEAD_SOURCES), n, p=LEAD_SOURCE_P)
    has_linkedin = rng.random(n) < 0.6
    # CRM-side categories are drawn from their own stream (the rest of the file does not depend on the family).
    crng = np.random.default_rng(seed + 7919)
    long_tail = family == "long-tail"
    lists = LONG_TAIL_LISTS if long_tail else LEAD_LISTS
    list_p = (1 / np.arange(1, len(lists) + 1)) / (1 / np.arange(1, len(lists) + 1)).sum() if long_tail else None
    agencies = LONG_TAIL_AGENCIES if long_tail else AGENCIES
    agency_p = np.r_[0.6, np.full(len(agencies) - 1, 0.4 / (len(agencies) - 1))] if long_tail else [0.7, 0.2, 0.1]
    owner = crng.integers(0, len(SGAS), n)
    lead_list = crng.choice(lists, n, p=list_p)
    lead_list[shifted_lead] = SHIFT_LIST  # the population shift: a new purchased list
    agency = crng.choice(agencies, n, p=agency_p)
    cats = {"owner": np.array([SGAS[i][0] for i in owner], dtype=object), "list": lead_list.astype(object),
            "agency": np.where(agency == "", None, agency).astype(object)}
    z = truth_logit(family, rep_obs, weekend, source_idx, has_linkedin, matched, cats)
    # The scripted experiments (core.demo_activity): treated leads book more often; own random streams.
    ids = _sf_id("00Q5f00000", np.arange(n))
    arm, which = demo_activity.assign_experiment(seed, contact, contacted, rep_obs["TotalAssetsInMillions"].where(matched),
                                                 ids)
    treated = arm == 1
    # Intercept solved so the contacted population, treated leads included, converts at the target rate.
    lo, hi = -8.0, 0.0
    for _ in range(60):
        mid = (lo + hi) / 2
        q = _sigmoid(z + mid)
        q = np.where(treated, np.minimum(q * (1 + demo_activity.TRUE_LIFT), 0.95), q)
        if q[contacted].mean() < BASE_RATE_30D:
            lo = mid
        else:
            hi = mid
    p = _sigmoid(z + lo)
    mql30 = (rng.random(n) < p) & contacted
    late = (~mql30) & contacted & (rng.random(n) < p * LATE_SHARE / (1 - LATE_SHARE) / np.maximum(1 - p, 1e-9))
    days = np.where(mql30, rng.gamma(1.2, 6, n).clip(0.01, 29.9), np.where(late, rng.uniform(31, 200, n), np.nan))
    mql_at = contact + pd.to_timedelta(np.nan_to_num(days) * 86400, unit="s")
    mql_at = mql_at.where(mql30 | late)
    mql30, late, mql_at, p_realised = demo_activity.apply_treatment(seed, p, arm, mql30, late, mql_at, contact)
    defect = (mql30 | late) & (rng.random(n) < 0.01)  # MQL stamped before contact: a data-quality defect
    mql_at = mql_at.where(~defect, contact - pd.to_timedelta(rng.uniform(1, 10, n), unit="D"))
    mql_at = mql_at.where(mql_at <= pd.Timestamp(EXPORT_AT))  # not happened yet at export time
    contact = contact.where(contacted)
    last_mod = pd.concat([created, contact, mql_at], axis=1).max(axis=1) + pd.to_timedelta(rng.uniform(0, 5, n), unit="D")
    last_mod = last_mod.where(last_mod <= pd.Timestamp(EXPORT_AT), pd.Timestamp(EXPORT_AT) - pd.Timedelta(minutes=5))
    last_mod.iloc[0] = pd.Timestamp(EXPORT_AT)

    return DemoLeads(ids, created, contact, contacted, timing.lead_month, shifted_lead, matched, lead_crd, rep_idx,
                     rep_obs, weekend, source_idx, has_linkedin, owner, lead_list, agency, arm, which, p, p_realised,
                     mql30, mql_at, last_mod)


def _write_salesforce(rng, seed: int, reps: pd.DataFrame, leads: DemoLeads, out: Path) -> int:
    """The Salesforce Lead export with the messiness of a real one (second Leads per CRD, rows exported twice,
    blanks, a hand-edited experiment tag, street addresses over two lines); returns its row count."""
    L = leads
    n, ids, created, contact, contacted, mql_at, last_mod = L.n, L.ids, L.created, L.contact, L.contacted, L.mql_at, L.last_mod
    matched, rep_idx, lead_crd, p, arm, which = L.matched, L.rep_idx, L.lead_crd, L.p, L.arm, L.which
    owner, source_idx, lead_list, agency, has_linkedin = L.owner, L.source_idx, L.lead_list, L.agency, L.has_linkedin
    is_mql = mql_at.notna().to_numpy()
    status = np.where(~contacted, "Open", np.where(is_mql, "MQL", rng.choice(["Contacting", "Nurture", "Closed - Not Interested"], n)))
    disposition = np.where(is_mql, "Call Booked", np.where(contacted, rng.choice(["No Answer", "Not Interested", "Bad Timing", ""], n), ""))
    first = rng.choice(FIRST, n)
    last = rng.choice(LAST, n)
    converted = is_mql & (rng.random(n) < 0.3)
    sf = pd.DataFrame({
        "Id": ids,
        "Full_Prospect_ID__c": np.char.add("FP-", np.arange(100000, 100000 + n).astype(str)),
        "FA_CRD__c": np.where(np.isnan(lead_crd), "", _crd_text(rng, np.nan_to_num(lead_crd).astype(np.int64))),
        "FirstName": first, "LastName": last, "Name": np.char.add(np.char.add(first.astype(str), " "), last.astype(str)),
        "Email": [f"lead{i}@advisor.example" for i in range(n)],
        "MobilePhone": [f"+1-555-{i % 10000:04d}" for i in range(n)],
        "Mobile_Phone_2__c": "",
        "LinkedIn_Profile_Apollo__c": np.where(has_linkedin, [f"https://www.linkedin.com/in/lead{i}" for i in range(n)], ""),
        # street addresses as Salesforce exports them: a suite on a second line of the quoted value (1 in 3)
        "Address": [f"{100 + i % 900} Market Street" + (f"\nSuite {100 + i % 40}" if i % 3 == 0 else "")
                    for i in range(n)],
        "City": rng.choice(CITIES, n),
        "State": np.where(matched, reps["Branch_State"].to_numpy()[rep_idx], rng.choice(sum(TERRITORY_STATES.values(), []), n)),
        "Company": reps["RIAFirmName"].to_numpy()[rep_idx], "Title": reps["Title"].to_numpy()[rep_idx],
        "LeadSource": LEAD_SOURCES[source_idx], "Lead_List_Name__c": lead_list,
        "External_Agency__c": agency,
        "Experimentation_Tag__c": np.where(which == 0, np.char.add(f"{demo_activity.EXPERIMENT}:",
                                           np.array(demo_activity.EXPERIMENT_ARMS)[np.maximum(arm, 0)]), ""),
        "CreatedDate": _ts_text(created), "Stage_Entered_Contacting__c": _ts_text(contact),
        "Stage_Entered_Call_Scheduled__c": _ts_text(mql_at),
        "OwnerId": [SGAS[i][0] for i in owner], "Owner.Name": [SGAS[i][1] for i in owner],
        "Status": status, "Disposition__c": disposition,
        "IsConverted": np.where(converted, "true", "false"),
        "ConvertedDate": np.where(converted, mql_at.dt.strftime("%Y-%m-%d").fillna(""), ""),
        "ConvertedOpportunityId": np.where(converted, _sf_id("0065f00000", np.arange(n)), ""),
        "Conversion_Channel__c": np.where(converted, "SGA", ""),
        "LastActivityDate": last_mod.dt.strftime("%Y-%m-%d"),
        "LastModifiedDate": _ts_text(last_mod),
        "Savvy_Lead_Score__c": np.where(contacted, np.round(np.clip(p * 100 + rng.normal(0, 3, n) + is_mql * 20, 0, 100)), ""),
    })
    # ~0.1% of CRDs sit on a second, older Lead (never contacted); the engine keeps the newest.
    k = max(2, int(n * 0.001))
    dup_src = rng.choice(np.where(~np.isnan(lead_crd))[0], k, replace=False)
    dups = sf.iloc[dup_src].copy()
    dups["Id"] = _sf_id("00Q5f00009", np.arange(k))
    for col in ["Stage_Entered_Contacting__c", "Stage_Entered_Call_Scheduled__c", "Savvy_Lead_Score__c"]:
        dups[col] = ""
    dups["Status"] = "Open"
    dups["LastModifiedDate"] = _ts_text(created.iloc[dup_src] - pd.Timedelta(days=30))
    dups["CreatedDate"] = dups["LastModifiedDate"]
    # A handful of rows exported twice (overlapping export pages), one with an older edit time.
    again = sf.iloc[rng.choice(n, max(2, n // 5000), replace=False)].copy()
    again["LastModifiedDate"] = _ts_text(pd.to_datetime(again["CreatedDate"], utc=True))
    sf_all = pd.concat([sf, dups, again]).sample(frac=1.0, random_state=seed)
    for col in ["City", "Title", "Lead_List_Name__c"]:
        miss = rng.random(len(sf_all)) < 0.02
        sf_all.loc[miss, col] = _na(rng, int(miss.sum()))
    sf_cols = [c.name for c in salesforce_columns()]
    # One tag the readout must refuse (no arm): a hand-edited record.
    tagged = np.where(sf_all["Experimentation_Tag__c"].to_numpy() != "")[0]  # the tagged experiment only
    sf_all.iloc[tagged[:1], sf_all.columns.get_loc("Experimentation_Tag__c")] = demo_activity.EXPERIMENT
    sf_all[sf_cols].to_csv(out / "salesforce_leads.csv", index=False, encoding="utf-8")
    return len(sf_all)


def _write_truth(seed: int, family: str, leads: DemoLeads, out: Path) -> pd.DataFrame:
    """The truth side-files the engine never reads; returns the contacted leads' truth rows."""
    L = leads
    contacted, weekend, arm, which, p = L.contacted, L.weekend, L.arm, L.which, L.p
    truth = pd.DataFrame({
        # The engine's form of the Id (18 characters; the export has the report's 15), so truth joins scores.
        "lead_id": to18_array(L.ids), "contacted": contacted, "true_prob_mql_30d": np.round(L.p_realised, 6),
        "drew_mql_30d": L.mql30, "weekend_contact": weekend & contacted,
        "aum_millions_observed": L.rep_obs["TotalAssetsInMillions"].where(L.matched),
        "matched_to_marketpro": L.matched, "snapshot_month": L.lead_month,
        "population_shift_lead": L.shifted_lead,
        "experiment": np.where(which == 0, demo_activity.TAGGED["name"],
                               np.where(which == 1, demo_activity.ENGINE["name"], "")),
        "experiment_arm": np.where(arm >= 0, np.array(demo_activity.EXPERIMENT_ARMS)[np.maximum(arm, 0)], ""),
    })
    truth.to_csv(out / "truth" / "demo_truth.csv", index=False)
    (out / "truth" / "experiment_truth.json").write_text(demo_activity.truth_json(seed, p, arm, which), encoding="utf-8")
    (out / "truth" / "GENERATIVE_MODEL.md").write_text(
        GENERATIVE_MODEL_DOC + f"\n**This data set was drawn with the `{family}` truth.**\n", encoding="utf-8")
    return truth[truth.contacted]


GENERATIVE_MODEL_DOC = """# How the demo outcome is generated

The engine never reads this folder. `demo_truth.csv` holds, per lead, `true_prob_mql_30d`: the
probability that the lead books an MQL within 30 days of contact, computed only from what the engine can
observe (values the export mess turned into NULL contribute nothing). The coin flip drawn from it is
the only other randomness, so this probability is the best ranking any model can reach.

Log-odds = intercept (solved so contacted leads convert at ~4.1%) + the firm-size, metro and weekend
terms below as listed + **2.1 ×** the sum of all other terms (advisor-level signal strength; with it
the best achievable AUC-PR on contacted leads is about 0.27 at a 4% base rate):

| signal (as observed) | effect on log-odds |
|---|---|
| firm AUM (smaller converts more) | -0.45 × clip(log10(AUM $M) − 2, −1.2, 1.8) |
| 1-year AUM growth | +0.35 if < 0; +0.15 if 0–10; −0.25 if > 30 |
| years at current firm | +0.75 in 3–7; +0.3 in 2–10 otherwise; −0.55 above 15 |
| firm moves in 10 years | +0.22 per move, up to 3 |
| disclosure on record | +0.45 |
| HNW client ratio | +0.9 × ratio |
| team lead | +0.25 |
| business model | hybrid +0.30, fee-only +0.05, commission −0.25, insurance −0.35 |
| CFP designation | +0.25 |
| home metro | New York −0.55, Los Angeles −0.60, Miami −0.15, Chicago −0.15, Dallas −0.10, … |
| veteran (>10 yrs) with ≥2 moves | +0.35 |
| no MarketPro match | all of the above replaced by −0.15 |
| weekend contact | +0.80 |
| lead source | referral +0.65, event +0.30, website +0.15, LinkedIn +0.10, list −0.05 |
| LinkedIn profile present | +0.15 |

## Other truth families (`demo-data --truth ...`)

The table above is the `additive` truth (the default): a sum of per-feature effects. Three other shapes
test whether the engine's choices hold when the world is not additive. Each keeps the same base rate,
the same export mess and the same rule that only observable values count; only the log-odds differ.

- `interactions`: pairs carry the signal. 3–8 years at the firm with at least one move in 10 years
  +1.1 (the window alone +0.15); firm AUM < $100M growing > 10% +0.9, AUM ≥ $300M shrinking +0.8 and
  growing > 20% −0.4; hybrid model with HNW ratio > 0.3 +0.9, commission with HNW ratio < 0.2 −0.6;
  disclosure without leading a team +0.7, with it −0.5; > 12 years a rep with > 8% in alternatives +0.7;
  half the lead-source effects, LinkedIn +0.1; all × 1.5; weekend contact of a referral +1.4, other
  weekend +0.4.
- `thresholds`: non-monotone bumps and cliffs. AUM $100M–$400M +0.8, above $1.6B −0.5; 1-year growth
  4–14% +0.55, above 35% −0.45; 8–15 years a rep +0.6, over 30 −0.5; home > 35 miles from the branch
  +0.55; team of 6+ +0.5; < 92% US clients +0.45; exactly 2 prior firms +0.6, 5+ −0.4; ≤ 3 employees
  +0.5; lead source and LinkedIn as in the additive truth; all × 1.7; weekend +0.8.
- `long-tail`: 0.45 × the additive truth plus a fixed effect for every level of six categories — home
  metro (all of them, including the small "… Area ST" metros; sd 0.7), custodian (0.35), CRM (0.3),
  title (0.3), owning SGA (0.4), purchased list (0.55; 38 lists with Zipf-shaped volumes) and outside
  agency (0.5; 11 agencies). Each level's effect is a normal draw seeded by the level's name
  (`level_effect`), so it is a property of the level, the same at every scale and seed.

## Monthly territory history and two scripted incidents

The demo ships one territory export per month (`history/discovery_tN_YYYY_MM.csv`, 19 months at small
scale and 13 at full, the newest month in the top folder). Month to month, tenure ages, firm assets move
with the market and the firm (about +0.5% a month, 2% firm-level noise), growth rates wander, 0.6% of
advisors move firm each month (new firm's figures, tenure restarts, one more prior firm) and 0.4% leave
while as many join. Each export's mess (NA spellings, formats, missing cells) is drawn afresh. Each
contacted lead's advisor is read from the snapshot of its contact month (`snapshot_month` in the truth
file), exactly as the engine's point-in-time join does; leads contacted before the first month read the
first one.

1. **Vendor fault, 2025-06, territory T2:** `TotalAssetsInMillions`, `Assets_In_Millions_Individuals`
   and `Assets_In_Millions_HNW` arrive in thousands (1,000× too large) for that month only. The fault is
   in the file, not in the world: the truth uses the values before the fault.
2. **Population shift from 2025-08-01:** 45% of newly created leads come from a new purchased list
   (`Apollo West Coast RIA 2025`) of West-territory (T3) advisors, so the lead-list and metro mix move
   (Los Angeles converts less) and the base rate with them (`population_shift_lead` in the truth file).

The engine reads neither fact; monitoring has to find them.

## Call activity and the scripted experiment

`salesforce_tasks.csv` holds the SGAs' Tasks: the contact itself is a dial, about 2.4 more calls follow
over 45 days and stop once the discovery call is booked; e-mails, calls with a blank `TaskSubtype`, Tasks
on Contacts, rows exported twice and two rows without an Id are mixed in. Two experiments run on disjoint
leads; in both, treated leads are called in model order, which raises their 30-day MQL probability by 60%
(relative; `true_prob_mql_30d` is the probability of the arm each lead was in):

- `scoring-pilot`, run outside the engine: leads contacted 2025-01-06 to 2025-05-04, tagged
  `Experimentation_Tag__c = scoring-pilot:control|treatment` (one hand-edited tag lacks its arm), 50/50 in
  permuted blocks of 4 within the advisor's true AUM tier;
- `tiering-pilot`, the engine's own: leads contacted 2025-06-02 to 2025-09-21, in exactly the arms the
  engine's assignment gives them (one stratum, contact order); the first start creates it and reads it out.

The true effect on MQLs per 100 dials of each, simulated over both potential outcomes of every lead in it,
is in `truth/experiment_truth.json`. See `core/demo_activity.py`.

About 10% of all MQLs arrive after 30 days (not positives); 1% of MQL timestamps are stamped before
contact (defects); contacts in the last 30 days before the export are right-censored; `Status`,
`Disposition__c`, `IsConverted` and `Savvy_Lead_Score__c` are set after contact and leak the outcome.
"""
