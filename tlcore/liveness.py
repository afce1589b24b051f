"""Process liveness that survives PID reuse: a PID plus its start time. Stdlib only, at the bottom of the layers:
the run store, uploads, child reports and the job system all ask it."""
from __future__ import annotations

import os


def process_start_time(pid: int) -> float | None:
    """The process start time in clock ticks since boot (Linux), or None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            stat = fh.read()
        return float(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_alive(pid: int | None, start_time: float | None = None) -> bool:
    """True when ``pid`` runs and (if given) started at ``start_time``; zombies count as dead."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        if state in ("Z", "X"):
            return False
    except OSError:
        return False
    if start_time is not None:
        now = process_start_time(pid)
        if now is not None and abs(now - start_time) > 0.5:
            return False
    return True
