"""End-to-end engine tests on tiny models (seconds each)."""
import json
import subprocess
import sys

import pytest

from tlcore.config import RunConfig
from tlcore.errors import ConfigError, DataError
from tlcore.pipeline import prepare_data, run_experiment

from tests.conftest import ROOT

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 300,
        "strategy": "linear_probe"}  # explicit: a config without a strategy is "auto" (the recommended default)


def cfg(**kw):
    return RunConfig.from_dict({**TINY, **kw})


def test_run_records_everything(store):
    events = []
    rec = run_experiment(cfg(strategy="scratch"), store, callbacks=[events.append])
    assert rec.status == "completed" and rec.target_acc is not None
    m = store.metrics(rec.run_id)
    for key in ("source_val", "target_test"):
        assert {"accuracy", "f1_macro", "precision_macro", "recall_macro", "roc_auc", "confusion_matrix",
                "per_class"} <= set(m[key])
        assert len(m[key]["confusion_matrix"]) == 10
    for name in ("config.json", "split.json", "history.json", "metrics.json", "model.safetensors",
                 "predictions_target_test.csv", "features_after.npz", "events.jsonl"):
        assert store.path(rec.run_id, name).is_file(), name
    assert any(e["type"] == "epoch" for e in events)
    from safetensors.torch import load_file

    assert "head.weight" in load_file(store.path(rec.run_id, "model.safetensors"))


def test_no_target_test_sample_or_label_reaches_training(store, monkeypatch):
    import tlcore.training.loop as loop

    seen = {}
    real_fit = loop.fit

    def spy(model, strategy, data, **kw):
        seen["data"] = data
        return real_fit(model, strategy, data, **kw)

    monkeypatch.setattr(loop, "fit", spy)
    config = cfg(strategy="linear_probe", target={"demo": "digits", "labeled_fraction": 0.2})
    rec = run_experiment(config, store)
    split = json.loads(store.path(rec.run_id, "split.json").read_text())
    source, target, classes, _ = prepare_data(config)
    test_sources = {target.sources[i] for i in split["target_test"]}
    data = seen["data"]
    assert not (test_sources & set(data.target_train.sources))
    assert len(data.target_train) == len(split["target_train"])
    labeled = data.target_labeled_mask
    assert labeled.sum() == len(split["target_labeled"]) > 0
    assert (data.target_train.labels[~labeled] == -1).all()
    assert not set(split["target_test"]) & set(split["target_train"])


def test_label_mismatch_is_explained(store, tmp_path):
    import pandas as pd

    pd.DataFrame({"text": ["good book"] * 4 + ["bad book"] * 4, "label": ["pos"] * 4 + ["neg"] * 4}).to_csv(
        tmp_path / "a.csv", index=False)
    pd.DataFrame({"text": ["good pan"] * 4 + ["bad pan"] * 4, "label": ["positive"] * 4 + ["neg"] * 4}).to_csv(
        tmp_path / "b.csv", index=False)
    c = cfg(source={"path": str(tmp_path / "a.csv")}, target={"path": str(tmp_path / "b.csv")}, backbone="tiny_text")
    with pytest.raises(DataError, match="positive"):
        run_experiment(c, store)


def test_failure_is_recorded_and_earlier_runs_survive(store):
    ok = run_experiment(cfg(strategy="scratch", epochs=1), store)
    with pytest.raises(ConfigError, match="text model"):
        run_experiment(cfg(backbone="tiny_text"), store)
    runs = {r.run_id: r for r in store.list()}
    assert runs[ok.run_id].status == "completed"
    failed = [r for r in runs.values() if r.status == "failed"]
    assert len(failed) == 1 and "text model" in failed[0].error


def test_unknown_strategy_and_backbone_list_known(store):
    with pytest.raises(ConfigError, match="linear_probe"):
        run_experiment(cfg(strategy="magic"), store)
    with pytest.raises(ConfigError, match="efficientnet_lite0"):
        run_experiment(cfg(backbone="magicnet"), store)
    assert store.list() == []


def test_cli_last_line_is_json(tl_home, tmp_path):
    conf = tmp_path / "run.yaml"
    conf.write_text("source: {demo: reviews}\ntarget: {demo: reviews}\nbackbone: tiny_text\nstrategy: linear_probe\n"
                    "epochs: 2\nmax_length: 32\nmax_samples_per_domain: 200\n")
    out = subprocess.run([sys.executable, "-m", "tlcore", "train", str(conf), "--set", "seed=3"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"run_id", "status", "strategy", "backbone", "seconds", "metrics"} <= set(last)
    assert last["status"] == "completed" and last["metrics"]["target_test"]["n"] > 0
    assert "accuracy" in last["metrics"]["target_test"] and "f1_macro" in last["metrics"]["source_val"]
    assert "epoch" in out.stderr
    runs = subprocess.run([sys.executable, "-m", "tlcore", "runs", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert json.loads(runs.stdout)[0]["run_id"] == last["run_id"]
    bad = subprocess.run([sys.executable, "-m", "tlcore", "train", str(conf), "--set", "colour=red"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "colour" in bad.stderr and "Traceback" not in bad.stderr
