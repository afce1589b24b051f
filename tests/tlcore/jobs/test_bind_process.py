"""``JobQueue.bind_process``: the guard that keeps a job from running twice across worker restarts, and the case
CI caught (a worker SIGKILLed while its job process was still importing: the next worker adopted the job, and the
job process, binding itself late, must run on instead of exiting)."""
from tlcore.jobs.queue import JobQueue

DB_ENGINES = ("sqlite", "postgresql")  # each test runs on both engines (tests/tlcore/conftest.py)


def _claim(q, worker):
    job = q.submit({"seconds": 0}, kind="probe")
    assert q.claim_next(worker, job_id=job).job_id == job
    return job


def test_a_job_process_bound_by_its_worker_binds_itself_after_another_worker_adopted_it(store):
    q = JobQueue(store)
    job = _claim(q, "w1")
    assert q.bind_process(job, "w1", 4242, 100.0)  # the worker, right after spawning the process
    with store.connect() as db:  # w1 is killed; w2 adopts the live process (Serving.adopt)
        db.execute("UPDATE jobs SET worker_id='w2' WHERE job_id=?", (job,))
    assert q.bind_process(job, "w1", 4242, 100.0), "the adopted process is still this job's"
    assert q.get(job).pid == 4242


def test_a_reused_pid_or_a_stranger_does_not_bind(store):
    q = JobQueue(store)
    job = _claim(q, "w1")
    assert q.bind_process(job, "w1", 4242, 100.0)
    assert not q.bind_process(job, "w1", 4242, 999.0), "same pid, another process (pid reuse)"
    assert not q.bind_process(job, "w1", 5555, 100.0), "another process"
    assert not q.bind_process(job, "w2", 5555, 100.0)


def test_a_requeued_and_reclaimed_job_is_not_run_by_the_old_workers_process(store):
    q = JobQueue(store)
    job = _claim(q, "w1")  # w1 claimed it and died before its process bound itself
    assert q.requeue_unbound(job, "w1")
    assert q.claim_next("w2", job_id=job).job_id == job
    assert not q.bind_process(job, "w1", 4242, 100.0), "the old worker's late process must not run it"
    assert q.bind_process(job, "w2", 5555, 200.0)
    assert not q.bind_process(job, "w1", 4242, 100.0)
