"""Progress files: the JSON status report a piece of background work keeps beside its result (``{"status":
"running"|"done"|"failed", "progress", "detail", "pid"|"job_id", "time", ...}``), written atomically and read back
as a reader should see it.

Low in the layers (stdlib and :mod:`tlcore.runs.files` only), so the work below the job system (parameter counts,
backbone ranking, the shift report) can write its reports without importing the job system. A report written for a
job names it (``job_id``) and is settled from the queue by :func:`tlcore.jobs.light.settled`; a report of a command
run directly (the CLI) is settled here from its pid: one that still says "running" while its process is gone reads
"failed", with the last lines of its log.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tlcore.liveness import is_alive


def log_tail(path: str | Path, lines: int = 5, max_chars: int = 1500) -> str:
    """The last non-empty ``lines`` lines of a log file ("" when missing)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    rows = [r for r in text.splitlines() if r.strip()]
    return "\n".join(rows[-lines:])[-max_chars:]


def dead_process_detail(log_path: str | Path) -> str:
    """A one-paragraph reason for a background process that stopped without writing its result."""
    tail = log_tail(log_path)
    return "The background process stopped without finishing." + (f" Last output:\n{tail}" if tail
                                                                    else " It wrote no output.")


def settled(report: dict | None, log_path: str | Path, stale_s: float) -> dict | None:
    """A report of a command run directly as a reader should see it: one that still says "running" while its
    process is gone (crashed, killed) reads "failed", with the log's last lines as the detail. A report without a
    pid counts as gone once it is older than ``stale_s``: nobody will finish it."""
    if report and report.get("status") == "running" and _gone(report, stale_s):
        report = {**report, "status": "failed", "detail": dead_process_detail(log_path)}
    return report


def _gone(report: dict, stale_s: float) -> bool:
    if report.get("pid"):
        return not is_alive(int(report["pid"]))
    return time.time() - float(report.get("time") or 0) > stale_s


def read_json(path: str | Path) -> dict | None:
    """The report at ``path`` as written; None when missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_report(path: str | Path, obj: dict) -> None:
    """Write a status report atomically (a reader never sees half of it); creates the folder."""
    from tlcore.runs.files import FILE_MODE, private_dir

    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj))
    os.replace(tmp, path)


def progress_reporter(path: str | Path, write: bool = True):
    """``progress(fraction, detail)`` for a long engine step (a shift report, a backbone ranking): written to its
    report file ``path`` (``status: running``, pid, time; skipped with ``write=False``) and, inside a job, to the
    job's progress (:func:`tlcore.job_context.report_progress`)."""
    from tlcore.job_context import current_job, report_progress

    job = {"job_id": current_job()} if current_job() else {}  # inside a job: readers ask the queue

    def progress(p: float, detail: str) -> None:
        if write:
            write_report(path, {"status": "running", "progress": p, "detail": detail, "pid": os.getpid(),
                                "time": time.time(), **job})
        if job:
            report_progress(p, detail)

    return progress
