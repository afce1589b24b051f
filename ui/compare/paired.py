"""Compare: the paired test of two selected runs on the same target test samples."""
from __future__ import annotations

import streamlit as st

from tlcore.evaluation.compare import NotPaired, paired_test, pairing_problem
from ui.run_table import paired_frame
from ui.safe import md


def paired_section(store, selected: list[str], labels: dict) -> None:
    st.subheader("Paired comparison (same target test samples)")
    if len(selected) < 2:
        st.info("Select two runs to test whether one is significantly better than the other.")
        return
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
