"""Settings: one frozen object built from a TOML file plus environment overrides.

Committed config holds no secrets. Look-up order: defaults, then the TOML file (``--config`` or
``LEADSCORE_CONFIG`` or ``./leadscore.toml`` when present), then ``LEADSCORE_*`` environment variables.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from core.errors import LeadScoringError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path = PROJECT_ROOT / "data"
    db_path: Path | None = None  # defaults to data_dir / "warehouse.duckdb"
    backend: str = "duckdb"  # "duckdb" | "bigquery"
    bigquery_project: str | None = None
    bigquery_dataset_prefix: str = ""  # datasets are f"{prefix}raw", f"{prefix}staging", ...
    bigquery_location: str = "US"
    bigquery_endpoint: str | None = None  # e.g. a local emulator; None = Google's API
    # Cost guard: every BigQuery query job carries maximum_bytes_billed; one that would bill more fails
    # before it runs (BigQuery checks the estimate). 50 GiB ≈ 100 times a 10× monthly load.
    bigquery_max_bytes_billed: int = 50 * 1024 ** 3
    lock_timeout_seconds: float = 10.0
    label_window_days: int = 30
    # The sales team's time zone (an IANA name): the contact's weekday features read its local date there. In UTC a
    # call at 5 pm in California on a Friday is a Saturday call. Retrain after changing it (the features move).
    business_timezone: str = "UTC"
    # Reconciliation alert thresholds (spec §5.0.4, §5.4.1).
    min_match_rate: float = 0.70
    min_firm_data_rate: float = 0.80
    min_territory_match_rate: float = 0.70
    users_file: Path | None = None  # defaults to data_dir / "users.json"
    # Capacity (spec §5.8): SGAs x dials per day; Tier A = capacity x 1.2.
    sga_count: int = 12
    dials_per_day: int = 10
    train_budget_minutes: float = 8.0
    # Every tiering reads these two (daily scoring, the shadow, the backfill, training's Tier A precision and the
    # monitoring reference's tier shares), so the baseline monitoring holds Tier A to is the tiering SGAs get.
    tier_a_factor: float = 1.2  # Tier A = the top capacity x this many leads
    tier_b_factor: float = 2.0  # Tier B = the next capacity x this many leads
    # Spec §5.8/§7.3: added to the probability, for ranking only, per priority rule a lead meets (AUM over $500M and
    # growing, HNW over half the book, a veteran who recently moved). At a ~4% base rate the spec's 0.10 puts every
    # boosted lead above every unboosted one; a team that wants the model to lead lowers it (0 turns boosts off).
    priority_boost: float = 0.10
    # Leads still inside their outcome window (contacted within this many days; None = label_window_days) are
    # ranked ahead of older open leads, whose 30-day MQL window has closed: the probability is of an MQL within
    # the window, and the experiment counts MQLs within it. Older leads fill the capacity left over. 0 = every
    # open lead competes on its score alone.
    tier_window_days: int | None = None
    closed_statuses: tuple = ("Closed - Not Interested", "Disqualified", "Converted", "MQL")
    # The day of its month from which a territory month's snapshot exists (the vendor's export lands): a lead
    # contacted earlier in the month reads the month before's. 1: a month's file is as of its first day, as the
    # demo's are; a vendor delivering around the 10th sets 10, or features would read reps as they were days
    # after contact.
    territory_known_day: int = 1
    # The [salesforce] table (core/salesforce/config.py); secrets come from the environment or a secrets file.
    salesforce: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def warehouse_path(self) -> Path:
        return Path(self.db_path) if self.db_path else Path(self.data_dir) / "warehouse.duckdb"

    @property
    def daily_capacity(self) -> int:
        return int(self.sga_count) * int(self.dials_per_day)

    @property
    def tier_window(self) -> timedelta | None:
        """How recent a contact must be to rank ahead of older open leads (None: no preference)."""
        days = self.label_window_days if self.tier_window_days is None else int(self.tier_window_days)
        return timedelta(days=days) if days > 0 else None

    def tier_a_size(self, capacity: int) -> int:
        """Tier A's leads at a daily ``capacity`` (the size assign_tiers gives it)."""
        return int(round(capacity * self.tier_a_factor))

    @property
    def models_dir(self) -> Path:
        return Path(self.data_dir) / "models"

    @property
    def archive_dir(self) -> Path:
        return Path(self.data_dir) / "archive"

    @property
    def users_path(self) -> Path:
        return Path(self.users_file) if self.users_file else Path(self.data_dir) / "users.json"


