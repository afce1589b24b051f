"""``python -m tlcore compress``: a new run linked to its parent, with the parent-vs-compressed table."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tlcore.errors import ConfigError, TLError
from tlcore.export.compress import compress_run
from tlcore.models.io import load_run_model

from tests.tlcore.export.artifacts import artifact_run


def test_prune_and_int8_make_a_linked_run_with_the_table(store):
    parent, _ = artifact_run(store, "tiny_text", "reviews", bottleneck=8)
    out = compress_run(store, parent, prune=0.5, quantize="int8", latency_samples=8)
    rid = out["run_id"]
    rec = store.get(rid)
    assert rec.status == "completed" and rec.config["parent_run_id"] == parent
    assert "pruned 50%" in rec.name and "int8" in rec.name
    m = store.metrics(rid)
    assert m["parent_run_id"] == parent and m["target_test"]["accuracy_ci"]
    parent_row, comp_row = m["compression"]["table"]
    assert parent_row["model"] == "parent" and comp_row["model"] == "compressed"
    for row in (parent_row, comp_row):
        assert 0 <= row["target_accuracy"] <= 1 and len(row["target_accuracy_ci"]) == 2
        assert row["size_mb"] > 0 and row["latency_ms_batch1"] > 0 and row["latency_ms_batch32"] > 0
    assert comp_row["sparsity"] == pytest.approx(0.5, abs=0.01) and parent_row["sparsity"] < 0.01
    assert comp_row["size_zipped_mb"] < parent_row["size_zipped_mb"]  # half the weights are zeros
    loaded = load_run_model(store, rid)
    assert loaded.meta["quantization"] == "dynamic_int8" and loaded.meta["parent_run_id"] == parent
    assert "DynamicQuantizedLinear" in type(loaded.model.head).__name__ or "Quantized" in repr(loaded.model.head)
    assert store.path(rid, "predictions_target_test.csv").is_file()
    with pytest.raises(TLError, match="already quantized"):
        compress_run(store, rid, prune=0.2)


def test_pruning_zeroes_the_smallest_weights_and_keeps_the_rest(store):
    parent, model = artifact_run(store, "tiny_cnn", "digits")
    rid = compress_run(store, parent, prune=0.3, latency_samples=4)["run_id"]
    pruned = load_run_model(store, rid).model
    w0, w1 = model.head.weight.detach(), pruned.head.weight.detach()
    kept = w1 != 0
    assert torch.equal(w1[kept], w0[kept]) and (~kept).any()
    kinds = (torch.nn.Linear, torch.nn.Conv2d)
    all0 = torch.cat([m.weight.detach().flatten() for m in model.modules() if isinstance(m, kinds)])
    all1 = torch.cat([m.weight.detach().flatten() for m in pruned.modules() if isinstance(m, kinds)])
    zero = all1 == 0
    assert abs(zero.float().mean().item() - 0.3) < 0.01
    assert all0[zero].abs().max() <= all0[~zero].abs().min()
    assert np.isclose(store.metrics(rid)["compression"]["table"][1]["sparsity"], zero.float().mean().item(), atol=1e-3)


def test_bad_requests(store):
    parent, _ = artifact_run(store)
    with pytest.raises(ConfigError, match="nothing to do"):
        compress_run(store, parent)
    with pytest.raises(ConfigError, match="--prune 1.5"):
        compress_run(store, parent, prune=1.5)
    failed, _ = artifact_run(store, status="failed")
    n = len(store.list())
    with pytest.raises(TLError, match=f"{failed}.*not completed"):
        compress_run(store, failed, prune=0.5)
    assert len(store.list()) == n
