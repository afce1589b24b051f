"""Run producers: the classical baseline is a registered method; the CLI, sweeps and the job queue make every
run through tlcore.producers, so a newly registered producer is used everywhere without a branch."""
from __future__ import annotations

import pytest

from tlcore import producers
from tlcore.config import RunConfig
from tlcore.jobs.queue import KINDS, JobQueue
from tlcore.producers import PRODUCERS, Producer, produce_run, producer_for, trains_network
from tlcore.sweeps import run_sweep

BASE = {"source": {"demo": "reviews"}, "target": {"demo": "reviews", "labeled_fraction": 0.1},
        "backbone": "tiny_text", "epochs": 1, "max_samples_per_domain": 200, "seed": 0}
MADE: list[tuple] = []


def fake_run(cfg: RunConfig, store, run_id=None, callbacks=None, cancel_check=None):
    """A producer for the test: records a completed run without fitting anything."""
    MADE.append((cfg.strategy, run_id))
    rid = store.create(cfg.to_dict(), status="running", run_id=run_id)
    store.finish(rid, "completed", metrics={"target_test": {"accuracy": 0.5}}, seconds=0.0)
    return store.get(rid)


def fake_validate(cfg, store):
    if cfg.seed == 13:
        from tlcore.errors import ConfigError

        raise ConfigError("seed 13 is refused by the fake producer")


@pytest.fixture
def fake_producer(monkeypatch):
    MADE.clear()
    fake = Producer("fake", f"{__name__}:fake_run", f"{__name__}:fake_validate", False)
    monkeypatch.setitem(PRODUCERS, "fake", fake)
    monkeypatch.setitem(producers.BY_STRATEGY, "fake_method", "fake")
    return fake


def test_every_strategy_has_a_producer_and_the_classical_baseline_is_one():
    assert producer_for({"strategy": "classical"}).key == "classical"
    assert producer_for(RunConfig.from_dict({**BASE, "strategy": "dann"})).key == "train"
    assert producer_for({}).key == "train"
    assert not trains_network("classical") and trains_network("fine_tuning")
    assert set(PRODUCERS) <= set(KINDS) and "probe" in KINDS


def test_the_classical_baseline_is_made_through_the_registry(store):
    rec = produce_run({**BASE, "strategy": "classical"}, store)
    assert rec.strategy == "classical" and rec.status == "completed" and rec.backbone == "tfidf_logreg"
    assert store.metrics(rec.run_id)["target_test"]["n"] > 0


def test_a_registered_producer_is_used_by_sweeps_and_the_queue(store, fake_producer):
    rows = run_sweep([{**BASE, "strategy": "fake_method", "name": "sweep:x"}], store)
    assert rows[0]["status"] == "completed" and MADE == [("fake_method", None)]
    q = JobQueue(store)
    job = q.submit({**BASE, "strategy": "fake_method"})
    assert q.get(job).kind == "fake"
    from tlcore.errors import ConfigError

    with pytest.raises(ConfigError, match="seed 13"):
        q.submit({**BASE, "strategy": "fake_method", "seed": 13})
