"""Which contact months and weeks changed since monitoring last measured them, asked of the warehouse without
reading the features (``sql/monitoring/feature_periods.sql``): per month and week, the rows and a fingerprint of
every value in them. A month's drift and a week's attribution are kept under the key they were computed from
and reused while the key is unchanged, so a daily run reads and measures only the leads of changed periods and
of the last days, whatever the length of the history."""

from __future__ import annotations

from functools import reduce
from operator import xor

import numpy as np
import pandas as pd

def _naive(t) -> np.ndarray:
    """UTC wall times of ``t`` (a Series of timestamps, aware or naive) as a datetime64 array."""
    t = pd.to_datetime(t, utc=True)
    return t.dt.tz_localize(None).to_numpy()


def _as_text(values: np.ndarray, unit: str) -> np.ndarray:
    """datetime64 ``values`` as text to the ``unit`` ("M": "%Y-%m", "D": "%Y-%m-%d"), None where missing:
    ``Series.dt.strftime`` formats row by row (~5 ms per 40k rows, a dozen calls per run); this formats each
    distinct period once."""
    codes, uniques = pd.factorize(values.astype(f"datetime64[{unit}]"))
    text = np.datetime_as_string(uniques, unit=unit).astype(object)
    return np.where(codes >= 0, text[np.maximum(codes, 0)], None)


def month_text(t) -> np.ndarray:
    """Each timestamp's contact month ("%Y-%m", UTC), None where missing."""
    return _as_text(_naive(t), "M")


def week_starts(t) -> np.ndarray:
    """The Monday (00:00, naive UTC) of each timestamp's week, NaT where missing, in the input's time unit."""
    v = _naive(t)
    days = v.astype("datetime64[D]")
    n = days.astype("int64")
    out = (n - (n + 3) % 7).astype("datetime64[D]").astype(v.dtype)  # 1970-01-01 was a Thursday
    out[np.isnat(days)] = np.datetime64("NaT")
    return out


def week_text(t) -> np.ndarray:
    """Each timestamp's week as the text of its Monday ("%Y-%m-%d"), None where missing."""
    return _as_text(week_starts(t), "D")


def ts_literal(ts: pd.Timestamp) -> str:
    """A UTC timestamp literal to the microsecond (an as-of taken from the newest contact must keep that lead)."""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return f"TIMESTAMP '{t.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


# Columns of ml.lead_features that follow the lead after contact (its outcome, the leakage report's flag): left out
# of the fingerprint, so a label maturing does not make monitoring measure its month and week again.
NOT_FINGERPRINTED = ("label", "label_status", "snapshot_at_risk")


def feature_periods(session, as_of: pd.Timestamp, since: pd.Timestamp) -> pd.DataFrame:
    """month, week (its Monday), in_window (contacted after ``since``), n and fingerprint (a Python int: DuckDB
    hashes to unsigned, BigQuery to signed 64 bits) of the leads contacted up to ``as_of``."""
    left_out = [c for c in NOT_FINGERPRINTED if c in session.columns("ml.lead_features")]
    p = session.query_model("monitoring/feature_periods.sql", as_of=ts_literal(as_of), since=ts_literal(since),
                            not_fingerprinted=", ".join(left_out))
    p["fingerprint"] = [int(v) for v in p.fingerprint]
    p["in_window"] = p.in_window.astype(bool)
    return p


def keys(periods: pd.DataFrame, by: str) -> dict[str, str]:
    """Per value of ``by`` (month or week): "rows:fingerprint" of all its rows, the fingerprint being the XOR
    of its parts' (the rows of a union of disjoint parts hash to the XOR of theirs)."""
    if periods.empty:
        return {}
    return {str(k): f"{int(g.n.sum())}:{reduce(xor, g.fingerprint, 0):x}" for k, g in periods.groupby(by, sort=True)}


def month_range(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(f"{month}-01", tz="UTC")
    return start, start + pd.offsets.MonthBegin(1)


def week_range(week: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(week, tz="UTC")
    return start, start + pd.Timedelta(days=7)


def rows_where(ranges: list[tuple[pd.Timestamp, pd.Timestamp]], after: pd.Timestamp, as_of: pd.Timestamp) -> str:
    """The leads contacted after ``after`` or in any of the half-open ``ranges``, up to ``as_of``."""
    parts = [f"contacted_at > {ts_literal(after)}"] + [
        f"(contacted_at >= {ts_literal(lo)} and contacted_at < {ts_literal(hi)})" for lo, hi in ranges]
    return f"contacted_at <= {ts_literal(as_of)} and ({' or '.join(parts)})"
