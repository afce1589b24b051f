"""The strategy contract. A strategy decides what trains and the loss; it never owns the loop.

Batches handed to :meth:`Strategy.training_step` are dicts:

- ``x_s``, ``y_s``: a source batch and its labels (``LongTensor (B,)``);
- ``x_t``, ``y_t``, ``m_t`` (only when ``needs_target``): a target-train batch, its labels with ``-1``
  where unknown, and a bool mask of labels the strategy may use (``labeled_fraction``).

``model(x)`` returns ``(f, logits)``: features ``(B, D)`` and logits ``(B, C)``.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from tlcore.strategies.specs.base import NoParams, Requirements, StrategySpec


@dataclass
class StepOutput:
    """What one training step (or one stage of it) returns: the loss to minimise, plain floats to log, and
    the optimizers this loss updates (``None``: all of them; names as in the ``optimizer`` key of the
    parameter groups ``configure`` returns, ``"main"`` when a group names none)."""

    loss: torch.Tensor
    logs: dict = field(default_factory=dict)
    optimizers: tuple[str, ...] | None = None


@dataclass
class TrainState:
    """Read-only view of progress given to strategies and callbacks."""

    epoch: int = 0
    epochs: int = 1
    step: int = 0
    total_steps: int = 1
    num_classes: int = 2

    @property
    def progress(self) -> float:
        """Training progress in [0, 1] (for schedules such as DANN's lambda ramp)."""
        return min(1.0, self.step / max(1, self.total_steps))


@dataclass
class SetupContext:
    """What ``configure`` may use: the base learning rate and weight decay, and the model's sizes."""

    lr: float
    weight_decay: float
    num_classes: int
    feature_dim: int
    device: torch.device


class Strategy(abc.ABC):
    """One transfer method: the torch side of a :class:`StrategySpec`. Subclasses set ``spec``; its name, title,
    ``Params``, requirements and family become class attributes here."""

    spec: ClassVar[StrategySpec]
    name: ClassVar[str]
    title: ClassVar[str]
    Params: ClassVar[type] = NoParams
    requires: ClassVar[Requirements] = Requirements()
    family: ClassVar[str] = "model-based"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is not None:
            cls.name, cls.title, cls.Params = spec.name, spec.title, spec.Params
            cls.requires, cls.family = spec.requires, spec.family

    def __init__(self, params=None):
        self.params = params if params is not None else self.Params()

    @abc.abstractmethod
    def configure(self, model: nn.Module, ctx: SetupContext) -> list[dict]:
        """Freeze/unfreeze and return optimizer parameter groups (each a dict with ``params`` and ``lr``, and
        optionally ``optimizer``: the name of the optimizer it belongs to, for strategies with several)."""

    @property
    def caches_features(self) -> bool:
        """True when the backbone stays frozen for the whole run: the loop then trains on cached features
        (``frozen_backbone`` strategies, or fine-tuning-style strategies with ``freeze_backbone``)."""
        return self.spec.caches_features(self.params)

    def training_steps(self, model: nn.Module, batch: dict, state: TrainState):
        """The update order for one batch: yields one :class:`StepOutput` per stage; the loop backpropagates
        each and steps the optimizers it names before asking for the next stage, so a later stage sees the
        weights the earlier one updated (MCD's three stages, ADDA-style alternation). Default: one stage,
        :meth:`training_step`, updating every optimizer."""
        yield self.training_step(model, batch, state)

    def training_step(self, model: nn.Module, batch: dict, state: TrainState) -> StepOutput:
        """Default: cross-entropy on the source batch."""
        _, logits = model(batch["x_s"])
        loss = nn.functional.cross_entropy(logits.float(), batch["y_s"])
        acc = (logits.argmax(1) == batch["y_s"]).float().mean()
        return StepOutput(loss, {"cls_loss": float(loss.detach()), "train_acc": float(acc)})

    def on_epoch_start(self, model: nn.Module, optimizer, state: TrainState) -> None:
        """Hook for schedules (e.g. gradual unfreezing). Default: nothing."""

    def bind_store(self, store) -> None:
        """Give the run store to strategies that read other runs (distillation's teacher). Default: unused."""

    def on_fit_start(self, model: nn.Module, data) -> None:
        """Called once by the loop after ``configure``, with the run's ``TrainData`` (cached features for
        frozen-backbone strategies). For methods that first look at the whole training set, e.g. TrAdaBoost
        fitting a scikit-learn ensemble. Default: nothing."""

    def extra_modules(self) -> list[nn.Module]:
        """Modules owned by the strategy that must move to the device (e.g. a domain discriminator)."""
        return []

    @classmethod
    def describe(cls) -> dict:
        return cls.spec.describe()


def freeze(module: nn.Module, frozen: bool = True) -> None:
    for p in module.parameters():
        p.requires_grad = not frozen
