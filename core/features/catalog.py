"""The feature catalog: every model feature with its group, definition, source columns and whether its
sources are known at contact time. This is the one place features are defined — the SQL that builds
them, the leakage guard, the app's catalog page and ``docs/feature_catalog.md`` all read it.

Each feature is one BigQuery SQL expression over the point-in-time joined row:
``r.<MarketPro column>`` (the rep's territory snapshot at or before the contact month), ``l.<Lead
column>`` (Salesforce fields known at contact) and a few derived helpers (``g1``/``g5`` growth capped to
[-50, 200], ``contacted_at``, ``created_at``, ``contact_day``: the contact's date in the sales team's time zone,
config ``business_timezone``, or a date-only stamp's own date). Ratios use ``SAFE_DIVIDE(a, NULLIF(b, 0))``: a zero or null
denominator gives NULL, never inf. Learned one-hot levels (metros, categories) are filled in at build
time from the training population and stored with the features (and later with the model).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.contract import marketpro_columns, salesforce_columns
from core.errors import LeadScoringError


@dataclass(frozen=True)
class Feature:
    name: str
    group: str
    definition: str
    sql: str
    sources: tuple[str, ...]
    kind: str = "numeric"  # numeric | flag
    discovery: bool = True  # derived from MarketPro (a lead without a match has it NULL)


@dataclass(frozen=True)
class LearnedOneHot:
    """One-hot indicators for the most frequent levels of a column, learned from the training rows."""

    prefix: str
    group: str
    source_sql: str
    sources: tuple[str, ...]
    top_k: int
    definition: str
    discovery: bool = True
    exclude: tuple[str, ...] = field(default=())


def _f(name, group, definition, sql, sources, kind="numeric", discovery=True):
    return Feature(name, group, definition, sql, tuple(sources), kind, discovery)


def _flag(cond: str) -> str:
    """1/0 flag that stays NULL when its inputs are NULL (a missing value is never a fact)."""
    return f"CASE WHEN {cond} THEN 1 WHEN NOT ({cond}) THEN 0 END"


AUM = "r.TotalAssetsInMillions"
CLIENTS = "r.Number_Investment_Advisory_Clients"
EMP = "r.Number_Employees"
YEARS_REP = "r.Date_Became_Rep_Number_Of_Years"
YEARS_FIRM = "r.Date_Of_Hire_At_Current_Firm_Years"


def _div(a: str, b: str) -> str:
    return f"SAFE_DIVIDE({a}, NULLIF({b}, 0))"


US_STATES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "CALIF": "CA",
    "COLORADO": "CO", "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL",
    "GEORGIA": "GA", "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MASS": "MA",
    "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT", "NEBRASKA": "NE",
    "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM", "NEW YORK": "NY",
    "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA",
    "PUERTO RICO": "PR", "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN",
    "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA", "WEST VIRGINIA": "WV",
    "WISCONSIN": "WI", "WYOMING": "WY",
}


def state_code(expr: str) -> str:
    """A US state as its two-letter code, whatever a free-text Salesforce State holds: 'New York', 'ny', 'N.Y.',
    'Calif.'. Anything else is compared as written (upper-cased, without dots)."""
    v = f"REPLACE(UPPER(TRIM({expr})), '.', '')"
    whens = " ".join(f"WHEN '{name}' THEN '{code}'" for name, code in US_STATES.items())
    return f"(CASE {v} {whens} ELSE {v} END)"


# The owning SGA at contact (``lb.owner_at_contact``, sql/marts/lead_labels.sql). A Lead owned by a queue in the
# export (a Group Id, 00G…) was moved there after contact: recycling moves the Leads that did not book, so in a probe
# the queue was the strongest single feature (AUC 0.79, nearly all negatives) while no Lead scored today is in it.
# Such a Lead reads the owner of the Lead contacted just before it.
QUEUE_PREFIX = "00G"
OWNER_SQL = "lb.owner_at_contact"


BASE = [
    _f("TotalAssetsInMillions", "Firmographics", "Firm regulatory AUM, $M", AUM, ["TotalAssetsInMillions"]),
    _f("Log_TotalAssets", "Firmographics", "ln(1 + AUM $M) (log transform for AUM, spec §5.4.2)",
       f"LN(1 + GREATEST({AUM}, 0))", ["TotalAssetsInMillions"]),
    _f("Assets_In_Millions_Individuals", "Client Composition", "AUM from individual clients, $M",
       "r.Assets_In_Millions_Individuals", ["Assets_In_Millions_Individuals"]),
    _f("Log_Assets_Individuals", "Client Composition", "ln(1 + individual-client AUM $M)",
       "LN(1 + GREATEST(r.Assets_In_Millions_Individuals, 0))", ["Assets_In_Millions_Individuals"]),
    _f("Assets_In_Millions_HNW", "Client Composition", "AUM from high-net-worth clients, $M",
       "r.Assets_In_Millions_HNW", ["Assets_In_Millions_HNW"]),
    _f("AUM_Growth_Rate_1Year", "Growth Metrics", "1-year AUM growth %, capped to [-50, 200]", "g1",
       ["AUMGrowthRate_1Year"]),
    _f("AUM_Growth_Rate_5Year", "Growth Metrics", "5-year AUM growth %, capped to [-50, 200]", "g5",
       ["AUMGrowthRate_5Year"]),
    _f("Number_Employees", "Firmographics", "Firm employees", EMP, ["Number_Employees"]),
    _f("Log_Number_Employees", "Firmographics", "ln(1 + employees)", f"LN(1 + GREATEST({EMP}, 0))",
       ["Number_Employees"]),
    _f("Number_IAReps", "Firmographics", "Investment adviser representatives at the firm", "r.Number_IAReps",
       ["Number_IAReps"]),
    _f("Number_BranchAdvisors", "Firmographics", "Advisors in the branch", "r.Number_BranchAdvisors",
       ["Number_BranchAdvisors"]),
    _f("Number_Investment_Advisory_Clients", "Firmographics", "Firm advisory clients", CLIENTS,
       ["Number_Investment_Advisory_Clients"]),
    _f("Log_Number_Clients", "Firmographics", "ln(1 + advisory clients)", f"LN(1 + GREATEST({CLIENTS}, 0))",
       ["Number_Investment_Advisory_Clients"]),
    _f("Number_Clients_Individuals", "Client Composition", "Individual clients", "r.Number_Clients_Individuals",
       ["Number_Clients_Individuals"]),
    _f("Number_Clients_HNW_Individuals", "Client Composition", "High-net-worth individual clients",
       "r.Number_Clients_HNW_Individuals", ["Number_Clients_HNW_Individuals"]),
    _f("Percent_Clients_US", "Client Composition", "Share of clients in the US, %", "r.Percent_Clients_US",
       ["Percent_Clients_US"]),
    _f("Percent_Assets_Alternatives", "Client Composition", "Share of assets in alternatives, %",
       "r.Percent_Assets_Alternatives", ["Percent_Assets_Alternatives"]),
    _f("Date_Became_Rep_Number_Of_Years", "Advisor Tenure", "Years since registering as a rep", YEARS_REP,
       ["Date_Became_Rep_Number_Of_Years"]),
    _f("Date_Of_Hire_At_Current_Firm_Years", "Advisor Tenure", "Years at the current firm (Years_at_Firm)",
       YEARS_FIRM, ["Date_Of_Hire_At_Current_Firm_Years"]),
    _f("Number_Firm_Associations", "Registration", "Firms the advisor is registered with now",
       "r.Number_Firm_Associations", ["Number_Firm_Associations"]),
    _f("Number_RIA_Firm_Associations", "Registration", "RIA firms the advisor is registered with now",
       "r.Number_RIA_Firm_Associations", ["Number_RIA_Firm_Associations"]),
    _f("Miles_Distance_Home_To_Branch", "Geography", "Miles from home to branch",
       "r.Miles_Distance_Home_To_Branch", ["Miles_Distance_Home_To_Branch"]),
    _f("Is_Primary_RIA", "Registration", "Current firm is the primary RIA", "CAST(r.Is_Primary_RIA AS INT64)",
       ["Is_Primary_RIA"], "flag"),
    _f("Home_Branch_Same_State", "Geography", "Home state equals branch state",
       _flag("r.Home_State = r.Branch_State"), ["Home_State", "Branch_State"], "flag"),
    _f("Has_Firm_CRD", "Registration", "The rep has a current RIA firm CRD",
       "CASE WHEN r.RepCRD IS NULL THEN NULL WHEN r.RIAFirmCRD IS NULL THEN 0 ELSE 1 END", ["RIAFirmCRD"], "flag"),
    _f("Has_Discovery_Data", "Coverage", "The lead's CRD matched a MarketPro rep at contact time",
       "CASE WHEN r.RepCRD IS NULL THEN 0 ELSE 1 END", ["RepCRD", "FA_CRD__c"], "flag", discovery=False),
    _f("Discovery_Fields_Missing", "Coverage", "Share of the rep's MarketPro fields that are empty (1 = no match)",
       f"COALESCE(1 - r.completeness / {sum(1 for c in marketpro_columns() if not c.is_pii)}.0, 1)", ["RepCRD"],
       discovery=False),
    _f("Growth_1Y_Missing", "Growth Metrics", "1-year growth not reported (flagged rather than imputed, spec §5.1.4)",
       "CASE WHEN r.RepCRD IS NULL THEN NULL WHEN g1 IS NULL THEN 1 ELSE 0 END", ["AUMGrowthRate_1Year"], "flag"),
    _f("Growth_5Y_Missing", "Growth Metrics", "5-year growth not reported",
       "CASE WHEN r.RepCRD IS NULL THEN NULL WHEN g5 IS NULL THEN 1 ELSE 0 END", ["AUMGrowthRate_5Year"], "flag"),
    _f("AUM_Missing", "Firmographics", "Firm AUM not reported",
       f"CASE WHEN r.RepCRD IS NULL THEN NULL WHEN {AUM} IS NULL THEN 1 ELSE 0 END", ["TotalAssetsInMillions"], "flag"),
    _f("Log_Assets_HNW", "Client Composition", "ln(1 + HNW-client AUM $M)",
       "LN(1 + GREATEST(r.Assets_In_Millions_HNW, 0))", ["Assets_In_Millions_HNW"]),
]

ENGINEERED = [
    _f("AUM_per_Client", "Efficiency", "AUM $M per advisory client (> 2 = premium)", _div(AUM, CLIENTS),
       ["TotalAssetsInMillions", "Number_Investment_Advisory_Clients"]),
    _f("AUM_per_Employee", "Efficiency", "AUM $M per employee", _div(AUM, EMP), ["TotalAssetsInMillions", "Number_Employees"]),
    _f("AUM_per_IARep", "Efficiency", "AUM $M per IA rep", _div(AUM, "r.Number_IAReps"),
       ["TotalAssetsInMillions", "Number_IAReps"]),
    _f("Growth_Momentum", "Growth", "1-year × 5-year growth (capped inputs) / 100", "g1 * g5 / 100",
       ["AUMGrowthRate_1Year", "AUMGrowthRate_5Year"]),
    _f("Growth_Acceleration", "Growth", "1-year growth minus the 5-year growth's yearly average", "g1 - g5 / 5",
       ["AUMGrowthRate_1Year", "AUMGrowthRate_5Year"]),
    _f("Positive_Growth_Trajectory", "Growth", "Both 1-year and 5-year growth positive", _flag("g1 > 0 AND g5 > 0"),
       ["AUMGrowthRate_1Year", "AUMGrowthRate_5Year"], "flag"),
    _f("Firm_Stability_Score", "Firm Stability", "Share of the career spent at the current firm, in [0, 1]",
       f"LEAST(GREATEST({_div(YEARS_FIRM, YEARS_REP)}, 0), 1)",
       ["Date_Of_Hire_At_Current_Firm_Years", "Date_Became_Rep_Number_Of_Years"]),
    _f("Is_Veteran_Advisor", "Firm Stability", "More than 10 years as a rep", _flag(f"{YEARS_REP} > 10"),
       ["Date_Became_Rep_Number_Of_Years"], "flag"),
    _f("High_Turnover_Flag", "Firm Stability", "3 or more firm moves in 10 years", _flag("r.Firm_Moves_10yr >= 3"),
       ["Firm_Moves_10yr"], "flag"),
    _f("HNW_Client_Ratio", "Client Focus", "HNW clients / advisory clients, capped at 1",
       f"LEAST({_div('r.Number_Clients_HNW_Individuals', CLIENTS)}, 1)",
       ["Number_Clients_HNW_Individuals", "Number_Investment_Advisory_Clients"]),
    _f("Premium_Positioning", "Client Focus", "More than $2M AUM per client", _flag(f"{_div(AUM, CLIENTS)} > 2"),
       ["TotalAssetsInMillions", "Number_Investment_Advisory_Clients"], "flag"),
    _f("Mass_Market_Focus", "Client Focus", "Less than $0.25M AUM per client", _flag(f"{_div(AUM, CLIENTS)} < 0.25"),
       ["TotalAssetsInMillions", "Number_Investment_Advisory_Clients"], "flag"),
    _f("Branch_Advisor_Density", "Operational", "Branch advisors / firm employees",
       _div("r.Number_BranchAdvisors", EMP), ["Number_BranchAdvisors", "Number_Employees"]),
    _f("Complex_Registration", "Operational", "Registered with more than one firm",
       _flag("r.Number_Firm_Associations > 1"), ["Number_Firm_Associations"], "flag"),
    _f("Multi_RIA_Relationships", "Operational", "Registered with more than one RIA",
       _flag("r.Number_RIA_Firm_Associations > 1"), ["Number_RIA_Firm_Associations"], "flag"),
    _f("Remote_Work_Indicator", "Geographic", "Lives more than 50 miles from the branch",
       _flag("r.Miles_Distance_Home_To_Branch > 50"), ["Miles_Distance_Home_To_Branch"], "flag"),
    _f("Local_Advisor", "Geographic", "Lives within 10 miles of the branch",
       _flag("r.Miles_Distance_Home_To_Branch <= 10"), ["Miles_Distance_Home_To_Branch"], "flag"),
    _f("Quality_Score", "Quality & Performance",
       "Mean of 4 indicators (CFP or CFA; no disclosure; HNW ratio > 0.3; positive 1-year growth), each "
       "counted only when known; NULL when none is known",
       "SAFE_DIVIDE("
       "COALESCE(CASE WHEN r.Designations IS NULL THEN NULL WHEN REGEXP_CONTAINS(r.Designations, r'\\bCF[PA]\\b') THEN 1 ELSE 0 END, 0)"
       " + COALESCE(1 - CAST(r.Has_Disclosure AS INT64), 0)"
       f" + COALESCE(CASE WHEN {_div('r.Number_Clients_HNW_Individuals', CLIENTS)} > 0.3 THEN 1 ELSE 0 END, 0)"
       " + COALESCE(CASE WHEN g1 > 0 THEN 1 ELSE 0 END, 0),"
       " NULLIF((CASE WHEN r.Designations IS NULL THEN 0 ELSE 1 END) + (CASE WHEN r.Has_Disclosure IS NULL THEN 0 ELSE 1 END)"
       f" + (CASE WHEN {_div('r.Number_Clients_HNW_Individuals', CLIENTS)} IS NULL THEN 0 ELSE 1 END)"
       " + (CASE WHEN g1 IS NULL THEN 0 ELSE 1 END), 0))",
       ["Designations", "Has_Disclosure", "Number_Clients_HNW_Individuals", "Number_Investment_Advisory_Clients",
        "AUMGrowthRate_1Year"]),
    _f("Experience_Efficiency", "Quality & Performance", "AUM $M per year of experience", _div(AUM, YEARS_REP),
       ["TotalAssetsInMillions", "Date_Became_Rep_Number_Of_Years"]),
    _f("Clients_per_Employee", "Quality & Performance", "Advisory clients per employee", _div(CLIENTS, EMP),
       ["Number_Investment_Advisory_Clients", "Number_Employees"]),
    _f("Clients_per_IARep", "Quality & Performance", "Advisory clients per IA rep", _div(CLIENTS, "r.Number_IAReps"),
       ["Number_Investment_Advisory_Clients", "Number_IAReps"]),
    _f("Individual_Asset_Ratio", "Quality & Performance", "Individual-client AUM / total AUM, capped at 1",
       f"LEAST({_div('r.Assets_In_Millions_Individuals', AUM)}, 1)",
       ["Assets_In_Millions_Individuals", "TotalAssetsInMillions"]),
    _f("Alternative_Investment_Focus", "Quality & Performance", "More than 10% of assets in alternatives",
       _flag("r.Percent_Assets_Alternatives > 10"), ["Percent_Assets_Alternatives"], "flag"),
    _f("Is_Large_Firm", "Quality & Performance", "More than 100 employees", _flag(f"{EMP} > 100"),
       ["Number_Employees"], "flag"),
    _f("Is_Boutique_Firm", "Quality & Performance", "At most 10 employees and more than $1M AUM per client",
       _flag(f"{EMP} <= 10 AND {_div(AUM, CLIENTS)} > 1"),
       ["Number_Employees", "TotalAssetsInMillions", "Number_Investment_Advisory_Clients"], "flag"),
    _f("Has_Scale", "Quality & Performance", "AUM of $500M+ or 500+ advisory clients",
       f"CASE WHEN {AUM} >= 500 OR {CLIENTS} >= 500 THEN 1 WHEN {AUM} IS NULL AND {CLIENTS} IS NULL THEN NULL ELSE 0 END",
       ["TotalAssetsInMillions", "Number_Investment_Advisory_Clients"], "flag"),
    _f("Is_New_To_Firm", "Quality & Performance", "Less than 2 years at the current firm",
       _flag(f"{YEARS_FIRM} < 2"), ["Date_Of_Hire_At_Current_Firm_Years"], "flag"),
    _f("Primarily_US_Clients", "Quality & Performance", "At least 90% of clients in the US",
       _flag("r.Percent_Clients_US >= 90"), ["Percent_Clients_US"], "flag"),
    _f("International_Presence", "Quality & Performance", "More than 10% of clients outside the US",
       _flag("r.Percent_Clients_US < 90"), ["Percent_Clients_US"], "flag"),
    _f("Accelerating_Growth", "Quality & Performance", "1-year growth above the 5-year yearly average",
       _flag("g1 > g5 / 5"), ["AUMGrowthRate_1Year", "AUMGrowthRate_5Year"], "flag"),
    _f("HNW_Asset_Concentration", "Quality & Performance", "HNW-client AUM / total AUM, capped at 1",
       f"LEAST({_div('r.Assets_In_Millions_HNW', AUM)}, 1)", ["Assets_In_Millions_HNW", "TotalAssetsInMillions"]),
    _f("AverageTenureAtPriorFirms", "Quality & Performance", "Average years at each prior firm",
       "r.AverageTenureAtPriorFirms", ["AverageTenureAtPriorFirms"]),
    _f("NumberOfPriorFirms", "Quality & Performance", "Prior firms over the career", "r.NumberOfPriorFirms",
       ["NumberOfPriorFirms"]),
]

TEMPORAL = [
    # 2024-01-01 was a Monday; day arithmetic on DATE avoids DAYOFWEEK numbering, which differs by engine.
    _f("Day_of_Contact", "Temporal", "Day of the contact in the sales team's time zone (config business_timezone, "
       "UTC by default), 1 = Monday … 7 = Sunday",
       "MOD(MOD(DATE_DIFF(contact_day, DATE '2024-01-01', DAY), 7) + 7, 7) + 1",
       ["Stage_Entered_Contacting__c"], discovery=False),
    _f("Is_Weekend_Contact", "Temporal", "Contacted on Saturday or Sunday (in the sales team's time zone)",
       "CASE WHEN MOD(MOD(DATE_DIFF(contact_day, DATE '2024-01-01', DAY), 7) + 7, 7) >= 5 THEN 1 ELSE 0 END",
       ["Stage_Entered_Contacting__c"], "flag", discovery=False),
]

MARKETPRO = [
    _f("Firm_Moves_10yr", "MarketPro: Propensity", "Firm changes in the last 10 years", "r.Firm_Moves_10yr",
       ["Firm_Moves_10yr"]),
    _f("Has_Disclosure", "MarketPro: Propensity", "Any disclosure on record", "CAST(r.Has_Disclosure AS INT64)",
       ["Has_Disclosure"], "flag"),
    _f("Disclosure_Severity", "MarketPro: Propensity",
       "Termination 4 > Regulatory 3 > Criminal 2 = Financial 2 > Customer Dispute 1; 0 without disclosure",
       "CASE WHEN r.Disclosure_Type = 'Termination' THEN 4 WHEN r.Disclosure_Type = 'Regulatory' THEN 3 "
       "WHEN r.Disclosure_Type IN ('Criminal', 'Financial') THEN 2 WHEN r.Disclosure_Type = 'Customer Dispute' THEN 1 "
       "WHEN r.Has_Disclosure = FALSE THEN 0 WHEN r.Disclosure_Type IS NOT NULL THEN 1 END",
       ["Disclosure_Type", "Has_Disclosure"]),
    _f("Team_Size", "MarketPro: Operational", "Advisors on the team", "r.Team_Size", ["Team_Size"]),
    _f("Is_Team_Lead", "MarketPro: Operational", "Leads a team", "CAST(r.Is_Team_Lead AS INT64)", ["Is_Team_Lead"], "flag"),
] + [
    _f(f"Has_{code}", "MarketPro: Fit", f"Holds {label} (from Licenses)",
       f"CASE WHEN r.RepCRD IS NULL THEN NULL WHEN REGEXP_CONTAINS(COALESCE(r.Licenses, ''), r'(?i)series\\s*{num}\\b') THEN 1 ELSE 0 END",
       ["Licenses"], "flag")
    for code, label, num in [("Series_7", "Series 7", "7"), ("Series_65", "Series 65", "65"),
                             ("Series_66", "Series 66", "66"), ("Series_63", "Series 63", "63")]
] + [
    _f(f"Has_{d}", "MarketPro: Fit", f"Holds the {d} designation",
       f"CASE WHEN r.RepCRD IS NULL THEN NULL WHEN REGEXP_CONTAINS(UPPER(COALESCE(r.Designations, '')), r'\\b{d.upper()}\\b') THEN 1 ELSE 0 END",
       ["Designations"], "flag")
    for d in ("CFP", "CFA", "ChFC")
] + [
    _f(f"Specialty_{s.replace(' ', '_')}", "MarketPro: Fit", f"Lists the {s} specialty",
       f"CASE WHEN r.RepCRD IS NULL THEN NULL WHEN REGEXP_CONTAINS(UPPER(COALESCE(r.Specialties, '')), r'\\b{s.upper()}\\b') THEN 1 ELSE 0 END",
       ["Specialties"], "flag")
    for s in ("HNW", "Retirement", "Small Business", "Estate Planning")
] + [
    _f(f"Business_Model_{code}", "MarketPro: Fit", f"Business model is {label}",
       f"CASE WHEN r.Business_Model IS NULL THEN NULL WHEN r.Business_Model = '{label}' THEN 1 ELSE 0 END",
       ["Business_Model"], "flag")
    for code, label in [("Fee_Only", "Fee-Only"), ("Hybrid", "Fee-Based (Hybrid)"), ("Commission", "Commission"),
                        ("Insurance", "Insurance-Focused")]
]

CRM = [
    # A Lead created after its contact (imported from another system with its old contact stamp) has no age: empty
    _f("Lead_Age_At_Contact_Days", "Salesforce at contact",
       "Days from lead creation to first contact (empty when the Lead was created after it: an import)",
       "CASE WHEN created_at <= contacted_at THEN "
       "SAFE_DIVIDE(UNIX_SECONDS(contacted_at) - UNIX_SECONDS(created_at), 86400) END",
       ["CreatedDate", "Stage_Entered_Contacting__c"], discovery=False),
    _f("Has_LinkedIn", "Salesforce at contact", "A LinkedIn profile is on the Lead (presence only)",
       "CAST(l.has_LinkedIn_Profile_Apollo__c AS INT64)", ["LinkedIn_Profile_Apollo__c"], "flag", discovery=False),
    _f("Has_External_Agency", "Salesforce at contact", "Sourced by an outside agency",
       "CASE WHEN l.External_Agency__c IS NULL THEN 0 ELSE 1 END", ["External_Agency__c"], "flag", discovery=False),
]

ONE_HOTS = [
    LearnedOneHot("Home_MetropolitanArea", "Metropolitan Area", "r.Home_MetropolitanArea", ("Home_MetropolitanArea",),
                  5, "Home metro is this one of the 5 most frequent metros in training data ('other' dropped)"),
    LearnedOneHot("Custodian", "MarketPro: Operational", "r.Current_Custodian", ("Current_Custodian",), 5,
                  "Custodian is this one of the 5 most frequent"),
    LearnedOneHot("CRM", "MarketPro: Operational", "r.CRM_Used", ("CRM_Used",), 4, "CRM used is this one of the 4 most frequent"),
    LearnedOneHot("LeadSource", "Salesforce at contact", "l.LeadSource", ("LeadSource",), 6,
                  "Lead source is this one of the 6 most frequent", discovery=False),
    LearnedOneHot("Lead_List", "Salesforce at contact", "l.Lead_List_Name__c", ("Lead_List_Name__c",), 6,
                  "Purchased list is this one of the 6 most frequent", discovery=False),
    LearnedOneHot("Agency", "Salesforce at contact", "l.External_Agency__c", ("External_Agency__c",), 3,
                  "Outside agency is this one of the 3 most frequent", discovery=False),
    LearnedOneHot("Owner", "Salesforce at contact", OWNER_SQL, ("OwnerId",), 15,
                  "Owning SGA at contact is this one of the 15 most frequent (SGA effect; see cat_Owner for a queue)", discovery=False),
]

STATIC_FEATURES: tuple[Feature, ...] = tuple(BASE + ENGINEERED + TEMPORAL + MARKETPRO + CRM)

CATEGORY_PREFIX = "cat_"


def _cat(name, group, definition, sql, sources, sentence, discovery=True):
    return Feature(CATEGORY_PREFIX + name, group, definition, f"NULLIF(TRIM(CAST({sql} AS STRING)), '')", tuple(sources),
                   "category", discovery), sentence


# Raw categories, every level kept (the top-k one-hots above keep the spec's named flags for explanations).
# Models never see the text: each is target-encoded inside every training fold (core/modeling/encoding.py),
# an unseen level gets the training rows' overall rate. ``sentence`` is how a driver names the level.
_CATEGORICAL = [
    _cat("Metro", "Metropolitan Area", "Home metro (every level; target-encoded within each training fold)",
         "r.Home_MetropolitanArea", ["Home_MetropolitanArea"], "Lives in the {} metro"),
    _cat("Custodian", "MarketPro: Operational", "Custodian (every level; target-encoded)", "r.Current_Custodian",
         ["Current_Custodian"], "Custodian: {}"),
    _cat("CRM", "MarketPro: Operational", "CRM used (every level; target-encoded)", "r.CRM_Used", ["CRM_Used"],
         "Uses {} as CRM"),
    _cat("Business_Model", "MarketPro: Fit", "Business model (every level; target-encoded)", "r.Business_Model",
         ["Business_Model"], "Business model: {}"),
    _cat("Title", "MarketPro: Fit", "Job title in the territory file (every level; target-encoded)", "r.Title",
         ["Title"], "Title: {}"),
    _cat("Branch_State", "Geography", "Branch state (target-encoded)", "UPPER(r.Branch_State)", ["Branch_State"],
         "Branch in {}"),
    _cat("LeadSource", "Salesforce at contact", "Lead source (every level; target-encoded)", "l.LeadSource",
         ["LeadSource"], "Lead source: {}", discovery=False),
    _cat("Lead_List", "Salesforce at contact", "Purchased list (every level; target-encoded)", "l.Lead_List_Name__c",
         ["Lead_List_Name__c"], "From the {} list", discovery=False),
    _cat("Agency", "Salesforce at contact", "Outside agency (every level; target-encoded)", "l.External_Agency__c",
         ["External_Agency__c"], "Sourced by {}", discovery=False),
    _cat("Owner", "Salesforce at contact", "Owning SGA at contact (every level; target-encoded; never shown as a "
         "reason). A Lead a queue owns in the export (Id 00G…) was moved there after contact: it reads the owner of "
         "the Lead contacted just before it", OWNER_SQL, ["OwnerId"], None, discovery=False),
]
CATEGORICAL_FEATURES: tuple[Feature, ...] = tuple(f for f, _ in _CATEGORICAL)
CATEGORY_SENTENCES: dict[str, str | None] = {f.name: t for f, t in _CATEGORICAL}


def is_categorical(name: str) -> bool:
    return name.startswith(CATEGORY_PREFIX)


def level_slug(value: str) -> str:
    import re

    return re.sub(r"[^0-9A-Za-z]+", "_", value).strip("_")[:60]


def one_hot_features(levels: dict[str, list[str]]) -> list[Feature]:
    """Expand learned one-hots into features, given {prefix: [level, ...]}."""
    out = []
    for oh in ONE_HOTS:
        for level in levels.get(oh.prefix, []):
            lit = "'" + level.replace("\\", "\\\\").replace("'", "\\'") + "'"
            out.append(Feature(
                f"{oh.prefix}_{level_slug(level)}", oh.group, f"{oh.definition}: {level}",
                f"CASE WHEN {oh.source_sql} IS NULL THEN NULL WHEN {oh.source_sql} = {lit} THEN 1 ELSE 0 END"
                if oh.discovery else f"CASE WHEN {oh.source_sql} = {lit} THEN 1 ELSE 0 END",
                oh.sources, "flag", oh.discovery,
            ))
    return out


def is_discovery(name: str) -> bool:
    """Whether a feature column comes from the rep's MarketPro record (static or learned one-hot)."""
    static = {f.name: f.discovery for f in STATIC_FEATURES + CATEGORICAL_FEATURES}
    if name in static:
        return static[name]
    return any(name.startswith(oh.prefix + "_") and oh.discovery for oh in ONE_HOTS)


