"""Compare: what labels buy. Target accuracy against the number of labelled target samples, active selection vs
random, with intervals across seeds: the results of ``label_curve`` jobs (:mod:`tlcore.label_curve`, the one job
system), and a form that starts one for a run's pair (each point is an ordinary run, so it also shows here)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.active.query import METHODS
from tlcore.errors import TLError
from tlcore.label_curve import MAX_SEEDS, read_curve
from ui.auth import session_guard, signed_in_user
from ui.charts import label_curve_chart
from ui.safe import md
from ui.state import get_queue, home

KIND = "label_curve"


def _budgets(text: str) -> list[int] | None:
    try:
        return sorted({int(x) for x in text.replace(" ", "").split(",") if x})
    except ValueError:
        return None


def start_form(runs: list[str], labels: dict) -> None:
    """Start a label curve for a completed run's config and pair (the target's own labels answer)."""
    with st.form("tl_curve_form"):
        run_id = st.selectbox("Run (its config and pair)", runs, format_func=labels.get, key="tl_curve_run")
        c1, c2, c3 = st.columns(3)
        budgets = c1.text_input("Numbers of labels", "10,20,50", key="tl_curve_budgets")
        methods = c2.multiselect("Methods", METHODS, default=["random", "badge"], key="tl_curve_methods")
        seeds = c3.number_input("Seeds", 1, MAX_SEEDS, 3, key="tl_curve_seeds")
        go = st.form_submit_button("Start label curve")
    if not go:
        return
    parsed = _budgets(budgets)
    if not parsed:
        st.error("Numbers of labels: give comma-separated whole numbers, e.g. 10,20,50.")
        return
    try:
        job = get_queue().submit({"run_id": run_id, "budgets": parsed, "methods": list(methods),
                                  "seeds": list(range(int(seeds)))}, kind=KIND, owner=signed_in_user())
    except TLError as exc:
        st.error(md(exc))
        return
    st.success(md(f"Label curve job {job} queued: it trains one run per seed, method and number of labels."))


@st.fragment(run_every=3)
def running(job_ids: list[str]) -> None:
    """Progress of the curves being trained; the page reruns when one finishes."""
    session_guard()
    queue = get_queue()
    snaps = [queue.get(j) for j in job_ids]
    if not any(s.status in ("queued", "running") for s in snaps):
        st.rerun()
    for s in snaps:
        if s.status in ("queued", "running"):
            st.progress(float((s.progress or {}).get("progress", 0.0)),
                        text=md(f"{s.label or s.job_id}: {(s.progress or {}).get('phase') or s.status}"))


def summary_frame(summary: list[dict]) -> pd.DataFrame:
    rows = []
    for r in sorted(summary, key=lambda r: (r["labels"], r["method"])):
        lo, hi = (r.get("accuracy_ci") or [None, None])[:2]
        rows.append({"labels": r["labels"], "method": r["method"], "accuracy": round(100 * r["accuracy"], 1),
                     "95% interval": "" if lo is None else f"{100 * lo:.1f} – {100 * hi:.1f}", "seeds": r["seeds"]})
    return pd.DataFrame(rows)


def label_curve_section(runs: list[str], labels: dict) -> None:
    st.subheader("What labels buy")
    st.caption("Target test accuracy against the number of labelled target samples, each query method against "
               "random selection; error bars: 95 % intervals across seeds. Each point is a run trained with a "
               "label set the target's own labels answered (python -m tlcore label-curve).")
    jobs = get_queue().list(kinds=(KIND,))
    active = [j.job_id for j in jobs if j.status in ("queued", "running")]
    if active:
        running(active)
    done = {j.job_id: j for j in jobs if j.status == "completed"}
    results = {j: r for j in done if (r := read_curve(home(), j))}
    for j in jobs:
        if j.status in ("failed", "cancelled") and j is jobs[0]:
            st.warning(md(f"The latest label curve job {j.status}: {j.error or ''}"))
    if results:
        pick = st.selectbox("Label curve", list(results), key="tl_curve_pick",
                            format_func=lambda j: f"{results[j].get('pair', '')} · {done[j].label}")
        res = results[pick]
        st.plotly_chart(label_curve_chart(res["summary"], f"What labels buy: {res.get('pair', '')}"),
                        key="tl_curve_chart")
        st.dataframe(summary_frame(res["summary"]), hide_index=True)
        st.caption(md(f"{len(res['rows'])} points from {len({r['run_id'] for r in res['rows']})} runs; 0 labels = "
                      "the run without target labels."))
    elif not active:
        st.info("No label curve yet: start one below.")
    if runs:
        with st.expander("Start a label curve", expanded=not results):
            start_form(runs, labels)
