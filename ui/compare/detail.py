"""Compare: one run in detail: its predictions, error analysis, cross-validation, reproducibility card (and
re-run)."""
from __future__ import annotations

import streamlit as st

from tlcore.errors import TLError
from tlcore.runs.view import RunView
from ui.auth import signed_in_user
from ui.safe import md
from ui.state import get_queue


def largest_confusion(cm: list[list[int]], n_classes: int) -> tuple[int, int]:
    """(true, predicted) class positions of the most frequent confusion (the first off-diagonal cell if none)."""
    off = [(cm[i][j], i, j) for i in range(len(cm)) for j in range(len(cm)) if i != j]
    _, ti, pj = max(off) if off else (0, 0, min(1, n_classes - 1))
    return ti, pj


def _thumbnails(store, run_id: str, cell, pred_c: str) -> None:
    from tlcore.evaluation.error_analysis import sample_preview

    try:
        images = sample_preview(store, run_id, cell["index"].head(12).tolist())
        st.image(images, caption=[f"{p:.0%} {pred_c}" for p in cell["confidence"].head(12)], width=96)
    except (TLError, OSError, ValueError) as exc:
        st.warning(f"Could not load the target samples again: {md(exc)}")


def error_tab(store, view: RunView) -> None:
    """The samples of one confusion-matrix cell, most confident first (thumbnails for image runs)."""
    tt = view.evaluation("target_test")
    classes = [str(c) for c in tt.get("classes") or view.metrics().get("classes") or []]
    if not tt.get("confusion_matrix"):
        st.info("This run has no labelled target test set.")
        return
    from tlcore.evaluation.error_analysis import cell_samples

    ti, pj = largest_confusion(tt["confusion_matrix"], len(classes))
    e1, e2 = st.columns(2)
    true_c = e1.selectbox("True class", classes, index=ti, key="tl_err_true")
    pred_c = e2.selectbox("Predicted class", classes, index=pj, key="tl_err_pred")
    cell = cell_samples(store, view.run_id, true_c, pred_c)
    kind = "correct" if true_c == pred_c else "misclassified"
    st.caption(f"{len(cell)} {md(kind)} target test sample(s) in this cell, most confident first.")
    cols = [c for c in ("index", "text", "source", "true", "pred", "confidence") if c in cell.columns]
    st.dataframe(cell[cols], hide_index=True)
    if len(cell) and "text" not in cell.columns and st.button("Show thumbnails", key="tl_err_thumbs"):
        _thumbnails(store, view.run_id, cell, pred_c)


def cv_tab(store, run_id: str) -> None:
    """Cross-validation of a logistic regression on the run's stored target features."""
    st.caption("Logistic regression on this run's stored target features (the frozen backbone's features "
               "for linear_probe and other feature-level methods), by stratified k-fold or leave-one-out. "
               "Useful when the target set is small.")
    k_choice = st.selectbox("Folds", ["5", "10", "3", "leave-one-out"], key="tl_cv_k")
    if not st.button("Run cross-validation", key="tl_cv_go"):
        return
    from tlcore.evaluation.crossval import cross_validate_run

    try:
        cv = cross_validate_run(store, run_id, "loo" if k_choice == "leave-one-out" else int(k_choice))
        std = "" if cv["accuracy_std"] is None else f" ± {cv['accuracy_std']:.3f}"
        f1std = "" if cv["f1_macro_std"] is None else f" ± {cv['f1_macro_std']:.3f}"
        acc = f"accuracy {cv['accuracy_mean']:.3f}{std}"
        st.success(f"{cv['n']} samples, {md(k_choice)} folds: {acc}, "  # md-safe: numbers
                   f"macro F1 {cv['f1_macro_mean']:.3f}{f1std}")
    except TLError as exc:
        st.warning(md(exc))


def repro_tab(store, run_id: str) -> None:
    """The reproducibility card, and a button that queues the same config again."""
    from tlcore.reports.repro import load_card

    card = load_card(store, run_id)
    st.json(card, expanded=False)
    if st.button("Re-run this config", key="tl_rerun"):
        try:  # a job (the classical baseline too): nothing is fitted in this page
            job = get_queue().submit(card["config"], label=f"re-run of {run_id}", owner=signed_in_user())
            st.success(f"Queued job {md(job)} (same config, seed and split). Follow it on the Train page.")
        except TLError as exc:
            st.error(md(exc))


def inspect_section(store, selected: list[str], labels: dict) -> str:
    """One run of the selection in detail; returns its id."""
    st.subheader("Inspect one run")
    focus = st.selectbox("Run", selected, format_func=labels.get, key="tl_compare_focus")
    view = RunView(store, focus)
    if (preds := view.predictions_download("target_test")) is not None:
        st.download_button("Download target test predictions (CSV)", preds,
                           file_name=f"predictions_{focus}.csv", mime="text/csv")
    tab_err, tab_cv, tab_repro = st.tabs(["Error analysis", "Cross-validation", "Reproducibility"])
    with tab_err:
        error_tab(store, view)
    with tab_cv:
        cv_tab(store, focus)
    with tab_repro:
        repro_tab(store, focus)
    return focus
