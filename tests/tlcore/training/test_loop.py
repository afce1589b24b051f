import numpy as np
import pytest
import torch

from tlcore.errors import Cancelled
from tlcore.strategies import build_strategy
from tlcore.training.batches import batches
from tlcore.training.loop import Control, TrainingDiverged, fit, predict
from tests.tlcore.helpers import tiny_image_data, tiny_model

CPU = torch.device("cpu")


def run(strategy="scratch", seed=0, epochs=3, lr=3e-3, **kw):
    data = tiny_image_data(seed=1)
    model = tiny_model(seed=seed)
    res = fit(model, build_strategy(strategy), data, epochs=epochs, batch_size=16, lr=lr, weight_decay=0.0,
              device=CPU, seed=seed, **kw)
    return model, data, res


def test_fit_learns_and_reports_progress():
    events = []
    model, data, res = run(epochs=6, callbacks=[events.append])
    assert res.best_val_acc > 0.6
    kinds = {e["type"] for e in events}
    assert {"step", "epoch"} <= kinds
    last = [e for e in events if e["type"] == "epoch"][-1]
    assert 0 < last["progress"] <= 1 and "eta_s" in last and "loss" in last


def test_fit_is_deterministic_for_a_seed():
    m1, d, _ = run(seed=3)
    m2, _, _ = run(seed=3)
    assert np.allclose(predict(m1, d.source_val, 32, CPU), predict(m2, d.source_val, 32, CPU), atol=1e-5)


def test_cancel_raises_within_a_step():
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled):
        run(epochs=50, control=Control(cancel_check=cancel))
    assert calls["n"] == 3


def test_item_65_nan_loss_is_reported():
    from tlcore.strategies.scratch import Scratch

    class Exploding(Scratch):
        def training_step(self, model, batch, state):
            out = super().training_step(model, batch, state)
            out.loss = out.loss * (float("nan") if state.step >= 2 else 1.0)
            return out

    data, model = tiny_image_data(), tiny_model()
    with pytest.raises(TrainingDiverged, match="step 2.*lower learning rate"):
        fit(model, Exploding(), data, epochs=3, batch_size=16, lr=1e-3, weight_decay=0.0, device=CPU)


def test_early_stopping_restores_best():
    _, _, res = run(epochs=40, patience=2, lr=3e-3)
    assert res.stopped_early
    assert res.best_epoch <= len(res.history)


def test_text_batches_sorted_and_shuffled():
    lengths = np.array([5, 1, 9, 3, 7, 2])
    ordered = batches(6, 2, None, lengths)
    assert [list(lengths[b]) for b in ordered] == [[1, 2], [3, 5], [7, 9]]
    shuffled = batches(6, 2, np.random.default_rng(0), lengths)
    assert sorted(np.concatenate(shuffled).tolist()) == list(range(6))


def test_head_threads_uses_one_thread_inside_and_restores_after(monkeypatch):
    import torch

    from tlcore.training.device import head_threads

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with head_threads(True):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with head_threads(False):
            assert torch.get_num_threads() == 2
        monkeypatch.setenv("TL_HEAD_THREADS", "0")
        with head_threads(True):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
