"""Reading the progress file of a light job (:mod:`tlcore.jobs.tasks`) from the job queue, not from a pid."""
from __future__ import annotations

from pathlib import Path

from tlcore import children
from tlcore.jobs.queue import JobNotFound, JobQueue
from tlcore.jobs.tasks import current_job
from tlcore.runs.store import RunStore

_QUEUE: list = []  # this job process's queue, opened once


def mirror(progress: float, detail: str) -> None:
    """Inside a light job: copy its progress to the job's row too (the jobs list, ``jobs --json``); best effort."""
    job = current_job()
    if not job:
        return
    try:
        if not _QUEUE:
            _QUEUE.append(JobQueue())
        _QUEUE[0].update(job, progress={"type": "phase", "phase": detail, "progress": round(float(progress), 3)})
    except Exception:  # noqa: BLE001 - a busy or full disk: the progress file still has it
        pass


def settled(report: dict | None, root, log_path: str | Path, stale_s: float, reread=None) -> dict | None:
    """A progress report as a reader should see it. One written for a job (``job_id``) is settled from the queue,
    wherever the job ran: queued -> "running" (waiting for a slot), failed/cancelled while the file still says
    "running" -> "failed"/"cancelled" with the job's error. Reports without a job (the CLI run directly) fall back to
    the local pid check (:func:`tlcore.children.settled`). ``reread()`` reads the file again (a job that completed
    just after the file was read)."""
    if not report or report.get("status") != "running" or not report.get("job_id"):
        return children.settled(report, log_path, stale_s)
    try:
        snap = JobQueue(RunStore(root)).get(report["job_id"])
    except JobNotFound:
        return {**report, "status": "failed", "detail": f"job {report['job_id']} was deleted before it finished"}
    if snap.status == "queued":
        return {**report, "progress": 0.0, "detail": f"queued as {snap.job_id}, waiting for a free worker slot"}
    if snap.status in ("failed", "cancelled"):
        return {**report, "status": snap.status, "detail": snap.error or snap.status}
    if snap.status == "completed":  # the job wrote its result after this report was read: read it again
        again = reread() if reread else None
        if again and again.get("status") != "running":
            return again
        return {**report, "status": "failed", "detail": "the job ended without writing its result"}
    return {**report, "job_status": snap.status}
