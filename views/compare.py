"""Compare runs: filters and the runs to compare above; one tab per question below (the runs table with
sweeps and deletion, metrics with intervals, choosing a run without target labels, the paired test, one run in
detail, using the model, sharing, what target labels buy). Only the open tab runs, so a tab loads only what it
shows.

The sections live in ui/compare/ (one module each); this page puts them in tabs.
"""
from __future__ import annotations

import streamlit as st

from tlcore.runs.view import RunView
from ui.auth import require_sign_in
from ui.compare.delete import delete_section, deleted_message
from ui.compare.detail import inspect_section
from ui.compare.label_curve import label_curve_section
from ui.compare.metrics import charts_section
from ui.compare.paired import paired_section
from ui.compare.share import share_section
from ui.compare.sweeps import results_section, start_section
from ui.compare.table import filtered_table, table_section
from ui.compare_validators import validator_section
from ui.predict_export import model_section
from ui.run_table import default_selection, runs_frame
from ui.state import get_store

TABS = ("Runs table", "Metrics", "Choose without labels", "Paired test", "Inspect one run", "Use the model",
        "Share", "Label curve")
TAB = "tl_compare_tab"  # session state: the open tab (tests open one with at.session_state[TAB] = title)


def runs_tab(store, table, shown, labels: dict) -> None:
    """The filtered runs table, sweeps started from a run and their results, and deletion."""
    table_section(table, shown)
    records = store.list()
    start_section(store, records, labels)
    results_section(store, records)
    delete_section(store, list(table.index), labels)


def selected_tab(title: str, store, table, selected: list[str], labels: dict) -> None:
    """One tab about the selected runs (needs a selection)."""
    if not selected:
        st.info("Select one or more completed runs to compare (above).")
    elif title == "Metrics":
        charts_section(store, {rid: RunView(store, rid) for rid in selected},
                       {rid: table.at[rid, "chart_label"] for rid in selected}, labels)
    elif title == "Choose without labels":
        validator_section({rid: RunView(store, rid).metrics() for rid in selected}, labels)
    elif title == "Paired test":
        paired_section(store, selected, labels)
    elif title == "Inspect one run":
        inspect_section(store, selected, labels)
    elif title == "Use the model":
        focus = st.selectbox("Run", selected, format_func=labels.get, key="tl_compare_model_run")
        model_section(store, focus, selected, labels)
    elif title == "Share":
        share_section(store, selected)


def render() -> None:
    """The Compare page: filters and the selection, then one tab per question about the runs."""
    require_sign_in()  # also here: a page run on its own (AppTest, `streamlit run views/<page>.py`)
    st.title("Compare runs")
    store = get_store()
    deleted_message()
    table = runs_frame(store.list())
    if table.empty:
        st.info("No runs yet. Train a model on the **Train** page, and its results will appear here.")
        st.stop()
    shown = filtered_table(table)  # the filters narrow the table and the runs offered for comparison
    labels = {rid: f"{row['run']} · {row['pair']} · {row['strategy']}" for rid, row in table.iterrows()}
    done = shown[shown["status_key"] == "completed"]
    selected = st.multiselect("Runs to compare (completed runs in the filtered table)", list(done.index),
                              default=default_selection(done, focus=st.query_params.get("run")),
                              format_func=labels.get)
    if not selected:
        st.info("Select one or more completed runs to compare.")
    for title, tab in zip(TABS, st.tabs(TABS, key=TAB, on_change="rerun")):
        if not tab.open:  # only the open tab runs
            continue
        with tab:
            if title == TABS[0]:
                runs_tab(store, table, shown, labels)
            elif title == "Label curve":  # its own results (label_curve jobs); starts one from a completed run
                label_curve_section(selected or list(done.index), labels)
            else:
                selected_tab(title, store, table, selected, labels)


if __name__ == "__main__":  # run as a script: AppTest.from_file, `streamlit run views/<page>.py`
    render()
