"""Background processes the dashboard starts itself (parameter counts, backbone ranking): spawn, reap, and tell a
dead one. Embeddings and the shift report are queued jobs instead (:mod:`tlcore.jobs.tasks`).

A process started with ``subprocess.Popen`` stays a zombie (``<defunct>``) in the process table until its
parent waits for it. The dashboard starts short-lived commands and never blocks on them, so every spawn is
registered here and ``reap()`` collects the finished ones (non-blocking); it runs on every spawn and every
status read, so at most a few seconds pass between a child's exit and its reaping.

``process_state(pid)`` says whether a pid still runs, is a reaped child of ours (with its exit code), or is gone;
progress files that still say "running" for a process that is gone are reported as failed by their readers
(``settled``, ``read_report``; ``write_report`` writes them atomically).
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

_LOCK = threading.Lock()
_RUNNING: dict[int, subprocess.Popen] = {}   # pid -> Popen of children not reaped yet
_EXITED: dict[int, int] = {}                 # pid -> exit code of children reaped by reap()
_MAX_EXITED = 256


def spawn(args: list[str], log_path: str | Path, env: dict | None = None, cwd: str | None = None) -> subprocess.Popen:
    """Start ``args`` in its own session with stdout+stderr to ``log_path``; registered for reaping."""
    reap()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd or os.getcwd(), start_new_session=True)
    with _LOCK:
        _RUNNING[proc.pid] = proc
    return proc


def reap() -> dict[int, int]:
    """Wait (without blocking) for every registered child that has exited; returns ``{pid: exit code}`` of those
    reaped by this call."""
    done = {}
    with _LOCK:
        for pid, proc in list(_RUNNING.items()):
            code = proc.poll()
            if code is not None:
                done[pid] = code
                del _RUNNING[pid]
        _EXITED.update(done)
        while len(_EXITED) > _MAX_EXITED:
            _EXITED.pop(next(iter(_EXITED)))
    return done


def running_with(arg: str) -> int:
    """How many registered children still run with ``arg`` among their command-line arguments."""
    reap()
    with _LOCK:
        return sum(1 for p in _RUNNING.values() if arg in (p.args if isinstance(p.args, list) else []))


def running_children() -> list[int]:
    """Pids of registered children still running (after reaping the finished ones)."""
    reap()
    with _LOCK:
        return sorted(_RUNNING)


def exit_code(pid: int, wait_s: float = 0.0) -> int | None:
    """The exit code of a child of ours that has been reaped, else None.

    With ``wait_s`` > 0, a registered child that has not been collected yet (it is exiting, or another thread
    held its wait lock when ``reap`` polled it) is waited for up to ``wait_s`` seconds.
    """
    reap()
    pid = int(pid)
    with _LOCK:
        if pid in _EXITED or wait_s <= 0:
            return _EXITED.get(pid)
        proc = _RUNNING.get(pid)
    if proc is None:
        return None
    try:
        code = proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        return None
    with _LOCK:
        _RUNNING.pop(pid, None)
        _EXITED[pid] = code
    return code


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` runs (a zombie counts as dead). Children of ours are reaped first."""
    if not pid:
        return False
    pid = int(pid)
    reap()
    with _LOCK:
        if pid in _EXITED:
            return False
    from tlcore.liveness import is_alive

    return is_alive(pid)


def log_tail(path: str | Path, lines: int = 5, max_chars: int = 1500) -> str:
    """The last non-empty ``lines`` lines of a log file ("" when missing)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    rows = [r for r in text.splitlines() if r.strip()]
    return "\n".join(rows[-lines:])[-max_chars:]


def dead_process_detail(pid: int | None, log_path: str | Path) -> str:
    """A one-paragraph reason for a background process that stopped without writing its result."""
    code = exit_code(pid, wait_s=2.0) if pid else None
    tail = log_tail(log_path)
    head = "The background process stopped" + (f" (exit code {code})" if code is not None else "")
    return f"{head} without finishing." + (f" Last output:\n{tail}" if tail else " It wrote no output.")


def settled(report: dict | None, log_path: str | Path, stale_s: float) -> dict | None:
    """A background process's status report as a reader should see it: one that still says "running" while its
    process is gone (crashed, killed) reads "failed", with the exit code and the log's last lines as the detail.
    A report without a pid counts as gone once it is older than ``stale_s``: nobody will finish it."""
    if report and report.get("status") == "running" and _gone(report, stale_s):
        report = {**report, "status": "failed", "detail": dead_process_detail(report.get("pid"), log_path)}
    return report


def _gone(report: dict, stale_s: float) -> bool:
    if report.get("pid"):
        return not pid_alive(report["pid"])
    return time.time() - float(report.get("time") or 0) > stale_s


def read_report(path: str | Path, stale_s: float) -> dict | None:
    """The JSON status report at ``path`` (its process's log beside it, ``.log``), :func:`settled`; None when
    missing or unreadable."""
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return settled(report, path.with_suffix(".log"), stale_s)


def write_report(path: str | Path, obj: dict) -> None:
    """Write a status report atomically (a reader never sees half of it); creates the folder."""
    from tlcore.runs.files import FILE_MODE, private_dir

    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "w", encoding="utf-8") as fh:
        fh.write(json.dumps(obj))
    os.replace(tmp, path)
