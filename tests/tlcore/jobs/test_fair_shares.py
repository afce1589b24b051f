"""Issue 23 item 5 (fair shares, tlcore/jobs/fair.py): the queue serves users round-robin with a per-user running
limit (TL_MAX_RUNNING_PER_USER), not first in, first out."""
from __future__ import annotations

from tlcore.jobs.queue import JobQueue
from tlcore.jobs.worker import _Serving

from tests.tlcore.jobs.test_light_jobs import FakeExecutor

DB_ENGINES = ("sqlite", "postgresql")  # each test runs on both engines (tests/tlcore/conftest.py)


def probes(q, owner, n):
    return [q.submit({"seconds": 0}, kind="probe", owner=owner) for _ in range(n)]


def test_item5_fair_shares_a_later_user_runs_second_not_sixth(store):
    q = JobQueue(store)
    a = probes(q, "ana", 5)
    b = probes(q, "bo", 1)
    ex = FakeExecutor()
    w = _Serving(q, ex, max_jobs=1, timeout=0, light=0)
    order = []
    while len(order) < 6:
        w.tick()
        order.append(ex.started[-1])
        ex.done(q, ex.started[-1])
    assert order == [a[0], b[0], *a[1:]]  # one slot: bo's job runs second, not sixth


def test_item5_the_user_with_fewer_running_jobs_goes_first_and_claim_next_agrees(store):
    q = JobQueue(store)
    a = probes(q, "ana", 3)
    b = probes(q, "bo", 2)
    first = q.claim_next("w1")
    assert first.job_id == a[0]
    assert q.next_queued().job_id == b[0] and q.claim_next("w1").job_id == b[0]  # ana runs one, bo none
    assert q.claim_next("w1").job_id == a[1]  # one each: ana was served longer ago


def test_item5_per_user_running_limit(store, monkeypatch):
    monkeypatch.setenv("TL_MAX_RUNNING_PER_USER", "1")
    q = JobQueue(store)
    a = probes(q, "ana", 3)
    b = probes(q, "bo", 1)
    ex = FakeExecutor()
    w = _Serving(q, ex, max_jobs=3, timeout=0, light=0)
    w.start_queued()
    assert ex.started == [a[0], b[0]]  # a free slot stays free rather than give ana a second running job
    assert q.get(a[1]).status == "queued"
    ex.done(q, a[0])
    w.tick()
    assert ex.started[-1] == a[1]
