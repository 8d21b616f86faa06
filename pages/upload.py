"""Upload the monthly MarketPro territory CSVs and the Salesforce Lead export (RevOps)."""

import re
import tempfile
from pathlib import Path

import streamlit as st

from core.ingest.leads import load_lead_file
from core.ingest.territories import load_territory_files
from core.quality.reconcile import reconcile
from pages._shared import after_write, engine, progress_callback, require, table, user_errors

eng = engine()
who = require("replace_data")
st.title("Upload exports")


def _save(uploads, folder: Path) -> list[Path]:
    paths = []
    for up in uploads:
        path = folder / Path(up.name).name
        path.write_bytes(up.getbuffer())
        paths.append(path)
    return paths


def _show(result) -> None:
    balanced = result.rows_read == result.rows_loaded + result.rows_quarantined
    st.success(
        f"Rows read {result.rows_read:,} = loaded {result.rows_loaded:,} + quarantined {result.rows_quarantined:,}"
        + ("" if balanced else " — mismatch, please report")
    )
    table(result.files_frame(), f"load_{result.load_id}_files.csv")
    st.caption(" · ".join(f"{k.replace('_', ' ')}: {v:,}" if isinstance(v, int) else f"{k.replace('_', ' ')}: {v}"
                          for k, v in result.summary.items()))
    st.subheader(f"Quarantine ({len(result.quarantine):,} rows)")
    if result.quarantine.empty:
        st.caption("Every value parsed.")
    else:
        table(result.quarantine, f"quarantine_{result.load_id}.csv", height=300)


tab_t, tab_l = st.tabs(["Territory CSVs (monthly)", "Salesforce Lead export"])
with tab_t:
    files = st.file_uploader("discovery_t1/t2/t3_YYYY_MM.csv", type=["csv"], accept_multiple_files=True,
                             key="territory_files")
    guess = next((f"{m.group(1)}-{m.group(2)}" for f in files or []
                  if (m := re.search(r"(20\d\d)[_-](\d\d)", f.name))), "")
    month = st.text_input("Snapshot month (YYYY-MM)", value=guess, help="Taken from the file names when left as is.")
    if st.button("Load territory files", type="primary", disabled=not files):
        with user_errors(), tempfile.TemporaryDirectory() as tmp:
            with st.status("Loading territory files…", expanded=True) as status:
                bar = st.progress(0.0)
                result = load_territory_files(eng.wh, eng.settings, _save(files, Path(tmp)), month or None,
                                              actor=who, progress=progress_callback(status, bar))
                status.update(label="Reconciling…")
                reconcile(eng.wh, eng.settings, who)
                status.update(label=f"Loaded in {result.seconds:.1f} s", state="complete")
            after_write()
            _show(result)

with tab_l:
    lead_file = st.file_uploader("Salesforce Lead export (CSV)", type=["csv"], key="lead_file")
    if st.button("Load lead export", type="primary", disabled=lead_file is None):
        with user_errors(), tempfile.TemporaryDirectory() as tmp:
            with st.status("Loading the Lead export…", expanded=True) as status:
                bar = st.progress(0.0)
                result = load_lead_file(eng.wh, eng.settings, _save([lead_file], Path(tmp))[0], actor=who,
                                        progress=progress_callback(status, bar))
                reconcile(eng.wh, eng.settings, who)
                status.update(label=f"Loaded in {result.seconds:.1f} s", state="complete")
            after_write()
            _show(result)
