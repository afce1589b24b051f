"""The asking side of the light job kinds (:mod:`tlcore.jobs.tasks`): queue one for the dashboard or the CLI, and
read how it stands. Their work lives below the job system (:mod:`tlcore.embeddings`, :mod:`tlcore.models.counting`,
:mod:`tlcore.transferability.ranking`) and only writes progress files naming the job; reading one settles it from
the queue here, wherever the job ran.
"""
from __future__ import annotations

import time
from pathlib import Path

from tlcore import progress_file
from tlcore.embeddings.extract import LOG_FILE, PROGRESS_FILE, STALE_S
from tlcore.embeddings.shift import SHIFT_CAP, report_path
from tlcore.errors import ConfigError
from tlcore.jobs.queue import JobNotFound, JobQueue
from tlcore.models.counting import COUNT_STALE_S, count_path
from tlcore.runs.home import current_user
from tlcore.runs.store import RunStore
from tlcore.transferability.ranking import RANK_CAP, RANK_STALE_S, ranking_path


def settled(report: dict | None, root, log_path: str | Path, stale_s: float, reread=None) -> dict | None:
    """A progress report as a reader should see it. One written for a job (``job_id``) is settled from the queue,
    wherever the job ran: queued -> "running" (waiting for a slot), failed/cancelled while the file still says
    "running" -> "failed"/"cancelled" with the job's error. Reports without a job (the CLI run directly) fall back to
    the local pid check (:func:`tlcore.progress_file.settled`). ``reread()`` reads the file again (a job that completed
    just after the file was read)."""
    if not report or report.get("status") != "running" or not report.get("job_id"):
        return progress_file.settled(report, log_path, stale_s)
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
    while its process is gone reads as "failed" (:func:`tlcore.progress_file.settled`).
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
    _name_job(path, job_id)
    return job_id


def read_shift_report(root, source: dict, target: dict, backbone: str | None = None, cap: int = SHIFT_CAP,
                      seed: int = 0) -> dict | None:
    """The stored report (or its progress while it runs), None when never computed."""
    # crashed, killed or cancelled: "failed"/"cancelled" instead of "running" forever
    return _read(root, report_path(root, source, target, backbone, cap, seed), 600)


# -- parameter count of a backbone x strategy choice (the Train page) -------------------------------------------

def request_count(root, backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
                  bottleneck: int = 0, owner: str | None = None) -> dict:
    """The count for this choice as :func:`count_status` reports it; when it was never counted and none of
    ``owner``'s count jobs is queued or running, queues a ``count`` job (one at a time: quick changes of the form
    do not pile up jobs that each load torch). ``{"status": "running"}`` until it is there."""
    choice = (backbone, strategy, params, num_classes, bottleneck)
    rep = count_status(root, *choice)
    if rep is None:
        queue = JobQueue(RunStore(root))
        owner = owner or current_user()
        if not any(j.owner == owner for j in queue.list(active_only=True, kinds=("count",))):
            try:
                job_id = queue.submit({"backbone": backbone, "strategy": strategy, "params": dict(params or {}),
                                       "num_classes": num_classes, "bottleneck": bottleneck}, kind="count",
                                      owner=owner)
            except ConfigError as exc:  # refused at submit (an unknown name, the queue quota): say why
                return {"status": "failed", "detail": str(exc)}
            _name_job(count_path(root, *choice), job_id)
    return rep or {"status": "running"}


def count_status(root, backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
                 bottleneck: int = 0) -> dict | None:
    """``{"status": "done", "trainable", "total"}``, ``{"status": "running"}`` (queued or counting),
    ``{"status": "failed"|"cancelled", "detail"}``, or None when never counted."""
    return _read(root, count_path(root, backbone, strategy, params, num_classes, bottleneck), COUNT_STALE_S)


# -- backbone ranking of a source (the Train page) ----------------------------------------------------------------

def launch_ranking(source: dict, root, owner: str | None = None, backbones: list[str] | None = None,
                   cap: int = RANK_CAP, seed: int = 0, image_size: int | None = None) -> str:
    """Queue a ``rank`` job for ``source`` (owner: the signed-in user; every loadable backbone unless
    ``backbones``); returns the job id. Its report file names the job at once, so the page shows it queued."""
    job_id = JobQueue(RunStore(root)).submit({"source": source, "backbones": backbones, "cap": cap, "seed": seed,
                                              "image_size": image_size}, kind="rank", owner=owner)
    _name_job(ranking_path(root, source, backbones, cap, seed, image_size), job_id)
    return job_id


def ranking_status(root, source: dict, backbones: list[str] | None = None, cap: int = RANK_CAP, seed: int = 0,
                   image_size: int | None = None) -> dict | None:
    """The stored ranking (or its progress while it runs, settled from the queue); None when never computed."""
    return _read(root, ranking_path(root, source, backbones, cap, seed, image_size), RANK_STALE_S)


# -- report files naming their job --------------------------------------------------------------------------------

def _name_job(path: Path, job_id: str) -> None:
    """Unless the job already wrote its report, say "queued" naming it, so readers settle it from the queue."""
    if (progress_file.read_json(path) or {}).get("job_id") != job_id:
        progress_file.write_report(path, {"status": "running", "progress": 0.0, "detail": "queued",
                                          "time": time.time(), "job_id": job_id})


def _read(root, path: Path, stale_s: float) -> dict | None:
    return settled(progress_file.read_json(path), root, path.with_suffix(".log"), stale_s,
                   reread=lambda: progress_file.read_json(path))
