"""Compare: the runs table with filters, search and CSV export."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.run_table import HELPER_COLUMNS, filter_runs, to_csv_bytes

COLUMNS = {
    "target accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
    "target macro F1 (%)": st.column_config.NumberColumn(format="%.1f"),
    "source val accuracy (%)": st.column_config.NumberColumn(format="%.1f"),
    "duration (s)": st.column_config.NumberColumn(format="%.0f"),
    "date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    "error": st.column_config.TextColumn(width="large"),
}


def filtered_table(table: pd.DataFrame) -> pd.DataFrame:
    """Filter widgets (status, strategy, backbone, pair, search); returns the rows they keep."""
    c1, c2, c3, c4 = st.columns(4)
    statuses = c1.multiselect("Status", sorted(table["status_key"].unique()), placeholder="all")
    strategies = c2.multiselect("Strategy", sorted(table["strategy"].unique()), placeholder="all")
    backbones = c3.multiselect("Backbone", sorted(table["backbone"].unique()), placeholder="all")
    pairs = c4.multiselect("Pair (source → target)", sorted(table["pair"].unique()), placeholder="all")
    search = st.text_input("Search", placeholder="run name or id, domain, backbone, strategy, error text…")
    return filter_runs(table, statuses, strategies, backbones, pairs, search)


def table_section(table: pd.DataFrame, shown: pd.DataFrame) -> None:
    """The rows of ``table`` the filters keep (``shown``) and their CSV download."""
    st.caption(f"{len(shown)} of {len(table)} runs. Click a column header to sort.")
    st.dataframe(shown.drop(columns=HELPER_COLUMNS), hide_index=True, column_config=COLUMNS)
    st.download_button("Download table as CSV", to_csv_bytes(shown), file_name="tl_runs.csv", mime="text/csv")
