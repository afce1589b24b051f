"""Compare runs: the runs table with filters and CSV export, charts with intervals for a selection, paired
tests, sweep results, error analysis, cross-validation, reproducibility cards, exports and deletion."""
from __future__ import annotations

import json

import streamlit as st

from tlcore.errors import TLError
from tlcore.evaluation.compare import NotPaired, metrics_csv, paired_test, pairing_problem
from tlcore.runs.csvsafe import safe_csv_bytes
from tlcore.runs.store import RunNotFound, RunStore
from tlcore.sweeps import sweep_ids, sweep_table
from ui import charts
from ui.compare_validators import sweep_picks_section, validator_section
from ui.auth import require_sign_in, signed_in_user
from ui.run_table import (HELPER_COLUMNS, default_selection, filter_runs, metrics_frame, paired_frame, runs_frame,
                          sweep_frames, to_csv_bytes)
from ui.run_flags import flags_section
from ui.safe import md
from ui.state import get_queue, get_store

DELETED_MSG = "tl_compare_deleted"


def run_history(store: RunStore, run_id: str) -> list[dict]:
    """history.json, or the run's epoch events while it is still running."""
    hist = store.read_json(run_id, "history.json")
    if isinstance(hist, list) and hist:
        return hist
    return [e for e in store.events(run_id) if e.get("type") == "epoch"]


require_sign_in()  # also here: a fresh server may serve this file directly on its first request
st.title("Compare runs")
store = get_store()
if msg := st.session_state.pop(DELETED_MSG, None):
    st.success(md(msg))

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
                          default=default_selection(done, focus=st.query_params.get("run")),
                          format_func=labels.get)
if not selected:
    st.info("Select one or more completed runs to compare.")
