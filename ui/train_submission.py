"""Queue the Train page's configs: one job each, unless identical settings are already queued or running (the
rule is ``ui.train_config.split_repeats``), with the page's messages."""
from __future__ import annotations

import streamlit as st

from tlcore.errors import TLError
from ui import state
from ui.auth import signed_in_user
from ui.safe import md
from ui.train_config import config_digest, split_repeats


def submit(configs: list[tuple[str, dict]], allow_repeat: bool) -> list[str]:
    """Queue each config unless identical settings are already queued or running (any session), which catches
    double clicks and repeated presses; ``allow_repeat`` queues a second copy anyway. Returns the ids of the jobs
    now holding these settings (queued now, or already queued or running)."""
    queue = state.get_queue()
    waiting = {config_digest(s.config): s.job_id for s in queue.list(limit=500, active_only=True)
               if s.kind == "train"}
    to_queue, repeated = split_repeats(configs, waiting, allow_repeat)
    queued = []
    for label, cfg, digest in to_queue:
        try:
            queued.append(queue.submit(cfg, submit_key=f"{state.nonce()}:{digest}", owner=signed_in_user()))
        except TLError as exc:
            st.error(f"{md(label)}: {md(exc)}")
    state.renew_nonce()  # the next press is a new submit (identical settings are caught above)
    st.session_state[state.LAST_JOBS] = queued
    if queued:
        st.success(f"Queued {len(queued)} job(s): {md(', '.join(queued))}")
    if repeated:
        st.info(f"Not queued again: identical settings are already queued or running ({md(', '.join(repeated))}). "
                "Tick 'Queue identical settings again' to queue another copy (same seed: expect the same result).")
    return queued + repeated
