"""Cheap checks of a run config before any data or model is loaded (torch is imported only when called)."""
from __future__ import annotations

from tlcore.config import RunConfig
from tlcore.errors import ConfigError


def validate(cfg: RunConfig, store=None):
    """Unknown strategy/backbone, bad params, options the strategy cannot honour. With ``store``, strategies
    that read other runs (distillation's teacher) are bound to it and check those runs too.
    Returns ``(strategy, backbone spec)``."""
    from tlcore.models.registry import resolve_spec
    from tlcore.strategies import build_strategy

    strategy = build_strategy(cfg.strategy, cfg.params)
    if store is not None:
        strategy.bind_store(store)
    spec = resolve_spec(cfg.backbone)
    strategy.precheck()
    if cfg.bottleneck and not strategy.supports_bottleneck:
        raise ConfigError(f"bottleneck: strategy {cfg.strategy!r} fits a linear head on the raw backbone features; "
                          "set bottleneck to 0")
    if strategy.uses_target_labels and cfg.target.labeled_fraction <= 0:
        raise ConfigError(f"target.labeled_fraction: strategy {cfg.strategy!r} needs some target labels (> 0)")
    return strategy, spec
