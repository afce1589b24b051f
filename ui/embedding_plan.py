"""The Embeddings page's rules, without widgets: how runs are named, which charts a view shows, what to say (and
whether a background extraction can help) when a chart's features are missing, and the linked selection.

Tested in tests/app/test_embedding_plan.py.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ui.safe import md

BEFORE_AFTER, COMPARE = "Before vs after training", "Compare with another run"
MODES = (BEFORE_AFTER, COMPARE)


@dataclass(frozen=True)
class Panel:
    """One chart: whose features (``run_id``), which (``before``/``after``), under which title."""
    title: str
    run_id: str
    which: str


def run_names(runs) -> dict[str, str]:
    """run id -> the run's short name (its name, else its id): what buttons and titles say."""
    return {r.run_id: r.name or r.run_id for r in runs}


def run_labels(runs) -> dict[str, str]:
    """run id -> the picker's label: name, pair, strategy and backbone."""
    names = run_names(runs)
    return {r.run_id: f"{names[r.run_id]} · {r.source} → {r.target} · {r.strategy} · {r.backbone}" for r in runs}


def chart_panels(run_id: str, other_id: str | None, other_label: str = "") -> list[Panel]:
    """Before and after training of ``run_id``, or, with another run, both runs after training."""
    if other_id:
        return [Panel("This run, after training", run_id, "after"), Panel(f"{other_label} (after)", other_id, "after")]
    return [Panel("Before training", run_id, "before"), Panel("After training", run_id, "after")]


def missing_notice(panel: Panel, names: Mapping[str, str]) -> tuple[str, bool]:
    """(what to say about a chart whose features are not stored (Markdown, the name escaped), whether a
    background extraction makes them).

    Only before-training features can be extracted later (the backbone as it was, on the stored samples); a run
    without after-training features has nothing to match them to, so no job can help it.
    """
    name = md(names.get(panel.run_id, panel.run_id))  # a user's run name, shown as Markdown
    if panel.which == "before":
        return f"Run {name} has no before-training features yet (it predates them).", True
    return (f"Run {name} has no stored after-training features, so it cannot be shown; choose another run.",
            False)


def split_missing(panels: list[Panel], has_features: Callable[[str, str], bool]) -> tuple[list[Panel], list[Panel]]:
    """(panels whose features are stored, panels whose features are missing)."""
    missing = [p for p in panels if not has_features(p.run_id, p.which)]
    return [p for p in panels if p not in missing], missing


def linked_selection(previous: list[int], events: Mapping[str, list[int]], signatures: dict) -> list[int]:
    """The linked selection across charts: the latest non-empty selection made in any chart, kept until cleared.

    Args:
        previous: the selection so far.
        events: chart key -> the point ids its selection event holds now.
        signatures: chart key -> the ids seen last time (updated in place): an unchanged event is not new.
    """
    selection = previous
    for key, ids in events.items():
        sig = tuple(ids)
        if signatures.get(key) != sig:
            signatures[key] = sig
            if ids:
                selection = list(ids)
    return selection
