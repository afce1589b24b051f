"""Signalling and describing the job processes (liveness itself: :mod:`tlcore.liveness`)."""
from __future__ import annotations

import os
import signal


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
