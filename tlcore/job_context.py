"""What a process knows about the job it runs for: its id (``TL_JOB_ID``) and where its progress goes.

Low in the layers (stdlib only), so the work of a light job (:mod:`tlcore.embeddings`) can name its job in its
progress files and report progress without importing the job system: the job system sets both when it starts a
task (:func:`tlcore.jobs.tasks.run`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

JOB_ENV = "TL_JOB_ID"  # set in a task's process: its progress files name the job

_SINK: list[Callable[[float, str], None]] = []  # the progress sink of this process's job, set once


def job_folder(root, job_id: str) -> Path:
    """Where job ``job_id`` writes its output files (``$TL_HOME/outputs/<job_id>/``: chosen by TL Studio, never by a
    user; removed with the job)."""
    return Path(root) / "outputs" / job_id


def current_job() -> str | None:
    """The job this process runs for (a light task), else None."""
    return os.environ.get(JOB_ENV) or None


def set_progress_sink(sink: Callable[[float, str], None] | None) -> None:
    """Install (or with None remove) where :func:`report_progress` sends this process's job progress."""
    _SINK.clear()
    if sink is not None:
        _SINK.append(sink)


def report_progress(progress: float, detail: str) -> None:
    """Inside a job: hand its progress to the job system (the jobs list, ``jobs --json``); best effort, a no-op
    outside a job."""
    if not _SINK or not current_job():
        return
    try:
        _SINK[0](float(progress), detail)
    except Exception:  # noqa: BLE001 - a busy or full disk: the progress file still has it
        pass
