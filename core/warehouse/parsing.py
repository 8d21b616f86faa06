"""BigQuery-dialect SQL expressions that parse contract-typed text columns.

Each contract type has one expression; it runs unchanged on BigQuery and, transpiled by sqlglot, on
DuckDB. They are written around the transpile pitfalls in PLATFORM_FACTS (no SAFE_CAST of decimals to
INT64, explicit time-zone suffix handling). A value that is not one of the NA spellings but fails to parse
becomes NULL and a quarantine row.
"""

from __future__ import annotations

from core.contract import NA_TOKENS, Column

NA_LIST = ", ".join(f"'{t}'" for t in NA_TOKENS)
NA_MAX_LENGTH = max(len(t) for t in NA_TOKENS)
TRUE_TOKENS = "'YES', 'Y', 'TRUE', 'T', '1', '1.0'"
FALSE_TOKENS = "'NO', 'N', 'FALSE', 'F', '0', '0.0'"


def quote_ident(name: str) -> str:
    return f"`{name}`"


def trimmed(raw: str) -> str:
    """``TRIM(raw)``, skipped when both ends are printable ASCII other than a space (no whitespace to trim, on
    either engine): most cells, and TRIM is most of the cost of cleaning a cell. The first character is tested
    by comparing the whole text (it starts with '!'..'~' exactly when it sorts from '!' and before DEL), which
    spares one SUBSTR per cell: a third of the guard's cost."""
    return (f"CASE WHEN {raw} >= '!' AND {raw} < '\\x7f' AND SUBSTR({raw}, -1) BETWEEN '!' AND '~' "
            f"THEN {raw} ELSE TRIM({raw}) END")


def cleaned(raw: str) -> str:
    """Trimmed text, or NULL for any NA spelling. The length test first spares the upper-casing of every
    longer value (no NA spelling is longer): 40% of the typing cost of a territory file."""
    t = trimmed(raw)
    return f"CASE WHEN CHAR_LENGTH({t}) <= {NA_MAX_LENGTH} AND UPPER({t}) IN ({NA_LIST}) THEN NULL ELSE {t} END"


def _where_any(v: str, chars: str, expr: str) -> str:
    """``expr`` where ``v`` contains one of ``chars``, else ``v`` itself: for rewrites that cannot change a text
    without them (most cells have none, and the rewrite is the cost)."""
    has = " OR ".join(f"STRPOS({v}, '{ch}') > 0" for ch in chars)
    return f"CASE WHEN {has} THEN {expr} ELSE {v} END"


# A comma in a number only groups thousands: '1,234.5' is 1234.5, while '1,5' (a decimal comma) or '12,34' is no
# number at all — reading it as 15 or 1234 would be silently 10x or 100x wrong.
THOUSANDS = r"^[^0-9]*[0-9]{1,3}(,[0-9]{3})+([.][0-9]*)?[^0-9]*$"
# Larger than any value the catalog finds plausible, and short of infinity: the casts read 'NaN', 'inf' and '1e309'
# as NaN or infinity, which DuckDB sorts above every number ('NaN' > 500 is true: a $500M+ lead). Applied to the
# parsed column in the typed step (model_fragments), where it names a column rather than repeating the cast.
FINITE = "1e300"
# A CRD number as people type it into Salesforce: an optional 'CRD', 'CRD#', 'CRD No.', 'CRD:' or '#' before the
# digits (plain or grouped in thousands, optionally '.0'), an optional '(CRD)' after. Matched on upper-cased text.
CRD_MARKED = r"^(CRD\s*(NO\.?|NUMBER|#)?\s*[#:]?|#)?\s*([0-9]+|[0-9]{1,3}(,[0-9]{3})+)(\.0+)?\s*(\(CRD\))?$"
FLOAT_TYPES = ("money_millions", "percent", "number", "years")


def _number(v: str, strip: str) -> str:
    # Nested REPLACE is several times faster than a regex on every cell, and is skipped on the plain numbers
    # most cells are (no character to strip); TRIM already removed outer spaces. The grouping regex runs only on
    # the cells with a comma.
    expr = v
    for ch in strip:
        expr = f"REPLACE({expr}, '{ch}', '')"
    if "," in strip:
        expr = f"CASE WHEN STRPOS({v}, ',') > 0 AND NOT REGEXP_CONTAINS({v}, r'{THOUSANDS}') THEN NULL ELSE {expr} END"
    return f"SAFE_CAST({_where_any(v, strip, expr)} AS FLOAT64)"


