"""Plotly figure builders shared by the Compare and Embeddings pages.

Pure functions: plain data in (lists, dicts, DataFrames), ``go.Figure`` out. No Streamlit, no store access,
so tests call them directly and pages stay thin.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ui.chart_escape import esc, escape_figure
from ui.theme import DOMAIN_COLORS, PLOTLY_TEMPLATE, SOURCE_COLOR, TARGET_COLOR

RUN_COLORS = qualitative.D3[2:] + qualitative.D3[:2]  # blue/orange stay reserved for source/target
CLASS_COLORS = qualitative.Dark24
DOMAIN_SYMBOLS = {"source": "circle", "target": "diamond"}
UNLABELED = "(unlabeled)"


def run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def _pct(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else 100.0 * float(v)


LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0)   # under the x-axis titles
LEGEND_RIGHT = dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02)    # for long legends


def _layout(fig: go.Figure, title: str, height: int | None = None, legend: dict | None = None, **kw) -> go.Figure:
    """Title on top, legend below the plot (never over the title or subplot titles), margins that fit the axis
    titles (``automargin``)."""
    legend = legend or LEGEND_BELOW
    below = legend.get("y", 0) < 0
    fig.update_layout(title=title, template=PLOTLY_TEMPLATE, height=height, legend=legend,
                      margin=dict(t=80, l=80, r=20, b=130 if below else 60), **kw)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return escape_figure(fig)


def _error_bars(rows: list[dict], key: str, vals: list) -> dict | None:
    """Plotly ``error_y`` from ``<key>_ci`` intervals (fractions) of each row, or None when no row has one."""
    cis = [r.get(f"{key}_ci") for r in rows]
    if not any(cis):
        return None
    plus = [0 if not ci or v is None else max(0.0, _pct(ci[1]) - v) for ci, v in zip(cis, vals)]
    minus = [0 if not ci or v is None else max(0.0, v - _pct(ci[0])) for ci, v in zip(cis, vals)]
    return dict(type="data", array=plus, arrayminus=minus, visible=True, thickness=1.5, width=4)


def label_curve_chart(summary: list[dict], title: str = "What labels buy") -> go.Figure:
    """Target accuracy (%) against the number of labelled target samples, one line per query method, 95 %
    intervals as error bars (``summary``: :func:`tlcore.label_curve.summarize` rows)."""
    fig = go.Figure()
    for i, method in enumerate(dict.fromkeys(r["method"] for r in summary)):
        rows = sorted((r for r in summary if r["method"] == method), key=lambda r: r["labels"])
        vals = [_pct(r["accuracy"]) for r in rows]
        fig.add_trace(go.Scatter(x=[r["labels"] for r in rows], y=vals, mode="lines+markers", name=method,
                                 line=dict(color=run_color(i)), error_y=_error_bars(rows, "accuracy", vals),
                                 hovertemplate=method + ": %{x} labels, %{y:.1f}%<extra></extra>"))
    fig.update_xaxes(title="labelled target samples")
    fig.update_yaxes(title="target test accuracy (%)")
    return _layout(fig, title, height=420)


def metric_bars(rows: list[dict]) -> go.Figure:
    """Grouped bars of accuracy and macro F1 per run, target test and source val, with interval error bars.

    Args:
        rows: one dict per run with ``label`` and any of ``target_acc``, ``target_f1``, ``source_acc``,
            ``source_f1`` (fractions in [0, 1] or None), and optionally ``<key>_ci`` = ``[low, high]``.
    """
    series = (("target_acc", "Target test accuracy", TARGET_COLOR, ""),
              ("target_f1", "Target test macro F1", TARGET_COLOR, "/"),
              ("source_acc", "Source val accuracy", SOURCE_COLOR, ""),
              ("source_f1", "Source val macro F1", SOURCE_COLOR, "/"))
    labels = [r["label"] for r in rows]
    fig = go.Figure()
    for key, name, color, pattern in series:
        vals = [_pct(r.get(key)) for r in rows]
        err = _error_bars(rows, key, vals)
        fig.add_bar(x=labels, y=vals, name=name, marker_color=color, marker_pattern_shape=pattern,
                    text=[f"{v:.1f}" if v is not None else "" for v in vals],
                    textposition="inside", insidetextanchor="start",
                    error_y=err, hovertemplate="%{x}<br>" + name + ": %{y:.1f}%<extra></extra>")
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(title_text="Score (%)", range=[0, 105])
    fig.update_xaxes(title_text="Run")
    return _layout(fig, "Accuracy and macro F1 per run (target test vs source validation)")


def confusion_heatmaps(items: list[dict], normalize: bool = False) -> go.Figure:
    """Confusion matrices side by side (rows = true class, columns = predicted class).

    Args:
        items: dicts with ``label``, ``matrix`` (list of lists) and ``classes``.
        normalize: show each row as % of its true-class count instead of counts.
    """
    n = max(1, len(items))
    cols = min(n, 2) if n > 1 else 1
    nrows = math.ceil(n / cols)
    fig = make_subplots(rows=nrows, cols=cols, subplot_titles=[it["label"] for it in items] or ["(none)"],
                        horizontal_spacing=0.12, vertical_spacing=0.18)
    unit = "% of true class" if normalize else "samples"
    for i, it in enumerate(items):
        m = np.asarray(it["matrix"], dtype=float)
        classes = [str(c) for c in it["classes"]]
        if normalize:
            sums = m.sum(1, keepdims=True)
            m = np.divide(100.0 * m, sums, out=np.zeros_like(m), where=sums > 0)
        text = np.vectorize(lambda v: f"{v:.0f}")(m) if m.size else m
        r, c = divmod(i, cols)
        fig.add_trace(go.Heatmap(z=m, x=classes, y=classes, colorscale="Blues", text=text,
                                 texttemplate="%{text}" if len(classes) <= 15 else None,
                                 zmin=0, zmax=100 if normalize else None, showscale=(i == 0),
                                 colorbar=dict(title=unit),
                                 hovertemplate="true %{y}<br>predicted %{x}<br>%{z:.1f} " + unit + "<extra></extra>"),
                      row=r + 1, col=c + 1)
        fig.update_xaxes(title_text="Predicted class", type="category", row=r + 1, col=c + 1)
        fig.update_yaxes(title_text="True class", type="category", autorange="reversed", row=r + 1, col=c + 1)
    title = "Target test confusion matrices" + (" (row-normalised, %)" if normalize else " (counts)")
    return _layout(fig, title, height=max(420, 400 * nrows))


def per_class_f1_bars(items: list[dict]) -> go.Figure:
    """Grouped bars of per-class F1 on the target test set, one colour per run.

    Args:
        items: dicts with ``label`` and ``per_class`` ({class: {"f1": float, ...}}).
    """
    fig = go.Figure()
    for i, it in enumerate(items):
        per = it.get("per_class") or {}
        classes = list(per)
        fig.add_bar(x=[str(c) for c in classes], y=[_pct(per[c].get("f1")) for c in classes], name=it["label"],
                    marker_color=run_color(i),
                    hovertemplate="class %{x}<br>F1 %{y:.1f}%<extra>" + esc(it["label"]) + "</extra>")
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="Class", type="category")
    fig.update_yaxes(title_text="F1 (%)", range=[0, 105])
    return _layout(fig, "Per-class F1 on the target test set")


def training_curves(curves: list[dict]) -> go.Figure:
    """Validation accuracy and training loss against epoch, one colour per run.

    Args:
        curves: dicts with ``label`` and ``history`` (list of epoch dicts with ``epoch``, ``val_acc``,
            ``loss``, optionally ``train_acc``).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Source validation accuracy", "Training loss"),
                        horizontal_spacing=0.1)
    for i, cur in enumerate(curves):
        hist = [h for h in cur.get("history") or [] if h.get("epoch") is not None]
        color = run_color(i)
        epochs = [h["epoch"] for h in hist]
        fig.add_scatter(x=epochs, y=[_pct(h.get("val_acc")) for h in hist], mode="lines+markers",
                        name=cur["label"], legendgroup=cur["label"], line_color=color,
                        hovertemplate="epoch %{x}<br>val acc %{y:.1f}%<extra>" + esc(cur["label"]) + "</extra>",
                        row=1, col=1)
        fig.add_scatter(x=epochs, y=[h.get("loss") for h in hist], mode="lines+markers", name=cur["label"],
                        legendgroup=cur["label"], showlegend=False, line_color=color,
                        hovertemplate="epoch %{x}<br>loss %{y:.4f}<extra>" + esc(cur["label"]) + "</extra>",
                        row=1, col=2)
    fig.update_xaxes(title_text="Epoch", dtick=1 if max((len(c.get("history") or []) for c in curves), default=0)
                     <= 20 else None)
    fig.update_yaxes(title_text="Validation accuracy (%)", row=1, col=1)
    fig.update_yaxes(title_text="Loss (cross-entropy, per batch mean)", row=1, col=2)
    return _layout(fig, "Training curves")


