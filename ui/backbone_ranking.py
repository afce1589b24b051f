"""Train page: rank the backbones for the chosen source before training (LogME, N-LEEP).

The features are computed by a ``rank`` job of the queue (the signed-in user owns it; Cancel in the jobs list; this
page never imports torch); this section only queues it, polls its result file and shows the stored ranking.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.errors import TLError
from tlcore.jobs.light import launch_ranking, ranking_status
from tlcore.runs.store import default_root
from tlcore.transferability.ranking import RANK_CAP
from ui.auth import session_guard, signed_in_user
from ui.safe import md

HELP = (f"Before training: how well each backbone's pretrained features fit the source labels, on up to "
        f"{RANK_CAP} source samples. LogME (You et al. 2021): evidence of a Bayesian linear model from the features "
        "to the labels; N-LEEP (Li et al. 2021): LEEP over a Gaussian mixture of the features. Higher is better "
        "for both. Backbones whose weights are not on this server are listed as skipped.")


def backbone_ranking(source: dict) -> None:
    """An expander with the stored ranking for ``source``, or a button that queues a ``rank`` job computing it."""
    with st.expander("Rank backbones for this source (LogME, N-LEEP)"):
        st.caption(HELP)
        root = str(default_root())
        rep = ranking_status(root, source)
        if rep and rep.get("status") == "done":
            _show(rep)
            label = "Compute again"
        elif rep and rep.get("status") == "running":
            _progress(root, source)
            return
        else:
            if rep and rep.get("status") == "failed":
                st.error("The backbone ranking failed; press the button to try again.")
                st.code(str(rep.get("detail", "")), language=None)
            elif rep and rep.get("status") == "cancelled":
                st.info("The backbone ranking was cancelled; press the button to run it again.")
            label = "Rank backbones"
        if st.button(label, key="tl_rank_backbones",
                     help="Queues a job that runs every backbone that loads here over a sample of the source."):
            try:
                launch_ranking(source, root, owner=signed_in_user())
            except TLError as exc:  # refused at submit (the queue quota): say why
                st.error(md(str(exc)))
                return
            st.rerun()


def _show(rep: dict) -> None:
    rows = [{"rank": r["rank"], "backbone": r["backbone"], "LogME": r["logme"], "N-LEEP": r["nleep"],
             "N-LEEP rank": r["nleep_rank"], "feature dim": r["dim"],
             "weights": "pretrained" if r.get("pretrained") else "random init", "seconds": r["seconds"]}
            for r in rep.get("rows", [])]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="tl_rank_table",
                     column_config={"LogME": st.column_config.NumberColumn(format="%.4f"),
                                    "N-LEEP": st.column_config.NumberColumn(format="%.4f")})
    st.caption(f"{rep.get('n')} source samples, {rep.get('classes')} classes; "  # md-safe: numbers
               f"computed in {rep.get('seconds')} s.")
    skipped = rep.get("skipped") or []
    if skipped:
        st.dataframe(pd.DataFrame(skipped), hide_index=True, key="tl_rank_skipped")


@st.fragment(run_every=2)
def _progress(root: str, source: dict) -> None:
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    rep = ranking_status(root, source) or {}
    if rep.get("status") != "running":
        st.rerun()
    st.progress(float(rep.get("progress", 0)), text=f"Ranking in a job: {rep.get('detail', '')}")
