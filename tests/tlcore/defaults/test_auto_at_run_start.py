"""Issue 24 item 4: one source of defaults. ``strategy`` defaults to ``auto``; parsing a config is pure (never
probes the device); the run resolves it when it starts, with the one device probe (``TL_GPUS`` its override)."""
from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace

import pytest

from tlcore import device_probe
from tlcore.config import RunConfig
from tlcore.recommend import resolve

DIGITS = {"source": {"demo": "digits"}, "target": {"demo": "digits"}}
REVIEWS = {"source": {"demo": "reviews"}, "target": {"demo": "reviews"}}


@pytest.fixture
def fake_visible_gpu(monkeypatch):
    """``nvidia-smi -L`` lists one GPU (no real driver needed); the probe's cache is cleared around the test."""
    calls = []

    def run(cmd, *a, **k):
        calls.append(cmd)
        return SimpleNamespace(returncode=0, stdout="GPU 0: NVIDIA H100 (UUID: GPU-1)\n", stderr="")

    monkeypatch.setattr(device_probe.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(device_probe.subprocess, "run", run)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("TL_GPUS", raising=False)
    device_probe._smi_gpu_count.cache_clear()
    yield calls
    device_probe._smi_gpu_count.cache_clear()


def test_a_config_without_strategy_is_auto_for_the_python_api_too():
    cfg = RunConfig.from_dict({**DIGITS, "epochs": 2})
    assert cfg.strategy == "auto" and cfg.is_auto and cfg.resolved_from == ""
    assert RunConfig(source=cfg.source, target=cfg.target).strategy == "auto"
    # the unresolved config round-trips as what the user set, so resolving later keeps exactly those choices
    assert cfg.to_dict() == {"source": {"demo": "digits", "labeled_fraction": 0.0},
                             "target": {"demo": "digits", "labeled_fraction": 0.0}, "strategy": "auto", "epochs": 2}
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    resolved = resolve(cfg, gpu=False)
    assert (resolved.strategy, resolved.epochs, resolved.resolved_from) == ("mcc", 2, "auto")


def test_parsing_a_config_never_probes_the_device(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("parsing a config started a process or looked for nvidia-smi")

    for mod in (subprocess, device_probe.subprocess):
        monkeypatch.setattr(mod, "run", boom)
        monkeypatch.setattr(mod, "Popen", boom)
    monkeypatch.setattr(shutil, "which", boom)
    device_probe._smi_gpu_count.cache_clear()
    for raw in (DIGITS, REVIEWS, {**REVIEWS, "strategy": "auto", "device": "auto"}, {**DIGITS, "device": "cuda"},
                {**REVIEWS, "target": {"demo": "reviews", "labeled_fraction": 0.2}}):
        cfg = RunConfig.from_dict(raw)
        assert cfg.is_auto
        cfg.replace(epochs=3).to_json()
    assert resolve(RunConfig.from_dict(REVIEWS), gpu=True).params == {"backbone_lr_factor": 0.1}  # gpu given: no probe


def test_tl_gpus_none_makes_text_auto_pick_the_cpu_row_despite_a_visible_gpu(fake_visible_gpu, monkeypatch):
    text = RunConfig.from_dict(REVIEWS)
    assert device_probe.has_gpu() and device_probe.gpu_indices() == ["0"]
    assert resolve(text).params == {"backbone_lr_factor": 0.1}  # the visible GPU: the GPU row
    monkeypatch.setenv("TL_GPUS", "none")
    assert not device_probe.has_gpu() and device_probe.gpu_indices() == [] and device_probe.gpus_disabled()
    cpu_row = resolve(text)
    assert cpu_row.params == {"train_last_groups": 1, "backbone_lr_factor": 1.0, "warmup": 0.5}
    assert cpu_row.bottleneck == 256
    from tlcore.recommend import has_gpu

    assert not has_gpu()  # what the Train page shows agrees with what the job gets
    import torch

    from tlcore.training.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cpu"  # and the run itself stays on the CPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a CPU job on a GPU server
    monkeypatch.delenv("TL_GPUS")
    assert not device_probe.has_gpu() and not device_probe.run_uses_gpu("auto")
    assert device_probe.run_uses_gpu("cuda") and not device_probe.run_uses_gpu("cpu")


def test_the_local_executor_hides_a_visible_gpu_from_jobs_under_tl_gpus_none(fake_visible_gpu, monkeypatch, tmp_path):
    from tlcore.jobs.executors import LocalExecutor

    assert LocalExecutor(tmp_path).gpus == ["0"]
    monkeypatch.setenv("TL_GPUS", "none")
    assert LocalExecutor(tmp_path).gpus == []


def test_a_run_without_strategy_resolves_at_start_and_records_it(store, monkeypatch):
    monkeypatch.setenv("TL_GPUS", "none")
    cfg = RunConfig.from_dict({**DIGITS, "backbone": "tiny_cnn", "epochs": 1, "max_samples_per_domain": 120,
                               "feature_views": 0})
    assert cfg.is_auto
    from tlcore.pipeline import run_experiment

    rec = run_experiment(cfg, store)
    assert rec.status == "completed" and rec.strategy == "mcc"
    saved = store.read_json(rec.run_id, "config.json")
    assert saved["strategy"] == "mcc" and saved["resolved_from"] == "auto"
    assert saved["params"] == {"freeze_backbone": True} and saved["epochs"] == 1 and saved["image_size"] == 32
    events = [e for e in store.events(rec.run_id) if e.get("type") == "resolved"]
    assert len(events) == 1 and events[0]["gpu"] is False and events[0]["strategy"] == "mcc"
    assert events[0]["requested"]["strategy"] == "auto" and events[0]["requested"]["backbone"] == "tiny_cnn"
