"""Compare page: choose a run without target labels (unsupervised validators), and how good each validator is.

Only displays: the scores are stored on every run (``metrics.target_unsupervised``) and ranked by
:mod:`tlcore.evaluation.selection`.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.evaluation.selection import candidate, rank_runs, sweep_picks, validator_report
from tlcore.evaluation.validators import DEFAULT, VALIDATORS
from ui.safe import md

HELP = ("Scores computed from each run's predictions and features on the unlabeled target-train split, no "
        "target label: higher is better. Default: the validator that picked best in our benchmark "
        "(bench/results/validators.md). With target labels, the table below shows how well each validator "
        "would have chosen among the selected runs.")


def _title(name: str) -> str:
    return f"{VALIDATORS[name].title} ({name})"


def validator_section(metrics: dict[str, dict], labels: dict[str, str]) -> None:
    """Rank the selected runs by a validator; with target labels also the validator table."""
    st.subheader("Choose without target labels")
    st.caption(HELP)
    cands = [candidate(rid, m, labels.get(rid, rid)) for rid, m in metrics.items()]
    by = st.selectbox("Validator", list(VALIDATORS), index=list(VALIDATORS).index(DEFAULT), format_func=_title,
                      key="tl_validator")
    ranked = rank_runs(cands, by)
    unscored = [c["label"] for c in cands if c["run_id"] not in {r["run_id"] for r in ranked}]
    if not ranked:
        st.info("None of the selected runs has this score (runs recorded before validators existed, and the "
                "classical baseline, carry none).")
        return
    labeled = any(c["accuracy"] is not None for c in cands)
    st.success(f"Recommended by {by}: {md(ranked[0]['label'])}",  # md-safe: by is a VALIDATORS key
               icon=":material/recommend:")
    rows = [{"rank": r["rank"], "recommended": "★" if r["rank"] == 1 else "", "run": r["label"],
             by: r["score"], **({"target accuracy (%)": None if r["accuracy"] is None else 100 * r["accuracy"]}
                                if labeled else {}),
             **({f"{VALIDATORS[by].gate} >= median": "no" if r["gated"] else "yes"} if VALIDATORS[by].gate else {})}
            for r in ranked]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="tl_validator_ranking",
                 column_config={by: st.column_config.NumberColumn(format="%.4f"),
                                "target accuracy (%)": st.column_config.NumberColumn(format="%.1f")})
    if VALIDATORS[by].gate:
        st.caption(f"{by}: runs whose {VALIDATORS[by].gate} is below the median of the selected runs are ranked "
                   "after all the others, whatever their score.")  # md-safe: names are VALIDATORS keys
    if unscored:
        st.caption(f"Not scored by {by}: {md(', '.join(unscored))}.")  # md-safe: by is a VALIDATORS key
    if not labeled:
        return
    report = validator_report(cands)
    table = pd.DataFrame([{
        "validator": _title(r["validator"]), "runs": r["n"], "Spearman": r["spearman"], "Kendall": r["kendall"],
        "picks": r["pick_label"],
        "pick accuracy (%)": None if r["pick_accuracy"] is None else 100 * r["pick_accuracy"],
        "regret (points)": None if r["regret"] is None else 100 * r["regret"]} for r in report])
    st.markdown("**How well each validator chooses among these runs** (target labels known here)")
    st.dataframe(table, hide_index=True, key="tl_validator_table",
                 column_config={"Spearman": st.column_config.NumberColumn(format="%+.2f"),
                                "Kendall": st.column_config.NumberColumn(format="%+.2f"),
                                "pick accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
                                "regret (points)": st.column_config.NumberColumn(format="%.1f")})
    st.caption("Spearman / Kendall: rank correlation between the validator's score and target accuracy over the "
               "runs (1 = same order). Regret: target accuracy of the best run minus that of the validator's "
               "pick (0 = it picked the best run). Correlations need at least 3 runs.")


def sweep_picks_section(records, metrics_of, sweep_id: str) -> None:
    """Per pair of a sweep: the default validator's pick and its regret."""
    rows = sweep_picks(records, metrics_of, sweep_id, DEFAULT)
    if not any(r["pick"] for r in rows):
        return
    st.markdown(f"**Without target labels, {VALIDATORS[DEFAULT].title} ({DEFAULT}) would ship:**")
    st.dataframe(pd.DataFrame([{
        "pair": r["pair"], "pick": f"{r['strategy']} · seed {r['seed']}" if r["pick"] else "",
        DEFAULT: r["score"], "pick accuracy (%)": None if r["pick_accuracy"] is None else 100 * r["pick_accuracy"],
        "best accuracy (%)": None if r["best_accuracy"] is None else 100 * r["best_accuracy"],
        "regret (points)": None if r["regret"] is None else 100 * r["regret"]} for r in rows]),
        hide_index=True, key="tl_sweep_picks",
        column_config={DEFAULT: st.column_config.NumberColumn(format="%.4f"),
                       "pick accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
                       "best accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
                       "regret (points)": st.column_config.NumberColumn(format="%.1f")})
