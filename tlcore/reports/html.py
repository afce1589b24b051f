"""A self-contained HTML report of a comparison: opens offline in any browser, for stakeholders.

plotly.js is inlined once (a ``<script>`` tag, no network), every figure is a ``<div>`` drawn by it, and
every string that comes from a user (run names, domain names, class names, configs) is escaped.
"""
from __future__ import annotations

import html
import json
import time

import plotly.graph_objects as go

from tlcore.evaluation.compare import compare_runs
from tlcore.evaluation.summary import format_p
from tlcore.reports.repro import load_card

TARGET = "#ff7f0e"
COLORS = ["#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#222;padding:0 1rem}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #ddd;
padding:.3rem .6rem;text-align:left}th{background:#f4f4f4}pre{background:#f7f7f7;padding:.6rem;overflow:auto;
font-size:.8rem}.note{color:#666;font-size:.9rem}h2{margin-top:2.2rem;border-bottom:1px solid #eee}"""


def esc(v) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def fmt(v, ci=None) -> str:
    """``0.842 [0.821, 0.861]`` (or ``–``)."""
    if v is None:
        return "–"
    s = f"{float(v):.3f}"
    if ci and ci[0] is not None:
        s += f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return s


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _label(rid: str, info: dict) -> str:
    return esc(info.get("name") or f"{info.get('strategy')}·{rid[-6:]}")


def _bars(summary: dict) -> go.Figure:
    runs = summary["runs"]
    labels = [_label(r, i) for r, i in runs.items()]
    fig = go.Figure()
    for key, name, color, pattern in (("accuracy", "Target test accuracy", TARGET, ""),
                                      ("f1_macro", "Target test macro F1", TARGET, "/")):
        vals, lo, hi = [], [], []
        for info in runs.values():
            tt = info.get("target_test") or {}
            v, ci = tt.get(key), tt.get(f"{key}_ci") or [None, None]
            vals.append(None if v is None else 100 * v)
            lo.append(0 if v is None or ci[0] is None else 100 * (v - ci[0]))
            hi.append(0 if v is None or ci[1] is None else 100 * (ci[1] - v))
        fig.add_bar(x=labels, y=vals, name=name, marker_color=color, marker_pattern_shape=pattern,
                    error_y=dict(type="data", array=hi, arrayminus=lo, visible=True))
    fig.update_layout(barmode="group", template="plotly_white", height=420,
                      title="Target test accuracy and macro F1 (error bars: 95% bootstrap intervals)",
                      yaxis=dict(title="Score (%)", range=[0, 105]), xaxis=dict(title="Run"))
    return fig


def _curves(store, summary: dict, kind: str) -> go.Figure:
    fig = go.Figure()
    xk, yk, xt, yt, title = (("fpr", "tpr", "False positive rate", "True positive rate",
                              "ROC curves on the target test set (one-vs-rest per class)") if kind == "roc_curve"
                             else ("recall", "precision", "Recall", "Precision",
                                   "Precision-recall curves on the target test set"))
    for i, (rid, info) in enumerate(summary["runs"].items()):
        curves = (store.metrics(rid).get("target_test") or {}).get(kind) or {}
        for j, (cls, c) in enumerate(curves.items()):
            fig.add_scatter(x=c[xk], y=c[yk], mode="lines", name=f"{_label(rid, info)} · {esc(cls)}",
                            legendgroup=rid, line=dict(color=COLORS[i % len(COLORS)], width=2 if j == 0 else 1))
    if kind == "roc_curve":
        fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line=dict(dash="dot", color="#999"))
    fig.update_layout(template="plotly_white", height=440, title=title, xaxis_title=xt, yaxis_title=yt)
    return fig


def _reliability(store, summary: dict) -> go.Figure:
    fig = go.Figure()
    for i, (rid, info) in enumerate(summary["runs"].items()):
        bins = (store.metrics(rid).get("target_test") or {}).get("reliability") or []
        fig.add_scatter(x=[b["confidence"] for b in bins], y=[b["accuracy"] for b in bins], mode="lines+markers",
                        name=_label(rid, info), line=dict(color=COLORS[i % len(COLORS)]),
                        text=[f"n={b['n']}" for b in bins])
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                    line=dict(dash="dot", color="#999"))
    fig.update_layout(template="plotly_white", height=420, title="Reliability diagram (target test)",
                      xaxis_title="Mean confidence in bin", yaxis_title="Accuracy in bin")
    return fig


