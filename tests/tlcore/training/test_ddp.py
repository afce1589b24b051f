"""One run across 2 processes (DistributedDataParallel, gloo on CPU): the real pipeline on tiny_cnn / digits.
Both ranks end with the same weights, the loss falls, only rank 0 records; unsupported strategies are refused
before any process starts; the local executor gives a ``devices: N`` job N GPUs (fake device list)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.pipeline import run_experiment
from tlcore.strategies.scratch import Scratch

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 3,
        "image_size": 16, "batch_size": 16, "max_samples_per_domain": 160, "device": "cpu", "devices": 2,
        "early_stopping_patience": 0}


def _params(path):
    state = torch.load(path, weights_only=True)
    return {k: v for k, v in state.items() if "running_" not in k and "num_batches" not in k}


@pytest.mark.parametrize("strategy", ["scratch", "dann"])  # dann: a strategy module (discriminator) too
def test_two_gloo_processes_train_one_run_and_end_with_equal_weights(store, tmp_path, monkeypatch, strategy):
    monkeypatch.setenv("TL_DDP_RESULT_DIR", str(tmp_path))
    events = []
    rec = run_experiment(RunConfig.from_dict({**TINY, "strategy": strategy}), store, callbacks=[events.append])
    assert rec.status == "completed" and rec.target_acc is not None
    assert any("training on 2 processes (gloo)" in str(e.get("phase")) for e in events)
    r0, r1 = _params(tmp_path / "rank0.pt"), _params(tmp_path / "rank1.pt")
    assert r0.keys() == r1.keys() and len(r0) > 4
    assert (strategy == "dann") == any(k.startswith("strategy.") for k in r0)  # the discriminator is compared
    for k in r0:
        assert torch.allclose(r0[k], r1[k], atol=1e-5), f"{k} differs between the ranks"
    losses = [h["loss"] for h in store.read_json(rec.run_id, "history.json")]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert store.read_json(rec.run_id, "config.json")["devices"] == 2  # recorded: a re-run is data parallel too


def test_one_process_config_keeps_its_json_and_bad_values_are_refused():
    assert "devices" not in RunConfig.from_dict({**TINY, "devices": 1}).to_dict()
    assert RunConfig.from_dict(TINY).devices == 2
    with pytest.raises(ConfigError, match="devices"):
        RunConfig.from_dict({**TINY, "devices": 0})


@pytest.mark.parametrize("strategy,why", [("linear_probe", "cached frozen features"),
                                          ("gradual_unfreezing", "unfreezes layers during training"),
                                          ("mcd", "several stages per batch")])
def test_unsupported_strategies_are_refused_with_the_reason(store, strategy, why):
    with pytest.raises(ConfigError, match=why):
        run_experiment(RunConfig.from_dict({**TINY, "strategy": strategy}), store)


def test_batch_smaller_than_the_process_count_is_refused(store):
    with pytest.raises(ConfigError, match="batch_size: 1 is smaller than devices"):
        run_experiment(RunConfig.from_dict({**TINY, "strategy": "scratch", "batch_size": 1}), store)


def test_local_executor_gives_a_devices_n_job_n_gpus_or_makes_it_wait(tmp_path):
    from tlcore.jobs.executors import Handle, LocalExecutor

    ex = LocalExecutor(tmp_path, gpus=["0", "1", "2"], per_gpu=1)
    ddp = SimpleNamespace(kind="train", resources={}, config={"devices": 2, "device": "auto"})
    one = SimpleNamespace(kind="train", resources={}, config={"device": "auto"})
    assert ex.pick_gpu(ddp, {}) == "0,1"
    busy = {"a": Handle("a", gpus="0,1")}
    assert ex.pick_gpu(ddp, busy) is False               # only GPU 2 is free: the 2-GPU job waits
    assert ex.pick_gpu(one, busy) == "2"


def test_cancel_during_data_parallel_training_stops_every_rank(store):
    import multiprocessing

    from tlcore.errors import Cancelled

    calls = []

    def cancel_check():
        calls.append(1)
        return len(calls) > 3  # a few steps in

    with pytest.raises(Cancelled):
        run_experiment(RunConfig.from_dict({**TINY, "strategy": "scratch"}), store, cancel_check=cancel_check)
    assert store.list()[0].status == "cancelled"
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("tl-ddp-rank")]


def test_the_job_runner_trains_a_devices_2_job_data_parallel(store):
    import os
    import subprocess
    import sys

    from tlcore.jobs.queue import JobQueue
    from tests.conftest import ROOT

    q = JobQueue(store)
    jid = q.submit({**TINY, "strategy": "scratch", "epochs": 1})
    w = subprocess.Popen([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT,
                         env={**os.environ, "TL_HOME": str(store.root)}, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    assert w.wait(timeout=300) == 0
    snap = q.get(jid)
    assert snap.status == "completed", (snap.error, q.log_tail(jid))
    phases = [e.get("phase") for e in store.events(snap.run_id)]
    assert "training on 2 processes (gloo)" in phases


def test_two_ranks_equal_one_process_with_the_same_global_batch():
    """Without BatchNorm (its statistics are per rank), averaging the two shards' gradients is the gradient of
    the whole batch: 2 ranks of 8 samples end where 1 process of 16 does, to float precision."""
    import copy

    from torch import nn

    from tlcore.strategies import build_strategy
    from tlcore.training.callbacks import Control
    from tlcore.training.ddp import fit_distributed
    from tlcore.training.loop import fit
    from tests.tlcore.helpers import tiny_image_data, tiny_model

    model = tiny_model()
    for block in model.backbone.blocks:
        block[1] = nn.Identity()  # no BatchNorm
    twin, data = copy.deepcopy(model), tiny_image_data(n=64)
    cpu = torch.device("cpu")
    cfg = SimpleNamespace(devices=2, batch_size=16, epochs=2, lr=3e-3, weight_decay=0.0, seed=0,
                          early_stopping_patience=0, checkpoint="last")
    one = fit(twin, build_strategy("scratch"), data, epochs=2, batch_size=16, lr=3e-3, weight_decay=0.0,
              device=cpu, seed=0, patience=0, checkpoint="last")
    two, _ = fit_distributed(model, build_strategy("scratch"), data, cfg, cpu, lambda e: None, [], Control())
    assert one.steps == two.steps == 8
    for (k, a), b in zip(twin.state_dict().items(), model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), f"{k}: 2 ranks differ from 1 process"
    assert [h["loss"] for h in one.history] == pytest.approx([h["loss"] for h in two.history], rel=1e-4)
    from tlcore.training.ddp import Parallel

    shards = [list(Parallel(r, 3, cpu).shard(list(range(16)))) for r in range(3)]  # disjoint, equal sizes
    assert sorted(i for s in shards for i in s) == list(range(15)) and [len(s) for s in shards] == [5, 5, 5]


def test_gpu_settings_are_checked_before_any_process_starts():
    from tlcore.training.ddp import check

    scratch = SimpleNamespace(name="scratch", caches_features=False)
    cfg = SimpleNamespace(devices=2, batch_size=8)
    with pytest.raises(ConfigError, match="uses cuda:0 ... cuda:1 of the GPUs the job sees"):
        check(cfg, scratch, torch.device("cuda:1"))
    if torch.cuda.device_count() < 2:
        with pytest.raises(ConfigError, match=r"devices: 2 asked for but this job sees \d GPU"):
            check(cfg, scratch, torch.device("cuda"))


def test_the_job_queue_refuses_an_unsupported_data_parallel_run_at_submit(store):
    from tlcore.jobs.queue import JobQueue

    q = JobQueue(store)
    for strategy, why in [("linear_probe", "cached frozen features"), ("mcd", "several stages per batch"),
                          ("gradual_unfreezing", "unfreezes layers")]:
        with pytest.raises(ConfigError, match=why):
            q.submit({**TINY, "strategy": strategy})
    assert q.list() == []


def _explode():
    raise RuntimeError("helper could not load its inputs")


class _FailsInTheHelper:
    """Pickles fine in rank 0; unpickling it (in the helper) raises."""

    def __reduce__(self):
        return (_explode, ())


def test_a_helper_that_dies_while_starting_fails_the_run_with_its_reason_in_bounded_time(monkeypatch):
    import time

    from tlcore.errors import TLError
    from tlcore.strategies import build_strategy
    from tlcore.training.callbacks import Control
    from tlcore.training.ddp import fit_distributed
    from tests.tlcore.helpers import tiny_image_data, tiny_model

    monkeypatch.setenv("TL_DDP_JOIN_TIMEOUT", "15")
    strategy = build_strategy("scratch")
    strategy.sabotage = _FailsInTheHelper()
    cfg = SimpleNamespace(devices=2, batch_size=16, epochs=1, lr=1e-3, weight_decay=0.0, seed=0,
                          early_stopping_patience=0, checkpoint="last")
    t0 = time.time()
    with pytest.raises(TLError, match="rank 1: RuntimeError: helper could not load its inputs"):
        fit_distributed(tiny_model(), strategy, tiny_image_data(n=32), cfg, torch.device("cpu"), lambda e: None, [],
                        Control())
    assert time.time() - t0 < 60


def test_a_helper_killed_mid_training_fails_the_run_quickly(monkeypatch):
    """The kernel's OOM killer takes one rank: the others must not wait for the collective timeout."""
    import time

    from tlcore.errors import TLError
    from tlcore.training.callbacks import Control
    from tlcore.training.ddp import fit_distributed
    from tests.tlcore.helpers import tiny_image_data, tiny_model

    monkeypatch.setenv("TL_DDP_TIMEOUT", "120")
    cfg = SimpleNamespace(devices=2, batch_size=8, epochs=50, lr=1e-3, weight_decay=0.0, seed=0,
                          early_stopping_patience=0, checkpoint="last")
    t0 = time.time()
    with pytest.raises(TLError, match=r"data-parallel training failed: rank 1 exited with code 9 \(killed"):
        fit_distributed(tiny_model(), _DiesInRank1(), tiny_image_data(n=32), cfg, torch.device("cpu"),
                        lambda e: None, [], Control())
    assert time.time() - t0 < 60


class _DiesInRank1(Scratch):
    def training_step(self, model, batch, state):
        import os

        import torch.distributed as dist

        if dist.get_rank() == 1 and state.step == 3:
            os._exit(9)  # like SIGKILL: no exception, no message
        return super().training_step(model, batch, state)
