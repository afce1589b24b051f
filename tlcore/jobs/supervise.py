"""Supervision of running jobs, for the worker (:mod:`tlcore.jobs.worker`): settle jobs that no live worker serves
(:func:`reconcile`), record how a job process ended (:func:`reap`), and stop jobs past their time limit or cancelled
(:func:`enforce_timeout`, :func:`enforce_cancel`)."""
from __future__ import annotations

import os
import socket
import time

from tlcore.jobs.handle import UNKNOWN_EXIT
from tlcore.jobs.process import describe_exit
from tlcore.jobs.queue import JobQueue
from tlcore.liveness import is_alive

CANCEL_GRACE_S = 5.0
KILL_GRACE_S = 5.0


def _live_worker_ids(queue: JobQueue) -> set[str]:
    """Workers with a fresh heartbeat; on this host also a live process (a SIGKILLed worker is dead at once)."""
    host = socket.gethostname()
    out = set()
    for w in queue.live_workers():
        if w["host"] in (host, os.uname().nodename) and not is_alive(w["pid"]):
            continue
        out.add(w["worker_id"])
    return out


def reconcile(queue: JobQueue, own: set[str] | None = None, adopt=None) -> list[str]:
    """Settle running jobs that no live worker serves.

    - claimed but never bound to a process (the worker died in between): back to the queue;
    - a local job process that still runs (its worker was killed): ``adopt(row)`` takes it over, so cancel,
      the timeout and ``max_jobs`` reach it; without ``adopt`` it is left alone;
    - a job process that died without a result, or a Ray task whose driver is gone: failed, with the log tail.

    Returns the ids of the jobs re-queued or failed.
    """
    own = own or set()
    fixed = []
    live = _live_worker_ids(queue)
    host = socket.gethostname()
    with queue.store.connect() as db:
        rows = [dict(r) for r in db.execute("SELECT * FROM jobs WHERE status='running'").fetchall()]
    for r in rows:
        if r["job_id"] in own or r["worker_id"] in live:
            continue
        if r["pid"] is None:
            if queue.requeue_unbound(r["job_id"], r["worker_id"]):
                fixed.append(r["job_id"])
            continue
        local = (r.get("executor") or "local") == "local" and (r.get("node") or host) == host
        if local and is_alive(r["pid"], r["pid_start"]):
            if adopt is not None:
                adopt(r)
            continue
        tail = queue.log_tail(r["job_id"], 1500).strip()
        if local:
            msg = f"job process {r['pid']} died without reporting a result"
        else:
            msg = f"the worker that ran this job on {r.get('executor')} ({r.get('node') or 'unknown node'}) stopped"
        fail_job(queue, r["job_id"], r["run_id"], explained(queue, msg, tail))
        fixed.append(r["job_id"])
    return fixed


def explained(queue: JobQueue, why: str, tail: str) -> str:
    """A dead job's error: its cause first when the disk holding the data root is full (the usual reason for a
    process that ends with an empty log: it could write nothing), then the exit and the log tail."""
    from tlcore.runs.files import LOW_SPACE_MB, disk_full_message, free_mb

    free = free_mb(queue.store.root)
    if (free is not None and free < LOW_SPACE_MB) or "No space left on device" in tail:
        why = f"{disk_full_message(queue.store.root)} (job: {why})"
    return why + (f"; log tail:\n{tail}" if tail else "")


def fail_job(queue: JobQueue, job_id: str, run_id: str | None, msg: str) -> None:
    """Fail the job's run, then the job (a reader that sees the job failed sees its run failed too)."""
    if run_id:
        try:
            rec = queue.store.get(run_id)
            if rec.status == "running":
                queue.store.finish(run_id, "failed", error=msg.splitlines()[0])
        except Exception:  # noqa: BLE001 - the run row may not exist yet
            pass
    queue.finish(job_id, "failed", msg)


def reap(queue: JobQueue, children: dict, executor) -> None:
    for job_id in list(children):
        h = children[job_id]
        rc = executor.poll(h)
        if rc is None:
            continue
        children.pop(job_id)
        snap = queue.get(job_id)
        if snap.status != "running":
            continue  # the job reported its own result
        if snap.cancel_requested:
            queue.finish(job_id, "cancelled", "cancelled by the user (process stopped)")
            if snap.run_id:
                try:
                    if queue.store.get(snap.run_id).status == "running":
                        queue.store.finish(snap.run_id, "cancelled", error="cancelled by the user")
                except Exception:  # noqa: BLE001
                    pass
            continue
        tail = queue.log_tail(job_id, 1500).strip()
        if h.timeout_at:
            fail_job(queue, job_id, snap.run_id, explained(queue, f"timed out: stopped after {h.limit:g} s of "
                                                         "wall-clock time (TL_JOB_TIMEOUT_S)", tail))
            continue
        why = h.error or (f"job process {h.pid} ended without reporting a result" if rc == UNKNOWN_EXIT
                          else f"job process {describe_exit(rc)}")
        fail_job(queue, job_id, snap.run_id, explained(queue, why, tail))


def enforce_timeout(children: dict, executor) -> None:
    """Stop jobs running longer than their limit: SIGTERM to the process group (ray.cancel), SIGKILL after a
    grace (ray.cancel(force=True))."""
    now = time.time()
    for h in children.values():
        if not h.limit:
            continue
        if h.timeout_at is None and now - h.started > h.limit:
            h.timeout_at = now
            executor.stop(h)
        elif h.timeout_at is not None and now - h.timeout_at > KILL_GRACE_S:
            executor.stop(h, force=True)


def enforce_cancel(queue: JobQueue, children: dict, executor) -> None:
    """A cancelled job stops itself at its next step; if it has not within the grace period, kill it."""
    now = time.time()
    for job_id, h in children.items():
        if h.cancel_at is None:
            if queue.cancel_requested(job_id):
                h.cancel_at = now
            continue
        waited = now - h.cancel_at
        if waited > CANCEL_GRACE_S + KILL_GRACE_S:
            executor.stop(h, force=True)
        elif waited > CANCEL_GRACE_S:
            executor.stop(h)
