"""Run configuration: plain, frozen, JSON round-trippable. No torch import here.

The CLI and the dashboard build the same :class:`RunConfig`; :func:`RunConfig.from_dict` validates every
field and names the one at fault. Parsing is pure: ``strategy`` defaults to ``auto`` (the recommended default),
which stays unresolved here and is resolved when the run starts (:func:`tlcore.recommend.resolve`), because the
choice depends on the device the run gets.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tlcore.errors import ConfigError

# Sensible CPU defaults per built-in demo: a demo run answers in well under a minute on 2 cores.
DEMO_CONFIGS = {  # the recommended default (tlcore/recommend.py) on each demo pair
    "digits": {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"},
    "reviews": {"source": {"demo": "reviews"}, "target": {"demo": "reviews"}, "strategy": "auto"},
}


# image augmentation policies (tlcore/training/augment.py); here so the config stays torch-free
POLICIES = ("natural", "shapes", "strong", "colour", "randconv", "style", "auto")

DOMAIN_KEYS = ("path", "demo", "text_column", "label_column", "name", "labeled_fraction", "label_set")
LABEL_SET_ID = re.compile(r"^ls-[0-9a-f]{8,32}$")  # ids of tlcore/data/label_sets.py (never other paths)


@dataclass(frozen=True)
class DomainSpec:
    """Where a domain comes from: a file/folder ``path`` or a built-in ``demo`` name."""

    path: str | None = None
    demo: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    name: str | None = None
    labeled_fraction: float = 0.0
    label_set: str | None = None  # a label set id (tlcore/data/label_sets.py): its samples are labelled target train

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: Any, role: str) -> "DomainSpec":
        if isinstance(d, str):
            d = {"demo": d} if "/" not in d and "." not in d else {"path": d}
        if not isinstance(d, dict):
            raise ConfigError(f"{role}: expected a mapping with 'path' or 'demo', got {type(d).__name__}")
        unknown = sorted(set(d) - set(DOMAIN_KEYS))
        if unknown:
            raise ConfigError(f"{role}: unknown key(s) {unknown}; known keys: {list(DOMAIN_KEYS)}")
        if bool(d.get("path")) == bool(d.get("demo")):
            raise ConfigError(f"{role}: give exactly one of 'path' or 'demo'")
        lf = _number(d.get("labeled_fraction", 0.0), f"{role}.labeled_fraction", 0.0, 1.0)
        if role == "source" and lf:
            raise ConfigError("source.labeled_fraction: only the target has a labeled fraction")
        label_set = d.get("label_set") or None
        if label_set is not None:
            if role == "source":
                raise ConfigError("source.label_set: only the target takes a label set")
            if not isinstance(label_set, str) or not LABEL_SET_ID.match(label_set):
                raise ConfigError(f"{role}.label_set: expected an id like 'ls-1a2b3c4d', got {label_set!r}")
        return cls(path=str(d["path"]) if d.get("path") else None, demo=d.get("demo"),
                   text_column=d.get("text_column"), label_column=d.get("label_column"),
                   name=d.get("name"), labeled_fraction=lf, label_set=label_set)

    @property
    def display(self) -> str:
        if self.name:
            return self.name
        if self.demo:
            return f"demo:{self.demo}"
        return Path(self.path or "").stem


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. ``params`` holds the strategy's own parameters."""

    source: DomainSpec
    target: DomainSpec
    backbone: str = "efficientnet_lite0"
    strategy: str = "auto"  # the recommended default (tlcore/recommend.py), resolved when the run starts
    params: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    image_size: int = 0  # 0 = the backbone's pretrained input size (224 for EfficientNet-Lite0)
    max_length: int = 128
    max_samples_per_domain: int | None = None
    val_fraction: float = 0.2
    test_fraction: float = 0.5
    seed: int = 0
    device: str = "auto"
    devices: int = 1  # > 1: one run across that many processes/GPUs (data parallel, tlcore/training/ddp.py)
    pretrained: bool = True
    augment: bool | str = False  # false, true (= "auto": a policy that fits the classes) or a policy name
    early_stopping_patience: int = 5
    checkpoint: str = "best_val"  # best_val (best source-validation epoch) or last (adaptation under shift)
    label_intersection: bool = False
    bottleneck: int = 0
    domain_bn: bool = False  # AdaBN: per-domain batch-norm statistics in a frozen backbone (target model saved)
    feature_views: int = 0  # frozen images: also cache N augmented views of the source training set
    name: str = ""
    resolved_from: str = ""  # "auto" when the recommended default chose strategy and settings
    # keys the user gave an ``auto`` config (from_dict): resolution keeps those it may keep (recommend.KEEP)
    given: tuple = field(default=(), repr=False)

    @property
    def is_auto(self) -> bool:
        """Not resolved yet: the recommended default decides strategy and settings when the run starts."""
        return self.strategy == "auto"

    def to_dict(self) -> dict:
        """Plain JSON. An ``auto`` config gives only what the user set (the keys given to :meth:`from_dict` and
        any field off its default), so resolving it later keeps exactly those choices."""
        d = dataclasses.asdict(self)
        del d["given"]
        d["source"] = self.source.to_dict()
        d["target"] = self.target.to_dict()
        if self.is_auto:
            keep = {*ALWAYS, *self.given}
            keep |= {f.name for f in dataclasses.fields(self)
                     if f.name in d and f.default is not dataclasses.MISSING and d[f.name] != f.default}
            keep |= {"params"} if self.params else set()
            if d["devices"] == 1:  # one process (the only value auto never changes): left out as below
                keep.discard("devices")
            return {k: v for k, v in d.items() if k in keep}
        for key, default in (("devices", 1), ("feature_views", 0)):
            if d[key] == default:  # the default is left out, so every earlier config keeps its JSON (and its key)
                del d[key]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **changes) -> "RunConfig":
        return RunConfig.from_dict({**self.to_dict(), **changes})

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        if not isinstance(d, dict):
            raise ConfigError("config: expected a mapping")
        known = {f.name for f in dataclasses.fields(cls)} - {"given"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"config: unknown key(s) {unknown}; known keys: {sorted(known)}")
        for req in ("source", "target"):
            if req not in d:
                raise ConfigError(f"config: missing required key '{req}'")
        params = d.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError("params: expected a mapping of strategy parameters")
        msps = d.get("max_samples_per_domain")
        cfg = cls(
            source=DomainSpec.from_dict(d["source"], "source"),
            target=DomainSpec.from_dict(d["target"], "target"),
            backbone=_text(d.get("backbone", cls.backbone), "backbone"),
            strategy=_text(d.get("strategy", cls.strategy), "strategy"),
            params=dict(params),
            epochs=_integer(d.get("epochs", cls.epochs), "epochs", 1, 1000),
            batch_size=_integer(d.get("batch_size", cls.batch_size), "batch_size", 1, 4096),
            lr=_number(d.get("lr", cls.lr), "lr", 1e-8, 10.0),
            weight_decay=_number(d.get("weight_decay", cls.weight_decay), "weight_decay", 0.0, 1.0),
            image_size=_image_size(d),
            max_length=_integer(d.get("max_length", cls.max_length), "max_length", 8, 2048),
            max_samples_per_domain=None if msps in (None, "", 0) else _integer(msps, "max_samples_per_domain", 10, 10**8),
            val_fraction=_number(d.get("val_fraction", cls.val_fraction), "val_fraction", 0.01, 0.9),
            test_fraction=_number(d.get("test_fraction", cls.test_fraction), "test_fraction", 0.01, 0.99),
            seed=_integer(d.get("seed", cls.seed), "seed", 0, 2**31 - 1),
            device=_text(d.get("device", cls.device), "device"),
            devices=_integer(d.get("devices", cls.devices), "devices", 1, 64),
            pretrained=_boolean(d.get("pretrained", cls.pretrained), "pretrained"),
            augment=_augment(d.get("augment", cls.augment)),
            early_stopping_patience=_integer(d.get("early_stopping_patience", cls.early_stopping_patience),
                                             "early_stopping_patience", 0, 1000),
            checkpoint=_choice(d.get("checkpoint", cls.checkpoint), "checkpoint", ("best_val", "last")),
            label_intersection=_boolean(d.get("label_intersection", cls.label_intersection), "label_intersection"),
            bottleneck=_integer(d.get("bottleneck", cls.bottleneck) or 0, "bottleneck", 0, 8192),
            domain_bn=_boolean(d.get("domain_bn", cls.domain_bn), "domain_bn"),
            feature_views=_integer(d.get("feature_views", cls.feature_views) or 0, "feature_views", 0, 16),
            name=str(d.get("name") or ""),
            resolved_from=str(d.get("resolved_from") or ""),
            given=tuple(sorted(k for k, v in d.items() if v not in (None, "") and k not in ALWAYS)) if _is_auto(d) else (),
        )
        if not (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")):
            raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got {cfg.device!r}")
        return cfg


ALWAYS = ("source", "target", "strategy")  # in every config dict, auto or not


def _is_auto(d: dict) -> bool:
    return d.get("strategy", RunConfig.strategy) == "auto"


def parse_value(text: str) -> Any:
    """Parse a ``--set key=value`` right-hand side: JSON when it parses, else the raw string."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text


def apply_override(d: dict, dotted: str, value: Any) -> dict:
    """Set ``d['a']['b'] = value`` for ``dotted == 'a.b'`` (creating mappings on the way)."""
    keys = dotted.split(".")
    node = d
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value
    return d


def load_config_file(path: str | Path) -> dict:
    """Read a YAML or JSON config file into a dict (errors name the file)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - parser errors become one readable message
        raise ConfigError(f"{p}: could not parse config: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the config must be a mapping of keys to values")
    return data


def _text(v: Any, name: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ConfigError(f"{name}: expected a non-empty string, got {v!r}")
    return v.strip()


def _image_size(d: dict) -> int:
    """The configured input size, or (0 / absent) the backbone's pretrained input size: an ImageNet model
    at 64 px is far from what it was trained on (issue 12: a frozen probe at 64 px vs 224 px)."""
    v = d.get("image_size") or 0
    if v:
        return _integer(v, "image_size", 16, 1024)
    if _is_auto(d):
        return 0  # the backbone is not chosen yet: resolving the config sets the size
    from tlcore.models.registry import BACKBONES, BackboneSpec

    spec = BACKBONES.get(str(d.get("backbone", RunConfig.backbone)))
    return int((spec or BackboneSpec("", "image", "", "", 0.0)).default_image_size)


def _augment(v: Any) -> bool | str:
    if isinstance(v, str) and v.lower() in POLICIES:
        return v.lower()
    try:
        return _boolean(v, "augment")
    except ConfigError:
        raise ConfigError(f"augment: expected true, false or a policy name {list(POLICIES)}, got {v!r}") from None


def _choice(v: Any, name: str, choices: tuple) -> str:
    if v not in choices:
        raise ConfigError(f"{name}: expected one of {list(choices)}, got {v!r}")
    return v


def _boolean(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "yes", "no"):
        return v.lower() in ("true", "1", "yes")
    raise ConfigError(f"{name}: expected true or false, got {v!r}")


def _as_float(v: Any, name: str, expected: str) -> float:
    """``v`` (a number or numeric text, never a bool) as a float; else "expected <expected>"."""
    if isinstance(v, bool):
        raise ConfigError(f"{name}: expected {expected}, got {v!r}")
    try:
        return float(str(v).strip()) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected {expected}, got {v!r}") from None


def _integer(v: Any, name: str, lo: int, hi: int) -> int:
    f = _as_float(v, name, "an integer")
    if not math.isfinite(f) or f != int(f):
        raise ConfigError(f"{name}: expected an integer, got {v!r}")
    if not lo <= int(f) <= hi:
        raise ConfigError(f"{name}: {int(f)} is out of range [{lo}, {hi}]")
    return int(f)


def _number(v: Any, name: str, lo: float, hi: float) -> float:
    f = _as_float(v, name, "a number")
    if not math.isfinite(f) or not lo <= f <= hi:
        raise ConfigError(f"{name}: {v!r} is out of range [{lo}, {hi}]")
    return f
