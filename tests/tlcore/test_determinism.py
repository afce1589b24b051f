"""Same config and seed -> the same run, bit for bit: model weights, predictions, features and metrics.

Pins the refactors of the composition root (issue 11): recorder, data preparation, the loop's callbacks.
"""
from __future__ import annotations

import pytest

from tlcore.config import RunConfig
from tlcore.pipeline import run_experiment
from tlcore.runs.store import RunStore

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 200, "seed": 3}
TIMING = {"seconds", "seconds_train", "cpu_seconds", "elapsed_s", "eta_s"}
FILES = ("model.safetensors", "predictions_source_val.csv", "predictions_target_test.csv", "features_after.npz",
         "features_before.npz", "split.json", "labels.json", "domains.json", "history.json")


def _strip(o):
    if isinstance(o, dict):
        return {k: _strip(v) for k, v in o.items() if k not in TIMING}
    if isinstance(o, list):
        return [_strip(v) for v in o]
    return o


def _run(root, config):
    store = RunStore(root)
    rec = run_experiment(RunConfig.from_dict(config), store)
    assert rec.status == "completed"
    return store, rec.run_id


@pytest.mark.parametrize("extra", [
    {"strategy": "fine_tuning"},  # backbone trained, best_val checkpoint, before = initial backbone
    {"strategy": "dann", "params": {"freeze_backbone": True}, "bottleneck": 16},  # cached features + bottleneck
], ids=["fine_tuning", "dann_frozen_bottleneck"])
def test_same_seed_same_run_bit_for_bit(tmp_path, extra):
    import numpy as np

    config = {**TINY, **extra}
    (sa, ra), (sb, rb) = _run(tmp_path / "a", config), _run(tmp_path / "b", config)
    for name in FILES:
        a, b = sa.path(ra, name), sb.path(rb, name)
        assert a.is_file() and b.is_file(), name
        if name.endswith(".npz"):  # zip members carry timestamps: compare the arrays
            x, y = np.load(a), np.load(b)
            assert sorted(x.files) == sorted(y.files)
            for k in x.files:
                assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), (name, k)
        elif name == "history.json":
            assert _strip(sa.read_json(ra, name)) == _strip(sb.read_json(rb, name))
        else:
            assert a.read_bytes() == b.read_bytes(), name
    assert _strip(sa.metrics(ra)) == _strip(sb.metrics(rb))


def test_a_different_seed_changes_the_run(tmp_path):
    (sa, ra), (sb, rb) = (_run(tmp_path / "a", {**TINY, "strategy": "fine_tuning"}),
                          _run(tmp_path / "b", {**TINY, "strategy": "fine_tuning", "seed": 4}))
    assert sa.path(ra, "model.safetensors").read_bytes() != sb.path(rb, "model.safetensors").read_bytes()
