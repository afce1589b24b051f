"""GPU out-of-memory: the batch is halved and the run starts over, down to 1; then a clear failure."""
from __future__ import annotations

import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import TLError
from tlcore.pipeline import is_out_of_memory, run_experiment
from tlcore.strategies.fine_tuning import FineTuning

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "batch_size": 64, "max_samples_per_domain": 200, "strategy": "fine_tuning"}


def _oom_above(limit, monkeypatch):
    real = FineTuning.training_step

    def step(self, model, batch, state):
        if len(batch["y_s"]) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, model, batch, state)

    monkeypatch.setattr(FineTuning, "training_step", step)


def test_item_56_batch_is_halved_until_it_fits(store, monkeypatch):
    _oom_above(16, monkeypatch)
    events = []
    rec = run_experiment(RunConfig.from_dict(TINY), store, callbacks=[events.append])
    assert rec.status == "completed"
    assert store.metrics(rec.run_id)["batch_size_used"] == 16
    notes = [e["phase"] for e in events if "due to GPU memory" in str(e.get("phase"))]
    assert notes == ["Batch size reduced 64 -> 32 due to GPU memory", "Batch size reduced 32 -> 16 due to GPU memory"]


def test_item_56_no_batch_fits_fails_with_a_clear_message(store, monkeypatch):
    _oom_above(0, monkeypatch)
    with pytest.raises(TLError, match="No batch size fits in GPU memory"):
        run_experiment(RunConfig.from_dict(TINY), store)
    assert store.list()[0].status == "failed"


def test_other_runtime_errors_are_not_mistaken_for_oom():
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_item_57_out_of_memory_mid_run_completes_with_a_smaller_batch_and_no_duplicate_epochs(store, monkeypatch):
    real = FineTuning.training_step
    seen = {"first_epoch": None, "raised": False}

    def step(self, model, batch, state):
        if seen["first_epoch"] is None:
            seen["first_epoch"] = state.epoch
        if state.epoch != seen["first_epoch"] and not seen["raised"]:  # once, in the second epoch
            seen["raised"] = True
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, model, batch, state)

    monkeypatch.setattr(FineTuning, "training_step", step)
    rec = run_experiment(RunConfig.from_dict({**TINY, "epochs": 2}), store)
    assert rec.status == "completed"
    assert store.metrics(rec.run_id)["batch_size_used"] == 32
    history = [h["epoch"] for h in store.read_json(rec.run_id, "history.json")]  # what the charts show
    assert history == [1, 2]  # the restarted attempt's epochs only: no duplicate steps
    assert any("Batch size reduced 64 -> 32" in str(e.get("phase")) for e in store.events(rec.run_id))
