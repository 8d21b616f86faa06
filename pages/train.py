"""Train & compare (analysts): retrain with progress, compare with baselines, read the gates, promote."""

import plotly.express as px
import streamlit as st

from core.modeling import registry
from core.modeling.card import model_card
from core.modeling.train import train
from core.warehouse.cost import estimate
from core.words import model_kind
from pages._shared import after_write, engine, progress_callback, require, table, user_errors, when, why_not

eng = engine()
who = require("view")
st.title("Train & compare")
can_train = who.can("train_promote")

with user_errors():
    with st.expander("Retrain", expanded=False):
        budget = st.slider("Time budget (minutes)", 1.0, 20.0, float(eng.settings.train_budget_minutes), 0.5)
        auto = st.checkbox("Promote to champion if every gate passes")
        if cost := estimate(eng.wh, "retrain"):
            st.caption(cost.sentence())
        if st.button("Start training", type="primary", disabled=not can_train, help=why_not(who, "train_promote")):
            with st.status("Training…", expanded=True) as status:
                bar = st.progress(0.0)
                result = train(eng.wh, eng.settings, budget, auto, who, progress_callback(status, bar))
                status.update(label=f"{model_kind(result.kind)} trained in {result.seconds:.0f} s — gates "
                                    f"{'passed' if result.gates_passed else 'failed'}", state="complete")
            after_write()

    models = registry.list_models(eng.wh)
    if models.empty:
        st.info("No model trained yet. " + ("Start a training run above." if can_train else
                                            "An analyst or an admin can start a training run on this page."))
        st.stop()
    models["created"], models["kind"] = models.created_at.map(when), models.kind.map(model_kind)
    table(models[["created", "kind", "is_champion", "gates_passed", "test_auc_pr", "notes", "model_id"]], "models.csv",
          column_config={"created": "Trained", "kind": "Kind", "model_id": "Model id",
                         "is_champion": st.column_config.CheckboxColumn("Champion"),
                         "gates_passed": st.column_config.CheckboxColumn("Gates passed"),
                         "test_auc_pr": st.column_config.NumberColumn("Test AUC-PR", format="%.3f"),
                         "notes": st.column_config.TextColumn("Notes", width="large")})
    labels = dict(zip(models.model_id, models.label))
    picked = st.selectbox("Model", models.model_id.tolist(), format_func=labels.get,
                          index=int(models.is_champion.to_numpy().argmax()) if models.is_champion.any() else 0)
    card = model_card(eng.wh, picked)
    (st.success if card.gates_passed else st.error)(card.status)
    if card.notes:
        st.warning(card.notes)
    table(card.gates, f"{picked}_gates.csv", column_config={
        "gate": st.column_config.TextColumn("Gate", width="large"),
        "value": st.column_config.TextColumn("Value"),
        "result": st.column_config.TextColumn("Result"),
        "n": st.column_config.NumberColumn("Sample (n)", format="%d", help="Test leads, CV folds or positives: what the "
                                           "gate was measured on")})

    left, right = st.columns(2)
    with left:
        st.subheader(f"Against baselines (test n={card.test_n:,}, positives={card.test_positives:,})")
        st.plotly_chart(px.bar(card.baselines, x="model", y="auc_pr", text_auto=".3f", height=330,
                               labels={"model": "", "auc_pr": "AUC-PR (test)"}), width="stretch")
    with right:
        st.subheader("Lift by decile (test)")
        st.plotly_chart(px.bar(card.lift, x="decile", y="lift", text_auto=".1f", height=330,
                               labels={"decile": "Decile (1 = highest scores)", "lift": "Lift"}), width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("Calibration (test)")
        rel = card.reliability
        fig = px.line(rel, x="mean_predicted", y="observed_rate", markers=True, height=330,
                      labels={"mean_predicted": "Predicted probability", "observed_rate": "Observed MQL rate"})
        fig.update_xaxes(tickformat=".0%").update_yaxes(tickformat=".0%")
        fig.add_shape(type="line", x0=0, y0=0, x1=rel.mean_predicted.max(), y1=rel.mean_predicted.max(), line_dash="dot")
        st.plotly_chart(fig, width="stretch")
    with right:
        st.subheader("CV folds (AUC-PR)")
        st.plotly_chart(px.bar(card.folds, x="fold", y="auc_pr", text_auto=".3f", height=330,
                               labels={"fold": "Fold", "auc_pr": "AUC-PR"}), width="stretch")
        if card.fold_noise:
            st.caption(card.fold_noise)
    if card.choice_rule:
        st.subheader("Model choice: the simplest contender within one standard error of the best")
        st.caption(card.choice_rule)
        table(card.choice, f"{picked}_model_choice.csv", column_config={
            "chosen": st.column_config.CheckboxColumn("Chosen"), "model": "Contender (simplest first)",
            "features": st.column_config.NumberColumn("Features", format="%d"),
            "pooled_unseen_auc_pr": st.column_config.NumberColumn("AUC-PR on unseen rows", format="%.4f"),
            "diff_to_best": st.column_config.NumberColumn("vs best", format="%+.4f"),
            "se_diff": st.column_config.NumberColumn("1 SE of the difference", format="%.4f"),
            "within_one_se": st.column_config.CheckboxColumn("Within 1 SE"),
            "cv_mean_auc_pr": st.column_config.NumberColumn("CV mean AUC-PR", format="%.4f"),
            "positives": st.column_config.NumberColumn("Positives judged", format="%d")})
    if card.refit:
        st.info(card.refit)
    if card.boosts:
        (st.warning if card.boosts_hurt else st.caption)(card.boosts)
    if not card.imbalance.empty:
        st.subheader("SMOTE vs scale_pos_weight")
        imb = card.imbalance
        pct = {c: st.column_config.NumberColumn(c.replace("_", " ").replace("pct", "%"), format="%.3f")
               for c in imb.columns if imb[c].dtype.kind == "f"}
        table(imb, f"{picked}_imbalance.csv", column_config={
            **pct, "config": "Configuration", "method": "Method", "setting": "Setting",
            "chosen": st.column_config.CheckboxColumn("Chosen")})
    with st.expander("Full report"):
        st.markdown(card.report_md)

    c1, c2 = st.columns(2)
    with c1:
        force = st.checkbox("Force (gates failed)", disabled=card.gates_passed)
        reason = st.text_input("Reason (logged)", disabled=not force)
        if st.button("Promote to champion", disabled=not can_train or card.is_champion,
                     help=why_not(who, "train_promote") or ("Already the champion" if card.is_champion else None)):
            registry.promote(eng.wh, picked, who, force=force, reason=reason)
            after_write()
            st.success(f"{labels[picked].removesuffix(' · champion')} is now the champion.")
    with c2:
        if st.button("Roll back to the previous champion", disabled=not can_train, help=why_not(who, "train_promote")):
            back = registry.rollback(eng.wh, who)
            st.success(f"{labels.get(back, back).removesuffix(' · champion')} is champion again.")
            after_write()