def _confusions(store, summary: dict) -> list[go.Figure]:
    figs = []
    for rid, info in summary["runs"].items():
        tt = store.metrics(rid).get("target_test") or {}
        if not tt.get("confusion_matrix"):
            continue
        classes = [esc(c) for c in tt.get("classes") or []]
        fig = go.Figure(go.Heatmap(z=tt["confusion_matrix"], x=classes, y=classes, colorscale="Blues",
                                   texttemplate="%{z}"))
        fig.update_layout(template="plotly_white", height=380, title=f"Confusion matrix: {_label(rid, info)}",
                          xaxis=dict(title="Predicted class", type="category"),
                          yaxis=dict(title="True class", type="category", autorange="reversed"))
        figs.append(fig)
    return figs


def build_report(store, run_ids: list[str], title: str = "TL Studio comparison report",
                 n_resamples: int = 1000) -> str:
    """The report as one HTML string (tables, interactive charts, configs, data and environment)."""
    from plotly.offline import get_plotlyjs

    summary = compare_runs(store, run_ids, n_resamples=n_resamples)
    runs = summary["runs"]
    parts = [f"<h1>{esc(title)}</h1>",
             f"<p class='note'>Generated {esc(time.strftime('%Y-%m-%d %H:%M'))} · {len(runs)} run(s). Intervals "
             "are 95% percentile bootstrap intervals (seeded). Paired tests compare runs evaluated on the very "
             "same target test samples.</p>", "<h2>Metrics</h2>"]
    rows = []
    for rid, info in runs.items():
        tt, sv = info.get("target_test") or {}, info.get("source_val") or {}
        name = info.get("name")
        rows.append([f"{name} ({rid})" if name and name != rid else rid, info.get("pair"), info.get("strategy"), info.get("backbone"),
                     tt.get("n"), fmt(tt.get("accuracy"), tt.get("accuracy_ci")),
                     fmt(tt.get("f1_macro"), tt.get("f1_macro_ci")), fmt(tt.get("roc_auc"), tt.get("roc_auc_ci")),
                     fmt(tt.get("log_loss")), fmt(tt.get("ece")), fmt(sv.get("accuracy"), sv.get("accuracy_ci"))])
    parts.append(_table(["run", "source -> target", "strategy", "backbone", "target n",
                         "target accuracy", "target macro F1", "target ROC AUC", "log loss", "ECE",
                         "source val accuracy"], rows))
    parts.append("<h2>Paired comparisons (same target test set)</h2>")
    if summary["paired"]:
        parts.append(_table(["A", "B", "n", "McNemar b (A right, B wrong)", "c (A wrong, B right)",
                             "McNemar exact p", "accuracy B-A [95% CI]", "bootstrap p", "macro F1 B-A [95% CI]"],
                            [[p["a"], p["b"], p["n"], p["mcnemar"]["b"], p["mcnemar"]["c"],
                              format_p(p["mcnemar"]["p_value"], 4), fmt(p["accuracy"]["diff"], p["accuracy"]["ci"]),
                              format_p(p["accuracy"]["p_value"], 4),
                              fmt(p["f1_macro"]["diff"], p["f1_macro"]["ci"])] for p in summary["paired"]]))
    else:
        parts.append("<p class='note'>No two selected runs share a target test set.</p>")
    if summary["not_paired"]:
        parts.append(_table(["A", "B", "why not paired"], [[n["a"], n["b"], n["reason"]]
                                                          for n in summary["not_paired"]]))
    parts.append("<h2>Charts</h2>")
    figs = [_bars(summary), _curves(store, summary, "roc_curve"), _curves(store, summary, "pr_curve"),
            _reliability(store, summary), *_confusions(store, summary)]
    for i, fig in enumerate(figs):
        parts.append(fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"fig{i}",
                                 config={"displaylogo": False}))
    parts.append("<h2>Data</h2>")
    data_rows = []
    for rid in run_ids:
        dom = store.read_json(rid, "domains.json", {}) or {}
        for role in ("source", "target"):
            d = dom.get(role) or {}
            data_rows.append([rid, role, d.get("name"), d.get("modality"), d.get("n"),
                              ", ".join(f"{k}: {v}" for k, v in (d.get("counts") or {}).items()),
                              (dom.get(f"{role}_fingerprint") or "")[:16]])
    parts.append(_table(["run", "role", "domain", "modality", "samples", "class counts", "fingerprint"], data_rows))
    parts.append("<h2>Run configs and reproducibility</h2>")
    for rid, info in runs.items():
        card = load_card(store, rid)
        parts.append(f"<h3>{_label(rid, info)} <span class='note'>({esc(rid)})</span></h3>")
        parts.append(f"<pre>{esc(json.dumps(card, indent=1, default=str))}</pre>")
    parts.append("<h2>Environment</h2>")
    from tlcore.reports.repro import package_versions

    parts.append(_table(["package", "version (report machine)"], sorted(package_versions().items())))
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{CSS}</style><script type='text/javascript'>{get_plotlyjs()}</script></head>"
            f"<body>{body}</body></html>")