def all_features(levels: dict[str, list[str]], extra: tuple[Feature, ...] = ()) -> list[Feature]:
    features = list(STATIC_FEATURES) + list(CATEGORICAL_FEATURES) + one_hot_features(levels) + list(extra)
    names = [f.name for f in features]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate feature names: {sorted(dupes)}")
    return features


# --- Leakage guard -------------------------------------------------------------------------------------

PRESENCE_FLAGS_ALLOWED = {"LinkedIn_Profile_Apollo__c"}  # contract: "presence may be used as a flag"


def blocked_sources() -> dict[str, str]:
    """Contract columns that can never feed a feature, with the reason."""
    blocked = {}
    for c in salesforce_columns():
        if not c.known_at_contact:
            blocked[c.name] = "set after contact (known_at_contact = no)"
        elif c.is_pii and c.name not in PRESENCE_FLAGS_ALLOWED:
            blocked[c.name] = "PII"
    for c in marketpro_columns():
        if c.is_pii:
            blocked[c.name] = "PII"
    return blocked


def check_no_leakage(features) -> None:
    """Refuse any feature that reads a post-contact or PII column (or a column the contract lacks)."""
    blocked = blocked_sources()
    known = {c.name for c in salesforce_columns()} | {c.name for c in marketpro_columns()}
    for f in features:
        for src in f.sources:
            if src in blocked:
                raise LeadScoringError(
                    f"Feature {f.name} reads {src}, which is {blocked[src]}: it can never be a model feature. "
                    "Remove it from the feature catalog."
                )
            if src not in known:
                raise LeadScoringError(f"Feature {f.name} reads {src}, which is not in the data contract.")


