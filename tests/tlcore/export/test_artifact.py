"""The model artifact (model.json + model.safetensors): round trip, checks, legacy runs, distillation's teacher."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tlcore.errors import ModelError
from tlcore.models.io import load_model, load_run_model, read_meta, run_model_folder

from tests.tlcore.export.artifacts import artifact_run


@pytest.mark.parametrize("backbone,demo,bottleneck", [("tiny_cnn", "digits", 8), ("tiny_text", "reviews", 0)])
def test_round_trip_is_bit_identical_and_json_describes_the_model(store, backbone, demo, bottleneck):
    rid, model = artifact_run(store, backbone, demo, bottleneck=bottleneck)
    meta = read_meta(store.folder(rid))
    assert meta["backbone"]["name"] == backbone and meta["bottleneck"] == bottleneck
    assert meta["classes"] == (["negative", "positive"] if demo == "reviews" else [str(i) for i in range(10)])
    pre = meta["preprocessing"]
    if demo == "digits":
        assert pre["image_size"] == 16 and len(pre["mean"]) == 3 and pre["crop"] == "none"
        x = torch.randn(4, 3, 16, 16)
    else:
        assert pre["max_length"] == 32 and pre["tokenizer"] and pre["pad_token_id"] == 0
        x = {"input_ids": torch.randint(1000, 2000, (3, 9)), "attention_mask": torch.ones(3, 9, dtype=torch.long)}
    loaded = load_run_model(store, rid)
    with torch.no_grad():
        assert torch.equal(model(x)[1], loaded.model(x)[1])


def test_loading_checks_checksum_and_refuses_paths(store):
    rid, _ = artifact_run(store)
    folder = store.folder(rid)
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "weights": "../x.safetensors"}))
    with pytest.raises(ModelError, match="same folder"):
        load_model(folder)
    (folder / "model.json").write_text(json.dumps(meta))
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_model(folder)


def test_a_run_that_did_not_complete_is_named(store):
    rid, _ = artifact_run(store, status="failed")
    with pytest.raises(ModelError, match=f"{rid}.*failed, not completed"):
        run_model_folder(store, rid)


def test_legacy_run_without_model_json_gets_one(store):
    rid, model = artifact_run(store, bottleneck=4)
    store.path(rid, "model.json").unlink()
    loaded = load_run_model(store, rid)
    assert loaded.meta["upgraded_from_legacy"] and loaded.meta["bottleneck"] == 4
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x)[1], loaded.model(x)[1])


def test_pipeline_run_writes_the_artifact_and_distillation_reads_it(store):
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.strategies.distillation import load_teacher

    cfg = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
           "image_size": 16, "batch_size": 32, "max_samples_per_domain": 120, "bottleneck": 8,
           "strategy": "fine_tuning"}
    rec = run_experiment(RunConfig.from_dict(cfg), store)
    meta = read_meta(store.folder(rec.run_id))
    assert meta["run_id"] == rec.run_id and meta["bottleneck"] == 8 and meta["preprocessing"]["image_size"] == 16
    teacher = load_teacher(rec.run_id, 10, store)
    assert not any(p.requires_grad for p in teacher.parameters())
    probs = teacher(torch.zeros(2, 3, 16, 16))[1].softmax(1)
    assert np.allclose(probs.sum(1).detach().numpy(), 1.0, atol=1e-5)
