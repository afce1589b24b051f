"""The Domains page's shift report: the chosen pair's domain gap in a pretrained backbone, before any training.

The features are computed by a ``shift`` job (the worker runs it in a light slot, in its own process: seconds to a
minute on a CPU); this section only queues it, polls its progress (settled from the job queue) and shows the
stored figures.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.embeddings.shift import SHIFT_CAP, read_shift
from tlcore.jobs import light
from tlcore.runs.store import default_root
from tlcore.errors import TLError
from ui.auth import session_guard, signed_in_user
from ui.embedding_view import GAP_ROWS
from ui.job_cancel import cancel_job_button
from ui.safe import md
from ui.state import ensure_worker_once

HELP = ("How far apart the two domains are in a pretrained backbone's feature space, on a seeded stratified "
        f"sample of up to {SHIFT_CAP} samples per domain. MMD² and CORAL: 0 = same distribution/covariance. Proxy "
        "A-distance: 0 = a classifier cannot tell the domains apart, 2 = it always can. Class-centroid distance: "
        "how far each class moves between domains, relative to the feature spread. After training, the Embeddings "
        "page shows how much a run closed the gap.")


def shift_report_section(source: dict, target: dict) -> None:
    st.header("Shift report")
    st.caption(HELP)
    root = str(default_root())
    rep = light.read_shift_report(root, source, target)
    if rep and rep.get("status") == "done":
        show_report(rep)
        return
    if rep and rep.get("status") == "running":
        _progress(root, source, target)
        return
    if rep and rep.get("status") == "cancelled":
        st.info("The shift report was cancelled; press the button below to start it again.")
    if rep and rep.get("status") == "failed":
        st.error("The shift report failed; press the button below to try again.")
        st.code(str(rep.get("detail", "")), language=None)
    if st.button("Compute the shift report", key="shift-start",
                 help="Queues a job that runs the pretrained backbone over both domains in a background process."):
        try:
            light.launch_shift_report(source, target, root, owner=signed_in_user())
        except TLError as exc:
            st.error(md(exc))
            return
        ensure_worker_once()
        st.rerun()


def show_report(rep: dict) -> None:
    gap = rep.get("gap") or {}
    reading = read_shift(gap)
    if reading:
        with st.container(border=True, key="shift-reading"):
            st.markdown(f"**{md(reading['text'])}**")
            st.text(reading["suggestion"])
            st.caption(f"Scale: {md(reading['scale'])}.")
    rows = [{"measure": name, "value": gap.get(k)} for k, name in GAP_ROWS.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"value": st.column_config.NumberColumn(format="%.4g")})
    st.caption(f"Pretrained {md(rep.get('backbone'))} features, {md(gap.get('n_source'))} source and "
               f"{md(gap.get('n_target'))} target samples, {md(rep.get('classes_shared'))} shared classes; "
               f"computed in {md(rep.get('seconds'))} s.")


@st.fragment(run_every=2)
def _progress(root: str, source: dict, target: dict) -> None:
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    rep = light.read_shift_report(root, source, target) or {}
    if rep.get("status") != "running":
        st.rerun()  # finished or failed: redraw the page
    st.progress(float(rep.get("progress", 0)), text=f"Computing in the background: {rep.get('detail', '')}")
    cancel_job_button(rep.get("job_id"), "shift-cancel")
