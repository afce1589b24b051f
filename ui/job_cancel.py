"""A Cancel button for a light job (embeddings, shift report) shown beside its progress: only the job's owner or an
admin may cancel (the queue refuses others, shown as an error)."""
from __future__ import annotations

import streamlit as st

from tlcore.errors import TLError
from ui.auth import signed_in_user
from ui.safe import md
from ui.state import get_queue


def cancel_job_button(job_id: str | None, key: str) -> None:
    """``Cancel`` for ``job_id`` (nothing without a job: a computation started from the command line)."""
    if not job_id:
        return
    if st.button("Cancel", key=key, help=f"Cancel job {job_id}"):
        try:
            get_queue().cancel(job_id, actor=signed_in_user())  # owner or admin
        except TLError as exc:
            st.error(md(exc))
            return
        st.rerun()
