"""Callbacks get the TrainState and Control; early stopping and best-weights restore are callbacks."""
from __future__ import annotations

import pytest
import torch

from tlcore.strategies import build_strategy
from tlcore.training import loop
from tlcore.training.callbacks import Callback, EarlyStopping
from tlcore.training.loop import Control, fit
from tests.tlcore.helpers import tiny_image_data, tiny_model

CPU = torch.device("cpu")


def scripted_val_acc(monkeypatch, values):
    """Source-validation accuracy per epoch, in order (the loop's only input to stopping and checkpoints)."""
    it = iter(values)
    monkeypatch.setattr(loop, "evaluate_accuracy", lambda *a, **k: next(it))


class Snapshots(Callback):
    def __init__(self, model):
        self.model, self.weights, self.states, self.ends = model, [], [], 0

    def on_event(self, event, state, control):
        self.states.append((event["type"], state.epoch, state.step, isinstance(control, Control)))
        if event["type"] == "epoch":
            self.weights.append({k: v.detach().clone() for k, v in self.model.state_dict().items()})

    def on_fit_end(self, state, control):
        self.ends += 1


def _fit(model, epochs, **kw):
    return fit(model, build_strategy("scratch"), tiny_image_data(seed=1), epochs=epochs, batch_size=16, lr=3e-3,
               weight_decay=0.0, device=CPU, seed=0, **kw)


def _equal(model, weights):
    return all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("checkpoint,kept", [("best_val", 1), ("last", 2)])
def test_checkpoint_best_val_restores_the_best_epoch_and_last_keeps_the_last(monkeypatch, checkpoint, kept):
    scripted_val_acc(monkeypatch, [0.5, 0.9, 0.7])
    model = tiny_model(seed=0)
    snap = Snapshots(model)
    res = _fit(model, 3, patience=0, checkpoint=checkpoint, callbacks=[snap])
    assert res.best_epoch == 2 and res.best_val_acc == 0.9 and len(res.history) == 3
    assert not torch.equal(snap.weights[1]["head.weight"], snap.weights[2]["head.weight"])
    assert _equal(model, snap.weights[kept])


def test_early_stopping_after_patience_epochs_without_improvement(monkeypatch):
    scripted_val_acc(monkeypatch, [0.5, 0.6, 0.6, 0.55, 0.9, 0.9])
    res = _fit(tiny_model(seed=0), 6, patience=2)
    assert res.stopped_early and len(res.history) == 4 and res.best_epoch == 2


def test_a_callback_can_stop_training_through_control(monkeypatch):
    class StopAfter(Callback):
        def on_event(self, event, state, control):
            if event["type"] == "epoch" and event["epoch"] == 2:
                control.should_stop = True

    model = tiny_model(seed=0)
    snap = Snapshots(model)
    res = _fit(model, 10, patience=0, callbacks=[StopAfter(), snap])
    assert len(res.history) == 2 and not res.stopped_early and snap.ends == 1
    # every event came with the loop's TrainState and the Control
    assert snap.states and all(isinstance_control for *_, isinstance_control in snap.states)
    assert [s[1] for s in snap.states if s[0] == "epoch"] == [0, 1]


def test_plain_function_and_duck_typed_callbacks_work_together():
    events, ends = [], []

    class Duck:  # not a Callback subclass, only on_fit_end
        def on_fit_end(self, state, control):
            ends.append(state.step)

    res = _fit(tiny_model(seed=0), 2, callbacks=[events.append, Duck()])
    assert {"step", "epoch"} <= {e["type"] for e in events} and ends == [res.steps]


def test_early_stopping_callback_alone():
    stopper, control = EarlyStopping(patience=1), Control()
    stopper.on_event({"type": "epoch", "val_acc": 0.5}, None, control)
    assert not control.should_stop
    stopper.on_event({"type": "step"}, None, control)
    stopper.on_event({"type": "epoch", "val_acc": 0.5}, None, control)
    assert control.should_stop and stopper.stopped
