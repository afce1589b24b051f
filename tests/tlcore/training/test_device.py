"""RELIABILITY.md item 59 (no GPU, a broken driver or a CPU-only torch build): the device is chosen explicitly;
``auto`` runs on the CPU, a run that asks for CUDA fails at once with the reason (never silently on the CPU)."""
from __future__ import annotations

import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.pipeline import run_experiment
from tlcore.training.device import resolve_device

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 120, "strategy": "fine_tuning"}


def test_item_59_without_cuda_auto_runs_on_the_cpu_and_a_cuda_run_fails_with_the_reason(store, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match=f"device: '{name}' requested but CUDA is not available"):
            resolve_device(name)
    ok = run_experiment(RunConfig.from_dict({**TINY, "device": "auto"}), store)
    assert ok.status == "completed" and store.read_json(ok.run_id, "repro.json")["device"]["type"] == "cpu"
    with pytest.raises(ConfigError, match="CUDA is not available on this machine"):
        run_experiment(RunConfig.from_dict({**TINY, "device": "cuda"}), store)
    failed = [r for r in store.list() if r.run_id != ok.run_id]
    assert [r.status for r in failed] == ["failed"] and "CUDA is not available" in (failed[0].error or "")
