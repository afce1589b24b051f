"""The runs table of the Compare page as plain data: records -> DataFrame, filters, safe CSV export.

Pure pandas (no Streamlit), so it is unit-testable and the page stays thin.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd

from tlcore.evaluation.summary import format_p
from ui.theme import STATUS_ICONS

COLUMNS = ["run", "pair", "backbone", "strategy", "status", "target accuracy (%)", "target macro F1 (%)",
           "source val accuracy (%)", "duration (s)", "date", "error"]
HELPER_COLUMNS = ["status_key", "chart_label", "modality"]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")  # as tlcore.runs.csvsafe (OWASP)


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
            "modality": r.modality or "",
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
    """Prefix text starting with = + - @ tab CR with ' so spreadsheets do not run it as a formula."""
    from tlcore.runs.csvsafe import safe_cell as _safe

    return _safe(v)


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV of the table (run id included), with formula-injection protection on every text cell."""
    out = df.drop(columns=HELPER_COLUMNS, errors="ignore").reset_index()
    out = out.map(safe_cell)
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8")  # CR in a cell stays quoted


def default_selection(df: pd.DataFrame, k: int = 4, focus: str | None = None) -> list[str]:
    """Up to ``k`` completed runs (ids) that make sense side by side, newest first.

    The anchor is ``focus`` (e.g. the run opened from a job card) or the newest completed run. Only runs of the
    anchor's modality are taken (image and text runs have different classes), runs on the anchor's pair first;
    the best of those on target accuracy is always included, then the newest.
    """
    done = df[df["status_key"] == "completed"].sort_values("date", ascending=False)
    if done.empty:
        return []
    anchor = focus if focus in done.index else done.index[0]
    modality = done.at[anchor, "modality"] if "modality" in done.columns else None
    same = done[done["modality"] == modality] if modality is not None else done
    pool = same[same["pair"] == done.at[anchor, "pair"]]
    if len(pool) < 2:
        pool = same
    chosen = [anchor]
    acc = pool["target accuracy (%)"].dropna()
    if not acc.empty and acc.idxmax() not in chosen:
        chosen.append(acc.idxmax())
    chosen += [rid for rid in pool.index if rid not in chosen][:max(0, k - len(chosen))]
    return [rid for rid in done.index if rid in chosen]  # newest first


# -- metrics with intervals ------------------------------------------------------------------------
METRIC_ROWS = (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"), ("f1_macro", "macro F1"),
               ("f1_weighted", "weighted F1"), ("precision_macro", "macro precision"),
               ("recall_macro", "macro recall"), ("roc_auc", "ROC AUC"), ("log_loss", "log loss"),
               ("ece", "calibration error (ECE)"), ("n", "samples"))
SPLITS = (("target_test", "target test"), ("source_val", "source val"), ("target_train", "target train (labelled)"))


def fmt_ci(v, ci=None, digits: int = 3) -> str:
    """``0.842 [0.821, 0.861]``; ``–`` when missing."""
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    s = f"{float(v):.{digits}f}"
    if ci and len(ci) == 2 and ci[0] is not None and ci[0] == ci[0]:
        s += f" [{float(ci[0]):.{digits}f}, {float(ci[1]):.{digits}f}]"
    return s


def metrics_frame(metrics: dict[str, dict], labels: dict[str, str]) -> pd.DataFrame:
    """One row per run x split, one column per metric; cells are text like ``0.842 [0.821, 0.861]``."""
    rows = []
    for rid, m in metrics.items():
        for split, split_label in SPLITS:
            s = m.get(split) or {}
            if "accuracy" not in s:
                continue
            row = {"run": labels.get(rid, rid), "split": split_label}
            for key, name in METRIC_ROWS:
                v = s.get(key)
                row[name] = str(v) if key == "n" else fmt_ci(v, s.get(f"{key}_ci"))
            rows.append(row)
    return pd.DataFrame(rows, columns=["run", "split", *[n for _, n in METRIC_ROWS]])


def paired_frame(result: dict) -> pd.DataFrame:
    """The paired test of two runs as a small table (B - A)."""
    mc = result["mcnemar"]
    rows = [{"test": "McNemar exact (correctness)", "difference B − A [95% CI]": "–",
             "detail": f"A right & B wrong: {mc['b']}, A wrong & B right: {mc['c']}", "p-value": format_p(mc["p_value"], 4)}]
    for key, name in (("accuracy", "accuracy"), ("f1_macro", "macro F1")):
        d = result[key]
        rows.append({"test": f"paired bootstrap of {name}", "difference B − A [95% CI]": fmt_ci(d["diff"], d["ci"]),
                     "detail": f"A {fmt_ci(d['a'])}, B {fmt_ci(d['b'])}, {d['n_resamples']} resamples",
                     "p-value": format_p(d["p_value"], 4)})
    return pd.DataFrame(rows)


def sweep_frames(table: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells as text ``value [low, high]`` or ``mean ± std (k seeds)``, gains in points) of a sweep table."""
    val = table["value"]
    cells = pd.DataFrame(index=val.index, columns=val.columns, dtype=object)
    for s in val.index:
        for p in val.columns:
            v, k = val.at[s, p], table["n_seeds"].at[s, p]
            if pd.isna(v):
                cells.at[s, p] = "–"
            elif k and k > 1:
                cells.at[s, p] = f"{v:.3f} ± {table['std'].at[s, p]:.3f} ({int(k)} seeds)"
            else:
                cells.at[s, p] = fmt_ci(v, [table["low"].at[s, p], table["high"].at[s, p]])
    gains = []
    for key, name in (("gain_scratch", "gain over scratch"), ("gain_source_only", "gain over source-only")):
        g = table[key].astype(float)
        g.columns = [f"{c} · {name}" for c in g.columns]
        gains.append(g.round(3))
    cells.index.name = gains[0].index.name = "strategy"
    return cells, pd.concat(gains, axis=1)
