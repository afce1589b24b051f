"""Callbacks of the training loop (Lightning / Hugging Face style).

A callback is either a plain function ``fn(event)`` (it receives the ``step`` and ``epoch`` progress events,
as before) or an object with any of

* ``on_event(event, state, control)``: every progress event, with the loop's :class:`TrainState` (read-only)
  and :class:`Control` (set ``control.should_stop = True`` to end training after the current epoch);
* ``on_fit_end(state, control)``: once, after the last epoch (also after an early stop).

Early stopping and best-weights restore are callbacks (:class:`EarlyStopping`, :class:`BestWeights`); the loop
adds them itself from its ``patience`` and ``checkpoint`` arguments.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

IMPROVEMENT = 1e-9  # a validation accuracy must beat the best by more than this to count as better


@dataclass
class Control:
    """Callbacks may set ``should_stop``; ``cancel_check`` is polled every step (e.g. a job's cancel flag)."""

    should_stop: bool = False
    cancel_check: Callable[[], bool] | None = None

    def cancelled(self) -> bool:
        return bool(self.cancel_check and self.cancel_check())


class Callback:
    """Base class; override what you need."""

    def on_event(self, event: dict, state, control: Control) -> None:
        pass

    def on_fit_end(self, state, control: Control) -> None:
        pass


class FunctionCallback(Callback):
    """A plain ``fn(event)`` callback."""

    def __init__(self, fn: Callable[[dict], None]):
        self.fn = fn

    def on_event(self, event: dict, state, control: Control) -> None:
        self.fn(event)


def as_callback(cb) -> Callback:
    if isinstance(cb, Callback):
        return cb
    if hasattr(cb, "on_event") or hasattr(cb, "on_fit_end"):  # duck-typed objects: fill the missing hooks
        wrapped = Callback()
        for hook in ("on_event", "on_fit_end"):
            if hasattr(cb, hook):
                setattr(wrapped, hook, getattr(cb, hook))
        return wrapped
    if callable(cb):
        return FunctionCallback(cb)
    raise TypeError(f"callback {cb!r} is neither a function nor an object with on_event / on_fit_end")


class CallbackList:
    """The callbacks of one ``fit``, in order, bound to its state and control."""

    def __init__(self, callbacks, state, control: Control):
        self.callbacks = [as_callback(cb) for cb in callbacks]
        self.state, self.control = state, control

    def event(self, event: dict) -> None:
        for cb in self.callbacks:
            cb.on_event(event, self.state, self.control)

    def fit_end(self) -> None:
        for cb in self.callbacks:
            cb.on_fit_end(self.state, self.control)


class BestWeights(Callback):
    """Tracks the best source-validation epoch; with ``restore`` (checkpoint ``best_val``) keeps a CPU copy of
    its weights and loads them back at the end of training (``last`` keeps the last epoch's weights)."""

    def __init__(self, model, restore: bool = True):
        self.model, self.restore = model, restore
        self.best_acc, self.best_epoch, self.weights = -1.0, 0, None

    def on_event(self, event: dict, state, control: Control) -> None:
        if event.get("type") != "epoch" or not event["val_acc"] > self.best_acc + IMPROVEMENT:
            return
        self.best_acc, self.best_epoch = event["val_acc"], event["epoch"]
        if self.restore:
            self.weights = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})

    def on_fit_end(self, state, control: Control) -> None:
        if self.restore and self.weights is not None:
            self.model.load_state_dict(self.weights)


class EarlyStopping(Callback):
    """Stops after ``patience`` epochs without a better source-validation accuracy (0 = never)."""

    def __init__(self, patience: int):
        self.patience, self.best, self.bad_epochs, self.stopped = patience, -1.0, 0, False

    def on_event(self, event: dict, state, control: Control) -> None:
        if event.get("type") != "epoch":
            return
        if event["val_acc"] > self.best + IMPROVEMENT:
            self.best, self.bad_epochs = event["val_acc"], 0
            return
        self.bad_epochs += 1
        if self.patience and self.bad_epochs >= self.patience:
            self.stopped = control.should_stop = True


class SetupReport(Callback):
    """Emits one ``setup`` event on the first progress event, when the strategy has configured the model (frozen
    layers, extra modules): ``trainable_params`` (kept on the callback for the metrics), ``total_params`` and
    ``info`` (device, precision)."""

    def __init__(self, emit: Callable[[dict], None], trainable: Callable[[], int], total: Callable[[], int],
                 info: dict):
        self.emit, self.trainable, self.total, self.info = emit, trainable, total, info
        self.trainable_params: int | None = None

    def on_event(self, event: dict, state, control: Control) -> None:
        if self.trainable_params is None:
            self.trainable_params = self.trainable()
            self.emit({"type": "setup", "trainable_params": self.trainable_params, "total_params": self.total(),
                       **self.info})
