"""Compare runs: the runs table with filters and CSV export, charts with intervals for a selection, paired
tests, sweep results, error analysis, cross-validation, reproducibility cards, exports and deletion.

The sections live in ui/compare/ (one module each); this page puts them in order.
"""
from __future__ import annotations

import streamlit as st

from tlcore.runs.view import RunView
from ui.auth import require_sign_in
from ui.compare.delete import delete_section, deleted_message
from ui.compare.detail import inspect_section
from ui.compare.metrics import charts_section
from ui.compare.paired import paired_section
from ui.compare.share import share_section
from ui.compare.sweeps import results_section, start_section
from ui.compare.table import table_section
from ui.run_table import default_selection, runs_frame
from ui.state import get_store


def render() -> None:
    """The Compare page: the runs table, then the sections of ui/compare/ for the selected runs."""
    require_sign_in()  # also here: a page run on its own (AppTest, `streamlit run views/<page>.py`)
    st.title("Compare runs")
    store = get_store()
    deleted_message()

    table = runs_frame(store.list())
    if table.empty:
        st.info("No runs yet. Train a model on the **Train** page, and its results will appear here.")
        st.stop()
    shown = table_section(table)

    st.header("Compare selected runs")
    labels = {rid: f"{row['run']} · {row['pair']} · {row['strategy']}" for rid, row in table.iterrows()}
    done = shown[shown["status_key"] == "completed"]
    selected = st.multiselect("Runs to compare (completed runs in the filtered table)", list(done.index),
                              default=default_selection(done, focus=st.query_params.get("run")),
                              format_func=labels.get)
    if not selected:
        st.info("Select one or more completed runs to compare.")
    else:
        charts_section(store, {rid: RunView(store, rid) for rid in selected},
                       {rid: table.at[rid, "chart_label"] for rid in selected}, labels)
        paired_section(store, selected, labels)
        inspect_section(store, selected, labels)
        share_section(store, selected)

    records = store.list()
    start_section(store, records, labels)
    results_section(store, records)
    delete_section(store, list(table.index), labels)


if __name__ == "__main__":  # run as a script: AppTest.from_file, `streamlit run views/<page>.py`
    render()
