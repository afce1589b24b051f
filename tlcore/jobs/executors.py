"""Executors: where a claimed job's process runs. The worker (:mod:`tlcore.jobs.worker`) owns the queue and
its rules (claiming, cancel, timeout, reconciling); an executor only starts, polls and signals jobs.

- :class:`LocalExecutor`: one child process per job on this machine (``python -m tlcore run-job``), in its own
  process group. On a GPU server each job child sees only its GPU (``CUDA_VISIBLE_DEVICES``), one job per GPU
  by default (``TL_JOBS_PER_GPU``); a job waits in the queue until a GPU is free. A GPU that someone else uses
  (another user's job, an external program: any compute process on it, or less free memory than
  ``TL_GPU_MIN_FREE_GB``, read with ``nvidia-smi``, never by initialising CUDA here) is busy too; the waiting job
  says why (``wait_reason``, shown by the job cards, the sidebar and ``python -m tlcore jobs``).
- :class:`RayExecutor`: each job is a Ray task (``num_cpus``/``num_gpus`` from the job's resources, custom
  ``ray_resources`` such as ``{"node_b": 1}`` to pin it to a kind of node) on a Ray cluster
  (``TL_RAY_ADDRESS=auto|ray://host:10001`` or ``python -m tlcore worker --ray ADDRESS``). Cancel maps to
  ``ray.cancel``; the task records the node that ran it. The task gets the worker's store, artifact and tracking
  settings (``TL_DATABASE_URL``, ``TL_ARTIFACTS_URL``, ``AWS_*``, ``MLFLOW_*``) as an argument (not its runtime
  env, which the Ray dashboard shows). With the store on PostgreSQL and run files in object storage no node needs
  the worker's data root: the task works in the node's own ``TL_HOME`` (or a private temporary folder) and the
  artifact store uploads the run (:func:`task_root`). Otherwise (SQLite, or run files only on disk) every node must
  see the same data root at the same path (a shared filesystem). TL Studio is installed at the same path everywhere.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tlcore import settings
from tlcore.device_probe import GpuState, gpu_indices, gpu_states, gpus_disabled
from tlcore.errors import ConfigError
from tlcore.jobs.process import kill_group
from tlcore.liveness import is_alive, process_start_time
from tlcore.producers import PRODUCERS

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


FORWARDED = ("TL_DATABASE_URL", "TL_ARTIFACTS_URL")
FORWARDED_PREFIXES = ("AWS_", "MLFLOW_")


def forwarded_env() -> dict:
    """The store, artifact and tracking settings of this (the submitting worker's) environment that its Ray tasks
    use on any node: ``TL_DATABASE_URL``, ``TL_ARTIFACTS_URL``, ``AWS_*``, ``MLFLOW_*``. Secrets among them are
    passed as a task argument, never printed."""
    return {k: v for k, v in os.environ.items() if k in FORWARDED or k.startswith(FORWARDED_PREFIXES)}


def no_shared_root() -> bool:
    """Runs need no shared data root: the store is PostgreSQL and run files go to object storage."""
    return bool(settings.get("TL_DATABASE_URL") and settings.get("TL_ARTIFACTS_URL"))


def task_root(worker_root: str, node_home: str | None) -> Path:
    """The data root a Ray task uses on its node. With the store on PostgreSQL (``TL_DATABASE_URL``) and the run
    files in object storage (``TL_ARTIFACTS_URL``) nothing there needs the worker's data root: the node's own
    ``TL_HOME`` (from the environment ``ray start`` ran in) holds the run's working folder and caches, or a private
    folder under the node's temporary directory when it has none. Otherwise the worker's root, which every node
    must then share at the same path."""
    if not no_shared_root():
        return Path(worker_root)
    if node_home:
        return Path(node_home).expanduser().resolve()
    return Path(tempfile.gettempdir()) / f"tl-studio-{os.getuid()}"


def _ray_run_job(job_id: str, root: str, worker_id: str, env: dict | None = None, worker_root: bool = False) -> int:
    """The Ray task: runs the job in this Ray worker process, on whichever node Ray chose, with the worker's
    store/artifact/tracking settings (``env``) in the data root :func:`task_root` picks (``worker_root``: the
    worker's, for a job placed on the worker's own node)."""
    import ray

    node_home = settings.get("TL_HOME")  # the node's own, from the environment `ray start` ran in
    os.environ.update(env or {})
    home = Path(root) if worker_root else task_root(root, node_home)
    os.environ.update({k: v for k, v in job_env(home).items() if k != "PYTHONPATH"})
    node = f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:12]}"
    from tlcore.jobs.runner import run_job

    return run_job(job_id, worker_id=worker_id, node=node)


class RayExecutor:
    """Each job is a Ray task on a cluster; the data root must be shared by every node (same path) unless the
    store is PostgreSQL and run files go to object storage (:func:`task_root`)."""

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
        self.wait_reason: str | None = None  # why the last pick_gpu left a job waiting
        try:
            self.own_node = ray.get_runtime_context().get_node_id()  # the node this worker (the driver) is on
        except Exception:  # noqa: BLE001 - e.g. a ray:// client: no node of its own
            self.own_node = None
        self._remote = ray.remote(max_calls=1)(_ray_run_job)  # a fresh process per job: GPU memory is released

    def default_max_jobs(self) -> int:
        res = self.ray.cluster_resources()
        return max(1, int(res.get("GPU", 0)) or int(res.get("CPU", 1)))

    def pick_gpu(self, snap, handles: dict) -> str | bool:  # noqa: ARG002 - the executors' one signature
        """"" (Ray places GPU tasks and sets ``CUDA_VISIBLE_DEVICES`` itself), or False while no node of the
        cluster offers the job's custom ``ray_resources`` (the job waits in the queue, ``wait_reason`` says why,
        instead of a Ray task that can never be placed)."""
        self.wait_reason = None
        wanted = snap.resources.get("ray_resources") or {}
        if wanted:
            have = self.ray.cluster_resources()
            short = {k: v for k, v in wanted.items() if have.get(k, 0) < v}
            if short:
                self.wait_reason = (f"waiting for a Ray node with the resources {json.dumps(short)} (--ray-resources; "
                                    f"start one with ray start --resources): the cluster offers "
                                    f"{json.dumps({k: have.get(k, 0) for k in short})}")[:500]
                return False
        return ""

    def start(self, queue, snap, worker_id: str, limit: float) -> Handle:
        num_gpus = snap.resources.get("num_gpus")
        if num_gpus is None:
            num_gpus = devices_wanted(snap) if needs_gpu(snap) and self.ray.cluster_resources().get("GPU", 0) else 0
        opts = {"num_cpus": snap.resources.get("num_cpus", 1), "num_gpus": num_gpus,
                "runtime_env": {"env_vars": {"PYTHONPATH": pythonpath()}}}
        if snap.resources.get("ray_resources"):
            opts["resources"] = dict(snap.resources["ray_resources"])
        # Jobs that are not runs (embeddings, shift reports, counts, label queries, probes...) leave their results
        # under the data root, not in the artifact store: without a shared root they run on this worker's node.
        here = bool(no_shared_root() and self.own_node and snap.kind not in PRODUCERS and "resources" not in opts)
        if here:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self.own_node, soft=False)
        ref = self._remote.options(**opts).remote(snap.job_id, str(self.root), worker_id, forwarded_env(), here)
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
