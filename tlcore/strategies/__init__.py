"""Transfer strategies.

The table (name -> :class:`~tlcore.strategies.specs.base.StrategySpec`: title, help text, ``Params``,
requirements) is torch-free and imported eagerly: ``SPECS``, ``get_spec``. The implementations import torch and
load on first use of ``STRATEGIES``, ``get_strategy``, ``build_strategy`` or ``Strategy``
(:mod:`tlcore.strategies.registry`), so a dashboard page that only needs the table never loads torch.
"""
from __future__ import annotations

from tlcore.strategies.specs import (SPECS, Requirements, StrategySpec, get_spec, params_from_dict, params_schema,
                                     params_to_dict)

_LAZY = {"STRATEGIES", "Strategy", "get_strategy", "build_strategy"}


def __getattr__(name: str):
    if name in _LAZY:
        from tlcore.strategies import registry

        return getattr(registry, name) if name != "Strategy" else registry.Strategy
    raise AttributeError(f"module 'tlcore.strategies' has no attribute {name!r}")


__all__ = ["SPECS", "StrategySpec", "Requirements", "get_spec", "params_from_dict", "params_schema",
           "params_to_dict", *sorted(_LAZY)]
