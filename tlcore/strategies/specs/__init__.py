"""The strategy table, torch-free: name -> :class:`StrategySpec`. Add a row (and its implementation) to add a
strategy; the order is the order the dashboard lists them in."""
from __future__ import annotations

from tlcore.errors import ConfigError
from tlcore.strategies.specs import adaptation as _a
from tlcore.strategies.specs import fitted as _c
from tlcore.strategies.specs import tuning as _t
from tlcore.strategies.specs.base import (NoParams, Requirements, StrategySpec, param, params_from_dict,
                                          params_schema, params_to_dict)

SPECS: dict[str, StrategySpec] = {s.name: s for s in (
    _t.LINEAR_PROBE, _t.FINE_TUNING, _t.GRADUAL_UNFREEZING, _t.SCRATCH,
    _a.DANN, _a.CDAN, _a.CORAL, _a.MMD, _a.MCC, _a.MCD, _a.FIXMATCH, _a.SELF_TRAINING, _a.INSTANCE_WEIGHTING,
    _t.MULTITASK, _c.TRADABOOST, _t.DISTILLATION,
    _c.SKADA_CORAL, _c.SKADA_SUBSPACE_ALIGNMENT, _c.SKADA_TCA, _c.SKADA_OT_MAPPING, _c.SKADA_KMM, _c.SKADA_KLIEP,
    _c.SKADA_JDOT,
)}


def get_spec(name: str) -> StrategySpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ConfigError(f"strategy: unknown strategy {name!r}; known: {sorted(SPECS)}") from None


__all__ = ["SPECS", "StrategySpec", "Requirements", "NoParams", "get_spec", "param", "params_from_dict",
           "params_schema", "params_to_dict"]
