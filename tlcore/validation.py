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
    that read other runs (distillation's teacher) check those runs too. An ``auto`` config is checked as it
    would resolve on this machine (:func:`tlcore.recommend.resolve`)."""
    from tlcore.models.registry import resolve_spec
    from tlcore.recommend import resolve
    from tlcore.strategies.specs import get_spec
    from tlcore.strategies.specs.base import freezing

    cfg = resolve(cfg)

    spec = get_spec(cfg.strategy)
    params = spec.parse_params(cfg.params)
    freezing(params)  # at most one of the freezing knobs (ConfigError naming both)
    backbone = resolve_spec(cfg.backbone)
    spec.precheck(params, store)
    if cfg.bottleneck and not spec.requires.bottleneck:
        raise ConfigError(f"bottleneck: strategy {cfg.strategy!r} fits a linear head on the raw backbone features; "
                          "set bottleneck to 0")
    if spec.requires.target_labels and cfg.target.labeled_fraction <= 0 and not cfg.target.label_set:
        raise ConfigError(f"target.labeled_fraction: strategy {cfg.strategy!r} needs some target labels (> 0)")
    if cfg.devices > 1:  # one run across several processes (torch-free refusals; the rest when training starts)
        from tlcore.training.ddp import precheck

        precheck(cfg, spec.name, spec.caches_features(params))
    if spec.requires.target_views > 1:
        _check_views(cfg, spec, params, backbone)
    if cfg.feature_views and (backbone.modality != "image" or not spec.caches_features(params)):
        raise ConfigError("feature_views: augmented views are cached features of source images, so they need an "
                          "image backbone and a frozen one (freeze_backbone, or linear_probe); set feature_views "
                          "to 0 or use augment when the backbone trains")
    return Checked(spec, params, backbone)


def _check_views(cfg: RunConfig, spec, params, backbone) -> None:
    """Consistency training augments raw target images every step: no cached features, no texts."""
    if backbone.modality != "image":
        raise ConfigError(f"strategy: {cfg.strategy!r} trains on weak and strong augmentations of target images; "
                          f"backbone {cfg.backbone!r} reads {backbone.modality}s")
    if spec.caches_features(params):
        raise ConfigError(f"params.freeze_backbone: {cfg.strategy!r} needs the images themselves every step (their "
                          "strong augmentation), not cached features; leave freeze_backbone off")
    if getattr(params, "train_last_groups", 0) and not cfg.augment:
        raise ConfigError(f"params.train_last_groups: with {cfg.strategy!r} the frozen layers must see the augmented "
                          "images; set augment on (the prefix is then computed per batch) or train_last_groups 0")
