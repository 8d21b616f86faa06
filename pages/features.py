"""Features & data quality: the catalog, the per-feature scorecard, class balance and the leakage report."""

import pandas as pd
import plotly.express as px
import streamlit as st

from core.features.build import build_features
from core.features.catalog import search_catalog
from core.quality.feature_quality import feature_overview
from pages._shared import actor, after_write, engine, table, user_errors, why_not

eng = engine()
who = actor()
st.title("Features & data quality")

with user_errors():
    if st.button("Rebuild features", disabled=not who.can("build_features"),
                 help=why_not(who, "build_features") or "Labels and point-in-time features as of the Lead export time"):
        with st.spinner("Building labels and features…"):
            st.success(build_features(eng.wh, eng.settings, actor=who).markdown().splitlines()[0])
        after_write()
    view = feature_overview(eng.wh, eng.settings, actor=who)  # builds once on the first visit after a load
    cs = view.class_summary
    st.caption(view.caption())
    cat_tab, card_tab, class_tab, leak_tab = st.tabs(["Catalog", "Scorecard", "Class balance", "Leakage"])

    with cat_tab:
        query = st.text_input("Search features", placeholder="e.g. growth, AUM, metro")
        table(search_catalog(view.catalog, query), "feature_catalog.csv")

    with card_tab:
        card, missing = view.scorecard, view.mostly_missing()
        if missing:
            st.warning(f"{len(missing)} feature{' is' if len(missing) == 1 else 's are'} more than 50% missing: "
                       f"{', '.join(missing)}")
        st.metric("Discovery data coverage among contacted leads", f"{cs['discovery_coverage']:.1%}")
        table(card, "feature_scorecard.csv", column_config={
            "null_rate": st.column_config.ProgressColumn("Null rate", min_value=0, max_value=1, format="percent"),
            "coverage": st.column_config.NumberColumn("Coverage", format="percent"),
            "outlier_share": st.column_config.NumberColumn("Outliers (> 3 IQR)", format="percent"),
            "levels": st.column_config.NumberColumn("Levels (raw categories)", format="%d"),
        } | {c: st.column_config.NumberColumn(c.capitalize(), format="localized") for c in ("min", "median", "max")})

    with class_tab:
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Training rows", f"{cs['training_rows']:,}")
        c2.metric("Positives (MQL ≤ 30 d)", f"{cs['positives']:,}", f"{cs['positive_rate']:.2%}", delta_color="off")
        c3.metric("Imbalance", f"{cs['imbalance_ratio']}:1")
        c4.metric("Censored (scored only)", f"{cs['censored']:,}")
        st.caption(f"Weekend contacts convert at {cs['weekend_rate']:.1%} vs {cs['weekday_rate']:.1%} on weekdays; "
                   f"{cs['defects_mql_before_contact']:,} MQLs stamped before contact are excluded.")
        cols = st.columns(3)
        order = {"by_aum_tier": ["<$100M", "$100–500M", ">$500M", "unknown"],
                 "by_weekday": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}
        for col, key, title in zip(cols, ["by_aum_tier", "by_weekday", "by_metro"], ["AUM tier", "Weekday", "Home metro"]):
            frame = pd.DataFrame(cs[key])
            if key == "by_metro":  # long names: horizontal bars, highest rate first, the name shortened to its city
                frame["group"] = frame.group.str.replace("_", " ").str.split("-").str[0]
                fig = px.bar(frame.sort_values("rate"), x="rate", y="group", orientation="h", title=title, height=340,
                             hover_data=["leads", "positives"], labels={"rate": "MQL rate", "group": ""})
                fig.update_xaxes(tickformat=".0%")
            else:
                fig = px.bar(frame, x="group", y="rate", hover_data=["leads", "positives"], title=title, height=340,
                             category_orders={"group": order[key]}, labels={"rate": "MQL rate", "group": ""})
                fig.update_yaxes(tickformat=".0%")
            col.plotly_chart(fig, width="stretch")

    with leak_tab:
        leak = view.leakage
        (st.success if leak.clean else st.error)(
            "No post-contact or PII column reaches the features." if leak.clean else "Leakage found: see below.")
        st.markdown(leak.markdown())
        if leak.defect_examples:
            table(pd.DataFrame(leak.defect_examples), "mql_before_contact.csv")
        if leak.converted_examples:
            table(pd.DataFrame(leak.converted_examples), "converted_without_mql.csv")
        if leak.status_mql_examples:
            table(pd.DataFrame(leak.status_mql_examples), "status_mql_without_stamp.csv")
