"""Executors: where a claimed job's process runs. The worker (:mod:`tlcore.jobs.worker`) owns the queue and
its rules (claiming, cancel, timeout, reconciling); an executor only starts, polls and signals jobs.

- :class:`LocalExecutor`: one child process per job on this machine (``python -m tlcore run-job``), in its own
  process group. On a GPU server each job child sees only its GPU (``CUDA_VISIBLE_DEVICES``), one job per GPU
  by default (``TL_JOBS_PER_GPU``); a job waits in the queue until a GPU is free. A GPU that someone else uses
  (another user's job, an external program: any compute process on it, or less free memory than
  ``TL_GPU_MIN_FREE_GB``, read with ``nvidia-smi``, never by initialising CUDA here) is busy too; the waiting job
  says why (``wait_reason``, shown by the job cards, the sidebar and ``python -m tlcore jobs``).
- :class:`RayExecutor`: each job is a Ray task (``num_cpus``/``num_gpus`` from the job's resources) on a Ray
  cluster (``TL_RAY_ADDRESS=auto|ray://host:10001`` or ``python -m tlcore worker --ray ADDRESS``). Cancel maps
  to ``ray.cancel``; the task records the node that ran it. Every node must see the same data root at the same
  path (a shared filesystem) and have TL Studio installed at the same path: the run store stays the source of
  truth, tasks read and write it directly.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tlcore import settings
from tlcore.device_probe import GpuState, gpu_indices, gpu_states, gpus_disabled
from tlcore.errors import ConfigError
from tlcore.jobs.process import kill_group
from tlcore.liveness import is_alive, process_start_time

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_EXIT = -1000  # an adopted process ended: not our child, so its exit code is unknown


@dataclass
class Handle:
    """One job this worker is responsible for."""

    job_id: str
    started: float = field(default_factory=time.time)
    limit: float = 0.0
    cancel_at: float | None = None
    timeout_at: float | None = None
    gpus: str | None = None
    proc: subprocess.Popen | None = None     # local child
    pid: int | None = None                   # local: the job's process (group leader)
    pid_start: float | None = None
    ref: object = None                       # Ray ObjectRef
    adopted: bool = False
    error: str | None = None                 # what the executor knows about an abnormal end
    lane: str = "normal"                     # "light": holds one of the worker's light slots (jobs/tasks.py)


def pythonpath() -> str:
    extra = os.environ.get("PYTHONPATH")
    return str(PROJECT_ROOT) + (os.pathsep + extra if extra else "")


def job_env(root: Path) -> dict:
    """Environment of every job process: offline model hubs, safe checkpoint loading, private files."""
    return {"TL_HOME": str(root), "TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1", "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
            "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE", "1"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": pythonpath()}


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


def needs_gpu(snap) -> bool:
    """A job uses a GPU unless it asks for none (``num_gpus: 0``, ``device: cpu``) or is a probe."""
    if "num_gpus" in snap.resources:
        return snap.resources["num_gpus"] > 0
    if snap.kind != "train":
        return False
    return str(snap.config.get("device", "auto")) != "cpu"


def devices_wanted(snap) -> int:
    """GPUs one job needs: a train job with ``devices: N`` (one run across N GPUs, tlcore/training/ddp.py)
    needs N, every other GPU job one."""
    try:
        return max(1, int(snap.config.get("devices", 1) or 1)) if snap.kind == "train" else 1
    except (TypeError, ValueError):
        return 1


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


def _ray_run_job(job_id: str, root: str, worker_id: str) -> int:
    """The Ray task: runs the job in this Ray worker process, on whichever node Ray chose."""
    import ray

    os.environ.update({k: v for k, v in job_env(Path(root)).items() if k != "PYTHONPATH"})
    node = f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:12]}"
    from tlcore.jobs.runner import run_job

    return run_job(job_id, worker_id=worker_id, node=node)


class RayExecutor:
    """Each job is a Ray task on a cluster; the data root must be shared by every node (same path)."""

    name = "ray"

    def __init__(self, root: Path, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("the Ray executor needs the ray package: pip install 'ray>=2.40'") from None
        self.ray = ray
        self.root = Path(root)
        if not ray.is_initialized():
            address = address or settings.get("TL_RAY_ADDRESS") or "auto"
            ray.init(address=None if address == "local" else address, log_to_driver=False,
                     runtime_env={"env_vars": {"PYTHONPATH": pythonpath()}})
        self.node = "ray"
        self._remote = ray.remote(max_calls=1)(_ray_run_job)  # a fresh process per job: GPU memory is released

    def default_max_jobs(self) -> int:
        res = self.ray.cluster_resources()
        return max(1, int(res.get("GPU", 0)) or int(res.get("CPU", 1)))

    def pick_gpu(self, snap, handles: dict) -> str:
        return ""  # Ray places GPU tasks and sets CUDA_VISIBLE_DEVICES itself

    def start(self, queue, snap, worker_id: str, limit: float) -> Handle:
        num_gpus = snap.resources.get("num_gpus")
        if num_gpus is None:
            num_gpus = devices_wanted(snap) if needs_gpu(snap) and self.ray.cluster_resources().get("GPU", 0) else 0
        opts = {"num_cpus": snap.resources.get("num_cpus", 1), "num_gpus": num_gpus,
                "runtime_env": {"env_vars": {"PYTHONPATH": pythonpath()}}}
        ref = self._remote.options(**opts).remote(snap.job_id, str(self.root), worker_id)
        return Handle(snap.job_id, limit=limit, ref=ref)

    def adopt(self, row: dict, limit: float):
        return None  # a Ray task dies with the driver that submitted it: nothing to adopt

    def poll(self, h: Handle) -> int | None:
        ready, _ = self.ray.wait([h.ref], timeout=0)
        if not ready:
            return None
        try:
            return int(self.ray.get(h.ref))
        except self.ray.exceptions.TaskCancelledError:
            return -signal.SIGTERM
        except Exception as exc:  # noqa: BLE001 - a node or worker died, an error outside run_job
            h.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
            return 1

    def stop(self, h: Handle, force: bool = False) -> None:
        try:
            self.ray.cancel(h.ref, force=force)
        except Exception:  # noqa: BLE001 - already finished
            pass

    def wait(self, h: Handle, timeout: float) -> bool:
        ready, _ = self.ray.wait([h.ref], timeout=timeout)
        return bool(ready)

    def close(self) -> None:
        pass


def make_executor(root: Path, ray_address: str | None = None):
    """The Ray executor when an address is given (or ``TL_RAY_ADDRESS`` is set), else the local one."""
    address = ray_address or settings.get("TL_RAY_ADDRESS")
    if address:
        return RayExecutor(root, address)
    return LocalExecutor(root)
