"""Compare runs: the runs table with filters and CSV export, charts for a selection, and deletion."""
from __future__ import annotations

import streamlit as st

from tlcore.runs.store import RunNotFound, RunStore, default_root
from ui import charts
from ui.run_table import HELPER_COLUMNS, default_selection, filter_runs, runs_frame, to_csv_bytes

try:
    from ui.state import get_store
except ImportError:  # ui.state not importable yet: keep a cached handle of our own
    @st.cache_resource(show_spinner=False)
    def _store(root: str) -> RunStore:
        return RunStore(root)

    def get_store() -> RunStore:
        return _store(str(default_root()))

DELETED_MSG = "tl_compare_deleted"


def run_history(store: RunStore, run_id: str) -> list[dict]:
    """history.json, or the run's epoch events while it is still running."""
    hist = store.read_json(run_id, "history.json")
    if isinstance(hist, list) and hist:
        return hist
    return [e for e in store.events(run_id) if e.get("type") == "epoch"]


st.title("Compare runs")
store = get_store()
if msg := st.session_state.pop(DELETED_MSG, None):
    st.success(msg)

table = runs_frame(store.list())
if table.empty:
    st.info("No runs yet. Train a model on the **Train** page, and its results will appear here.")
    st.stop()

# -- filters ---------------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
statuses = c1.multiselect("Status", sorted(table["status_key"].unique()), placeholder="all")
strategies = c2.multiselect("Strategy", sorted(table["strategy"].unique()), placeholder="all")
backbones = c3.multiselect("Backbone", sorted(table["backbone"].unique()), placeholder="all")
pairs = c4.multiselect("Pair (source → target)", sorted(table["pair"].unique()), placeholder="all")
search = st.text_input("Search", placeholder="run name or id, domain, backbone, strategy, error text…")
shown = filter_runs(table, statuses, strategies, backbones, pairs, search)

st.caption(f"{len(shown)} of {len(table)} runs. Click a column header to sort.")
st.dataframe(
    shown.drop(columns=HELPER_COLUMNS), hide_index=True,
    column_config={
        "target accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
        "target macro F1 (%)": st.column_config.NumberColumn(format="%.1f"),
        "source val accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
        "duration (s)": st.column_config.NumberColumn(format="%.0f"),
        "date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "error": st.column_config.TextColumn(width="large"),
    },
)
st.download_button("Download table as CSV", to_csv_bytes(shown), file_name="tl_runs.csv", mime="text/csv")

# -- selection and charts --------------------------------------------------------------------------
st.header("Compare selected runs")
labels = {rid: f"{row['run']} · {row['pair']} · {row['strategy']}" for rid, row in table.iterrows()}
done = shown[shown["status_key"] == "completed"]
selected = st.multiselect("Runs to compare (completed runs in the filtered table)", list(done.index),
                          default=default_selection(done), format_func=labels.get)
if not selected:
    st.info("Select one or more completed runs to compare.")
else:
    metrics = {rid: store.metrics(rid) for rid in selected}
    name = {rid: table.at[rid, "chart_label"] for rid in selected}
    st.plotly_chart(charts.metric_bars([
        {"label": name[rid], "target_acc": (m.get("target_test") or {}).get("accuracy"),
         "target_f1": (m.get("target_test") or {}).get("f1_macro"),
         "source_acc": (m.get("source_val") or {}).get("accuracy"),
         "source_f1": (m.get("source_val") or {}).get("f1_macro")} for rid, m in metrics.items()]))

    normalize = st.toggle("Normalise confusion-matrix rows (% of each true class)", value=True)
    mats = [{"label": name[rid], "matrix": tt["confusion_matrix"], "classes": tt.get("classes") or m.get("classes")}
            for rid, m in metrics.items() if (tt := m.get("target_test") or {}).get("confusion_matrix")]
    if mats:
        st.plotly_chart(charts.confusion_heatmaps(mats, normalize=normalize))
        st.plotly_chart(charts.per_class_f1_bars(
            [{"label": name[rid], "per_class": (m.get("target_test") or {}).get("per_class")}
             for rid, m in metrics.items()]))
    else:
        st.info("The selected runs have no labelled target test set, so no confusion matrix.")
    st.plotly_chart(charts.training_curves([{"label": name[rid], "history": run_history(store, rid)}
                                            for rid in selected]))

# -- deletion --------------------------------------------------------------------------------------
with st.expander("Delete runs"):
    doomed = st.multiselect("Runs to delete", list(table.index), format_func=labels.get, key="tl_compare_delete")
    sure = st.checkbox(f"Yes, permanently delete {len(doomed)} run(s) and their files", key="tl_compare_confirm",
                       disabled=not doomed)
    if st.button("Delete", type="primary", disabled=not (doomed and sure)):
        gone = []
        for rid in doomed:
            try:
                store.delete(rid)
                gone.append(rid)
            except RunNotFound:
                pass
        st.session_state[DELETED_MSG] = f"Deleted {len(gone)} run(s): {', '.join(gone)}"
        for key in ("tl_compare_delete", "tl_compare_confirm"):
            st.session_state.pop(key, None)
        st.rerun()
