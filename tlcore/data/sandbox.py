"""Parsing user data in a child process under hard limits (issue 22 item 1).

Column peeking, upload validation, server-folder registration and batch-prediction inputs read what a user gave in
``python -m tlcore.data.sandbox_child``: a child that imports only the table/image readers (pandas, pyarrow, PIL; never
torch), sets its own address-space limit (``RLIMIT_AS``, ``TL_PARSE_MEMORY_MB``) and CPU-time limit
(``RLIMIT_CPU``, ``TL_PARSE_CPU_S``) before it opens the file, and prints one JSON line. The calling process
(the dashboard) never holds the parsed table, and a child that goes over a limit is stopped by the kernel and
reported in one line::

    parsing data.parquet used more than 2,048 MB of memory; limit TL_PARSE_MEMORY_MB
    parsing data.csv used more than 300 s of CPU time; limit TL_PARSE_CPU_S

A wall-clock stop (``TL_PARSE_CPU_S`` x 2 + 30 s) covers a child that waits instead of computing.
"""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tlcore.data import limits
from tlcore.errors import DataError
from tlcore.jobs.limited import run_module

MEMORY_EXIT = 75  # the child's exit code after a MemoryError under its address-space limit
_FAIL_SIGNALS = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGKILL}  # a C library that could not allocate
_MEMORY_WORDS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory", "malloc", "failed to map")

last_child_peak_mb: float | None = None  # peak RSS of the last child (MB), for benchmarks and tests


def run(op: str, path: str | Path, display: str, module: str = "tlcore.data.sandbox_child", **kwargs) -> dict:
    """Run ``op`` (``"inspect"``: a domain's index info; ``"columns"``: a table's column names) on ``path`` in a
    limited child; returns its JSON answer. Raises :class:`DataError` with the child's one-line error, or the
    limit it went over. ``module``: the child's module (one that ends in :func:`tlcore.data.sandbox_child.serve`;
    ``tlcore.export.input_child`` reads batch-prediction inputs)."""
    global last_child_peak_mb
    mem_mb, cpu_s = limits.limit("TL_PARSE_MEMORY_MB"), limits.limit("TL_PARSE_CPU_S")
    args = json.dumps({"op": op, "path": str(path), "display": display, "memory_mb": mem_mb, "cpu_s": cpu_s,
                       **kwargs})
    # glibc malloc with few arenas (also for Arrow): the address space tracks what is resident, so the limit
    # means about what it says instead of counting allocator reservations
    env = {**os.environ, "PYTHONPATH": _pythonpath(), "MALLOC_ARENA_MAX": "2", "ARROW_DEFAULT_MEMORY_POOL": "system",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    res = run_module(module, [args], env, 2 * cpu_s + 30)
    stdout, stderr, code = res.stdout, res.stderr, res.returncode
    last_child_peak_mb = None
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    try:
        answer = json.loads(lines[-1]) if code == 0 else None
    except (IndexError, ValueError):
        answer = None
    if isinstance(answer, dict):
        peak = answer.pop("_peak_mb", None)
        if isinstance(peak, (int, float)):  # the child's own high-water mark (see sandbox_child.own_peak_mb)
            last_child_peak_mb = float(peak)
        if "error" in answer:
            raise DataError(answer["error"])
        return answer
    if res.timed_out:
        raise DataError(f"parsing {display} took more than {2 * cpu_s + 30:,} s; limit TL_PARSE_CPU_S")
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and res.cpu_s >= cpu_s):
        raise DataError(f"parsing {display} used more than {cpu_s:,} s of CPU time; limit TL_PARSE_CPU_S")
    if code == MEMORY_EXIT or (code < 0 and -code in _FAIL_SIGNALS) or any(w in stderr for w in _MEMORY_WORDS):
        raise DataError(f"parsing {display} used more than {mem_mb:,} MB of memory; limit TL_PARSE_MEMORY_MB")
    tail = stderr.strip().splitlines()[-1:] or [f"exit code {code}"]
    raise DataError(f"{display}: could not be read ({tail[0][:300]})")


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[2])
    extra = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + extra if extra else "")
