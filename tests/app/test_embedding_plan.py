"""The Embeddings page's rules (ui/embedding_plan.py): run names, chart panels, missing-feature notices (which
run, and whether an extraction helps) and the linked selection."""
from __future__ import annotations

from types import SimpleNamespace

import apptest_paths  # noqa: F401 - the repository root on sys.path

from ui.embedding_plan import Panel, chart_panels, linked_selection, missing_notice, run_labels, run_names, split_missing

RUNS = [SimpleNamespace(run_id="r1", name="adapted · v2", source="a", target="b", strategy="dann", backbone="cnn"),
        SimpleNamespace(run_id="r2", name="", source="a", target="b", strategy="fine_tuning", backbone="cnn")]


def test_names_come_from_the_records_not_from_parsed_labels():
    assert run_names(RUNS) == {"r1": "adapted · v2", "r2": "r2"}  # a name holding the separator stays whole
    assert run_labels(RUNS)["r2"] == "r2 · a → b · fine_tuning · cnn"


def test_panels_before_after_or_both_runs_after():
    assert chart_panels("r1", None) == [Panel("Before training", "r1", "before"), Panel("After training", "r1", "after")]
    both = chart_panels("r1", "r2", "r2 · a → b")
    assert [(p.run_id, p.which) for p in both] == [("r1", "after"), ("r2", "after")]


def test_missing_notice_names_the_run_that_lacks_features():
    names = run_names(RUNS)
    message, extractable = missing_notice(Panel("x", "r2", "after"), names)
    assert "r2" in message and "adapted" not in message and "after-training" in message and not extractable
    message, extractable = missing_notice(Panel("x", "r1", "before"), names)
    assert "adapted · v2" in message and "before-training" in message and extractable


def test_split_missing_keeps_order():
    panels = chart_panels("r1", "r2", "other")
    ready, missing = split_missing(panels, lambda rid, which: rid == "r1")
    assert ready == panels[:1] and missing == panels[1:]


def test_linked_selection_takes_the_latest_new_selection_and_keeps_it():
    sigs = {}
    assert linked_selection([], {"left": [1, 2], "right": []}, sigs) == [1, 2]
    assert linked_selection([1, 2], {"left": [1, 2], "right": []}, sigs) == [1, 2]   # nothing new
    assert linked_selection([1, 2], {"left": [1, 2], "right": [7]}, sigs) == [7]     # the right chart's new one
    assert linked_selection([7], {"left": [], "right": [7]}, sigs) == [7]            # a cleared chart keeps it