def catalog_frame(levels: dict[str, list[str]] | None = None):
    """The catalog as a table (static features, then learned one-hot families or their levels)."""
    import pandas as pd

    rows = [{"feature": f.name, "group": f.group, "definition": f.definition, "sources": ", ".join(f.sources),
             "kind": f.kind, "known_at_contact": "yes"} for f in STATIC_FEATURES + CATEGORICAL_FEATURES]
    for oh in ONE_HOTS:
        names = [f"{oh.prefix}_{level_slug(v)}" for v in (levels or {}).get(oh.prefix, [])]
        rows.append({"feature": ", ".join(names) if names else f"{oh.prefix}_<level> × {oh.top_k}",
                     "group": oh.group, "definition": oh.definition + " (levels learned from training rows)",
                     "sources": ", ".join(oh.sources), "kind": "flag", "known_at_contact": "yes"})
    return pd.DataFrame(rows)


def search_catalog(frame, query: str):
    """Rows of a catalog table whose text (name, group, definition, sources, …) contains ``query``,
    case-insensitively; every row for an empty query."""
    query = (query or "").strip().lower()
    if not query:
        return frame
    text = frame.astype(str).agg(" ".join, axis=1).str.lower()
    return frame[text.str.contains(query, regex=False)]


def catalog_markdown() -> str:
    """``docs/feature_catalog.md``: deterministic (learned levels are described, not listed)."""
    n_onehot = sum(oh.top_k for oh in ONE_HOTS)
    lines = ["# Feature catalog", "",
             "Generated by `python -m core feature-catalog` from `core/features/catalog.py`, the one definition "
             "the engine builds features from. Do not edit by hand.", "",
             f"{len(STATIC_FEATURES)} defined features, {len(CATEGORICAL_FEATURES)} raw categories (every level, "
             "target-encoded inside each training fold; an unseen level gets the overall rate) and up to "
             f"{n_onehot} learned one-hot indicators. Every "
             "feature is computed from the rep's newest territory snapshot at or before the contact month (from "
             "`territory_known_day` of a month on; the 1st by default) and from "
             "Salesforce fields known at contact; a zero or missing denominator gives NULL, never inf; growth "
             "rates are capped to [-50, 200].", "",
             "| feature | group | definition | source columns | kind |", "|---|---|---|---|---|"]
    for r in catalog_frame().itertuples():
        lines.append(f"| `{r.feature}` | {r.group} | {r.definition} | {r.sources} | {r.kind} |")
    lines += ["", "## Columns that can never be features", "",
              "Enforced by `check_no_leakage` before any feature SQL runs.", "", "| column | reason |", "|---|---|"]
    lines += [f"| {c} | {r} |" for c, r in sorted(blocked_sources().items())]
    lines += ["", "## Plausible range of each MarketPro number", "",
              "A value outside it is almost always a unit or mapping fault in the export; territory loads and "
              "monitoring's feed health report such values by column, with the count and an example. It stays in "
              "the warehouse as sent, but every feature reads it as missing (a model never extrapolates from a "
              "value in the wrong unit).", "",
              "| column | lowest | highest |", "|---|---|---|"]
    lines += [f"| {c} | {lo:,.0f} | {hi:,.0f} |" for c, (lo, hi) in PLAUSIBLE_RANGES.items()]
    return "\n".join(lines) + "\n"


