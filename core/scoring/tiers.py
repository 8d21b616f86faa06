"""Capacity-sized A/B/C tiers (spec §5.8, §7.3). Priority boosts change the ranking only; tier sizes come
from capacity alone; ties break on raw probability, then earlier contact, then lead id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import Settings
from core.features.build import as_utc


# Score history, shadow scores and tiers keep a probability to 6 decimals; whatever compares against stored scores
# (monitoring's frozen score profile) rounds the same way.
STORED_DECIMALS = 6


def stored_prob(prob) -> np.ndarray:
    """A probability as score history stores it."""
    return np.round(np.asarray(prob, dtype=float), STORED_DECIMALS)


BOOST_COLUMNS = ("TotalAssetsInMillions", "AUM_Growth_Rate_1Year", "HNW_Client_Ratio", "Is_Veteran_Advisor",
                 "Date_Of_Hire_At_Current_Firm_Years")


def boost_rules(features: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """Spec §5.8's priority rules: each rule's label and which rows meet it (a missing value meets none). Reads
    only :data:`BOOST_COLUMNS`."""
    f = lambda c: pd.to_numeric(features.get(c, pd.Series(np.nan, index=features.index)), errors="coerce")  # noqa: E731
    rules = [
        ("AUM over $500M and growing", (f("TotalAssetsInMillions") > 500) & (f("AUM_Growth_Rate_1Year") > 0)),
        ("HNW clients over half the book", f("HNW_Client_Ratio") > 0.5),
        ("Veteran advisor who recently changed firms", (f("Is_Veteran_Advisor") == 1) & (f("Date_Of_Hire_At_Current_Firm_Years") < 2)),
    ]
    return [(label, mask.fillna(False).to_numpy(dtype=bool)) for label, mask in rules]


def boosts(features: pd.DataFrame, per_rule: float = Settings.priority_boost) -> tuple[np.ndarray, list[list[str]]]:
    """``per_rule`` (the config's priority_boost, spec §7.3: 0.1) per condition met; also the reasons, to show on
    the lead. With ``per_rule`` 0 nothing is boosted and no lead shows a reason."""
    total = np.zeros(len(features))
    reasons: list[list[str]] = [[] for _ in range(len(features))]
    for label, m in boost_rules(features) if per_rule > 0 else ():
        total += per_rule * m
        for i in np.where(m)[0]:
            reasons[i].append(label)
    return total, reasons


def boost_effect(test: dict) -> tuple[str | None, bool]:
    """The priority boosts judged on the user's own held-out period: Tier A precision as daily scoring would have
    tiered it with the boosts and without them (``test``: a model's test metrics). The spec fixes the rules and
    their +0.1; whether they help depends on the data, so the card says so — and whether they lowered precision by
    more than sampling noise (two standard errors of the difference, as if the two lists were independent: they
    share most of their leads, so this errs towards "within noise"). (None, False) when not measured."""
    p, n = test.get("tier_a_precision"), test.get("tier_a_leads") or 0
    q, m = test.get("tier_a_precision_unboosted"), test.get("tier_a_leads_unboosted") or 0
    if p is None or q is None or not n or not m:
        return None, False
    diff = p - q
    se = float(np.sqrt(p * (1 - p) / n + q * (1 - q) / m))
    hurt = diff < -2 * se
    noise = " — within sampling noise" if abs(diff) < 2 * se else ""
    points = round(diff * 100, 1)
    verb = "raised" if points > 0 else "lowered" if points < 0 else "did not change"
    text = (f"Priority boosts on the test period: Tier A precision {p:.1%} of {n:,} leads with them, {q:.1%} of "
            f"{m:,} without. They {verb} it" + (f" by {abs(points):.1f} points" if points else "") + noise + ".")
    if hurt:
        text += (" On this firm's leads the spec's rules rank worse leads ahead of better ones: consider "
                 "`priority_boost = 0` in the config (or a smaller value), then retrain to check.")
    else:
        text += " `priority_boost` in the config sets their size; 0 turns them off."
    return text, hurt


def assign_tiers(scores: pd.DataFrame, capacity: int, a_factor: float = Settings.tier_a_factor,
                 b_factor: float = Settings.tier_b_factor, window=None, as_of=None) -> pd.DataFrame:
    """``scores`` has lead_id, prob, boost, contacted_at. Adds adjusted, rank (1 = call first) and tier.
    With ``window`` (Settings.tier_window) and ``as_of`` (the scoring time), leads contacted within the window —
    whose outcome window is still open — rank ahead of older open leads, which fill the capacity left over."""
    out = scores.copy()
    out["adjusted"] = (out["prob"] + out["boost"]).round(STORED_DECIMALS)  # 0.2 + 0.1 must tie with 0.3
    keys, order = ["adjusted", "prob", "contacted_at", "lead_id"], [False, False, True, True]
    if window is not None and as_of is not None and len(out):
        out["_late"] = (pd.to_datetime(out["contacted_at"], utc=True) <= as_utc(as_of) - window).to_numpy()
        keys, order = ["_late"] + keys, [True] + order
    out = out.sort_values(keys, ascending=order, kind="mergesort").reset_index(drop=True).drop(columns="_late",
                                                                                               errors="ignore")
    out["rank"] = np.arange(1, len(out) + 1)
    a = int(round(capacity * a_factor))
    b = a + int(round(capacity * b_factor))
    out["tier"] = np.where(out["rank"] <= a, "A", np.where(out["rank"] <= b, "B", "C"))
    return out
