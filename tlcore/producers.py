"""Run producers: every way of making a run is registered here, so the CLI, sweeps, the job queue and its
runner, and pages make any run through one path (:func:`produce_run`) instead of branching on the method.

* ``train``: the composition root (:func:`tlcore.pipeline.run_experiment`): a network trained by a strategy;
* ``classical``: the classical baseline (:mod:`tlcore.evaluation.baseline`): TF-IDF / raw pixels + logistic
  regression, recorded through the same recorder.

A config's producer follows from its strategy (:data:`BY_STRATEGY`; every other strategy is ``train``). The
producer key is also the job kind. Torch-free (pages import it): producers are imported when a run is made.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from tlcore.config import RunConfig


@dataclass(frozen=True)
class Producer:
    """How one kind of run is made.

    Attributes:
        key: the producer's name, also the job kind.
        run: ``"module:function"`` called as ``fn(cfg, store, run_id=, callbacks=, cancel_check=)`` -> RunRecord.
        validate: ``"module:function"`` called as ``fn(cfg, store)`` before a job is queued, or None.
        trains_network: the run trains a network (torch): it saves a model, its config can seed a sweep of
            strategies, and a job's CPU budget sets torch's threads.
    """

    key: str
    run: str
    validate: str | None
    trains_network: bool


def _load(ref: str) -> Callable:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


PRODUCERS: dict[str, Producer] = {
    "train": Producer("train", "tlcore.pipeline:run_experiment", "tlcore.validation:validate", True),
    "classical": Producer("classical", "tlcore.evaluation.baseline:produce", None, False),
}
BY_STRATEGY = {"classical": "classical"}
DEFAULT = "train"


def producer_of(strategy: str | None) -> Producer:
    """The producer of runs of ``strategy``."""
    return PRODUCERS[BY_STRATEGY.get(strategy or "", DEFAULT)]


def producer_for(config: dict | RunConfig) -> Producer:
    strategy = config.strategy if isinstance(config, RunConfig) else (config or {}).get("strategy")
    return producer_of(strategy)


def trains_network(strategy: str | None) -> bool:
    """Whether runs of ``strategy`` train a network (see :class:`Producer`)."""
    return producer_of(strategy).trains_network


def check(config: dict | RunConfig, store=None, producer: Producer | None = None) -> RunConfig:
    """The config as a RunConfig, validated by its producer (ConfigError when it cannot run)."""
    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    producer = producer or producer_for(cfg)
    if producer.validate:
        _load(producer.validate)(cfg, store)
    return cfg


def produce_run(config: dict | RunConfig, store, *, producer: Producer | None = None, run_id: str | None = None,
                callbacks: list | None = None, cancel_check: Callable[[], bool] | None = None):
    """Make and record the run of ``config`` in ``store`` with its producer (or ``producer``); returns its
    RunRecord. Errors are recorded on the run and re-raised, as each producer does."""
    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    producer = producer or producer_for(cfg)
    return _load(producer.run)(cfg, store, run_id=run_id, callbacks=callbacks, cancel_check=cancel_check)