def _truncate(s: str, n: int = 120) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def embedding_scatter(points: pd.DataFrame, color_by: str = "domain", explained_variance=None,
                      method: str = "PCA", title: str | None = None) -> go.Figure:
    """2-D scatter (WebGL) of projected features: colour by domain or class, symbol by domain.

    Args:
        points: columns ``x``, ``y``, ``domain`` ("source"/"target"), ``label`` (true class or ""),
            ``pred``, ``confidence``, ``sample`` (file name or text).
        color_by: ``"domain"``, ``"label"`` (true class) or ``"pred"`` (predicted class).
        explained_variance: ratios of the first two components (PCA), shown in the axis titles.
    """
    df = points.copy()
    df["label"] = df["label"].fillna("").astype(str).replace("", UNLABELED)
    df["pred"] = df["pred"].fillna("").astype(str)
    df["hover_sample"] = df["sample"].fillna("").map(_truncate)
    df["conf_txt"] = df["confidence"].map(lambda v: "–" if pd.isna(v) else f"{100 * float(v):.1f}%")
    custom_cols = ["domain", "label", "pred", "conf_txt", "hover_sample"]
    hover = ("<b>%{customdata[0]}</b><br>true: %{customdata[1]}<br>predicted: %{customdata[2]}"
             "<br>confidence: %{customdata[3]}<br>%{customdata[4]}<extra></extra>")
    fig = go.Figure()
    if color_by == "domain":
        groups = [(d, df[df["domain"] == d], DOMAIN_COLORS.get(d, "#888"), d) for d in ("source", "target")]
    else:
        cats = sorted(df[color_by].unique(), key=lambda c: (c == UNLABELED, c))
        palette = {c: ("#bbbbbb" if c == UNLABELED else CLASS_COLORS[i % len(CLASS_COLORS)])
                   for i, c in enumerate(cats)}
        groups = [(f"{c} · {d}", df[(df[color_by] == c) & (df["domain"] == d)], palette[c], d)
                  for c in cats for d in ("source", "target")]
    for name, part, color, domain in groups:
        if part.empty:
            continue
        fig.add_trace(go.Scattergl(x=part["x"], y=part["y"], mode="markers", name=name,
                                   marker=dict(color=color, symbol=DOMAIN_SYMBOLS.get(domain, "circle"), size=7,
                                               opacity=0.75, line=dict(width=0.5, color="white")),
                                   customdata=part[custom_cols].to_numpy(), hovertemplate=hover))
    ev = list(explained_variance or [])
    axis = [f"{method} {i + 1}" + (f" ({100 * ev[i]:.1f}% of variance)" if i < len(ev) else " (arbitrary units)")
            for i in range(2)]
    fig.update_xaxes(title_text=axis[0])
    fig.update_yaxes(title_text=axis[1])
    legend_title = {"domain": "Domain", "label": "True class · domain", "pred": "Predicted class · domain"}
    _layout(fig, title or f"Features after training, {method} projection (● source, ◆ target)", height=600,
            legend=LEGEND_RIGHT, legend_title_text=legend_title.get(color_by, color_by))
    return fig