_ENV = {
    "LEADSCORE_DATA_DIR": ("data_dir", Path),
    "LEADSCORE_DB": ("db_path", Path),
    "LEADSCORE_BACKEND": ("backend", str),
    "LEADSCORE_BQ_PROJECT": ("bigquery_project", str),
    "LEADSCORE_BQ_DATASET_PREFIX": ("bigquery_dataset_prefix", str),
    "LEADSCORE_BQ_ENDPOINT": ("bigquery_endpoint", str),
    "LEADSCORE_BQ_MAX_BYTES_BILLED": ("bigquery_max_bytes_billed", int),
    "LEADSCORE_LOCK_TIMEOUT": ("lock_timeout_seconds", float),
    "LEADSCORE_USERS_FILE": ("users_file", Path),
}

_PATH_FIELDS = {"data_dir", "db_path", "users_file"}


def load_settings(config_path: str | Path | None = None, db_path: str | Path | None = None) -> Settings:
    """Build settings from defaults, an optional TOML file and LEADSCORE_* environment variables."""
    values: dict = {}
    path = config_path or os.environ.get("LEADSCORE_CONFIG")
    if path is None and (PROJECT_ROOT / "leadscore.toml").exists():
        path = PROJECT_ROOT / "leadscore.toml"
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise LeadScoringError(f"Config file {path} does not exist. Pass an existing TOML file to --config.")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise LeadScoringError(f"Config file {path} is not valid TOML ({exc}). Fix the file and retry.") from exc
        known = set(Settings.__dataclass_fields__)
        leaked = sorted(set(raw.get("salesforce", {})) & {"password", "security_token", "session_id", "consumer_secret", "private_key"})
        if leaked:
            raise LeadScoringError(
                f"Config file {path} holds Salesforce secrets ({', '.join(leaked)}). Config files get committed: move "
                "them to LEADSCORE_SF_PASSWORD / LEADSCORE_SF_TOKEN / LEADSCORE_SF_SESSION_ID or to the secrets file "
                "named by salesforce.secrets_file (default data/salesforce_secrets.toml).")
        for key, value in raw.items():
            if key in known:
                values[key] = Path(value) if key in _PATH_FIELDS else value
            else:
                values.setdefault("extra", {})[key] = value
    for env, (name, kind) in _ENV.items():
        if os.environ.get(env):
            values[name] = kind(os.environ[env])
    if db_path is not None:
        values["db_path"] = Path(db_path)
    settings = Settings(**values)
    if settings.backend not in ("duckdb", "bigquery"):
        raise LeadScoringError(f"Config 'backend' is {settings.backend!r}; use 'duckdb' or 'bigquery'.")
    window = settings.tier_window_days
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 0):
        raise LeadScoringError(f"Config 'tier_window_days' is {window!r}: use a whole number of days "
                               "(0: every open lead competes on its score alone), or leave it out for the label window.")
    check_timezone(settings.business_timezone)
    day = settings.territory_known_day
    if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28:
        raise LeadScoringError(f"Config 'territory_known_day' is {day!r}: use the day of the month (1 to 28) from "
                               "which the vendor's monthly territory export exists; 1 when it is as of the 1st.")
    boost = settings.priority_boost
    if isinstance(boost, bool) or not isinstance(boost, (int, float)) or not 0 <= boost <= 1:
        raise LeadScoringError(f"Config 'priority_boost' is {boost!r}: use a probability between 0 "
                               "(no priority boosts) and 1; the spec's default is 0.1.")
    return settings


def check_timezone(name) -> str:
    """An IANA time zone name the warehouses know (both read the same tz database), else the project error."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-/]*", name):
            raise ValueError(name)
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        raise LeadScoringError(f"Config 'business_timezone' is {name!r}: use an IANA time zone name such as "
                               "'America/New_York', 'America/Chicago', 'America/Los_Angeles' or 'UTC'.") from None
    return name


def with_overrides(settings: Settings, **changes) -> Settings:
    return replace(settings, **changes)