else:
    metrics = {rid: store.metrics(rid) for rid in selected}
    name = {rid: table.at[rid, "chart_label"] for rid in selected}
    def _bar_row(rid, m):
        tt, sv = m.get("target_test") or {}, m.get("source_val") or {}
        return {"label": name[rid], "target_acc": tt.get("accuracy"), "target_acc_ci": tt.get("accuracy_ci"),
                "target_f1": tt.get("f1_macro"), "target_f1_ci": tt.get("f1_macro_ci"),
                "source_acc": sv.get("accuracy"), "source_acc_ci": sv.get("accuracy_ci"),
                "source_f1": sv.get("f1_macro"), "source_f1_ci": sv.get("f1_macro_ci")}

    st.plotly_chart(charts.metric_bars([_bar_row(rid, m) for rid, m in metrics.items()]))
    st.caption("Error bars and [brackets]: 95% percentile bootstrap intervals (1,000 seeded resamples).")
    st.dataframe(metrics_frame(metrics, name), hide_index=True)
    d1, d2 = st.columns(2)
    d1.download_button("Download metrics (CSV)", metrics_csv(store, selected), file_name="tl_metrics.csv",
                       mime="text/csv")
    d2.download_button("Download metrics (JSON)", json.dumps(metrics, indent=1).encode("utf-8"),
                       file_name="tl_metrics.json", mime="application/json")
    validator_section(metrics, labels)
    flags_section(store, selected, labels)

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
    if mats and st.toggle("Show ROC, precision-recall and calibration charts", key="tl_compare_curves"):
        tts = {rid: m.get("target_test") or {} for rid, m in metrics.items()}
        st.plotly_chart(charts.roc_pr_curves([{"label": name[r], "roc": t.get("roc_curve"), "pr": t.get("pr_curve")}
                                              for r, t in tts.items()]))
        st.plotly_chart(charts.reliability_diagram([{"label": name[r], "bins": t.get("reliability"),
                                                     "ece": t.get("ece")} for r, t in tts.items()]))

    # -- paired comparison -------------------------------------------------------------------------
    st.subheader("Paired comparison (same target test samples)")
    if len(selected) < 2:
        st.info("Select two runs to test whether one is significantly better than the other.")
    else:
        p1, p2 = st.columns(2)
        run_a = p1.selectbox("Run A", selected, index=0, format_func=labels.get, key="tl_compare_a")
        run_b = p2.selectbox("Run B", selected, index=1, format_func=labels.get, key="tl_compare_b")
        if run_a == run_b:
            st.info("Pick two different runs.")
        elif problem := pairing_problem(store, run_a, run_b):
            st.warning("These runs cannot be paired: " + md(problem))
        else:
            try:
                st.dataframe(paired_frame(paired_test(store, run_a, run_b)), hide_index=True)
                st.caption("McNemar's exact test compares which samples each run gets right; the paired bootstrap "
                           "resamples the shared test samples jointly. A small p-value (< 0.05) means the "
                           "difference is unlikely to be chance.")
            except NotPaired as exc:
                st.warning("These runs cannot be paired: " + md(exc))

    # -- one run in detail -------------------------------------------------------------------------
    st.subheader("Inspect one run")
    focus = st.selectbox("Run", selected, format_func=labels.get, key="tl_compare_focus")
    fm = metrics[focus]
    tt = fm.get("target_test") or {}
    preds_path = store.path(focus, "predictions_target_test.csv")
    if preds_path.is_file():
        st.download_button("Download target test predictions (CSV)", safe_csv_bytes(preds_path.read_bytes()),
                           file_name=f"predictions_{focus}.csv", mime="text/csv")
    tab_err, tab_cv, tab_repro = st.tabs(["Error analysis", "Cross-validation", "Reproducibility"])
    with tab_err:
        classes = [str(c) for c in tt.get("classes") or fm.get("classes") or []]
        if not tt.get("confusion_matrix"):
            st.info("This run has no labelled target test set.")
        else:
            from tlcore.evaluation.errors import cell_samples, sample_preview

            cm = tt["confusion_matrix"]
            off = [(cm[i][j], i, j) for i in range(len(cm)) for j in range(len(cm)) if i != j]
            _, ti, pj = max(off) if off else (0, 0, min(1, len(classes) - 1))
            e1, e2 = st.columns(2)
            true_c = e1.selectbox("True class", classes, index=ti, key="tl_err_true")
            pred_c = e2.selectbox("Predicted class", classes, index=pj, key="tl_err_pred")
            cell = cell_samples(store, focus, true_c, pred_c)
            kind = "correct" if true_c == pred_c else "misclassified"
            st.caption(f"{len(cell)} {md(kind)} target test sample(s) in this cell, most confident first.")
            cols = [c for c in ("index", "text", "source", "true", "pred", "confidence") if c in cell.columns]
            st.dataframe(cell[cols], hide_index=True)
            if len(cell) and "text" not in cell.columns and st.button("Show thumbnails", key="tl_err_thumbs"):
                try:
                    images = sample_preview(store, focus, cell["index"].head(12).tolist())
                    st.image(images, caption=[f"{p:.0%} {pred_c}" for p in cell["confidence"].head(12)], width=96)
                except (TLError, OSError, ValueError) as exc:
                    st.warning(f"Could not load the target samples again: {md(exc)}")
    with tab_cv:
        st.caption("Logistic regression on this run's stored target features (the frozen backbone's features "
                   "for linear_probe and other feature-level methods), by stratified k-fold or leave-one-out. "
                   "Useful when the target set is small.")
        k_choice = st.selectbox("Folds", ["5", "10", "3", "leave-one-out"], key="tl_cv_k")
        if st.button("Run cross-validation", key="tl_cv_go"):
            from tlcore.evaluation.crossval import cross_validate_run

            try:
                cv = cross_validate_run(store, focus, "loo" if k_choice == "leave-one-out" else int(k_choice))
                std = "" if cv["accuracy_std"] is None else f" ± {cv['accuracy_std']:.3f}"
                f1std = "" if cv["f1_macro_std"] is None else f" ± {cv['f1_macro_std']:.3f}"
                st.success(f"{cv['n']} samples, {md(k_choice)} folds: accuracy {cv['accuracy_mean']:.3f}{std}, "  # md-safe: numbers
                           f"macro F1 {cv['f1_macro_mean']:.3f}{f1std}")
            except TLError as exc:
                st.warning(md(exc))
    with tab_repro:
        from tlcore.reports.repro import load_card

        card = load_card(store, focus)
        st.json(card, expanded=False)
        if st.button("Re-run this config", key="tl_rerun"):
            try:  # a job (the classical baseline too): nothing is fitted in this page
                job = get_queue().submit(card["config"], label=f"re-run of {focus}", owner=signed_in_user())
                st.success(f"Queued job {md(job)} (same config, seed and split). Follow it on the Train page.")
            except TLError as exc:
                st.error(md(exc))

    from ui.predict_export import model_section  # export, compression (python -m tlcore export|compress)

    model_section(store, focus, selected, labels)

    # -- shareable report --------------------------------------------------------------------------
    st.subheader("Share")
    if st.button("Build HTML report of the selected runs", key="tl_report_build"):
        from tlcore.reports.html import build_report

        st.session_state["tl_report_html"] = build_report(store, selected).encode("utf-8")
    if st.session_state.get("tl_report_html"):
        st.download_button("Download HTML report", st.session_state["tl_report_html"], file_name="tl_report.html",
                           mime="text/html", key="tl_report_download")

