"""The limited parse child of :mod:`tlcore.data.sandbox`: ``python -m tlcore.data.sandbox_child ARGS_JSON`` sets its
own hard limits (address space, CPU time) before any user byte is read, runs one operation and prints one JSON line.
A module of its own so that the parent side (``sandbox.run``, used by :mod:`tlcore.data.uploads`) and the child
side (which reads through ``uploads``) do not import each other."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tlcore.data.sandbox import MEMORY_EXIT
from tlcore.errors import DataError


def limit_self(memory_mb: int, cpu_s: int) -> None:
    """Set this process's hard limits (the child's first step, before any user byte is read)."""
    import resource

    cap = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 5))  # soft: SIGXCPU, hard: SIGKILL


def _answer(a: dict) -> dict:
    path, display = Path(a["path"]), a["display"]
    if a["op"] == "columns":
        from tlcore.data.table import table_columns

        try:
            return {"columns": table_columns(path)}
        except DataError as exc:
            raise DataError(str(exc).replace(path.name, display, 1)) from None
    if a["op"] == "inspect":
        from tlcore.data.uploads import domain_info, read_domain

        return domain_info(read_domain(path, display, a["name"], a.get("text_column"), a.get("label_column")))
    raise DataError(f"unknown operation {a['op']!r}")


def own_peak_mb() -> float | None:
    """This process's own peak resident memory (``VmHWM`` of its address space, MB). ``ru_maxrss`` is not it: Linux
    carries the forking parent's resident size over ``fork`` + ``exec`` into it (a dashboard or test process of
    1.6 GB made a 3-row CSV "peak" at 1.6 GB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def serve(argv: list[str], answer) -> int:
    """A child's main: limit this process (``argv[0]``: the JSON arguments of :func:`tlcore.data.sandbox.run`), then
    print ``answer(args)`` as one JSON line (a :class:`DataError` as ``{"error": ...}``)."""
    a = json.loads(argv[0])
    limit_self(a["memory_mb"], a["cpu_s"])
    try:
        out = answer(a)
    except DataError as exc:
        out = {"error": str(exc)}
    except MemoryError:
        os._exit(MEMORY_EXIT)  # nothing more can be allocated safely: the parent reports the limit
    if isinstance(out, dict):
        out["_peak_mb"] = own_peak_mb()
    print(json.dumps(out, default=str))
    sys.stdout.flush()
    return 0


def _main(argv: list[str]) -> int:
    """``python -m tlcore.data.sandbox_child ARGS_JSON``: limit this process, run one operation, print one JSON line."""
    return serve(argv, _answer)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
