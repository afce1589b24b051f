"""Compare: start a sweep from a run's settings, and the strategy x pair table of a sweep's results."""
from __future__ import annotations

import streamlit as st

from tlcore.errors import TLError
from tlcore.producers import trains_network
from tlcore.sweeps import sweep_ids, sweep_table
from ui.auth import signed_in_user
from ui.compare_validators import sweep_picks_section
from ui.run_table import sweep_frames
from ui.safe import md
from ui.state import get_queue

METRICS = {"accuracy": "target accuracy", "f1_macro": "target macro F1", "roc_auc": "target ROC AUC"}
BEST = "background-color: #d4edda; font-weight: bold"


def _submit(store, base_id: str, chosen: list[str], seeds_txt: str, reverse: bool) -> None:
    from tlcore.sweeps import plan_sweep, reversed_pair, submit_sweep

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


def start_section(store, records: list, labels: dict) -> None:
    """A sweep of chosen strategies and seeds from a completed run's settings (queued as jobs)."""
    completed = [r for r in records if r.status == "completed" and trains_network(r.strategy)]
    if not (completed and st.toggle("Start a sweep from a run's settings", key="tl_sweep_start")):
        return
    from tlcore.strategies.specs import SPECS  # torch-free: names, params, help

    base_id = st.selectbox("Base run (pair, backbone, epochs, sizes, split)", [r.run_id for r in completed],
                           format_func=labels.get, key="tl_sweep_base")
    chosen = st.multiselect("Strategies", sorted(SPECS), default=["scratch", "fine_tuning", "linear_probe"],
                            key="tl_sweep_strategies")
    seeds_txt = st.text_input("Seeds (comma-separated)", "0", key="tl_sweep_seeds")
    reverse = st.checkbox("Also sweep the reversed pair (target → source)", key="tl_sweep_reverse")
    if st.button("Start sweep", type="primary", disabled=not chosen, key="tl_sweep_go"):
        _submit(store, base_id, chosen, seeds_txt, reverse)


def results_section(store, records: list) -> None:
    """One sweep's strategy x pair table (best per pair highlighted), transfer gains and validator picks."""
    sweeps = sweep_ids(records)
    if not sweeps:
        return
    st.header("Sweep results")
    sw = st.selectbox("Sweep", sweeps, key="tl_sweep")
    metric_key = st.selectbox("Metric", list(METRICS), key="tl_sweep_metric", format_func=METRICS.get)
    tbl = sweep_table(records, store.metrics, sw, metric_key)
    if tbl["value"].empty:
        st.info("No run of this sweep has completed yet.")
        return
    cells, gains = sweep_frames(tbl)
    best = tbl["best"]
    st.dataframe(cells.style.apply(lambda col: [BEST if best.get(col.name) == s else "" for s in col.index]),
                 key="tl_sweep_table")
    st.caption("Cells: strategy x (source → target) with 95% bootstrap interval (or mean ± std over seeds); "
               "best per pair highlighted. `classical` is TF-IDF / raw pixels + logistic regression.")
    st.dataframe(gains, key="tl_sweep_gains")
    st.caption("Transfer gain: difference in the metric against `scratch` and against the source-only "
               "baseline (`fine_tuning`) on the same pair; empty when that baseline is not in the sweep.")
    sweep_picks_section(records, store.metrics, sw)