# -- sweeps ----------------------------------------------------------------------------------------
records = store.list()
completed = [r for r in records if r.status == "completed" and r.strategy != "classical"]
if completed and st.toggle("Start a sweep from a run's settings", key="tl_sweep_start"):
    from tlcore.strategies import STRATEGIES
    from tlcore.sweeps import plan_sweep, reversed_pair, submit_sweep

    base_id = st.selectbox("Base run (pair, backbone, epochs, sizes, split)", [r.run_id for r in completed],
                           format_func=labels.get, key="tl_sweep_base")
    chosen = st.multiselect("Strategies", sorted(STRATEGIES), default=["scratch", "fine_tuning", "linear_probe"],
                            key="tl_sweep_strategies")
    seeds_txt = st.text_input("Seeds (comma-separated)", "0", key="tl_sweep_seeds")
    reverse = st.checkbox("Also sweep the reversed pair (target → source)", key="tl_sweep_reverse")
    if st.button("Start sweep", type="primary", disabled=not chosen, key="tl_sweep_go"):
        try:
            base = dict(store.get(base_id).config)
            seeds = [int(x) for x in seeds_txt.replace(" ", "").split(",") if x]
            pairs = [(base["source"], base["target"])]
            if reverse:
                pairs.append(reversed_pair(base["source"], base["target"]))
            plan = plan_sweep(pairs, chosen, seeds, base)
            out = submit_sweep(get_queue(), plan, owner=signed_in_user())
            st.success(f"Sweep {md(plan[0]['name'])}: queued {len(out['jobs'])} job(s), the classical baseline "
                       "included. Results appear below as the jobs complete.")
        except (TLError, ValueError) as exc:
            st.error(md(exc))
sweeps = sweep_ids(records)
if sweeps:
    st.header("Sweep results")
    sw = st.selectbox("Sweep", sweeps, key="tl_sweep")
    metric_key = st.selectbox("Metric", ["accuracy", "f1_macro", "roc_auc"], key="tl_sweep_metric",
                              format_func={"accuracy": "target accuracy", "f1_macro": "target macro F1",
                                           "roc_auc": "target ROC AUC"}.get)
    tbl = sweep_table(records, store.metrics, sw, metric_key)
    if tbl["value"].empty:
        st.info("No run of this sweep has completed yet.")
    else:
        cells, gains = sweep_frames(tbl)
        best = tbl["best"]
        st.dataframe(cells.style.apply(lambda col: ["background-color: #d4edda; font-weight: bold"
                                                     if best.get(col.name) == s else "" for s in col.index]),
                     key="tl_sweep_table")
        st.caption("Cells: strategy x (source → target) with 95% bootstrap interval (or mean ± std over seeds); "
                   "best per pair highlighted. `classical` is TF-IDF / raw pixels + logistic regression.")
        st.dataframe(gains, key="tl_sweep_gains")
        st.caption("Transfer gain: difference in the metric against `scratch` and against the source-only "
                   "baseline (`fine_tuning`) on the same pair; empty when that baseline is not in the sweep.")
        sweep_picks_section(records, store.metrics, sw)

# -- deletion --------------------------------------------------------------------------------------
with st.expander("Delete runs"):
    doomed = st.multiselect("Runs to delete", list(table.index), format_func=labels.get, key="tl_compare_delete")
    sure = st.checkbox(f"Yes, permanently delete {len(doomed)} run(s) and their files", key="tl_compare_confirm",
                       disabled=not doomed)
    if st.button("Delete", type="primary", disabled=not (doomed and sure)):
        gone, refused = [], []
        for rid in doomed:
            try:
                store.delete(rid, actor=signed_in_user())  # owner or admin; refused while it trains
                gone.append(rid)
            except RunNotFound:
                pass
            except TLError as exc:
                refused.append(str(exc))
        st.session_state[DELETED_MSG] = f"Deleted {len(gone)} run(s): {', '.join(gone)}" + \
            "".join(f"\n\nNot deleted: {r}" for r in refused)
        for key in ("tl_compare_delete", "tl_compare_confirm"):
            st.session_state.pop(key, None)
        st.rerun()
