"""The names of the files in a run folder: written by :mod:`tlcore.runs.recorder` (and the store), read by the
engine and, for pages, through :class:`tlcore.runs.view.RunView`. Pages never spell these names
(tests/test_no_artifact_names_in_pages.py)."""
from __future__ import annotations

CONFIG = "config.json"
EVENTS = "events.jsonl"
METRICS = "metrics.json"
HISTORY = "history.json"
SPLIT = "split.json"
LABELS = "labels.json"
DOMAINS = "domains.json"
REPRO = "repro.json"
MODEL = "model.safetensors"
MODEL_META = "model.json"
INPUTS = (SPLIT, LABELS, DOMAINS, REPRO)  # what a derived run copies from its parent
FEATURE_STAGES = ("after", "before")


def predictions(key: str) -> str:
    """``predictions_<key>.csv`` (``key``: ``source_val``, ``target_test``...)."""
    return f"predictions_{key}.csv"


def features(when: str = "after") -> str:
    """``features_after.npz`` (the trained model's features) or ``features_before.npz`` (before training)."""
    if when not in FEATURE_STAGES:
        raise ValueError(f"when must be 'after' or 'before', not {when!r}")
    return f"features_{when}.npz"


# every run file name, as patterns (``*`` = any key): what the page test looks for
PATTERNS = (CONFIG, EVENTS, METRICS, HISTORY, SPLIT, LABELS, DOMAINS, REPRO, MODEL, MODEL_META, predictions("*"),
            "features_*.npz")
