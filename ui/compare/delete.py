"""Compare: delete runs (owner or admin; refused while a run trains)."""
from __future__ import annotations

import streamlit as st

from tlcore.errors import TLError
from tlcore.runs.store import RunNotFound
from ui.auth import signed_in_user
from ui.safe import md

DELETED_MSG = "tl_compare_deleted"


def deleted_message() -> None:
    """The result of the last deletion (kept across the rerun that follows it)."""
    if msg := st.session_state.pop(DELETED_MSG, None):
        st.success(md(msg))


def delete_runs(store, doomed: list[str]) -> str:
    """Delete ``doomed`` as the signed-in user; returns what happened."""
    gone, refused = [], []
    for rid in doomed:
        try:
            store.delete(rid, actor=signed_in_user())  # owner or admin; refused while it trains
            gone.append(rid)
        except RunNotFound:
            pass
        except TLError as exc:
            refused.append(str(exc))
    return f"Deleted {len(gone)} run(s): {', '.join(gone)}" + "".join(f"\n\nNot deleted: {r}" for r in refused)


def delete_section(store, run_ids: list[str], labels: dict) -> None:
    with st.expander("Delete runs"):
        doomed = st.multiselect("Runs to delete", run_ids, format_func=labels.get, key="tl_compare_delete")
        sure = st.checkbox(f"Yes, permanently delete {len(doomed)} run(s) and their files", key="tl_compare_confirm",
                           disabled=not doomed)
        if st.button("Delete", type="primary", disabled=not (doomed and sure)):
            st.session_state[DELETED_MSG] = delete_runs(store, doomed)
            for key in ("tl_compare_delete", "tl_compare_confirm"):
                st.session_state.pop(key, None)
            st.rerun()
