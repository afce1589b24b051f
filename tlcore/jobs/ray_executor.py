"""The Ray executor: each job is a Ray task on a cluster (``TL_RAY_ADDRESS`` or ``worker --ray``); with the
store on PostgreSQL and run files in object storage the nodes need no shared data root (:func:`task_root`)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

from tlcore import settings
from tlcore.errors import ConfigError
from tlcore.jobs.handle import Handle, devices_wanted, job_env, needs_gpu, pythonpath
from tlcore.producers import PRODUCERS


FORWARDED = ("TL_DATABASE_URL", "TL_ARTIFACTS_URL")
FORWARDED_PREFIXES = ("AWS_", "MLFLOW_")
LOG_UPLOAD_EVERY_S = 30.0  # a running job's log on a node without the data root is uploaded this often


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


def _ray_run_job(job_id: str, root: str, worker_id: str, env: dict | None = None, worker_root: bool = False,
                 log_path: str | None = None) -> int:
    """The Ray task: :func:`run_on_node` in this Ray worker process, on whichever node Ray chose."""
    import ray

    node = f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:12]}"
    return run_on_node(job_id, root, worker_id, node, env, worker_root, log_path)


def run_on_node(job_id: str, root: str, worker_id: str, node: str, env: dict | None = None,
                worker_root: bool = False, log_path: str | None = None) -> int:
    """Run the job in this process with the worker's store/artifact/tracking settings (``env``) in the data root
    :func:`task_root` picks (``worker_root``: the worker's, for a job placed on the worker's own node). Its output
    goes to the job's log (``log_path``, the queue's); on a node without the worker's data root to the node's own
    ``logs/`` instead, uploaded to the artifact store every :data:`LOG_UPLOAD_EVERY_S` and when the job ends, where
    :meth:`JobQueue.log_tail` reads it."""
    node_home = settings.get("TL_HOME")  # the node's own, from the environment `ray start` ran in
    os.environ.update(env or {})
    home = Path(root) if worker_root else task_root(root, node_home)
    os.environ.update({k: v for k, v in job_env(home).items() if k != "PYTHONPATH"})
    from tlcore.jobs.runner import run_job

    elsewhere = no_shared_root() and not worker_root  # the queue's log path is not on this node
    log = home / "logs" / f"{job_id}.log" if elsewhere or not log_path else Path(log_path)
    done = threading.Event()
    uploader = threading.Thread(target=_upload_log, args=(job_id, log, home, done), daemon=True)
    if elsewhere:  # also while it runs: a node that dies leaves its log up to the last upload
        uploader.start()
    try:
        with _output_to(log):
            return run_job(job_id, worker_id=worker_id, node=node)
    finally:
        done.set()
        if elsewhere:
            uploader.join(timeout=120)  # its upload in flight must not land after the last one
            _upload_log(job_id, log, home)


def _upload_log(job_id: str, log: Path, home: Path, every: threading.Event | None = None) -> None:
    """Upload the job's log to ``<TL_ARTIFACTS_URL>/_jobs/<job_id>.log``: once (the job ended: a failure is
    reported), or every :data:`LOG_UPLOAD_EVERY_S` until ``every`` is set (failures are left to the last upload)."""
    from tlcore.runs import artifact_store

    stored = artifact_store.from_settings(home)
    if every is None:
        artifact_store.report(stored.put_shared(artifact_store.JOB_LOGS, f"{job_id}.log", log))
        return
    while not every.wait(LOG_UPLOAD_EVERY_S):
        if log.is_file():
            stored.put_shared(artifact_store.JOB_LOGS, f"{job_id}.log", log)


@contextlib.contextmanager
def _output_to(path: Path):
    """This process's stdout and stderr (file descriptors 1 and 2: child processes' output too) appended to
    ``path`` (0600, its folder created private) for the duration, then given back to Ray's worker log."""
    from tlcore.runs.files import private_dir

    try:
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:  # e.g. a full disk: the job still runs, its output stays in Ray's worker log
        print(f"warning: cannot write the job's log {path}: {exc}", file=sys.stderr)
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in saved:
            os.close(f)


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
        ref = self._remote.options(**opts).remote(snap.job_id, str(self.root), worker_id, forwarded_env(), here,
                                                snap.log_path)
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
