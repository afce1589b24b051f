"""The runs table of the Compare page as plain data: records -> DataFrame, filters, safe CSV export.

Pure pandas (no Streamlit), so it is unit-testable and the page stays thin.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from ui.theme import STATUS_ICONS

COLUMNS = ["run", "pair", "backbone", "strategy", "status", "target accuracy (%)", "target macro F1 (%)",
           "source val accuracy (%)", "duration (s)", "date", "error"]
HELPER_COLUMNS = ["status_key", "chart_label"]
FORMULA_PREFIXES = ("=", "+", "-", "@")


def run_label(rec) -> str:
    """Short display label: the run's name when set, else its id."""
    return rec.name or rec.run_id


def chart_label(rec) -> str:
    """Compact label for chart legends and axes: the name, else ``<strategy>·<last 6 id chars>``."""
    return rec.name or f"{rec.strategy or 'run'}·{rec.run_id[-6:]}"


def pair_label(rec) -> str:
    return f"{rec.source} → {rec.target}"


def _pct(v):
    return None if v is None else round(100.0 * float(v), 2)


def runs_frame(records) -> pd.DataFrame:
    """One row per run, indexed by run id, newest first (the store's order).

    ``status_key`` (raw status) and ``chart_label`` are helper columns the page does not display.
    """
    rows = []
    for r in records:
        rows.append({
            "run_id": r.run_id, "run": run_label(r), "chart_label": chart_label(r), "pair": pair_label(r),
            "backbone": r.backbone or "",
            "strategy": r.strategy or "", "status": f"{STATUS_ICONS.get(r.status, '?')} {r.status}",
            "status_key": r.status, "target accuracy (%)": _pct(r.target_acc),
            "target macro F1 (%)": _pct(r.target_f1), "source val accuracy (%)": _pct(r.source_acc),
            "duration (s)": None if r.seconds is None else round(float(r.seconds), 1),
            "date": datetime.fromtimestamp(r.created), "error": r.error or "",
        })
    df = pd.DataFrame(rows, columns=["run_id", *COLUMNS, *HELPER_COLUMNS])
    dup = df["chart_label"].duplicated(keep=False)   # two runs named alike must not share a bar or a legend entry
    df.loc[dup, "chart_label"] = df.loc[dup, "chart_label"] + "·" + df.loc[dup, "run_id"].str[-6:]
    return df.set_index("run_id")


def filter_runs(df: pd.DataFrame, statuses=(), strategies=(), backbones=(), pairs=(), search: str = "") -> pd.DataFrame:
    """Keep rows matching every non-empty filter; ``search`` is a case-insensitive substring of any text cell."""
    mask = pd.Series(True, index=df.index)
    for col, values in (("status_key", statuses), ("strategy", strategies), ("backbone", backbones),
                        ("pair", pairs)):
        if values:
            mask &= df[col].isin(list(values))
    if search and search.strip():
        needle = search.strip().lower()
        text = df.index.to_series().astype(str)
        for col in ("run", "pair", "backbone", "strategy", "status_key", "error"):
            text = text + " " + df[col].astype(str)
        mask &= text.str.lower().str.contains(needle, regex=False)
    return df[mask]


def safe_cell(v):
    """Prefix text starting with = + - @ with ' so spreadsheets do not run it as a formula."""
    if isinstance(v, str) and v.startswith(FORMULA_PREFIXES):
        return "'" + v
    return v


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV of the table (run id included), with formula-injection protection on every text cell."""
    out = df.drop(columns=HELPER_COLUMNS, errors="ignore").reset_index()
    out = out.map(safe_cell)
    return out.to_csv(index=False).encode("utf-8")


def default_selection(df: pd.DataFrame, k: int = 4) -> list[str]:
    """The latest ``k`` completed runs (ids), newest first."""
    done = df[df["status_key"] == "completed"].sort_values("date", ascending=False)
    return list(done.index[:k])
