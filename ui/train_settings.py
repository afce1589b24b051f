"""The Train page's settings across pair changes and sessions (widget keys <-> stored per-user settings).

- A new session starts with the user's stored settings ($TL_HOME/settings/<user>.json, see tlcore.user_settings).
- When the chosen pair changes modality (image <-> text), ``tlcore.user_settings.carry_over`` decides what
  stays (what the user chose) and what changes (defaults, the backbone); the page shows every change with its
  reason, so nothing changes silently.
"""
from __future__ import annotations

import streamlit as st

from tlcore.models.registry import BACKBONES
from tlcore.strategies.specs import SPECS
from tlcore.user_settings import carry_over
from ui import state

# setting -> widget key ({m}: the modality; those widgets keep one value per modality)
KEYS = {"backbone": "backbone-{m}", "strategy": "strategy-{m}", "epochs": "epochs-{m}", "batch_size": "batch-{m}",
        "lr": "lr-{m}", "image_size": "image_size", "max_length": "max_length", "max_samples": "max_samples",
        "seed": "seed", "labeled_fraction": "labeled_fraction", "augment": "augment", "bottleneck": "bottleneck",
        "feature_views": "feature_views"}
LAST_MODALITY = "train-last-modality"
CHANGES = "train-pair-changes"      # (pair label, [sentences]) of the last modality change


def key(name: str, modality: str) -> str:
    return KEYS[name].format(m=modality)


def _typed(name: str, value, modality: str):
    """A stored or carried value in the type its widget holds, or None when it is no longer valid."""
    try:
        if name == "backbone":
            return value if value in BACKBONES and BACKBONES[value].modality == modality else None
        if name == "strategy":
            return value if value in SPECS else None
        if name == "lr":
            return str(value)
        if name in ("epochs", "batch_size", "image_size", "max_length", "max_samples", "seed", "bottleneck",
                    "feature_views"):
            return int(value)
        if name == "labeled_fraction":
            return float(value)
        if name == "augment":
            return bool(value)
    except (TypeError, ValueError):
        return None
    return None


def prepare(modality: str, pair_label: str, defaults: dict) -> list[str]:
    """Set the widget values for this run of the Train page before its widgets are drawn.

    Args:
        modality: of the pair now chosen.
        pair_label: the pair's option label (the change notice belongs to it).
        defaults: modality -> default config (``DEMO_CONFIGS`` entries).

    Returns:
        The sentences saying which settings changed with the last modality change, and why ([] if none).
    """
    ss = st.session_state
    prev = ss.get(LAST_MODALITY)
    ss[LAST_MODALITY] = modality
    if prev and prev != modality:
        previous = {n: ss[key(n, prev)] for n in ("backbone", "strategy", "epochs", "batch_size", "lr")
                    if key(n, prev) in ss}
        shown = {**defaults[modality]}  # the backbone this modality will show: the one in use or stored, else default
        stored_bb = ((ss.get(state.SAVED_TRAIN) or {}).get(modality) or {}).get("backbone")
        shown["backbone"] = ss.get(key("backbone", modality)) or stored_bb or shown.get("backbone")
        carried, changes = carry_over(previous, defaults[prev], shown, prev, modality)
        for name, value in carried.items():
            typed = _typed(name, value, modality)
            if typed is not None:
                ss[key(name, modality)] = typed
        ss[CHANGES] = (pair_label, changes)
    stored = (ss.get(state.SAVED_TRAIN) or {}).get(modality) or {}
    for name, value in stored.items():  # a new session (or a return to this page): the stored settings
        if name in KEYS and key(name, modality) not in ss:
            typed = _typed(name, value, modality)
            if typed is not None:
                ss[key(name, modality)] = typed
    label, changes = ss.get(CHANGES) or (None, [])
    return list(changes) if label == pair_label else []


def remember(modality: str, values: dict) -> None:
    """Store the settings in use (per user, per modality) so the next session starts with them."""
    state.save_train_settings(modality, {k: v for k, v in values.items() if k in KEYS})
