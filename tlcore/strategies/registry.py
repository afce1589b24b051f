"""Strategy implementations (torch): the class for each row of the torch-free table in
:mod:`tlcore.strategies.specs`, imported from the row's ``impl`` path."""
from __future__ import annotations

from tlcore.strategies.base import Strategy
from tlcore.strategies.specs import SPECS, get_spec


def _load(spec) -> type[Strategy]:
    cls = spec.load()
    if getattr(cls, "spec", None) is not spec:
        raise TypeError(f"{spec.impl} does not implement the spec {spec.name!r} (its `spec` is another row)")
    return cls


STRATEGIES: dict[str, type[Strategy]] = {name: _load(spec) for name, spec in SPECS.items()}


def get_strategy(name: str) -> type[Strategy]:
    get_spec(name)  # the same "unknown strategy" message
    return STRATEGIES[name]


def build_strategy(name: str, params: dict | None = None, store=None) -> Strategy:
    """An instance with validated params; ``store`` is bound for strategies that read other runs."""
    cls = get_strategy(name)
    strategy = cls(cls.spec.parse_params(params))
    if store is not None:
        strategy.bind_store(store)
    return strategy
