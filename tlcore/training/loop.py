"""The one training loop. Strategies plug in through ``configure`` / ``training_step`` / ``on_epoch_start``.

Seeded, early stopping on source-validation accuracy (best weights restored), progress events with ETA
to callbacks, cooperative cancellation through :class:`Control`, NaN/Inf loss detection.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from tlcore.errors import Cancelled, TLError
from tlcore.strategies.base import SetupContext, Strategy, TrainState
from tlcore.training.batches import EncodedSet, batches
from tlcore.training.device import autocast, inference_batch_size


@dataclass
class Control:
    """Callbacks may set ``should_stop``; ``cancel_check`` is polled every step (e.g. a job's cancel flag)."""

    should_stop: bool = False
    cancel_check: Callable[[], bool] | None = None

    def cancelled(self) -> bool:
        return bool(self.cancel_check and self.cancel_check())


@dataclass
class TrainData:
    """Encoded inputs for one run. ``target_train`` labels are ``-1`` unless in ``target_labeled``."""

    source_train: EncodedSet
    source_val: EncodedSet
    target_train: EncodedSet | None
    num_classes: int
    target_labeled_mask: np.ndarray | None = None


@dataclass
class FitResult:
    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = 0.0
    stopped_early: bool = False
    steps: int = 0


class TrainingDiverged(TLError):
    """The loss became NaN or infinite."""


def fit(model: nn.Module, strategy: Strategy, data: TrainData, *, epochs: int, batch_size: int, lr: float,
        weight_decay: float, device: torch.device, seed: int = 0, patience: int = 5, checkpoint: str = "best_val",
        callbacks: list[Callable[[dict], None]] | None = None, control: Control | None = None) -> FitResult:
    """Train ``model`` with ``strategy``; returns the history. Raises :class:`Cancelled` when cancelled.

    ``checkpoint``: ``best_val`` restores the weights of the best source-validation epoch; ``last`` keeps the
    last epoch's (adaptation: source validation picks the wrong checkpoint under shift, it peaks before the
    transfer loss has acted).
    """
    callbacks = callbacks or []
    control = control or Control()
    rng = np.random.default_rng(seed)
    ctx = SetupContext(lr=lr, weight_decay=weight_decay, num_classes=data.num_classes,
                       feature_dim=getattr(model, "out_features", 0), device=device)
    groups = strategy.configure(model, ctx)
    for m in strategy.extra_modules():
        m.to(device)
    strategy.on_fit_start(model, data)
    groups = [g for g in groups if g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    for g in optimizer.param_groups:
        g.setdefault("initial_lr", g["lr"])
    src_lengths = data.source_train.lengths()
    steps_per_epoch = len(batches(len(data.source_train), batch_size, np.random.default_rng(0), src_lengths,
                                  drop_last=True))
    state = TrainState(epoch=0, epochs=epochs, step=0, total_steps=max(1, epochs * steps_per_epoch),
                       num_classes=data.num_classes)
    result = FitResult()
    best_state, best_acc, bad_epochs = None, -1.0, 0
    t0 = time.time()
    # target batches draw from their own stream: adding a target changes no source batch (trade-off 0 = source-only)
    tgt_iter = (_TargetCycle(data, batch_size, np.random.default_rng([seed, 1]))
                if strategy.needs_target and data.target_train else None)
    for epoch in range(epochs):
        state.epoch = epoch
        strategy.on_epoch_start(model, optimizer, state)
        model.train()
        sums: dict[str, float] = {}
        n_steps = 0
        for idx in batches(len(data.source_train), batch_size, rng, src_lengths, drop_last=True):
            if control.cancelled():
                raise Cancelled("run cancelled by the user")
            batch = {"x_s": data.source_train.batch(idx, device, train=True),
                     "y_s": torch.as_tensor(data.source_train.labels[idx], device=device)}
            if tgt_iter is not None:
                batch.update(tgt_iter.next(device))
            with autocast(device, training=True):
                out = strategy.training_step(model, batch, state)
            loss = out.loss.float()
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"loss became {float(loss)} at step {state.step} (epoch {epoch + 1}); "
                                       "try a lower learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state.step += 1
            n_steps += 1
            logs = {"loss": float(loss.detach()), **out.logs}
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if state.step % max(1, steps_per_epoch // 10) == 0 or n_steps == 1:
                _emit(callbacks, _progress_event("step", state, t0, logs))
        val_acc = evaluate_accuracy(model, data.source_val, inference_batch_size(device, batch_size), device)
        record = {"epoch": epoch + 1, "step": state.step, **{k: v / max(1, n_steps) for k, v in sums.items()},
                  "val_acc": val_acc, "seconds": round(time.time() - t0, 3)}
        result.history.append(record)
        _emit(callbacks, {**_progress_event("epoch", state, t0, record), **record})
        if val_acc > best_acc + 1e-9:
            best_acc, bad_epochs, result.best_epoch = val_acc, 0, epoch + 1
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            bad_epochs += 1
            if patience and bad_epochs >= patience:
                result.stopped_early = True
                break
        if control.should_stop:
            break
    if best_state is not None and checkpoint == "best_val":
        model.load_state_dict(best_state)
    result.best_val_acc = max(best_acc, 0.0)
    result.steps = state.step
    return result


@torch.no_grad()
def predict(model: nn.Module, data: EncodedSet, batch_size: int, device: torch.device,
            return_features: bool = False, on_batch=None):
    """Softmax probabilities ``(N, C)`` (and features ``(N, D)``) in the set's original order.

    ``on_batch(done, total)``, when given, is called after each batch with the samples done so far.
    """
    model.eval()
    n = len(data)
    probs, feats, order = [], [], []
    done = 0
    for idx in batches(n, batch_size, None, data.lengths()):
        with autocast(device, training=False):
            f, logits = model(data.batch(idx, device))
        probs.append(torch.softmax(logits.float(), 1).cpu())
        if return_features:
            feats.append(f.float().cpu())
        order.append(idx)
        done += len(idx)
        if on_batch is not None:
            on_batch(done, n)
    if not order:
        empty = np.zeros((0, 0), dtype=np.float32)
        return (empty, empty) if return_features else empty
    inv = np.argsort(np.concatenate(order))
    p = torch.cat(probs).numpy()[inv]
    if return_features:
        return p, torch.cat(feats).numpy()[inv]
    return p


def evaluate_accuracy(model, data: EncodedSet, batch_size: int, device) -> float:
    if len(data) == 0:
        return float("nan")
    p = predict(model, data, batch_size, device)
    return float((p.argmax(1) == data.labels).mean())


class _TargetCycle:
    """Endless shuffled target-train batches (target labels masked to ``-1`` unless labeled)."""

    def __init__(self, data: TrainData, batch_size: int, rng):
        self.set = data.target_train
        self.mask = data.target_labeled_mask if data.target_labeled_mask is not None else np.zeros(len(self.set), bool)
        self.batch_size, self.rng, self.queue = batch_size, rng, []

    def next(self, device):
        if not self.queue:
            self.queue = batches(len(self.set), self.batch_size, self.rng, self.set.lengths(), drop_last=True)
        idx = self.queue.pop()
        labels = np.where(self.mask[idx], self.set.labels[idx], -1)
        return {"x_t": self.set.batch(idx, device, train=True), "y_t": torch.as_tensor(labels, device=device),
                "m_t": torch.as_tensor(self.mask[idx], device=device)}


def _progress_event(kind: str, state: TrainState, t0: float, logs: dict) -> dict:
    elapsed = time.time() - t0
    frac = state.step / max(1, state.total_steps)
    eta = elapsed * (1 - frac) / frac if frac > 0 else None
    clean = {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in logs.items()}
    return {"type": kind, "epoch": state.epoch + 1, "epochs": state.epochs, "step": state.step,
            "total_steps": state.total_steps, "progress": round(frac, 4), "elapsed_s": round(elapsed, 2),
            "eta_s": None if eta is None else round(eta, 1), **clean}


def _emit(callbacks, event: dict) -> None:
    for cb in callbacks:
        cb(event)
