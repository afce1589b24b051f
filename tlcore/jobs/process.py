"""Starting, signalling and describing the processes of the job system (liveness itself: :mod:`tlcore.liveness`):
besides the job processes the worker starts (:mod:`tlcore.jobs.executors`), the dashboard's one long-lived service
child, the prediction server (:func:`start_service`)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def start_service(args: list[str], root, log: Path) -> subprocess.Popen:
    """``python -m tlcore ARGS`` for the data root ``root`` as a long-lived child speaking JSON lines on its
    stdin/stdout (``predict-server``), its stderr appended to ``log``; it exits when its stdin closes."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TL_HOME": str(root), "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "tlcore", *args], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=fh, env=env, cwd=str(PROJECT))


def stop_service(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Close a service child's stdin (it exits when its stdin closes); kill it if it has not exited after
    ``grace_s`` seconds."""
    if proc.poll() is not None:
        return
    try:
        proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_s)


def kill_group(pid: int, sig: int = signal.SIGTERM) -> None:
    """Signal the process group led by ``pid`` (jobs start in their own session)."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        hint = " (possibly out of host memory)" if -rc == signal.SIGKILL else ""
        return f"killed by signal {-rc} ({name}){hint}"
    return f"exit code {rc}"
