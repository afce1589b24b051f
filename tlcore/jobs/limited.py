"""A short, synchronous child under a wall-clock stop: the one way lower layers start a process (issue 24).

The data layer parses what a user uploaded in a limited child (:mod:`tlcore.data.sandbox`); it may not import the
job queue, so this module is the bottom of the job system: standard library only, no ``tlcore`` import (a test and
the import contracts check both). Everything that starts a process lives in :mod:`tlcore.jobs` (job processes,
the prediction server, this), in DDP's ranks and in the device probe.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass


@dataclass
class ChildResult:
    returncode: int  # negative: killed by that signal
    stdout: str
    stderr: str
    timed_out: bool  # stopped by the wall-clock limit
    cpu_s: float  # the child's own user + system CPU time


def run_module(module: str, args: list[str], env: dict, wall_s: float) -> ChildResult:
    """``python -m MODULE ARGS`` in its own session with ``env``, stdin closed, its output in temporary files (a
    child that writes a lot never blocks on a pipe); killed with SIGKILL after ``wall_s`` seconds. The child sets
    its own resource limits before it reads anything (see :mod:`tlcore.data.sandbox_child`)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        timed_out = threading.Event()

        def _stop():
            timed_out.set()
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        timer = threading.Timer(wall_s, _stop)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own usage, not every child's
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildResult(proc.returncode, out.read().decode("utf-8", "replace"),
                           err.read().decode("utf-8", "replace"), timed_out.is_set(),
                           usage.ru_utime + usage.ru_stime)