def parsed(column: Column, v: str, compact_offsets: bool = False) -> str:
    """Expression turning the cleaned text ``v`` into the column's typed value (NULL when unparseable).
    ``compact_offsets``: the engine reads a '+HHMM' UTC offset as '+HH:MM' by itself (DuckDB; tested equal),
    so timestamps are cast without the rewrite BigQuery needs (a regex per cell: a sixth of typing a Task
    export)."""
    t = column.type
    if column.is_crd:
        digits = _where_any(v, ".", f"REGEXP_REPLACE({v}, r'\\.0+$', '')")  # '123.0' -> '123'
        # A CRD typed by hand ('CRD# 4521873', '#4521873', '4521873 (CRD)') or grouped by Excel ('4,521,873') is
        # still one number: its one run of digits, tested only where the plain form fails (most cells pass it).
        marked = f"LTRIM(REGEXP_EXTRACT(REPLACE({v}, ',', ''), r'([0-9]+)'), '0')"
        return (f"CASE WHEN REGEXP_CONTAINS({v}, r'^[0-9]+(\\.0+)?$') THEN NULLIF(LTRIM({digits}, '0'), '') "
                f"WHEN REGEXP_CONTAINS(UPPER({v}), r'{CRD_MARKED}') THEN NULLIF({marked}, '') END")
    if t == "money_millions":
        return _number(v, "$, ")
    if t == "percent":
        return _number(v, "%, ")
    if t in ("number", "years"):
        return _number(v, ", ")
    if t == "count":
        # Parsed as a number first (see count_check); SAFE_CAST of '3.5' to INT64 differs by engine.
        return _number(v, ", ")
    if t in ("yesno", "bool"):
        return f"CASE WHEN UPPER({v}) IN ({TRUE_TOKENS}) THEN TRUE WHEN UPPER({v}) IN ({FALSE_TOKENS}) THEN FALSE END"
    if t == "timestamp":
        if compact_offsets:
            return f"SAFE_CAST(REPLACE({v}, 'T', ' ') AS TIMESTAMP)"
        # BigQuery refuses '+0000' offsets: normalise to '+00:00'.
        return (
            f"SAFE_CAST(REGEXP_REPLACE(REPLACE({v}, 'T', ' '), r'([+-][0-9]{{2}})([0-9]{{2}})$', r'\\1:\\2') "
            f"AS TIMESTAMP)"
        )
    if t == "date":
        return f"SAFE_CAST(SUBSTR({v}, 1, 10) AS DATE)"
    if t == "list":
        return _where_any(v, ";,", f"REGEXP_REPLACE({v}, r'\\s*[;,]\\s*', '; ')")
    if t == "pii":
        return f"{v} IS NOT NULL"
    return v  # id (non-CRD), text, category


def failure_reason(column: Column) -> str:
    t = column.type
    if column.is_crd:
        return "not a CRD number (digits, optionally with .0 or a CRD# prefix)"
    return {
        "money_millions": "not an amount in millions (e.g. $1,234.50)",
        "percent": "not a percentage (e.g. 12.5%)",
        "number": "not a number",
        "years": "not a number of years",
        "count": "not a whole number",
        "yesno": "not a yes/no value (Yes/No/Y/N/TRUE/FALSE/1/0)",
        "bool": "not a true/false value",
        "timestamp": "not an ISO-8601 timestamp",
        "date": "not a date (YYYY-MM-DD)",
    }.get(t, "unparseable")


def can_fail(column: Column) -> bool:
    return column.is_crd or column.type in (
        "money_millions", "percent", "number", "years", "count", "yesno", "bool", "timestamp", "date",
    )


def staged_name(column: Column) -> str:
    """Name of the parsed column in staging tables; PII becomes a presence flag and its value is dropped."""
    return f"has_{column.sql_name}" if column.is_pii else column.sql_name


def _evidence(alias: str, name: str) -> str:
    """The raw text of cell ``name`` kept in a typed row's raw_evidence (see staging/typed.sql)."""
    return f"JSON_VALUE({alias}.raw_evidence, '$.{name}')"


