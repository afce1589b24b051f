"""Supervision of the job system (issue 15): orphans after a worker kill, restarts, GPUs, duplicate submits.

Probe jobs (real job processes that wait and record where they ran, no training) keep these fast."""
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from tlcore.liveness import is_alive
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.worker import restart_worker_if_dead, worker_running

from tests.conftest import ROOT


def wait_for(pred, timeout=60.0, every=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def start_worker(home, *args, **env):
    env = {**os.environ, "TL_HOME": str(home), **env}
    return subprocess.Popen([sys.executable, "-m", "tlcore", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)


def probes(home) -> list[dict]:
    p = home / "logs" / "probes.jsonl"
    return [json.loads(ln) for ln in p.read_text().splitlines()] if p.exists() else []


def running(q):
    return [j for j in q.list() if j.status == "running"]


@pytest.mark.both_engines  # also on PostgreSQL (tests/tlcore/conftest.py)
def test_orphaned_job_after_worker_kill_is_adopted_so_max_jobs_and_cancel_hold(store):
    q = JobQueue(store)
    long_job = q.submit({"seconds": 900}, kind="probe")  # ends by cancel, however slow the steps before it
    waiting = q.submit({"seconds": 0.1}, kind="probe")
    w1 = start_worker(store.root, "--max-jobs", "1")
    w2 = orphan = None
    try:  # deadlines are generous (a loaded 2-core box is slow to start Python); no step depends on a fixed sleep
        assert wait_for(lambda: q.get(long_job).pid and is_alive(q.get(long_job).pid), 120)
        orphan = q.get(long_job).pid
        os.kill(w1.pid, signal.SIGKILL)  # the worker only: its job keeps running in its own process group
        w1.wait()
        assert is_alive(orphan)
        w2 = start_worker(store.root, "--max-jobs", "1")
        assert wait_for(lambda: _worker_of(store, long_job) == _wid_of_pid(store, w2.pid), 120), "adopted"
        # the new worker has polled the queue twice since it adopted the orphan: had it ignored the orphan, it
        # would have started the waiting job by now
        assert _ticks(store, _wid_of_pid(store, w2.pid), 3, 120)
        assert q.get(waiting).status == "queued", "max_jobs 1 holds: the adopted orphan counts"
        assert len(running(q)) == 1
        assert q.cancel(long_job) == "running"  # cancel reaches the orphan through its new worker
        assert wait_for(lambda: q.get(long_job).status == "cancelled", 120)
        assert wait_for(lambda: not is_alive(orphan), 120)
        assert wait_for(lambda: q.get(waiting).status == "completed", 120)
    finally:
        stop(w1)
        if w2:
            stop(w2)
        if orphan and is_alive(orphan):  # a failed step must not leave the probe behind
            os.killpg(orphan, signal.SIGKILL)


def _worker_of(store, job_id) -> str:
    with store.connect() as db:
        return db.execute("SELECT worker_id FROM jobs WHERE job_id=?", (job_id,)).fetchone()[0] or ""


def _ticks(store, worker_id, n, timeout) -> bool:
    """Wait until ``worker_id`` has written ``n`` new heartbeats (one per poll of the queue, before it starts jobs)."""
    def beat():
        with store.connect() as db:
            row = db.execute("SELECT heartbeat FROM workers WHERE worker_id=?", (worker_id,)).fetchone()
        return row[0] if row else None

    seen = [beat()]

    def moved():
        b = beat()
        if b is not None and b != seen[-1]:
            seen.append(b)
        return len(seen) > n

    return wait_for(moved, timeout, every=0.02)


def _wid_of_pid(store, pid) -> str:
    with store.connect() as db:
        row = db.execute("SELECT worker_id FROM workers WHERE pid=?", (pid,)).fetchone()
    return row[0] if row else "<none>"


def test_item_62_worker_killed_10_times_during_20_queued_jobs_loses_none_and_runs_none_twice(store):
    q = JobQueue(store)
    ids = [q.submit({"seconds": 0.3}, kind="probe") for _ in range(20)]
    rng = random.Random(15)
    for _ in range(10):
        w = start_worker(store.root, "--max-jobs", "2")
        time.sleep(rng.uniform(0.3, 1.2))  # any moment: claiming, spawning, mid-job, finishing
        os.kill(w.pid, signal.SIGKILL)
        w.wait()
    w = start_worker(store.root, "--max-jobs", "2", "--once")
    assert w.wait(timeout=300) == 0  # ~10 s on an idle 2-core machine; far more when it is shared
    statuses = {j: q.get(j).status for j in ids}
    assert set(statuses.values()) == {"completed"}, statuses
    ran = [p["job_id"] for p in probes(store.root)]
    assert sorted(ran) == sorted(ids), "every job ran exactly once"


def test_dashboard_restarts_a_dead_worker(store, monkeypatch):
    monkeypatch.delenv("TL_NO_AUTOWORKER", raising=False)
    started = []
    try:
        assert restart_worker_if_dead(store.root, min_interval_s=0)
        assert wait_for(lambda: worker_running(store.root), 60)
        started += [w["pid"] for w in JobQueue(store).live_workers()]
        assert not restart_worker_if_dead(store.root, min_interval_s=0), "one runs: nothing to do"
        assert wait_for(lambda: JobQueue(store).live_workers(), 60)
        pid = JobQueue(store).live_workers()[0]["pid"]
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not worker_running(store.root), 60)
        assert restart_worker_if_dead(store.root, min_interval_s=0)
        assert wait_for(lambda: any(w["pid"] != pid for w in JobQueue(store).live_workers()), 60)
        job = JobQueue(store).submit({"seconds": 0}, kind="probe")
        assert wait_for(lambda: JobQueue(store).get(job).status == "completed", 60)
    finally:
        for w in JobQueue(store).live_workers():
            try:
                os.kill(w["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        wait_for(lambda: not worker_running(store.root), 60)


@pytest.mark.both_engines  # also on PostgreSQL (tests/tlcore/conftest.py)
def test_concurrent_submits_with_the_same_key_make_one_job_without_integrity_error(store):
    q = JobQueue(store)
    results, errors = [], []
    barrier = threading.Barrier(40)

    def submit():
        try:
            barrier.wait()
            results.append(JobQueue(store).submit({"seconds": 0}, kind="probe", submit_key="same-key"))
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=submit) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 40
    assert len(q.list()) == 1


def test_one_job_per_gpu_and_jobs_wait_for_a_free_gpu_with_a_fake_device_list(store):
    q = JobQueue(store)
    ids = [q.submit({"seconds": 1.5}, kind="probe", resources={"num_gpus": 1}) for _ in range(3)]
    cpu_job = q.submit({"seconds": 0}, kind="probe", resources={"num_gpus": 0})
    w = start_worker(store.root, "--once", TL_GPUS="0,1")  # default max_jobs: one per GPU
    try:
        assert wait_for(lambda: len(running(q)) == 2, 30)
        busy = running(q)
        assert sorted(j.gpus for j in busy) == ["0", "1"]
        assert q.get(ids[2]).status == "queued", "the third GPU job waits for a free GPU"
        assert w.wait(timeout=60) == 0
    finally:
        stop(w)
    seen = {p["job_id"]: p["cuda_visible_devices"] for p in probes(store.root)}
    assert {seen[j] for j in ids} == {"0", "1"}, "each job child sees only its GPU"
    assert seen[cpu_job] == "", "a CPU job on a GPU server sees no GPU"
    assert all(q.get(j).status == "completed" for j in [*ids, cpu_job])


@pytest.mark.both_engines  # also on PostgreSQL (tests/tlcore/conftest.py)
def test_item_83_one_user_cannot_fill_the_queue_quota_shows_usage(store, monkeypatch):
    import pytest

    from tlcore.errors import ConfigError

    monkeypatch.setenv("TL_MAX_QUEUED_PER_USER", "3")
    q = JobQueue(store)
    for _ in range(3):
        q.submit({"seconds": 0}, kind="probe", owner="ana")
    with pytest.raises(ConfigError, match="ana already has 3 queued job"):
        q.submit({"seconds": 0}, kind="probe", owner="ana")
    q.submit({"seconds": 0}, kind="probe", owner="bo")  # others are not affected
