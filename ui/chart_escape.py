"""Escaping user text in Plotly figures: Plotly renders a subset of HTML in every text it draws, so class, run,
domain and file names are written as entities before a figure is shown (used by every chart of ``ui.charts`` and by
``ui.embedding_view``)."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def esc(value) -> str:
    """User text (class, run, domain names, file names, samples) for a Plotly label: Plotly renders a subset of
    HTML in every text it draws (``<a href>`` becomes a link, ``<b>``...), so ``& < >`` are written as entities
    (shown as the literal characters)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _esc_any(v):
    if isinstance(v, str):
        return esc(v)
    if isinstance(v, (list, tuple)):
        return [_esc_any(x) for x in v]
    if isinstance(v, np.ndarray) and v.dtype.kind in "OUS":
        return np.vectorize(_esc_any, otypes=[object])(v) if v.size else v
    return v


_TRACE_TEXT = ("name", "text", "hovertext", "x", "y", "z", "labels", "ids", "customdata")


def escape_figure(fig: go.Figure) -> go.Figure:
    """Escape every user-text field of ``fig`` in place, once: trace names, texts, categorical x/y/z, custom data
    shown on hover, legend-group titles, subplot titles and other annotations, the title, the legend title and
    the axis titles (our own hover templates keep their ``<br>``; labels concatenated into them use :func:`esc`)."""
    if getattr(fig, "_tl_escaped", False):
        return fig
    for tr in fig.data:
        _escape_trace(tr)
    lay = fig.layout
    titled = [lay, lay.legend] + [getattr(lay, n, None) for n in dir(lay) if n.startswith(("xaxis", "yaxis"))]
    if lay.scene:
        titled += [lay.scene.xaxis, lay.scene.yaxis, lay.scene.zaxis]
    for obj in titled:
        _escape_title(obj)
    for ann in lay.annotations or ():
        if ann.text:
            ann.text = esc(ann.text)
    fig._tl_escaped = True
    return fig


def _escape_trace(tr) -> None:
    for key in _TRACE_TEXT:
        if key in tr and tr[key] is not None:
            val = tr[key]
            if key in ("x", "y", "z") and not _has_str(val):
                continue
            tr[key] = _esc_any(val.tolist() if isinstance(val, np.ndarray) and key == "customdata" else val)
    if "legendgroup" in tr and tr.legendgroup:
        tr.legendgroup = esc(tr.legendgroup)


def _escape_title(obj) -> None:
    """The title text of a layout, legend or axis (any of them may be absent)."""
    title = getattr(obj, "title", None) if obj is not None else None
    if title is not None and getattr(title, "text", None):
        title.text = esc(title.text)


def _has_str(val) -> bool:
    if isinstance(val, str):
        return True
    if isinstance(val, np.ndarray):
        return val.dtype.kind in "OUS" and any(isinstance(x, str) for x in val.ravel()[:1000])
    try:
        return any(isinstance(x, str) for x in val)
    except TypeError:
        return False
