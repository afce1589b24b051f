"""The strategy contract. A strategy decides what trains and the loss; it never owns the loop.

Batches handed to :meth:`Strategy.training_step` are dicts:

- ``x_s``, ``y_s``: a source batch and its labels (``LongTensor (B,)``);
- ``x_t``, ``y_t``, ``m_t`` (only when ``needs_target``): a target-train batch, its labels with ``-1``
  where unknown, and a bool mask of labels the strategy may use (``labeled_fraction``).

``model(x)`` returns ``(f, logits)``: features ``(B, D)`` and logits ``(B, C)``.
"""
from __future__ import annotations

import abc
import inspect
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from tlcore.errors import ConfigError


def param(default, help: str, min=None, max=None, choices=None):  # noqa: A002 - mirrors dataclass field
    """A Params field with the metadata the dashboard turns into a form widget."""
    return field(default=default, metadata={"help": help, "min": min, "max": max, "choices": choices})


@dataclass(frozen=True)
class NoParams:
    """This strategy has no parameters of its own."""


@dataclass
class StepOutput:
    """What one training step returns: the loss to minimise and plain floats to log."""

    loss: torch.Tensor
    logs: dict = field(default_factory=dict)


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
    """One transfer method. Subclasses set ``name``, ``title``, ``Params`` and the flags below."""

    name: ClassVar[str]
    title: ClassVar[str]
    Params: ClassVar[type] = NoParams
    needs_target: ClassVar[bool] = False
    frozen_backbone: ClassVar[bool] = False
    pretrained: ClassVar[bool] = True
    uses_target_labels: ClassVar[bool] = False
    family: ClassVar[str] = "model-based"

    def __init__(self, params=None):
        self.params = params if params is not None else self.Params()

    @abc.abstractmethod
    def configure(self, model: nn.Module, ctx: SetupContext) -> list[dict]:
        """Freeze/unfreeze and return optimizer parameter groups (each a dict with ``params`` and ``lr``)."""

    supports_bottleneck: ClassVar[bool] = True

    @property
    def caches_features(self) -> bool:
        """True when the backbone stays frozen for the whole run: the loop then trains on cached features
        (``frozen_backbone`` strategies, or fine-tuning-style strategies with ``freeze_backbone``)."""
        return self.frozen_backbone or bool(getattr(self.params, "freeze_backbone", False))

    def training_step(self, model: nn.Module, batch: dict, state: TrainState) -> StepOutput:
        """Default: cross-entropy on the source batch."""
        _, logits = model(batch["x_s"])
        loss = nn.functional.cross_entropy(logits.float(), batch["y_s"])
        acc = (logits.argmax(1) == batch["y_s"]).float().mean()
        return StepOutput(loss, {"cls_loss": float(loss.detach()), "train_acc": float(acc)})

    def on_epoch_start(self, model: nn.Module, optimizer, state: TrainState) -> None:
        """Hook for schedules (e.g. gradual unfreezing). Default: nothing."""

    def precheck(self) -> None:
        """Cheap checks at submit time, before any data or model is loaded (raise ConfigError). Default: none."""

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
        return {"name": cls.name, "title": cls.title, "doc": inspect.cleandoc(cls.__doc__ or ""),
                "needs_target": cls.needs_target, "frozen_backbone": cls.frozen_backbone,
                "pretrained": cls.pretrained, "family": cls.family, "params": params_schema(cls.Params)}


def params_schema(params_cls: type) -> list[dict]:
    """Plain description of a Params dataclass: name, type, default, help, min, max, choices."""
    out = []
    for f in dataclasses.fields(params_cls):
        md = dict(f.metadata)
        out.append({"name": f.name, "type": _type_name(f), "default": f.default, "help": md.get("help", ""),
                    "min": md.get("min"), "max": md.get("max"), "choices": md.get("choices")})
    return out


def params_from_dict(params_cls: type, d: dict | None):
    """Build and validate a Params instance; errors name ``params.<field>``."""
    d = dict(d or {})
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ConfigError(f"params: unknown parameter(s) {unknown}; this strategy takes {sorted(fields) or 'none'}")
    values = {}
    for name, f in fields.items():
        if name not in d:
            continue
        values[name] = _coerce(d[name], f, f"params.{name}")
    return params_cls(**values)


def params_to_dict(p) -> dict:
    return dataclasses.asdict(p)


def _type_name(f) -> str:
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return t.replace("typing.", "")


def _coerce(v: Any, f, where: str):
    t = _type_name(f)
    md = f.metadata
    try:
        if t.startswith("bool"):
            if isinstance(v, str):
                if v.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                v = v.lower() in ("true", "1")
            out = bool(v)
        elif t.startswith("int"):
            if isinstance(v, bool) or float(v) != int(float(v)):
                raise ValueError
            out = int(float(v))
        elif t.startswith("float"):
            if isinstance(v, bool):
                raise ValueError
            out = float(v)
            if not math.isfinite(out):
                raise ValueError
        elif t.startswith("str"):
            out = str(v)
        else:
            out = v
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {t}, got {v!r}") from None
    if md.get("choices") and out not in md["choices"]:
        raise ConfigError(f"{where}: {out!r} is not one of {md['choices']}")
    if md.get("min") is not None and out < md["min"]:
        raise ConfigError(f"{where}: {out} is below the minimum {md['min']}")
    if md.get("max") is not None and out > md["max"]:
        raise ConfigError(f"{where}: {out} is above the maximum {md['max']}")
    return out


def freeze(module: nn.Module, frozen: bool = True) -> None:
    for p in module.parameters():
        p.requires_grad = not frozen
