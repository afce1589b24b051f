"""Executors: where a claimed job's process runs. The worker (:mod:`tlcore.jobs.worker`) owns the queue and
its rules (claiming, cancel, timeout, reconciling); an executor only starts, polls and signals jobs.

- :class:`LocalExecutor`: one child process per job on this machine (``python -m tlcore run-job``), in its own
  process group. On a GPU server each job child sees only its GPU (``CUDA_VISIBLE_DEVICES``), one job per GPU
  by default (``TL_JOBS_PER_GPU``); a job waits in the queue until a GPU is free. A GPU that someone else uses
  (another user's job, an external program: any compute process on it, or less free memory than
  ``TL_GPU_MIN_FREE_GB``, read with ``nvidia-smi``, never by initialising CUDA here) is busy too; the waiting job
  says why (``wait_reason``, shown by the job cards, the sidebar and ``python -m tlcore jobs``).
- :class:`RayExecutor` (:mod:`tlcore.jobs.ray_executor`): each job is a Ray task (``num_cpus``/``num_gpus`` from
  the job's resources, custom ``ray_resources`` such as ``{"node_b": 1}`` to pin it to a kind of node) on a Ray cluster
  (``TL_RAY_ADDRESS=auto|ray://host:10001`` or ``python -m tlcore worker --ray ADDRESS``). Cancel maps to
  ``ray.cancel``; the task records the node that ran it. The task gets the worker's store, artifact and tracking
  settings (``TL_DATABASE_URL``, ``TL_ARTIFACTS_URL``, ``AWS_*``, ``MLFLOW_*``) as an argument (not its runtime
  env, which the Ray dashboard shows). With the store on PostgreSQL and run files in object storage no node needs
  the worker's data root: the task works in the node's own ``TL_HOME`` (or a private temporary folder) and the
  artifact store uploads the run (:func:`task_root`). Otherwise (SQLite, or run files only on disk) every node must
  see the same data root at the same path (a shared filesystem). TL Studio is installed at the same path everywhere.

The job handle and a job process's environment are in :mod:`tlcore.jobs.handle`; every name above stays importable
from here.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tlcore import settings
from tlcore.device_probe import GpuState, gpu_indices, gpu_states, gpus_disabled
from tlcore.jobs.handle import (PROJECT_ROOT, UNKNOWN_EXIT, Handle, devices_wanted, job_env,  # noqa: F401 - also
                                needs_gpu, pythonpath)  # imported from here by the worker and tests
from tlcore.jobs.process import kill_group
from tlcore.jobs.ray_executor import RayExecutor, forwarded_env, task_root  # noqa: F401 - tests import them here
from tlcore.liveness import is_alive, process_start_time

PROBE_TTL_S = 2.0


def min_free_gb() -> float:
    """``TL_GPU_MIN_FREE_GB`` (default 2): a GPU with less free memory is busy, whoever uses it."""
    return max(0.0, settings.get_float("TL_GPU_MIN_FREE_GB"))


def busy_reason(state: GpuState | None, own_jobs: int, min_free: float) -> str | None:
    """Why a GPU that this worker may still use is busy, else None: less free memory than ``min_free`` GB, or a
    compute process on it while none of this worker's jobs runs there (another user's job, an external program)."""
    if state is None or state.total_gb <= 0:
        return None
    if state.free_gb < min_free:
        return f"{state.free_gb:.1f} of {state.total_gb:.1f} GB free (below TL_GPU_MIN_FREE_GB={min_free:g})"
    if own_jobs == 0 and state.pids:
        shown = ", ".join(str(p) for p in state.pids[:3]) + (" ..." if len(state.pids) > 3 else "")
        return f"in use by another process (pid {shown}: another user's job or an external program)"
    return None


def jobs_per_gpu() -> int:
    return max(1, settings.get_int("TL_JOBS_PER_GPU"))


class LocalExecutor:
    """Job child processes on this machine, one GPU each when there are GPUs."""

    name = "local"

    def __init__(self, root: Path, gpus: list[str] | None = None, per_gpu: int | None = None, probe=None,
                 probe_ttl_s: float = PROBE_TTL_S):
        self.root = Path(root)
        self.gpus = gpu_indices() if gpus is None else list(gpus)
        self.per_gpu = per_gpu or jobs_per_gpu()
        self.node = socket.gethostname()
        self.probe = probe or gpu_states  # () -> {index: GpuState}
        self.probe_ttl_s = probe_ttl_s
        self._probed: tuple[float, dict] = (float("-inf"), {})
        self.wait_reason: str | None = None  # why the last pick_gpu found no GPU

    def gpu_state(self) -> dict:
        """The device probe, read at most every ``probe_ttl_s`` (the worker polls twice a second)."""
        if time.monotonic() - self._probed[0] >= self.probe_ttl_s:
            try:
                state = self.probe() or {}
            except Exception:  # noqa: BLE001 - a broken probe must not stop the queue: own jobs still count
                state = {}
            self._probed = (time.monotonic(), state)
        return self._probed[1]

    def default_max_jobs(self) -> int:
        return max(1, len(self.gpus) * self.per_gpu)

    def pick_gpu(self, snap, handles: dict) -> str | None | bool:
        """The GPU(s) for ``snap`` ("" when it needs none), or False when too few GPUs are free (the job waits;
        ``wait_reason`` says why). A GPU is free when it runs fewer than ``per_gpu`` of this worker's jobs and
        nobody else uses it (:func:`busy_reason`)."""
        self.wait_reason = None
        if not self.gpus or not needs_gpu(snap):
            return ""
        load = {g: [] for g in self.gpus}
        for h in handles.values():
            for g in (h.gpus or "").split(","):
                if g in load:
                    load[g].append(h.job_id)
        n = devices_wanted(snap)
        if n > len(self.gpus):
            return ""  # cannot ever fit: the run itself refuses it with the numbers (ddp.check)
        state, floor = self.gpu_state(), min_free_gb()
        free, why = [], []
        for g in self.gpus:
            if len(load[g]) >= self.per_gpu:
                why.append(f"GPU {g} runs {', '.join(load[g])}")
                continue
            busy = busy_reason(state.get(g), len(load[g]), floor)
            if busy:
                why.append(f"GPU {g}: {busy}")
                continue
            free.append(g)
        if len(free) >= n:
            free.sort(key=lambda g: (len(load[g]), self.gpus.index(g)))
            return ",".join(free[:n])
        self.wait_reason = (f"waiting for {'a free GPU' if n == 1 else f'{n} free GPUs'}: " + "; ".join(why))[:500]
        return False

    def start(self, queue, snap, worker_id: str, limit: float) -> Handle:
        log = open(snap.log_path, "ab")
        env = {**os.environ, **job_env(self.root), "TL_WORKER_ID": worker_id}
        if self.gpus or gpus_disabled():  # a CPU job on a GPU server (or TL_GPUS=none) sees no GPU
            env["CUDA_VISIBLE_DEVICES"] = snap.gpus or ""
        try:
            proc = subprocess.Popen([sys.executable, "-m", "tlcore", "run-job", snap.job_id], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True, cwd=str(PROJECT_ROOT))
        finally:
            log.close()
        start = process_start_time(proc.pid)
        queue.bind_process(snap.job_id, worker_id, proc.pid, start)
        return Handle(snap.job_id, limit=limit, gpus=snap.gpus or None, proc=proc, pid=proc.pid, pid_start=start)

    def adopt(self, row: dict, limit: float) -> Handle:
        """Take over a job process left by a worker that died (it runs on in its own process group)."""
        return Handle(row["job_id"], started=row["started"] or time.time(), limit=limit, gpus=row.get("gpus"),
                      pid=row["pid"], pid_start=row["pid_start"], adopted=True)

    def poll(self, h: Handle) -> int | None:
        if h.proc is not None:
            return h.proc.poll()
        return None if is_alive(h.pid, h.pid_start) else UNKNOWN_EXIT

    def stop(self, h: Handle, force: bool = False) -> None:
        if h.pid and (h.proc is not None or is_alive(h.pid, h.pid_start)):
            kill_group(h.pid, signal.SIGKILL if force else signal.SIGTERM)

    def wait(self, h: Handle, timeout: float) -> bool:
        end = time.time() + timeout
        while time.time() < end:
            if self.poll(h) is not None:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        pass


def make_executor(root: Path, ray_address: str | None = None):
    """The Ray executor when an address is given (or ``TL_RAY_ADDRESS`` is set), else the local one."""
    address = ray_address or settings.get("TL_RAY_ADDRESS")
    if address:
        return RayExecutor(root, address)
    return LocalExecutor(root)
