"""Compare: warn when a pretrained run ends below the small-CNN reference or the frozen linear probe, or was trained
on a pair with duplicates across source and target (recorded when it ran)."""
from __future__ import annotations

import streamlit as st

from tlcore.evaluation.sanity import store_flags
from ui.safe import md


def flags_section(store, selected: list[str], labels: dict) -> None:
    """One warning per flagged run (checked now, against every completed run on the same split, so a reference
    trained after the run still counts)."""
    for rid in selected:
        try:
            flags = store_flags(store, rid)
        except Exception:  # noqa: BLE001 - a run deleted meanwhile: nothing to flag
            continue
        for f in flags:
            st.warning(f"{md(labels.get(rid, rid))}: {md(f['message'])}", icon=":material/warning:")
