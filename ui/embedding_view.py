"""Figures and tables of the embedding inspector (plain pandas/plotly; no torch, no engine calls).

Every point carries a stable id ``pid`` (its row in the run's feature table: source rows first, then target,
the same rows before and after training), sent as ``customdata[0]`` so a selection in one chart can be
highlighted in the other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from ui.charts import escape_figure
from ui.theme import DOMAIN_COLORS, PLOTLY_TEMPLATE

CLASS_COLORS = qualitative.Dark24
DOMAIN_SYMBOLS = {"source": "circle", "target": "diamond"}
UNLABELED = "(unlabeled)"
COLOR_BY = {"domain": "Domain", "label": "True class", "pred": "Predicted class",
            "correct": "Correct / incorrect", "confidence": "Prediction confidence"}
CORRECT_COLORS = {"correct": "#2ca02c", "incorrect": "#d62728", UNLABELED: "#bbbbbb"}
GAP_ROWS = {"mmd": "MMD² (RBF kernel, median bandwidth)", "a_distance": "Proxy A-distance (5-fold CV)",
            "coral": "CORAL distance", "centroid": "Class-centroid distance (mean over classes)"}
HOVER = ("<b>%{customdata[1]}</b> #%{customdata[6]}<br>true: %{customdata[2]}<br>predicted: %{customdata[3]}"
         "<br>confidence: %{customdata[4]}<br>%{customdata[5]}<extra></extra>")


def truncate(s, n: int = 100) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def points_frame(data: dict, coords: np.ndarray) -> pd.DataFrame:
    """One row per point: ``pid``, ``x``, ``y`` (``z``), ``domain``, ``label``, ``pred``, ``confidence``,
    ``correct``, ``sample``, ``index`` from ``load_run_features`` output and projected ``coords``."""
    df = pd.DataFrame({"pid": np.arange(len(coords)), "x": coords[:, 0], "y": coords[:, 1]})
    if coords.shape[1] > 2:
        df["z"] = coords[:, 2]
    for k in ("domain", "label", "pred", "confidence", "sample", "index"):
        df[k] = data[k]
    label = df["label"].fillna("").astype(str)
    df["correct"] = np.where(label == "", UNLABELED, np.where(label == df["pred"].astype(str), "correct", "incorrect"))
    df["label"] = label.replace("", UNLABELED)
    return df


def cap_points(df: pd.DataFrame, cap: int, seed: int = 0) -> pd.DataFrame:
    """At most ``cap`` points, sampled per domain in proportion to its size (seeded: the same rows every time)."""
    if len(df) <= cap:
        return df
    rng = np.random.default_rng(seed)
    keep = [rng.choice(part.index.to_numpy(), max(1, round(cap * len(part) / len(df))), replace=False)
            for _, part in df.groupby("domain")]
    return df.loc[np.sort(np.concatenate(keep))]


def _custom(part: pd.DataFrame) -> np.ndarray:
    conf = part["confidence"].map(lambda v: "–" if pd.isna(v) else f"{100 * float(v):.1f}%")
    return np.column_stack([part["pid"].to_numpy(), part["domain"].to_numpy(), part["label"].to_numpy(),
                            part["pred"].astype(str).to_numpy(), conf.to_numpy(),
                            part["sample"].map(truncate).to_numpy(), part["index"].to_numpy()]).tolist()


def _trace(part: pd.DataFrame, dim: int, name: str, marker: dict, **kw):
    marker = {"size": 6 if dim == 2 else 3, "opacity": 0.75, **marker}
    if dim == 3:
        return go.Scatter3d(x=part["x"], y=part["y"], z=part["z"], mode="markers", name=name, marker=marker,
                            customdata=_custom(part), hovertemplate=HOVER, **kw)
    return go.Scattergl(x=part["x"], y=part["y"], mode="markers", name=name, marker=marker,
                        customdata=_custom(part), hovertemplate=HOVER, **kw)


def _density_traces(df: pd.DataFrame) -> list:
    """2-D density contours per domain (for large sets)."""
    traces = []
    for d in ("source", "target"):
        part = df[df["domain"] == d]
        if not part.empty:
            color = DOMAIN_COLORS.get(d, "#888")
            traces.append(go.Histogram2dContour(x=part["x"], y=part["y"], name=d, ncontours=12,
                                                contours=dict(coloring="lines"), line=dict(width=1.5),
                                                colorscale=[[0, color], [1, color]], showscale=False,
                                                hoverinfo="skip", showlegend=True))
    return traces


def _confidence_traces(df: pd.DataFrame, dim: int, opacity: float) -> list:
    """Points coloured by prediction confidence (one colour bar), shape by domain."""
    return [_trace(part, dim, d, dict(color=part["confidence"].fillna(0), colorscale="Viridis", cmin=0, cmax=1,
                                      symbol=DOMAIN_SYMBOLS[d], opacity=opacity, showscale=d == "source",
                                      colorbar=dict(title="confidence", len=0.6)))
            for d in ("source", "target") if not (part := df[df["domain"] == d]).empty]


def _groups(df: pd.DataFrame, color_by: str) -> list[tuple]:
    """``(name, points, colour, domain)`` per colour category and domain."""
    if color_by == "domain":
        return [(d, df[df["domain"] == d], DOMAIN_COLORS.get(d, "#888"), d) for d in ("source", "target")]
    cats = sorted(df[color_by].astype(str).unique(), key=lambda c: (c == UNLABELED, c))
    palette = CORRECT_COLORS if color_by == "correct" else {
        c: ("#bbbbbb" if c == UNLABELED else CLASS_COLORS[i % len(CLASS_COLORS)]) for i, c in enumerate(cats)}
    return [(f"{c} · {d}", df[(df[color_by].astype(str) == c) & (df["domain"] == d)], palette[c], d)
            for c in cats for d in ("source", "target")]


def _category_traces(df: pd.DataFrame, color_by: str, dim: int, opacity: float) -> list:
    return [_trace(part, dim, name, dict(color=color, symbol=DOMAIN_SYMBOLS.get(d, "circle"), opacity=opacity))
            for name, part, color, d in _groups(df, color_by) if not part.empty]


def _selection_traces(df: pd.DataFrame, highlight, dim: int) -> list:
    """The linked selection: a black ring over each selected point."""
    sel = df[df["pid"].isin(list(highlight))]
    if sel.empty:
        return []
    return [_trace(sel, dim, "selected", dict(color="rgba(0,0,0,0)", size=12 if dim == 2 else 6, opacity=1.0,
                                              line=dict(width=2, color="black"),
                                              symbol=[DOMAIN_SYMBOLS.get(d, "circle") for d in sel["domain"]]))]


def _axis_titles(fig: go.Figure, method: str, explained_variance, dim: int) -> None:
    ev = list(explained_variance or [])
    axes = [f"{method} {i + 1}" + (f" ({100 * ev[i]:.1f}% of variance)" if i < len(ev) else "") for i in range(dim)]
    if dim == 3:
        fig.update_layout(scene=dict(xaxis_title=axes[0], yaxis_title=axes[1], zaxis_title=axes[2]))
    else:
        fig.update_xaxes(title_text=axes[0])
        fig.update_yaxes(title_text=axes[1])


def embedding_figure(df: pd.DataFrame, color_by: str = "domain", title: str = "", method: str = "PCA",
                     explained_variance=None, highlight=(), density: bool = False, dim: int = 2,
                     height: int = 520) -> go.Figure:
    """Scatter (WebGL in 2-D) of projected points; marker shape by domain (● source, ◆ target).

    Args:
        color_by: a key of ``COLOR_BY``.
        highlight: pids drawn on top with a black ring (the linked selection); the rest fades.
        density: 2-D only: density contours per domain instead of individual points (for large sets).
    """
    faded = 0.25 if len(highlight) else 0.75
    if density and dim == 2:
        traces = _density_traces(df)
    elif color_by == "confidence":
        traces = _confidence_traces(df, dim, faded)
    else:
        traces = _category_traces(df, color_by, dim, faded)
    fig = go.Figure(traces + _selection_traces(df, highlight, dim))
    _axis_titles(fig, method, explained_variance, dim)
    fig.update_layout(title=title, template=PLOTLY_TEMPLATE, height=height, dragmode="select" if dim == 2 else None,
                      legend=dict(orientation="h", yanchor="top", y=-0.15, xanchor="left", x=0),
                      margin=dict(t=60, l=50, r=10, b=40), uirevision=title)
    return escape_figure(fig)  # class names, samples and the title are user text (Plotly renders HTML in them)


def gap_table(gap: dict) -> pd.DataFrame:
    """Rows per measure: before, after, change (after - before) and relative change."""
    before, after = gap.get("before") or {}, gap.get("after") or {}
    rows = []
    for k, name in GAP_ROWS.items():
        b, a = before.get(k), after.get(k)
        change = (a - b) if a is not None and b is not None else None
        rel = f"{100 * change / abs(b):+.0f}%" if change is not None and b else ""
        rows.append({"measure": name, "before training": b, "after training": a, "change": change, "relative": rel})
    return pd.DataFrame(rows)


def selected_ids(points: list[dict]) -> list[int]:
    """pids of the points in a Streamlit plotly selection (``customdata[0]``)."""
    out = set()
    for p in points or []:
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)) and cd:
            try:
                out.add(int(cd[0]))
            except (TypeError, ValueError):
                continue
    return sorted(out)
