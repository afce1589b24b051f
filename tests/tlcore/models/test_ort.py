"""ONNX Runtime frozen feature extraction on a CPU (tlcore/models/ort.py, training/features.py:_extractor)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnxruntime")

from tlcore.models.ort import OrtBackbone, ort_copy, ort_mode, ort_wanted  # noqa: E402


class _Backbone(nn.Module):
    modality = "image"

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = 8

    def forward(self, x):
        return self.body(x)


class _Unexportable(_Backbone):
    def forward(self, x):  # data-dependent Python control flow on a numpy round trip: the exporter cannot trace it
        return torch.from_numpy(self.body(x).detach().numpy().copy())


def test_the_onnx_copy_encodes_like_pytorch_for_any_batch_size():
    bb, x = _Backbone().eval(), torch.randn(5, 3, 16, 16)
    ort = ort_copy(bb, x)
    assert isinstance(ort, OrtBackbone) and ort.out_features == 8
    for n in (1, 3, 7):  # dynamic batch axis
        xb = torch.randn(n, 3, 16, 16)
        got, want = ort(xb), bb(xb)
        assert got.shape == want.shape
        assert torch.allclose(got, want, atol=1e-4)


def test_export_failure_returns_none_and_leaves_the_module_alone():
    bb = _Unexportable().train()
    assert ort_copy(bb, torch.randn(2, 3, 8, 8)) is None
    assert bb.training
    assert ort_copy(_Backbone().eval(), torch.randn(0, 3, 8, 8)) is None  # no probe, no copy


def test_mode_and_when_it_is_wanted(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("TL_ORT", "0")
    assert ort_mode() == "0" and not ort_wanted(cpu)
    monkeypatch.setenv("TL_ORT", "on")
    assert ort_mode() == "1" and ort_wanted(cpu)
    assert not ort_wanted(torch.device("cuda"))  # a GPU keeps PyTorch (bf16 AMP)
    from tlcore.training.device import cpu_supports_bf16

    monkeypatch.setenv("TL_ORT", "auto")
    cpu_supports_bf16.cache_clear()
    monkeypatch.setenv("TL_CPU_BF16", "1")  # native bf16: PyTorch's bf16 autocast is as fast
    assert not ort_wanted(cpu)
    cpu_supports_bf16.cache_clear()
    monkeypatch.setenv("TL_CPU_BF16", "0")
    assert ort_wanted(cpu)
    cpu_supports_bf16.cache_clear()
    monkeypatch.setenv("TL_ORT", "nonsense")
    assert ort_mode() == "auto"


def test_extractor_uses_onnx_runtime_only_where_wanted(monkeypatch):
    from tlcore.models.classifier import BackboneOnly
    from tlcore.training import features

    class _DS:
        def __len__(self):
            return 4

        def batch(self, idx, device):
            torch.manual_seed(1)
            return torch.randn(len(idx), 3, 16, 16)

    bb = _Backbone().eval()
    monkeypatch.setenv("TL_ORT", "1")
    ext = features._extractor(bb, _DS(), torch.device("cpu"), fold=True)
    assert isinstance(ext, BackboneOnly) and isinstance(ext.backbone, OrtBackbone)
    monkeypatch.setenv("TL_ORT", "0")
    assert not isinstance(features._extractor(bb, _DS(), torch.device("cpu"), fold=True).backbone, OrtBackbone)
    monkeypatch.setenv("TL_ORT", "1")  # AdaBN (fold=False) changes statistics between domains: the live module
    assert features._extractor(bb, _DS(), torch.device("cpu"), fold=False).backbone is bb


def test_a_run_with_onnx_runtime_matches_the_pytorch_run(store, monkeypatch):
    """The same frozen-feature run, extracted by ONNX Runtime and by PyTorch: the same features and accuracy."""
    from tlcore.config import RunConfig
    from tlcore.embeddings.project import load_features_npz
    from tlcore.pipeline import run_experiment

    cfg = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
           "image_size": 16, "batch_size": 32, "max_samples_per_domain": 120, "strategy": "linear_probe"}
    recs = {}
    for mode in ("1", "0"):
        shutil.rmtree(store.root / "cache", ignore_errors=True)  # both are fp32: the second would hit the cache
        monkeypatch.setenv("TL_ORT", mode)
        recs[mode] = run_experiment(RunConfig.from_dict(cfg), store)
        assert recs[mode].status == "completed", recs[mode].error
    a = load_features_npz(store, recs["1"].run_id, "before")["target_test.features"]
    b = load_features_npz(store, recs["0"].run_id, "before")["target_test.features"]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
    assert a.shape == b.shape and cos.min() > 0.999
    acc = [store.metrics(r.run_id)["target_test"]["accuracy"] for r in recs.values()]
    assert abs(acc[0] - acc[1]) <= 0.02
