"""Widgets generated from a strategy's Params schema, so adding a strategy changes no page."""
from __future__ import annotations

import streamlit as st


def params_form(spec, key_prefix: str, defaults: dict | None = None) -> dict:
    """One widget per Params field (float/int -> number_input, bool -> checkbox, choices -> selectbox);
    ``defaults`` override the Params defaults (e.g. the recommended ``freeze_backbone: true``).

    Returns:
        ``{field name: value}``; the engine validates it again (``params_from_dict``).
    """
    schema = spec.describe()["params"]
    if not schema:
        st.caption("This strategy has no parameters of its own.")
        return {}
    out = {}
    for p in schema:
        key = f"{key_prefix}.{spec.name}.{p['name']}"
        label = p["name"].replace("_", " ")
        t, default, help_ = p["type"], (defaults or {}).get(p["name"], p["default"]), p["help"] or None
        if p.get("choices"):
            choices = list(p["choices"])
            idx = choices.index(default) if default in choices else 0
            out[p["name"]] = st.selectbox(label, choices, index=idx, help=help_, key=key)
        elif t.startswith("bool"):
            out[p["name"]] = st.checkbox(label, value=bool(default), help=help_, key=key)
        elif t.startswith("int"):
            out[p["name"]] = int(st.number_input(
                label, value=int(default), step=1,
                min_value=None if p["min"] is None else int(p["min"]),
                max_value=None if p["max"] is None else int(p["max"]), help=help_, key=key))
        elif t.startswith("float"):
            out[p["name"]] = float(st.number_input(
                label, value=float(default), format="%g",
                min_value=None if p["min"] is None else float(p["min"]),
                max_value=None if p["max"] is None else float(p["max"]), help=help_, key=key))
        else:
            out[p["name"]] = st.text_input(label, value=str(default), help=help_, key=key)
    return out
