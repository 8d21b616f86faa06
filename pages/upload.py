"""Upload the monthly MarketPro territory CSVs, the Salesforce Lead export and its Task export (RevOps)."""

import tempfile
from pathlib import Path

import streamlit as st

from core.ingest.accounting import SENTENCES
from core.ingest.activities import load_activity_file
from core.ingest.leads import load_lead_file
from core.ingest.territories import (guess_month, guess_territory, load_territory_files, load_territory_months,
                                     replacement_plan, spanned_months)
from core.quality.reconcile import reconcile
from core.warehouse.cost import estimate
from pages._shared import after_write, engine, progress_callback, require, table, user_errors

eng = engine()
who = require("replace_data")
st.title("Upload exports")
TERRITORIES = ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9"]


def _save(uploads, folder: Path) -> list[Path]:
    paths = []
    for up in uploads:
        path = folder / Path(up.name).name
        path.write_bytes(up.getbuffer())
        paths.append(path)
    return paths


def _show(result) -> None:
    """One vocabulary: a *row* is a line of the file; a *cell* is one value. A quarantined row is not loaded;
    a quarantined cell is loaded as empty while the rest of its row loads."""
    balanced = result.rows_read == result.rows_loaded + result.rows_quarantined
    cells = sum(f.cells_quarantined for f in result.files)
    st.success(f"Rows read {result.rows_read:,} = rows loaded {result.rows_loaded:,} + rows quarantined "
               f"{result.rows_quarantined:,}" + ("" if balanced else " — mismatch, please report")
               + f". Cells quarantined (loaded as empty): {cells:,}.")
    table(result.files_frame(), f"load_{result.load_id}_files.csv", column_config={
        "file_name": "File", "territory": "Territory", "snapshot_month": "Month",
        "rows_read": st.column_config.NumberColumn("Rows read", format="localized"),
        "rows_loaded": st.column_config.NumberColumn("Rows loaded", format="localized"),
        "rows_quarantined": st.column_config.NumberColumn("Rows quarantined (not loaded)", format="localized"),
        "cells_quarantined": st.column_config.NumberColumn("Cells quarantined (loaded as empty)", format="localized"),
        "sha256": "Checksum (sha256)", "encoding": "Encoding", "extra_columns": "Unknown columns kept",
        "missing_columns": "Contract columns missing (loaded as empty)"})
    st.caption(" · ".join(f"{k.replace('_', ' ')}: {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')}: {v}"
                          for k, v in result.summary.items() if k not in SENTENCES))
    for sentence in (line for key in SENTENCES for line in result.summary.get(key, [])):
        st.warning(sentence)
    q = result.quarantine
    st.subheader(f"Quarantine: {result.rows_quarantined:,} row{'s' * (result.rows_quarantined != 1)} not loaded, "
                 f"{cells:,} cell{'s' * (cells != 1)} loaded as empty")
    if q.empty:
        st.caption("Every value parsed.")
    else:
        st.caption(f"{len(q):,} entries, one per quarantined row or cell, each with its file, line, column, raw "
                   "value and reason.")
        table(q, f"quarantine_{result.load_id}.csv", height=300 if len(q) > 8 else None, column_config={
            "file_name": "File", "line": st.column_config.NumberColumn("Line", format="%d"),
            "column_name": "Column", "raw_value": "Raw value", "reason": "Reason"})


def _show_months(results) -> None:
    """Several months loaded at once: one expander a month, each as a single month's load shows."""
    for r in results:
        with st.expander(f"{r.summary['snapshot_month']}: {r.rows_loaded:,} of {r.rows_read:,} rows loaded, "
                         f"{r.rows_quarantined:,} quarantined", expanded=len(results) == 1):
            _show(r)


def _run(label: str, load, done, reconciled: bool = True) -> None:
    """A status box that always ends in success or error, never hangs."""
    with st.status(label, expanded=True) as status:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                result = load(Path(tmp), progress_callback(status, st.progress(0.0)))
                if reconciled:  # territories and Leads: the reconciliation report follows every load
                    status.update(label="Reconciling…")
                    reconcile(eng.wh, eng.settings, who)
            seconds = sum(r.seconds for r in result) if isinstance(result, list) else result.seconds
            status.update(label=f"Loaded in {seconds:.1f} s", state="complete")
        except Exception:
            status.update(label="Nothing was loaded — see the message below", state="error")
            raise
    after_write()
    done(result)


