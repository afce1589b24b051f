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
        for key in _TRACE_TEXT:
            if key in tr and tr[key] is not None:
                val = tr[key]
                if key in ("x", "y", "z") and not _has_str(val):
                    continue
                tr[key] = _esc_any(val.tolist() if isinstance(val, np.ndarray) and key == "customdata" else val)
        if "legendgroup" in tr and tr.legendgroup:
            tr.legendgroup = esc(tr.legendgroup)
    lay = fig.layout
    if lay.title and lay.title.text:
        lay.title.text = esc(lay.title.text)
    if lay.legend and lay.legend.title and lay.legend.title.text:
        lay.legend.title.text = esc(lay.legend.title.text)
    for ann in lay.annotations or ():
        if ann.text:
            ann.text = esc(ann.text)
    for name in dir(lay):
        if name.startswith(("xaxis", "yaxis")):
            axis = getattr(lay, name, None)
            if axis is not None and getattr(axis, "title", None) is not None and axis.title.text:
                axis.title.text = esc(axis.title.text)
    if lay.scene:
        for axis in (lay.scene.xaxis, lay.scene.yaxis, lay.scene.zaxis):
            if axis.title and axis.title.text:
                axis.title.text = esc(axis.title.text)
    fig._tl_escaped = True
    return fig


def _has_str(val) -> bool:
    if isinstance(val, str):
        return True
    if isinstance(val, np.ndarray):
        return val.dtype.kind in "OUS" and any(isinstance(x, str) for x in val.ravel()[:1000])
    try:
        return any(isinstance(x, str) for x in val)
    except TypeError:
        return False
