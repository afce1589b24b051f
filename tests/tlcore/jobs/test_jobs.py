"""The job queue and worker: real child processes on tiny models."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tlcore.errors import ConfigError
from tlcore.jobs.process import describe_exit
from tlcore.liveness import is_alive, process_start_time
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.worker import reconcile

from tests.conftest import ROOT

FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 200, "strategy": "scratch"}
SLOW = {**FAST, "epochs": 400, "early_stopping_patience": 0, "batch_size": 8}


def wait_for(pred, timeout=120.0, every=0.2):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def start_worker(home, *args):
    env = {**os.environ, "TL_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "tlcore", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.both_engines  # also on PostgreSQL (tests/tlcore/conftest.py)
def test_submit_is_validated_and_idempotent(store):
    q = JobQueue(store)
    with pytest.raises(ConfigError, match="epochs"):
        q.submit({**FAST, "epochs": 0})
    a = q.submit(FAST, submit_key="nonce-1")
    assert q.submit(FAST, submit_key="nonce-1") == a
    assert [j.job_id for j in q.list()] == [a]
    assert q.cancel(a) == "cancelled"
    assert q.get(a).status == "cancelled"
    assert q.claim_next("w") is None


@pytest.mark.both_engines  # also on PostgreSQL (tests/tlcore/conftest.py)
def test_claim_is_exclusive(store):
    q = JobQueue(store)
    ids = [q.submit(FAST) for _ in range(3)]
    claimed = [q.claim_next(f"w{i}") for i in range(4)]
    assert sorted(j.job_id for j in claimed if j) == sorted(ids)
    assert claimed[-1] is None


def test_worker_runs_queued_jobs_in_child_processes(store):
    q = JobQueue(store)
    ids = [q.submit(FAST), q.submit({**FAST, "strategy": "linear_probe"})]
    w = start_worker(store.root, "--once")
    assert w.wait(timeout=300) == 0
    for jid in ids:
        snap = q.get(jid)
        assert snap.status == "completed", (snap.error, q.log_tail(jid))
        assert snap.pid and snap.pid != w.pid
        assert store.get(snap.run_id).status == "completed"


def test_item_61_killed_job_is_failed_and_the_queue_goes_on(store):
    q = JobQueue(store)
    victim = q.submit(SLOW)
    after = q.submit(FAST)
    w = start_worker(store.root)
    try:
        assert wait_for(lambda: q.get(victim).pid and q.get(victim).progress.get("type") in ("step", "epoch"))
        os.kill(q.get(victim).pid, signal.SIGKILL)
        assert wait_for(lambda: q.get(victim).status == "failed", 60)
        snap = q.get(victim)
        assert "signal 9" in snap.error
        assert store.get(snap.run_id).status == "failed"
        assert wait_for(lambda: q.get(after).status == "completed", 180), q.log_tail(after)
        assert w.poll() is None, "the worker survives a job's death"
    finally:
        w.terminate()
        w.wait(timeout=30)


def test_item_60_cancel_stops_a_running_job_within_seconds(store):
    q = JobQueue(store)
    jid = q.submit(SLOW)
    w = start_worker(store.root)
    try:
        assert wait_for(lambda: q.get(jid).progress.get("type") in ("step", "epoch"))
        pid = q.get(jid).pid
        t0 = time.time()
        assert q.cancel(jid) == "running"
        assert wait_for(lambda: q.get(jid).status == "cancelled", 30)
        assert time.time() - t0 < 15
        assert wait_for(lambda: not is_alive(pid), 15)
        assert store.get(q.get(jid).run_id).status == "cancelled"
    finally:
        w.terminate()
        w.wait(timeout=30)


@pytest.mark.both_engines  # also on PostgreSQL (tests/tlcore/conftest.py)
def test_item_62_reconcile_marks_dead_jobs_failed(store):
    q = JobQueue(store)
    jid = q.submit(FAST)
    q.claim_next("gone-worker")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    q.update(jid, pid=dead.pid, pid_start=12345.0)
    assert reconcile(q) == [jid]
    assert q.get(jid).status == "failed" and "died" in q.get(jid).error


def test_item_63_pid_reuse_is_detected():
    me = os.getpid()
    assert is_alive(me, process_start_time(me))
    assert not is_alive(me, (process_start_time(me) or 0) + 1000)
    assert "signal 9" in describe_exit(-9)


def test_item_68_runaway_job_is_stopped_at_the_wall_clock_limit(store):
    q = JobQueue(store)
    jid = q.submit(SLOW)
    after = q.submit(FAST)
    env = {**os.environ, "TL_HOME": str(store.root), "TL_JOB_TIMEOUT_S": "20"}  # room for torch to import on a busy machine
    w = subprocess.Popen([sys.executable, "-m", "tlcore", "worker"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: q.get(jid).status == "failed", 90)
        snap = q.get(jid)
        assert "timed out" in snap.error and "TL_JOB_TIMEOUT_S" in snap.error
        assert wait_for(lambda: not is_alive(snap.pid), 15)
        assert store.get(snap.run_id).status == "failed"
        assert wait_for(lambda: q.get(after).status != "queued", 60)  # the queue goes on
    finally:
        w.terminate()
        w.wait(timeout=30)
