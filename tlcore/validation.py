"""Cheap checks of a run config before any data or model is loaded. Torch-free: it reads the strategy table
(:mod:`tlcore.strategies.specs`) and the backbone registry only, so the dashboard can call it."""
from __future__ import annotations

from typing import NamedTuple

from tlcore.config import RunConfig
from tlcore.errors import ConfigError


class Checked(NamedTuple):
    """A validated choice: the strategy's spec, its parsed Params, and the backbone's registry row."""

    strategy: object
    params: object
    backbone: object


def validate(cfg: RunConfig, store=None) -> Checked:
    """Unknown strategy/backbone, bad params, options the strategy cannot honour. With ``store``, strategies
    that read other runs (distillation's teacher) check those runs too."""
    from tlcore.models.registry import resolve_spec
    from tlcore.strategies.specs import get_spec

    spec = get_spec(cfg.strategy)
    params = spec.parse_params(cfg.params)
    backbone = resolve_spec(cfg.backbone)
    spec.precheck(params, store)
    if cfg.bottleneck and not spec.requires.bottleneck:
        raise ConfigError(f"bottleneck: strategy {cfg.strategy!r} fits a linear head on the raw backbone features; "
                          "set bottleneck to 0")
    if spec.requires.target_labels and cfg.target.labeled_fraction <= 0:
        raise ConfigError(f"target.labeled_fraction: strategy {cfg.strategy!r} needs some target labels (> 0)")
    if cfg.devices > 1:  # one run across several processes (torch-free refusals; the rest when training starts)
        from tlcore.training.ddp import precheck

        precheck(cfg, spec.name, spec.caches_features(params))
    return Checked(spec, params, backbone)