def model_fragments(columns: tuple[Column, ...], row_key: str, extra_names: list[str] = (),
                    row_keys: tuple[str, ...] = (), compact_offsets: bool = False) -> dict[str, str]:
    """Template values for the typed / stg_* / *quarantine models of one contract.

    ``row_key`` is the column whose absence quarantines the whole row; ``row_keys`` are further columns a
    kind requires (a Task's WhoId): a row missing one is not loaded either, and its raw text is kept as
    evidence. ``extra_names`` are the unknown header names of this load, staged as ``x__0, x__1, ...`` and
    folded into ``extra_json``.
    """
    q = quote_ident
    failable = [c for c in columns if can_fail(c) and c.sql_name != row_key]
    keep = failable + [c for c in columns if c.sql_name == row_key]
    typed = []
    for c in columns:
        n = q(c.sql_name)
        if c.type == "count":
            # A parsed float is kept only when integral: the same result on BigQuery and DuckDB.
            typed.append(f"CASE WHEN {n} = TRUNC({n}) AND ABS({n}) < 1e15 THEN CAST({n} AS INT64) END AS {n}")
        elif c.type in FLOAT_TYPES:  # NaN and infinity are no values (FINITE)
            typed.append(f"CASE WHEN ABS({n}) < {FINITE} THEN {n} END AS {n}")
        else:
            typed.append(q(staged_name(c)))
    flags = [
        f"IF({q('v__' + c.sql_name)} IS NOT NULL AND {q(c.sql_name)} IS NULL, '{c.sql_name};', '')"
        for c in failable
    ]
    extra_json = (
        "TO_JSON_STRING(STRUCT(" + ", ".join(f"x__{i} AS {q(name)}" for i, name in enumerate(extra_names)) + "))"
        if extra_names else "CAST(NULL AS STRING)"
    )
    key = next(c for c in columns if c.sql_name == row_key)
    required = [row_key, *row_keys]
    evidence = list(dict.fromkeys([c.sql_name for c in failable] + required))
    key_raw = _evidence("r", row_key)
    key_cleaned = cleaned(key_raw)
    return {
        "row_key_name": key.sql_name,
        "row_key_reason": (f"IF({key_cleaned} IS NULL, 'row not loaded: {key.sql_name} is empty', "
                           f"'row not loaded: {key.sql_name} is not a CRD number')" if key.is_crd
                           else f"'row not loaded: {key.sql_name} is empty'"),
        "row_key_raw": key_raw,
        "loaded_condition": " AND ".join(f"s.{q(n)} IS NOT NULL" for n in required),
        "raw_carried": ", ".join(f"{q(n)} AS {q('r__' + n)}" for n in evidence),
        "raw_names": ", ".join(q("r__" + n) for n in evidence),
        "raw_evidence": ("CASE WHEN parse_failures != '' OR " + " OR ".join(f"{q(n)} IS NULL" for n in required)
                         + " THEN TO_JSON_STRING(STRUCT(" + ", ".join(f"{q('r__' + n)} AS {q(n)}" for n in evidence)
                         + ")) END"),
        "extra_json": extra_json,
        "cleaned_columns": ",\n    ".join(f"{cleaned(q(c.sql_name))} AS {q('v__' + c.sql_name)}" for c in columns),
        "kept_cleaned": ", ".join(q("v__" + c.sql_name) for c in keep),
        "parsed_columns": ",\n    ".join(f"{parsed(c, q('v__' + c.sql_name), compact_offsets)} AS {q(staged_name(c))}" for c in columns),
        "typed_columns": ",\n    ".join(typed),
        "staged_names": ", ".join(q(staged_name(c)) for c in columns),
        "meta_columns": "",  # a kind's own columns of the raw rows, e.g. "territory, snapshot_month,"
        "completeness_column": "",  # "<expr> AS completeness," where a kind ranks its records by it
        "completeness": " + ".join(f"IF({q(staged_name(c))} IS NULL, 0, 1)" for c in columns if not c.is_pii),
        "parse_failures": ("CONCAT(" + ", ".join(flags) + ")") if flags else "''",
        "raw_value_cases": " ".join(f"WHEN '{c.sql_name}' THEN {_evidence('f', c.sql_name)}" for c in failable)
        or "WHEN '' THEN NULL",
        "reason_cases": " ".join(f"WHEN '{c.sql_name}' THEN '{failure_reason(c)}'" for c in failable) or "WHEN '' THEN NULL",
    }