tab_t, tab_l, tab_a = st.tabs(["Territory CSVs (monthly)", "Salesforce Lead export", "Salesforce Task export (dials)"])
with tab_t, user_errors():
    files = st.file_uploader("discovery_t1/t2/t3_YYYY_MM.csv", type=["csv"], accept_multiple_files=True,
                             key="territory_files") or []
    dated = spanned_months(f.name for f in files)
    if several := len(dated) > 1:  # a backlog or the first history: each month on its own
        st.info(f"{len(files)} files for {len(dated)} months ({dated[0]} to {dated[-1]}), as their names date them: "
                "each month is loaded on its own, oldest first, and replaced atomically.")
    month = None if several else st.text_input(
        "Snapshot month (YYYY-MM)", value=next((m for f in files if (m := guess_month(f.name))), ""),
        help="Taken from the file names; change it when a name does not carry the month.")
    chosen = {}
    for i, f in enumerate(files):
        guess = guess_territory(f.name)
        chosen[f.name] = st.selectbox(f"Territory of {f.name}", TERRITORIES, key=f"terr_{i}_{f.name}",
                                      index=TERRITORIES.index(guess) if guess in TERRITORIES else None,
                                      placeholder="Pick the territory (the file name does not say)")
    missing = [n for n, t in chosen.items() if t is None]
    replaced = replacement_plan(eng.wh, chosen, month) if files and (month or several) else []
    confirmed = True
    if replaced:
        st.warning("Already loaded and about to be replaced: " + "; ".join(
            f"{r['snapshot_month']} {r['territory']} ({r['reps']:,} reps)" for r in replaced)
            + ". The previous rows stay in the archive; the replace is atomic.")
        confirmed = st.checkbox("Replace them", key="confirm_replace")
    if files and (cost := estimate(eng.wh, "territory_load")):
        st.caption(cost.sentence())
    reason = ("Choose one or more files" if not files else "Pick a territory for " + ", ".join(missing) if missing
              else "Enter the snapshot month" if not (month or several) else "Tick 'Replace them' first"
              if not confirmed else None)
    if st.button("Load territory files", type="primary", disabled=reason is not None, help=reason):
        if several:
            _run(f"Loading {len(dated)} territory months…", lambda tmp, progress: load_territory_months(
                eng.wh, eng.settings, _save(files, tmp), territory=chosen, actor=who, progress=progress), _show_months)
        else:
            _run("Loading territory files…", lambda tmp, progress: load_territory_files(
                eng.wh, eng.settings, _save(files, tmp), month, territory=chosen, actor=who, progress=progress), _show)

with tab_l, user_errors():
    lead_file = st.file_uploader("Salesforce Lead export (CSV)", type=["csv"], key="lead_file")
    o1, o2 = st.columns(2)
    older = o1.checkbox("Allow an older export", key="allow_older", help="An export older than the one loaded moves "
                        "every label, score and tier list back to its date; it is refused unless this is ticked.")
    fewer = o2.checkbox("Allow fewer Leads", key="allow_fewer", help="An export lacking 10% or more of the contacted "
                        "Leads loaded (a filtered export) would drop them and clear their scores in Salesforce; it is "
                        "refused unless this is ticked (they were deleted).")
    if st.button("Load lead export", type="primary", disabled=lead_file is None,
                 help="Choose the export file first" if lead_file is None else None):
        _run("Loading the Lead export…", lambda tmp, progress: load_lead_file(
            eng.wh, eng.settings, _save([lead_file], tmp)[0], actor=who, progress=progress, allow_older=older,
            allow_fewer=fewer), _show)

with tab_a, user_errors():
    st.caption("The call activity experiments count as dials (MQLs per 100 dials): a Task export with Data Loader's "
               "'Export All' (which keeps the calls Salesforce archives after a year). It replaces the one loaded.")
    task_file = st.file_uploader("Salesforce Task export (CSV)", type=["csv"], key="task_file")
    if st.button("Load task export", type="primary", disabled=task_file is None,
                 help="Choose the export file first" if task_file is None else None):
        _run("Loading the Task export…", lambda tmp, progress: load_activity_file(
            eng.wh, eng.settings, _save([task_file], tmp)[0], actor=who, progress=progress), _show, reconciled=False)
