"""The one training loop. Strategies plug in through ``configure`` / ``training_step`` / ``on_epoch_start``.

Seeded; progress events with ETA to callbacks, which get the :class:`TrainState` and a :class:`Control`
(tlcore/training/callbacks.py); early stopping on source-validation accuracy and best-weights restore are
callbacks; cooperative cancellation through :class:`Control`; NaN/Inf loss detection.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tlcore.errors import Cancelled, TLError
from tlcore.strategies.base import SetupContext, Strategy, TrainState
from tlcore.training.batches import EncodedSet, batches
from tlcore.training.callbacks import BestWeights, CallbackList, Control, EarlyStopping
from tlcore.training.device import autocast, inference_batch_size

__all__ = ["Control", "TrainData", "FitResult", "TrainingDiverged", "fit", "predict", "evaluate_accuracy"]


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
        callbacks: list | None = None, control: Control | None = None, parallel=None) -> FitResult:
    """Train ``model`` with ``strategy``; returns the history. Raises :class:`Cancelled` when cancelled.

    ``callbacks``: plain ``fn(event)`` functions or objects with ``on_event(event, state, control)`` /
    ``on_fit_end(state, control)`` (tlcore/training/callbacks.py). ``patience``: early stopping after that many
    epochs without a better source-validation accuracy (0 = off). ``checkpoint``: ``best_val`` restores the
    weights of the best source-validation epoch; ``last`` keeps the last epoch's (adaptation: source validation
    picks the wrong checkpoint under shift, it peaks before the transfer loss has acted).
    ``parallel``: one rank of a data-parallel run (tlcore/training/ddp.py): it wraps the model after
    ``configure``, takes its share of every global batch and averages gradients and the epoch record.
    """
    control = control or Control()
    control.should_stop = False
    optimizers = _configure(model, strategy, data, lr, weight_decay, device)
    run = _Epochs(model, strategy, data, optimizers, batch_size, device, seed, control, parallel)
    best, stopper = BestWeights(model, restore=checkpoint == "best_val"), EarlyStopping(patience)
    cbs = CallbackList([*(callbacks or []), best, stopper], run.state, control)
    run.state.epochs = epochs
    run.state.total_steps = max(1, epochs * run.steps_per_epoch)
    result = FitResult()
    for epoch in range(epochs):
        record = run.epoch(epoch, cbs)
        result.history.append(record)
        cbs.event({**_progress_event("epoch", run.state, run.t0, record), **record})
        if control.should_stop:
            break
    cbs.fit_end()
    result.best_epoch, result.best_val_acc = best.best_epoch, max(best.best_acc, 0.0)
    result.stopped_early, result.steps = stopper.stopped, run.state.step
    return result


def _configure(model, strategy, data, lr, weight_decay, device) -> dict:
    """The strategy sets up the model and its parameter groups; returns ``{name: optimizer}``, one AdamW per
    distinct ``optimizer`` key of the groups (``"main"`` for groups that name none), in first-seen order."""
    ctx = SetupContext(lr=lr, weight_decay=weight_decay, num_classes=data.num_classes,
                       feature_dim=getattr(model, "out_features", 0), device=device)
    groups = strategy.configure(model, ctx)
    for m in strategy.extra_modules():
        m.to(device)
    strategy.on_fit_start(model, data)
    by_name: dict[str, list] = {}
    for g in groups:
        if g["params"]:
            by_name.setdefault(g.get("optimizer", "main"), []).append({k: v for k, v in g.items() if k != "optimizer"})
    optimizers = {name: torch.optim.AdamW(gs, lr=lr, weight_decay=weight_decay) for name, gs in by_name.items()}
    for opt in optimizers.values():
        for g in opt.param_groups:
            g.setdefault("initial_lr", g["lr"])
    return optimizers


class _Epochs:
    """One training epoch at a time: the seeded source batches, the target stream, the steps, the validation."""

    def __init__(self, model, strategy, data, optimizers, batch_size, device, seed, control, parallel=None):
        self.model, self.strategy, self.data, self.optimizers = model, strategy, data, optimizers
        self.optimizer = next(iter(optimizers.values()), None)  # the first one, for on_epoch_start
        self.parallel = parallel
        self.train_model = parallel.wrap(model, strategy) if parallel else model
        self.batch_size, self.device, self.control = batch_size, device, control
        self.rng = np.random.default_rng(seed)
        self.src_lengths = data.source_train.lengths()
        self.steps_per_epoch = len(batches(len(data.source_train), batch_size, np.random.default_rng(0),
                                           self.src_lengths, drop_last=True))
        self.state = TrainState(epoch=0, epochs=1, step=0, total_steps=1, num_classes=data.num_classes)
        # target batches draw from their own stream: adding a target changes no source batch (trade-off 0 =
        # source-only)
        self.tgt_iter = (_TargetCycle(data, batch_size, np.random.default_rng([seed, 1]),
                                      strategy.requires.target_views,
                                      getattr(getattr(strategy, "params", None), "strong_augment", "strong"))
                         if strategy.requires.needs_target and data.target_train else None)
        self.t0 = time.time()

    def epoch(self, epoch: int, cbs: CallbackList) -> dict:
        state, data = self.state, self.data
        state.epoch = epoch
        self.strategy.on_epoch_start(self.model, self.optimizer, state)
        self.model.train()
        sums: dict[str, float] = {}
        n_steps = 0
        for idx in batches(len(data.source_train), self.batch_size, self.rng, self.src_lengths, drop_last=True):
            logs = self.step(idx)
            n_steps += 1
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            if state.step % max(1, self.steps_per_epoch // 10) == 0 or n_steps == 1:
                cbs.event(_progress_event("step", state, self.t0, logs))
        val_acc = evaluate_accuracy(self.model, data.source_val, inference_batch_size(self.device, self.batch_size),
                                    self.device)
        if self.parallel:  # every rank sees the same numbers, so early stopping and best weights agree
            sums, val_acc = self.parallel.mean(sums), self.parallel.mean({"v": val_acc})["v"]
        return {"epoch": epoch + 1, "step": state.step, **{k: v / max(1, n_steps) for k, v in sums.items()},
                "val_acc": val_acc, "seconds": round(time.time() - self.t0, 3)}

    def step(self, idx) -> dict:
        if self.control.cancelled():
            raise Cancelled("run cancelled by the user")
        device, state = self.device, self.state
        shard = self.parallel.shard if self.parallel else None
        idx = shard(idx) if shard else idx
        batch = {"x_s": self.data.source_train.batch(idx, device, train=True),
                 "y_s": torch.as_tensor(self.data.source_train.labels[idx], device=device)}
        if self.tgt_iter is not None:
            batch.update(self.tgt_iter.next(device, shard))
        stages = self.strategy.training_steps(self.train_model, batch, state)
        logs: dict = {}
        while True:
            with autocast(device, training=True):  # the stage's forward runs inside next()
                out = next(stages, None)
            if out is None:
                break
            logs = {**logs, "loss": self._update(out), **out.logs}
        state.step += 1
        return logs

    def _update(self, out) -> float:
        """Backpropagate one stage's loss and step the optimizers it names; every gradient starts at zero."""
        loss = out.loss.float()
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {float(loss)} at step {self.state.step} (epoch "
                                   f"{self.state.epoch + 1}); try a lower learning rate")
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.parallel:
            self.parallel.after_backward()
        for name in out.optimizers or self.optimizers:
            self.optimizers[name].step()
        return float(loss.detach())


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

    def __init__(self, data: TrainData, batch_size: int, rng, views: int = 1, strong: str = "strong"):
        self.set, self.views, self.strong = data.target_train, views, strong
        self.mask = data.target_labeled_mask if data.target_labeled_mask is not None else np.zeros(len(self.set), bool)
        self.batch_size, self.rng, self.queue = batch_size, rng, []

    def next(self, device, shard=None):
        if not self.queue:
            self.queue = batches(len(self.set), self.batch_size, self.rng, self.set.lengths(), drop_last=True)
        idx = self.queue.pop()
        idx = shard(idx) if shard else idx
        labels = np.where(self.mask[idx], self.set.labels[idx], -1)
        out = {"x_t": self.set.batch(idx, device, train=True), "y_t": torch.as_tensor(labels, device=device),
               "m_t": torch.as_tensor(self.mask[idx], device=device)}
        if self.views > 1:  # consistency training: the same samples, strongly augmented (images only, validated)
            out["x_t_strong"] = self.set.batch(idx, device, train=True, policy=self.strong)
        return out


def _progress_event(kind: str, state: TrainState, t0: float, logs: dict) -> dict:
    elapsed = time.time() - t0
    frac = state.step / max(1, state.total_steps)
    eta = elapsed * (1 - frac) / frac if frac > 0 else None
    clean = {k: (v if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in logs.items()}
    return {"type": kind, "epoch": state.epoch + 1, "epochs": state.epochs, "step": state.step,
            "total_steps": state.total_steps, "progress": round(frac, 4), "elapsed_s": round(elapsed, 2),
            "eta_s": None if eta is None else round(eta, 1), **clean}
