"""The sidebar every page shares: data root, device, job queue at a glance."""
from __future__ import annotations

import streamlit as st

from tlcore.jobs.worker import worker_running
from tlcore.system import device_summary
from ui.auth import sign_out_button
from ui.state import get_queue, home


@st.cache_data(ttl=30, show_spinner=False)
def _device() -> dict:
    return device_summary()


def device_line(d: dict) -> str:
    if d["gpus"]:
        return "; ".join(f"{g['name']} ({g['free_gb']} / {g['total_gb']} GB free)" for g in d["gpus"])
    return f"CPU, {d['cpu_count']} cores"


def sidebar() -> None:
    with st.sidebar:
        sign_out_button()
        st.caption("Data root (TL_HOME)")
        st.code(home(), language=None)
        st.caption("Device")
        st.text(device_line(_device()))
        _queue_glance()


@st.fragment(run_every=5)
def _queue_glance() -> None:
    counts = get_queue().counts()
    st.caption("Job queue")
    c1, c2 = st.columns(2)
    c1.metric("Queued", counts.get("queued", 0))
    c2.metric("Running", counts.get("running", 0))
    if worker_running(get_queue().store.root):
        st.text("Worker: running")
    else:
        st.text("Worker: not running (jobs wait)")
