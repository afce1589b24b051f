"""Issue 26 item 3: every run is also an MLflow run when ``MLFLOW_TRACKING_URI`` is set, against a real
``mlflow server`` process started here on 127.0.0.1 (15-75 s to start on a busy 2-core machine)."""
from __future__ import annotations

import socket
import time

import pytest

from tests.tlcore.runs.servers import binary, free_port, start, stop

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 300, "strategy": "linear_probe"}


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory):
    pytest.importorskip("mlflow", reason="mlflow is a dev dependency (mlflow-skinny at run time)")
    tmp = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    proc = start([binary("mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                  "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--artifacts-destination",
                  str(tmp / "artifacts")], f"http://127.0.0.1:{port}/health", tmp / "mlflow.log", 150)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def tracked(mlflow_uri, monkeypatch):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"tl-test-{time.time_ns()}")
    return MlflowClient(tracking_uri=mlflow_uri)


def _by_tag(client, tag: str, value: str):
    from tlcore import settings

    exp = client.get_experiment_by_name(settings.get("MLFLOW_EXPERIMENT_NAME"))
    return client.search_runs([exp.experiment_id], filter_string=f"tags.`{tag}` = '{value}'")


def test_a_sweep_is_a_parent_mlflow_run_with_its_runs_nested(tracked, store):
    from tlcore.sweeps import plan_sweep, run_sweep

    client = tracked
    plan = plan_sweep([(TINY["source"], TINY["target"])], ["linear_probe"], [0], TINY, sweep_id="mlf1")
    rows = run_sweep(plan, store)
    assert [r["status"] for r in rows] == ["completed", "completed"]  # linear_probe + the classical baseline
    deep = rows[0]["run_id"]

    (run,) = _by_tag(client, "tl.run_id", deep)
    assert run.info.status == "FINISHED"
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert (p["strategy"], p["backbone"], p["seed"], p["source"]) == ("linear_probe", "tiny_cnn", "0", "demo:digits")
    assert p["config.epochs"] == "2" and p["config.image_size"] == "16"
    stored = store.metrics(deep)
    tt = stored["target_test"]
    assert m["target_accuracy"] == pytest.approx(tt["accuracy"])
    assert [m["target_accuracy_ci_low"], m["target_accuracy_ci_high"]] == pytest.approx(tt["accuracy_ci"])
    assert m["target_f1_macro"] == pytest.approx(tt["f1_macro"])
    assert m["source_accuracy"] == pytest.approx(stored["source_val"]["accuracy"])
    assert any(k.startswith("label_free/") for k in m)  # the validators' scores (metrics.json target_unsupervised)
    steps = client.get_metric_history(run.info.run_id, "train/val_acc")
    assert [s.step for s in steps] == [1, 2]
    assert t["tl.run_id"] == deep and t["tl.owner"] and t["tl.node"] == socket.gethostname()
    assert t["tl.resolved_from"] == "config" and t["tl.sweep_id"] == "mlf1"
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.json", "repro.json", "confusion_matrix.json"} <= files
    assert stored["tracking"]["ok"] is True and stored["tracking"]["mlflow_run_id"] == run.info.run_id

    (parent,) = _by_tag(client, "tl.sweep_parent", "mlf1")
    assert parent.info.status == "FINISHED"
    children = _by_tag(client, "mlflow.parentRunId", parent.info.run_id)
    assert {c.data.tags["tl.run_id"] for c in children} == {r["run_id"] for r in rows}


def test_an_unreachable_mlflow_server_leaves_the_run_completed_with_a_warning(store, monkeypatch):
    pytest.importorskip("mlflow", reason="mlflow is a dev dependency (mlflow-skinny at run time)")
    from tlcore.producers import produce_run

    port = free_port()  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:tl-secret@127.0.0.1:{port}")
    t0 = time.monotonic()
    rec = produce_run({**TINY, "strategy": "classical", "backbone": "classical", "params": {}}, store)
    assert rec.status == "completed"
    assert time.monotonic() - t0 < 60
    (warning,) = [e for e in store.events(rec.run_id) if e.get("type") == "warning" and e.get("source") == "mlflow"]
    assert "MLFLOW_TRACKING_URI=http://***@127.0.0.1" in warning["message"] and "tl-secret" not in warning["message"]
    tracking = store.metrics(rec.run_id)["tracking"]
    assert tracking["ok"] is False and tracking["error"] == warning["message"]
    import os

    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # set only around the calls


def test_no_tracking_uri_sends_nothing(store, monkeypatch):
    from tlcore.runs import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    rid = store.create({"strategy": "scratch"})
    assert tracking.track(store, rid, "completed", metrics={}) is None


def test_final_metrics_names_intervals_and_label_free_scores():
    from tlcore.runs.tracking import final_metrics

    out = final_metrics({"target_test": {"accuracy": 0.8, "accuracy_ci": [0.7, 0.9], "f1_macro": 0.75},
                         "source_val": {"accuracy": 0.95, "f1_macro": None},
                         "target_unsupervised": {"scores": {"entropy": -0.3, "dev": None}}, "best_epoch": 2})
    assert out == {"target_accuracy": 0.8, "target_accuracy_ci_low": 0.7, "target_accuracy_ci_high": 0.9,
                   "target_f1_macro": 0.75, "source_accuracy": 0.95, "label_free/entropy": -0.3, "best_epoch": 2}


def test_a_failed_run_is_a_failed_mlflow_run_with_its_error(tracked, store):
    from tlcore.runs.recorder import Recorder

    rid = store.create({"strategy": "scratch", "backbone": "tiny_cnn", "source": {"demo": "digits"},
                        "target": {"demo": "digits"}, "seed": 3})
    Recorder(store, rid).finish("failed", seconds=1.0, error="DataError: the target has no images")
    (run,) = _by_tag(tracked, "tl.run_id", rid)
    assert run.info.status == "FAILED" and run.data.tags["tl.error"].startswith("DataError")
    assert run.data.params["seed"] == "3" and store.get(rid).status == "failed"
