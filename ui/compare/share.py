"""Compare: a shareable HTML report of the selected runs."""
from __future__ import annotations

import streamlit as st

REPORT = "tl_report_html"


def share_section(store, selected: list[str]) -> None:
    st.subheader("Share")
    if st.button("Build HTML report of the selected runs", key="tl_report_build"):
        from tlcore.reports.html import build_report

        st.session_state[REPORT] = build_report(store, selected).encode("utf-8")
    if st.session_state.get(REPORT):
        st.download_button("Download HTML report", st.session_state[REPORT], file_name="tl_report.html",
                           mime="text/html", key="tl_report_download")
