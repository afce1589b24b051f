"""RunView: pages read a run by meaning (config, metrics, history, predictions, confusion, features)."""
from __future__ import annotations

import sys

import numpy as np

from tests.app.fake_runs import CLASSES, make_run
from tlcore.runs.recorder import Recorder
from tlcore.runs.view import RunView


def test_a_completed_run_reads_through_the_view(store):
    rid = make_run(store, name="a")
    view = RunView(store, rid)
    assert view.config["name"] == "a" and view.record.status == "completed"
    assert view.classes() == CLASSES
    assert view.evaluation("target_test")["n"] == 40 and view.evaluation("missing") == {}
    cm = view.confusion()
    assert cm["classes"] == CLASSES and np.asarray(cm["matrix"]).sum() == 40
    assert [h["epoch"] for h in view.history()] == [1, 2, 3]
    assert view.has_predictions("target_test") and not view.has_predictions("target_train")
    assert view.predictions_download("target_test").startswith(b"index,source,true,pred,confidence")
    assert view.predictions_download("target_train") is None
    assert not view.has_model() and view.has_features("after") and not view.has_features("before")
    assert view.features_version("after") > 0 and view.features_version("before") == 0.0
    feats = view.features("after")
    assert feats["features"].shape == (80, 16) and set(feats["domain"]) == {"source", "target"}
    assert not view.frozen_backbone()


def test_history_falls_back_to_epoch_events_while_running(store):
    rid = store.create({"name": "live"}, status="running")
    store.append_event(rid, {"type": "phase", "phase": "training"})
    store.append_event(rid, {"type": "epoch", "epoch": 1, "loss": 0.5})
    view = RunView(store, rid)
    assert view.history() == [{"type": "epoch", "epoch": 1, "loss": 0.5}]
    assert view.metrics() == {} and view.confusion() is None and view.classes() == []
    Recorder(store, rid).labels(["x", "y"])
    assert RunView(store, rid).classes() == ["x", "y"]


def test_downloaded_predictions_are_formula_neutralised(store):
    rid = make_run(store, name="a", text=True)
    csv = store.path(rid, "predictions_target_test.csv")
    csv.write_text("index,source,true,pred,confidence\n0,=HYPERLINK(1),ant,ant,0.9\n", encoding="utf-8")
    assert b"'=HYPERLINK" in RunView(store, rid).predictions_download()


def test_the_view_does_not_import_torch():
    import subprocess

    out = subprocess.run([sys.executable, "-c", "import sys, tlcore.runs.view; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
