"""The candidates of an ``auto`` run (issue 25) on its job card: what the portfolio tried, the label-free scores
it chose by, the pick, and what transfer bought against the pick's source-only twin (engine:
:func:`tlcore.evaluation.summary.portfolio_summary`)."""
from __future__ import annotations

import streamlit as st

from tlcore.evaluation.summary import portfolio_summary
from tlcore.portfolio import finished_candidates
from ui.safe import md


def _pct(v) -> str:
    return "–" if v is None else f"{100 * float(v):.1f}"


def table_rows(summary: dict) -> list[dict]:
    """The candidates as the card's table shows them (plain data, tested)."""
    return [{"": "✔ picked" if r["picked"] else "", "candidate": r["candidate"],
             "target test acc. % (not used to pick)": _pct(r["target_accuracy"]),
             "source val. acc. %": _pct(r["source_accuracy"]),
             "agreement with the others": "–" if r["score"] is None else f"{float(r['score']):.3f}",
             "est. target acc. % (ATC)": _pct(r["atc"]), "network": r["network"],
             "seconds": r["seconds"]} for r in summary["rows"]]


@st.cache_data(show_spinner=False, max_entries=16)
def _cached(root: str, run_id: str) -> dict | None:
    from tlcore.runs.store import RunStore

    return portfolio_summary(RunStore(root), run_id)


def portfolio_card(store, run_id: str, key: str) -> None:
    """The expander under a finished ``auto`` job; nothing for other runs."""
    summary = _cached(str(store.root), run_id)
    if not summary:
        return
    with st.expander(f"Recipes tried by auto ({len(summary['rows'])}) and why one was picked", expanded=True):
        st.markdown(md(summary["text"]))
        st.dataframe(table_rows(summary), hide_index=True, width="stretch", key=f"portfolio-{key}")
        st.caption("Each candidate is a run of its own (on Compare). The pick reads no target label: among the "
                   "recipes that fit the source within 10 points of the best one (and whose adaptation kept the "
                   "source within 10 points of their network's source-only run), the one whose target predictions "
                   "agree most with the others' when they are different networks (right answers coincide, errors "
                   "scatter), else the highest calibrated IM. The ATC column estimates each run's target accuracy "
                   "from its own confidence: trustworthy for source-only runs, not for MCC runs, which are confident "
                   "anyway.")


def so_far_lines(done: list[dict]) -> list[str]:
    """One line per finished candidate of a running ``auto`` job (plain text, tested)."""
    out = []
    for c in done:
        target = ("" if c["target_accuracy"] is None else
                  f", target test {_pct(c['target_accuracy'])} % (not used to pick)")
        secs = "" if c["seconds"] is None else f" in {float(c['seconds']):.0f} s"
        out.append(f"candidate {c['title']}: source validation {_pct(c['source_accuracy'])} %{target}{secs}")
    return out


def portfolio_so_far(store, run_id: str) -> None:
    """Under a running ``auto`` job: the recipes finished so far, so the first answer shows within about a minute
    on the demo while the portfolio tries the others (each is already a run of its own on Compare)."""
    lines = so_far_lines(finished_candidates(store, run_id))
    if lines:
        st.caption("Finished so far (auto keeps trying recipes within its time budget, then picks one without "
                   "target labels):  \n" + "  \n".join(md(line) for line in lines))
