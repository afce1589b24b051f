"""What a strategy is, without torch: its parameters, what it needs, and its help text.

A :class:`StrategySpec` is plain data (name, title, doc, ``Params`` dataclass, :class:`Requirements`, family,
and the dotted path of the class that implements it). The dashboard's form, the submit-time validation and
the CLI's ``strategies`` listing read specs only, so a page process never loads torch; the training process
imports the implementation named by ``impl`` (see :mod:`tlcore.strategies.registry`).
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from tlcore.errors import ConfigError


def param(default, help: str, min=None, max=None, choices=None):  # noqa: A002 - mirrors dataclass field
    """A Params field with the metadata the dashboard turns into a form widget."""
    return field(default=default, metadata={"help": help, "min": min, "max": max, "choices": choices})


@dataclass(frozen=True)
class NoParams:
    """This strategy has no parameters of its own."""


@dataclass(frozen=True)
class Requirements:
    """What a strategy needs from the data and the model (one value instead of a flag per question).

    Attributes:
        target: "none" (source only), "unlabeled" (target batches, labels not needed) or "labeled" (target
            batches and ``target.labeled_fraction > 0``).
        backbone: "trainable" (pretrained, some of it may train; ``freeze_backbone`` can freeze it),
            "frozen" (pretrained, never trains: features are cached) or "random" (random init, all trains).
        bottleneck: False when the strategy fits a linear head on the raw backbone features.
        target_views: 2 when every target batch also comes as a strongly augmented view (``x_t_strong``, for
            consistency training); that needs images through a backbone that is not cached.
    """

    target: str = "none"
    backbone: str = "trainable"
    bottleneck: bool = True
    target_views: int = 1

    def __post_init__(self):
        if self.target not in ("none", "unlabeled", "labeled"):
            raise ValueError(f"Requirements.target: {self.target!r}")
        if self.backbone not in ("trainable", "frozen", "random"):
            raise ValueError(f"Requirements.backbone: {self.backbone!r}")

    @property
    def needs_target(self) -> bool:
        return self.target != "none"

    @property
    def target_labels(self) -> bool:
        return self.target == "labeled"

    @property
    def pretrained(self) -> bool:
        return self.backbone != "random"

    @property
    def frozen_backbone(self) -> bool:
        return self.backbone == "frozen"


@dataclass(frozen=True)
class Freezing:
    """How much of the backbone trains, read once from the freezing knobs (:func:`freezing`)."""

    top: int | None  # None: the whole backbone; 0: none of it (frozen); N: its top N layer groups
    cached: bool  # what stays frozen below is computed once and cached (the features, or the prefix's output)


FREEZING_KNOBS = ("freeze_backbone", "trainable_groups", "train_last_groups")


def freezing(params) -> Freezing:
    """The one reading of the freezing knobs of the fine-tuning family. ``trainable_groups`` is the knob (top N
    layer groups train; 0 = all); the two others are shorthands: ``freeze_backbone`` = none trains and the features
    are cached, ``train_last_groups N`` = the top N train and the frozen layers' output below them is cached.

    Raises:
        ConfigError: more than one of them set, naming both.
    """
    freeze = bool(getattr(params, "freeze_backbone", False))
    live = int(getattr(params, "trainable_groups", 0) or 0)
    cached = int(getattr(params, "train_last_groups", 0) or 0)
    given = [k for k, on in zip(FREEZING_KNOBS, (freeze, live, cached)) if on]
    if len(given) > 1:
        raise ConfigError(f"params.{given[1]}: set one of {', '.join(FREEZING_KNOBS)} (each says how much of the "
                          f"backbone trains), not {' and '.join(given)}")
    if freeze:
        return Freezing(0, True)
    if cached:
        return Freezing(cached, True)
    return Freezing(live or None, False)


@dataclass(frozen=True)
class StrategySpec:
    """One row of the strategy table. ``impl`` is ``"module:Class"``; ``precheck(params, store)`` (optional)
    checks at submit time, before any data or model is loaded, and raises ConfigError."""

    name: str
    title: str
    doc: str
    impl: str
    Params: type = NoParams
    requires: Requirements = Requirements()
    family: str = "model-based"
    precheck_fn: Callable | None = None

    def parse_params(self, d: dict | None):
        """Build and validate this strategy's Params; errors name ``params.<field>``."""
        return params_from_dict(self.Params, d)

    def caches_features(self, params) -> bool:
        """True when the backbone stays frozen for the whole run, so the loop trains on cached features."""
        return self.requires.frozen_backbone or freezing(params).top == 0

    def precheck(self, params, store=None) -> None:
        if self.precheck_fn is not None:
            self.precheck_fn(params, store)

    def describe(self) -> dict:
        r = self.requires
        return {"name": self.name, "title": self.title, "doc": inspect.cleandoc(self.doc),
                "needs_target": r.needs_target, "frozen_backbone": r.frozen_backbone, "pretrained": r.pretrained,
                "target": r.target, "backbone": r.backbone, "bottleneck": r.bottleneck, "target_views": r.target_views,
                "family": self.family, "params": params_schema(self.Params)}

    def load(self) -> type:
        """The implementing class (imports torch)."""
        module, _, cls = self.impl.partition(":")
        return getattr(importlib.import_module(module), cls)


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
