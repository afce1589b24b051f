"""How a sweep's runs are named: every run of a sweep carries ``name = "sweep:<id>"``; and which strategies are its
baselines (:data:`BASELINES`).

A leaf module, so the validator selection (:func:`tlcore.evaluation.selection.sweep_picks`) can group a sweep's
runs, and the batch summary (:mod:`tlcore.evaluation.summary`) find its baseline, without importing
:mod:`tlcore.sweeps`, which builds on it.
"""
from __future__ import annotations

import uuid

PREFIX = "sweep:"
BASELINES = {"scratch": "scratch", "source_only": "fine_tuning"}  # a sweep's reference rows -> their strategy


def new_sweep_id() -> str:
    return uuid.uuid4().hex[:8]


def sweep_of(name: str | None) -> str | None:
    """The sweep id in a run name ``sweep:<id>``, else ``None``."""
    return name[len(PREFIX):] if name and name.startswith(PREFIX) else None