# Plausible range of each numeric MarketPro column (inclusive). A value outside it is almost always a unit or
# mapping fault in the export (AUM sent in dollars or thousands, a count column holding an id); loads and
# feed health report them by column with a count and an example. The largest RIA firms manage about $10T.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "TotalAssetsInMillions": (0, 1_000_000),
    "Assets_In_Millions_Individuals": (0, 1_000_000),
    "Assets_In_Millions_HNW": (0, 1_000_000),
    "AUMGrowthRate_1Year": (-100, 1_000),
    "AUMGrowthRate_5Year": (-100, 5_000),
    "Percent_Clients_US": (0, 100),
    "Percent_Assets_Alternatives": (0, 100),
    "Number_Employees": (0, 500_000),
    "Number_IAReps": (0, 100_000),
    "Number_BranchAdvisors": (0, 10_000),
    "Number_Investment_Advisory_Clients": (0, 10_000_000),
    "Number_Clients_Individuals": (0, 10_000_000),
    "Number_Clients_HNW_Individuals": (0, 1_000_000),
    "Number_Firm_Associations": (0, 100),
    "Number_RIA_Firm_Associations": (0, 100),
    "NumberOfPriorFirms": (0, 100),
    "Firm_Moves_10yr": (0, 50),
    "Team_Size": (0, 5_000),
    "Date_Became_Rep_Number_Of_Years": (0, 70),
    "Date_Of_Hire_At_Current_Firm_Years": (0, 70),
    "AverageTenureAtPriorFirms": (0, 70),
    "Miles_Distance_Home_To_Branch": (0, 5_000),
}