def roc_pr_curves(items: list[dict]) -> go.Figure:
    """ROC (left) and precision-recall (right) curves on the target test set, one colour per run.

    Args:
        items: dicts with ``label``, ``roc`` ({class: {"fpr", "tpr"}}) and ``pr`` ({class: {"recall", "precision"}}).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC (one-vs-rest per class)", "Precision-recall"),
                        horizontal_spacing=0.1)
    for i, it in enumerate(items):
        color = run_color(i)
        for j, (cls, c) in enumerate((it.get("roc") or {}).items()):  # one legend entry per run; class on hover
            fig.add_scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=it["label"], showlegend=j == 0,
                            legendgroup=it["label"], line=dict(color=color, width=2 if j == 0 else 1),
                            hovertemplate=f"class {esc(cls)}<br>FPR %{{x:.3f}}<br>TPR %{{y:.3f}}"
                                          f"<extra>{esc(it['label'])}</extra>",
                            row=1, col=1)
        for j, (cls, c) in enumerate((it.get("pr") or {}).items()):
            fig.add_scatter(x=c["recall"], y=c["precision"], mode="lines", name=it["label"],
                            legendgroup=it["label"], showlegend=False,
                            hovertemplate=f"class {esc(cls)}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}"
                                          f"<extra>{esc(it['label'])}</extra>",
                            line=dict(color=color, width=2 if j == 0 else 1), row=1, col=2)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dot", color="#999"),
                    row=1, col=1)
    fig.update_xaxes(title_text="False positive rate", row=1, col=1)
    fig.update_yaxes(title_text="True positive rate", row=1, col=1)
    fig.update_xaxes(title_text="Recall", row=1, col=2)
    fig.update_yaxes(title_text="Precision", row=1, col=2)
    return _layout(fig, "ROC and precision-recall curves (target test; one line per class)", height=520)


def reliability_diagram(items: list[dict]) -> go.Figure:
    """Accuracy against mean confidence per confidence bin; the diagonal is perfect calibration.

    Args:
        items: dicts with ``label``, ``bins`` (list of {"confidence", "accuracy", "n"}) and optional ``ece``.
    """
    fig = go.Figure()
    for i, it in enumerate(items):
        bins = it.get("bins") or []
        name = it["label"] + (f" (ECE {it['ece']:.3f})" if it.get("ece") is not None else "")
        fig.add_scatter(x=[_pct(b["confidence"]) for b in bins], y=[_pct(b["accuracy"]) for b in bins],
                        mode="lines+markers", name=name, line_color=run_color(i),
                        customdata=[b["n"] for b in bins],
                        hovertemplate="confidence %{x:.1f}%<br>accuracy %{y:.1f}%<br>n=%{customdata}<extra></extra>")
    fig.add_scatter(x=[0, 100], y=[0, 100], mode="lines", name="perfect calibration",
                    line=dict(dash="dot", color="#999"))
    fig.update_xaxes(title_text="Mean confidence in bin (%)", range=[0, 100])
    fig.update_yaxes(title_text="Accuracy in bin (%)", range=[0, 105])
    return _layout(fig, "Reliability diagram (target test)")


def class_chart(sums: dict) -> go.Figure:
    """Class counts of the source and target domains (the Domains page); class names are user text."""
    classes = sorted(set(sums["source"]["counts"]) | set(sums["target"]["counts"]))
    fig = go.Figure([go.Bar(name=role, x=classes, y=[sums[role]["counts"].get(c, 0) for c in classes],
                            marker_color=DOMAIN_COLORS[role]) for role in ("source", "target")])
    fig.update_layout(barmode="group", title="Class counts", xaxis_title="class", yaxis_title="samples",
                      template=PLOTLY_TEMPLATE, height=340, xaxis={"type": "category"})
    return escape_figure(fig)


DISTINCT_AS_BARS = 30  # at most this many distinct values: one bar per value (e.g. every image 32 px: one bar)


def value_distribution(values: dict, title: str, xlabel: str) -> go.Figure:
    """Distribution of integer values per domain: one bar per value when there are few distinct values,
    else a histogram with integer-aligned bins (never fractional ticks such as 31.6 ... 32.4)."""
    distinct = sorted({int(v) for vs in values.values() for v in vs})
    if len(distinct) <= DISTINCT_AS_BARS:
        traces = [go.Bar(x=[str(d) for d in distinct], y=[Counter(int(v) for v in vs).get(d, 0) for d in distinct],
                         name=role, marker_color=DOMAIN_COLORS[role]) for role, vs in values.items()]
        fig = go.Figure(traces)
        fig.update_layout(barmode="group", xaxis={"type": "category"})
    else:
        lo, hi = distinct[0], distinct[-1]
        size = max(1, int(round((hi - lo + 1) / 40)))
        fig = go.Figure([go.Histogram(x=v, name=role, marker_color=DOMAIN_COLORS[role], opacity=0.6,
                                      xbins={"start": lo - 0.5, "end": hi + 0.5, "size": size})
                         for role, v in values.items()])
        fig.update_layout(barmode="overlay", xaxis={"tickformat": "d"})
    fig.update_layout(title=title, xaxis_title=xlabel, yaxis_title="samples", template=PLOTLY_TEMPLATE, height=300)
    return escape_figure(fig)


def table_height(rows: int, cap: int = 400) -> int:
    """Pixel height of a table showing ``rows`` rows without empty filler rows (header 38 px, 35 px a row)."""
    return min(cap, 38 + 35 * max(1, rows) + 2)
