"""One trained model as the Train & compare page shows it: a typed card built from the registry row and the
artifact's stored metadata and report (design review: no page reads a model's JSON by string key)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import LeadScoringError
from core.modeling.registry import read_meta
from core.scoring.tiers import boost_effect
from core.warehouse import Warehouse
from core.warehouse.sql import literal
from core.words import CHECK_WORDS

COMPARED = ("auc_pr", "auc_roc", "precision_at_10pct", "ece")
CHOICE_COLUMNS = ("chosen", "model", "features", "pooled_unseen_auc_pr", "diff_to_best", "se_diff", "within_one_se",
                  "cv_mean_auc_pr", "positives")


@dataclass(frozen=True)
class ModelCard:
    model_id: str
    is_champion: bool
    gates_passed: bool
    notes: str                 # why the run fell back (too few positives…), empty when it did not
    gates: pd.DataFrame        # gate, value (text: three decimals, "—" when a gate has no number), passed, n
    test_n: int
    test_positives: int
    baselines: pd.DataFrame    # model, auc_pr, auc_roc, precision_at_10pct, ece: this model first, then each baseline
    lift: pd.DataFrame         # decile, lift (test)
    reliability: pd.DataFrame  # mean_predicted, observed_rate (test)
    folds: pd.DataFrame        # fold (1-based), auc_pr
    fold_noise: str | None     # the CoV gate's sampling-noise floor in words, when both are known
    choice: pd.DataFrame       # the guarded choice's table (CHOICE_COLUMNS present), empty for older models
    choice_rule: str | None    # how the choice was made and what won, in words
    refit: str | None          # the registered artifact's refit in words, when it was refitted
    imbalance: pd.DataFrame    # SMOTE vs scale_pos_weight (full recipe only), empty otherwise
    report_md: str
    boosts: str | None = None  # Tier A precision with and without the priority boosts (test period), in words
    boosts_hurt: bool = False  # ... and they lowered it by more than sampling noise

    @property
    def status(self) -> str:
        return ("Every gate passed" if self.gates_passed else
                "Gates failed — promotable only by forcing it, with a logged reason (below)")


def _sentence(text: str) -> str:
    """'only 48 positives …' → 'Only 48 positives …' (stored notes are clauses; the card shows them alone)."""
    return text[:1].upper() + text[1:]


def _stored(wh: Warehouse, model_id: str) -> tuple[dict, str, bool]:
    df = wh.read(f"select artifact_dir, is_champion from ml.models where model_id = {literal(model_id)}")
    if df.empty:
        raise LeadScoringError(f"No model {model_id}: see `python -m core models list`.")
    folder = Path(df.artifact_dir.iloc[0])
    try:
        meta = read_meta(folder)
        report = (folder / "report.md").read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise LeadScoringError(f"Artifacts of {model_id} in {folder} are unreadable ({exc}): retrain it, or remove "
                               "it from the registry.") from exc
    return meta, report, bool(df.is_champion.iloc[0])


def _choice(selection: dict) -> tuple[pd.DataFrame, str | None]:
    rows = selection.get("model_choice")
    if not rows:
        return pd.DataFrame(columns=list(CHOICE_COLUMNS)), None
    chosen = selection.get("model_chosen")
    rule = selection.get("model_choice_rule") or {}
    ch = pd.DataFrame(rows)
    ch["chosen"] = ch.model == chosen
    words = (f"Each contender scored on rows it never trained on (CV validation months + calibration period); "
             f"{rule.get('resamples', 'n/a')} paired bootstrap resamples give the noise of each difference to the best "
             f"({rule.get('best', 'n/a')}). Chosen: **{chosen}**.")
    return ch[[c for c in CHOICE_COLUMNS if c in ch]], words


def model_card(wh: Warehouse, model_id: str) -> ModelCard:
    """The stored metadata and Markdown report of one model version, shaped for reading."""
    meta, report, is_champion = _stored(wh, model_id)
    m = meta["metrics"]
    test = m["test"]
    gates = pd.DataFrame(meta["gates"], columns=["gate", "value", "passed", "n"])
    # shown as text: a gate without a number (too few positives) reads "—", not a grey "None"; its name says why
    gates["value"] = [("—" if pd.isna(v) else f"{v:.3f}") for v in pd.to_numeric(gates.value, errors="coerce")]
    # read as words, as the experiment's guardrails: a column of grey checkboxes said little about a failed gate
    gates["gate"] = gates.gate.map(lambda g: g[:1].upper() + g[1:])
    gates.insert(2, "result", gates.pop("passed").map({True: CHECK_WORDS["pass"], False: CHECK_WORDS["fail"]}))
    baselines = pd.DataFrame([{"model": "this model", **{k: test.get(k) for k in COMPARED}}]
                             + [{k: b.get(k) for k in ("model",) + COMPARED} for b in m.get("baselines", [])])
    folds = m.get("cv_fold_auc_pr") or []
    noise = (f"CoV {m['cv_cov']:.2f}; sampling noise alone would give about {m['cv_sampling_cov']:.2f} with folds of "
             "this size (bootstrap of each fold's validation rows).") \
        if m.get("cv_sampling_cov") is not None and m.get("cv_cov") is not None else None
    choice, rule = _choice(meta.get("selection") or {})
    r = m.get("refit")
    refit = (f"Registered artifact: the evaluated recipe refitted on every matured lead — {r['rows']:,} leads "
             f"({r['positives']:,} positive) instead of {r['evaluated_rows']:,}. The test metrics above belong to the "
             "evaluated artifact.") if r else None
    return ModelCard(
        model_id=model_id, is_champion=is_champion, gates_passed=bool(meta["gates_passed"]),
        notes=_sentence(meta.get("notes") or ""), gates=gates, test_n=int(test["n"]), test_positives=int(test["positives"]),
        baselines=baselines, lift=pd.DataFrame(test.get("lift_by_decile") or [], columns=["decile", "lift"]),
        reliability=pd.DataFrame(m.get("reliability_test") or [], columns=["mean_predicted", "observed_rate"]),
        folds=pd.DataFrame({"fold": range(1, len(folds) + 1), "auc_pr": folds}), fold_noise=noise,
        choice=choice, choice_rule=rule, refit=refit, imbalance=pd.DataFrame(meta.get("imbalance_table") or []),
        report_md=report, boosts=(effect := boost_effect(test))[0], boosts_hurt=effect[1])
