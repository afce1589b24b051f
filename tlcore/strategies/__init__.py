"""Transfer strategies: one explicit table, name -> class. Add a row to add a strategy."""
from __future__ import annotations

from tlcore.errors import ConfigError
from tlcore.strategies.adversarial import Cdan, Dann
from tlcore.strategies.base import Strategy, params_from_dict, params_schema, params_to_dict
from tlcore.strategies.distillation import Distillation
from tlcore.strategies.fine_tuning import FineTuning
from tlcore.strategies.gradual_unfreezing import GradualUnfreezing
from tlcore.strategies.instance_weighting import InstanceWeighting
from tlcore.strategies.linear_probe import LinearProbe
from tlcore.strategies.mcc import Mcc
from tlcore.strategies.multitask import Multitask
from tlcore.strategies.scratch import Scratch
from tlcore.strategies.self_training import SelfTraining
from tlcore.strategies.skada_da import SKADA_STRATEGIES
from tlcore.strategies.statistic_alignment import Coral, Mmd
from tlcore.strategies.tradaboost import TrAdaBoost

STRATEGIES: dict[str, type[Strategy]] = {cls.name: cls for cls in (
    LinearProbe, FineTuning, GradualUnfreezing, Scratch,
    Dann, Cdan, Coral, Mmd, Mcc, SelfTraining, InstanceWeighting, Multitask, TrAdaBoost, Distillation,
    *SKADA_STRATEGIES,
)}


def get_strategy(name: str) -> type[Strategy]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"strategy: unknown strategy {name!r}; known: {sorted(STRATEGIES)}") from None


def build_strategy(name: str, params: dict | None = None) -> Strategy:
    cls = get_strategy(name)
    return cls(params_from_dict(cls.Params, params))


__all__ = ["STRATEGIES", "Strategy", "get_strategy", "build_strategy", "params_schema", "params_to_dict"]
