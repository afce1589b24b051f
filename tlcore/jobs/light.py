"""The asking side of the light job kinds (:mod:`tlcore.jobs.tasks`): queue one for the dashboard or the CLI, and
read how it stands. Their work lives below the job system (:mod:`tlcore.embeddings`) and only writes progress files
naming the job; reading one settles it from the queue here, wherever the job ran.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from tlcore import children
from tlcore.embeddings.extract import LOG_FILE, PROGRESS_FILE, STALE_S
from tlcore.embeddings.shift import SHIFT_CAP, report_path
from tlcore.jobs.queue import JobNotFound, JobQueue
from tlcore.runs.store import RunStore


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


# -- embeddings of a run ----------------------------------------------------------------------------------------

def launch_extraction(store, run_id: str, method: str = "pca", dim: int = 2, params: dict | None = None,
                      owner: str | None = None) -> str:
    """Queue an ``embeddings`` job for the run (owner: the signed-in user); returns the job id. The worker runs it
    in a light slot (never in the dashboard's process); its progress is in ``extract_progress.json`` in the run
    folder (naming the job), its output in the job's log."""
    job_id = JobQueue(store).submit({"run_id": run_id, "method": method, "dim": dim, "params": params or {}},
                                    kind="embeddings", owner=owner)
    if (store.read_json(run_id, PROGRESS_FILE) or {}).get("job_id") != job_id:  # the job has not written yet
        store.write_json(run_id, PROGRESS_FILE, {"status": "running", "progress": 0.0, "detail": "queued",
                                                "time": time.time(), "job_id": job_id})
    return job_id


def extraction_status(store, run_id: str) -> dict | None:
    """``{"status": "running"|"done"|"failed", "progress", "detail", ...}`` of the last extraction, or None.

    Written for an ``embeddings`` job (``job_id``), it is settled from the job queue wherever the job ran: queued
    ("waiting for a free worker slot"), or "failed"/"cancelled" with the job's error when the job ended without
    writing its result. Written by ``python -m tlcore embeddings`` run directly, a file that still says "running"
    while its process is gone reads as "failed" (:func:`tlcore.children.settled`).
    """
    return settled(store.read_json(run_id, PROGRESS_FILE), store.root, store.path(run_id, LOG_FILE), STALE_S,
                   reread=lambda: store.read_json(run_id, PROGRESS_FILE))


# -- shift report of a pair ------------------------------------------------------------------------------------

def launch_shift_report(source: dict, target: dict, root, backbone: str | None = None,
                        owner: str | None = None, cap: int = SHIFT_CAP, seed: int = 0) -> str:
    """Queue a ``shift`` job for the pair (owner: the signed-in user); returns the job id. Its report file names
    the job at once, so the page shows it queued."""
    path = report_path(root, source, target, backbone, cap, seed)
    job_id = JobQueue(RunStore(root)).submit({"source": source, "target": target, "backbone": backbone,
                                              "cap": cap, "seed": seed}, kind="shift", owner=owner)
    try:
        current = json.loads(path.read_text(encoding="utf-8")).get("job_id")
    except (OSError, ValueError):
        current = None
    if current != job_id:  # the job has not written yet
        children.write_report(path, {"status": "running", "progress": 0.0, "detail": "queued", "time": time.time(),
                                     "job_id": job_id})
    return job_id


def read_shift_report(root, source: dict, target: dict, backbone: str | None = None, cap: int = SHIFT_CAP,
                      seed: int = 0) -> dict | None:
    """The stored report (or its progress while it runs), None when never computed."""
    # crashed, killed or cancelled: "failed"/"cancelled" instead of "running" forever
    path = report_path(root, source, target, backbone, cap, seed)

    def read():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    return settled(read(), root, path.with_suffix(".log"), 600, reread=read)
