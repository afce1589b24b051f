"""The worker: claims queued jobs and runs each in its own process (``python -m tlcore run-job``).

A training crash, an out-of-memory kill or a segfault ends only that job's process; the worker marks the
job failed with the exit reason and the log tail. One worker per data root (an exclusive file lock);
the dashboard starts one when none runs, or run ``python -m tlcore worker`` as a service.
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tlcore import settings
from tlcore.jobs.executors import (PROJECT_ROOT, Handle, jobs_per_gpu, make_executor,
                                   pythonpath)
from tlcore.device_probe import gpu_indices
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.supervise import reap as _reap  # tests call worker._reap
from tlcore.jobs.supervise import KILL_GRACE_S, enforce_cancel, enforce_timeout, fail_job, reconcile
from tlcore.jobs.tasks import LIGHT_KINDS, light_slots
from tlcore.runs.backup import backup_if_due
from tlcore.runs.db import DatabaseUnavailable, same
from tlcore.runs.store import RunStore, StorageFull, StoreCorrupt


def job_timeout_s() -> float:
    """Wall-clock limit of one job (``TL_JOB_TIMEOUT_S``, default 24 h; 0 = none): a runaway job (a typo in
    epochs, a hung data pipeline) is stopped and marked failed."""
    return max(0.0, settings.get_float("TL_JOB_TIMEOUT_S"))


def default_max_jobs() -> int:
    """``TL_MAX_JOBS``, else one job per GPU (``TL_JOBS_PER_GPU``), one on CPU."""
    n = settings.get_int("TL_MAX_JOBS")
    if n is not None and n > 0:
        return n
    return max(1, len(gpu_indices()) * jobs_per_gpu())


def _lock(root: Path):
    fh = os.fdopen(os.open(root / "worker.lock", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600), "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


def worker_running(root: Path | None = None) -> bool:
    """True when some process holds the worker lock of this data root."""
    root = Path(root) if root else RunStore().root
    fh = _lock(root)
    if fh is None:
        return True
    fh.close()
    return False


def ensure_worker(root: Path | None = None) -> bool:
    """Start a detached worker for this data root unless one runs. Returns True if one was started."""
    store = RunStore(root) if root else RunStore()
    if worker_running(store.root):
        return False
    env = {**os.environ, "TL_HOME": str(store.root), "PYTHONPATH": pythonpath()}
    (store.root / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
    log = os.fdopen(os.open(store.root / "logs" / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    subprocess.Popen([sys.executable, "-m", "tlcore", "worker"], stdout=log, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd=str(PROJECT_ROOT))
    log.close()
    return True


_last_restart: dict[str, float] = {}


def restart_worker_if_dead(root: Path | None = None, min_interval_s: float = 10.0) -> bool:
    """Supervision from the dashboard (its sidebar polls this): start a worker when none serves the data root,
    at most once per ``min_interval_s``. Returns True when one was started. Off with ``TL_NO_AUTOWORKER=1``."""
    if settings.get_bool("TL_NO_AUTOWORKER"):
        return False
    root = Path(root) if root else RunStore().root
    key = str(root)
    if time.time() - _last_restart.get(key, 0.0) < min_interval_s or worker_running(root):
        return False
    _last_restart[key] = time.time()
    return ensure_worker(root)


def run_worker(max_jobs: int | None = None, once: bool = False, poll_s: float = 0.5,
               ray_address: str | None = None, executor=None, light: int | None = None) -> int:
    """Main loop. ``once``: exit when nothing is queued or running. ``ray_address`` (or ``TL_RAY_ADDRESS``):
    run jobs as Ray tasks on that cluster instead of local child processes. ``light``: slots for light kinds
    beside ``max_jobs`` (default ``TL_LIGHT_JOBS``, 1)."""
    os.umask(0o077)
    queue = JobQueue()
    lock = _acquire_lock(queue.store.root)
    if lock is None:
        print("another worker already serves this data root; exiting", file=sys.stderr)
        return 0
    try:
        executor = executor or make_executor(queue.store.root, ray_address)
    except Exception:
        lock.close()
        raise
    worker = _Serving(queue, executor, max_jobs or _env_max_jobs(executor), job_timeout_s(), light)
    queue.register_worker(worker.wid, worker.max_jobs)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, worker.on_signal)
        signal.signal(signal.SIGINT, worker.on_signal)
    print(f"{worker.wid}: serving {queue.store.root} through the {executor.name} executor with up to "
          f"{worker.max_jobs} concurrent job(s) and {worker.light} light slot(s)", file=sys.stderr, flush=True)
    try:
        backup_if_due(queue.store)
    except Exception as exc:  # noqa: BLE001 - a backup problem must not stop the queue
        print(f"{worker.wid}: backup skipped: {exc}", file=sys.stderr, flush=True)
    try:
        worker.serve(once, poll_s)
    finally:
        worker.shutdown()
        lock.close()
    return 0


def _acquire_lock(root: Path):
    """The worker lock of a data root, retried for 2 s (a status probe may hold it for a moment); None when
    another worker holds it."""
    for _ in range(20):
        lock = _lock(root)
        if lock is not None:
            return lock
        time.sleep(0.1)
    return None


def _env_max_jobs(executor) -> int:
    """``TL_MAX_JOBS`` when set, else the executor's default."""
    n = settings.get_int("TL_MAX_JOBS")
    return n if n is not None and n >= 0 else executor.default_max_jobs()


class _Serving:
    """One worker's state while it serves the queue: its id, the handles of the jobs it runs, and the stop flag
    its signal handlers set."""

    def __init__(self, queue: JobQueue, executor, max_jobs: int, timeout: float, light: int | None = None):
        self.queue, self.executor, self.max_jobs, self.timeout = queue, executor, max_jobs, timeout
        self.light = light_slots() if light is None else max(0, light)
        self.wid = f"worker-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
        self.children: dict[str, Handle] = {}
        self.waiting: dict[str, str] = {}  # job id -> the reason it waits, as last recorded (note_wait)
        self.stopping = False
        self.last_reconcile = 0.0

    def on_signal(self, signum, frame) -> None:
        self.stopping = True

    def serve(self, once: bool, poll_s: float) -> None:
        """Poll until stopped (or, with ``once``, until nothing is queued or running)."""
        while not self.stopping:
            try:
                self.tick()
            except (sqlite3.OperationalError, StorageFull, StoreCorrupt, DatabaseUnavailable) as exc:
                # a full disk, a locked/damaged database or an unreachable server: keep the children, retry soon
                print(f"{self.wid}: {exc}; retrying", file=sys.stderr, flush=True)
                time.sleep(2.0)
                continue
            if once and not self.children and not self.queue.counts().get("queued"):
                break
            time.sleep(poll_s)

    def tick(self) -> None:
        """One poll: heartbeat, settle orphaned jobs (every 2 s), reap, cancel, time out, start queued jobs."""
        self.queue.worker_heartbeat(self.wid)
        if time.time() - self.last_reconcile > 2.0:
            reconcile(self.queue, own=set(self.children), adopt=self.adopt)
            self.last_reconcile = time.time()
        _reap(self.queue, self.children, self.executor)
        enforce_cancel(self.queue, self.children, self.executor)
        enforce_timeout(self.children, self.executor)
        self.start_queued()

    def start_queued(self) -> None:
        """Claim and start queued jobs while there is room (and, for GPU jobs, a free GPU). ``max_jobs`` slots
        take any kind, in queue order; the light slots only light kinds (a shift report does not wait behind a
        day-long training job)."""
        while not self.stopping:
            nxt, lane, gpu = self.next_job()
            if nxt is None:
                break
            extra = {"progress": None} if self.waiting.pop(nxt.job_id, None) else {}  # no stale "waiting for a GPU"
            snap = self.queue.claim_next(self.wid, job_id=nxt.job_id, executor=self.executor.name,
                                         node=self.executor.node, gpus=gpu or None, **extra)
            if snap is None:
                continue  # cancelled meanwhile
            try:
                self.children[snap.job_id] = self.executor.start(self.queue, snap, self.wid, self.timeout)
                self.children[snap.job_id].lane = lane
            except Exception as exc:  # noqa: BLE001 - e.g. no log folder, fork failure
                fail_job(self.queue, snap.job_id, None, f"could not start the job: {type(exc).__name__}: {exc}")

    def next_job(self):
        """``(job, lane, gpu)`` of the next job to start, or ``(None, None, None)``: the oldest queued job when a
        normal slot is free (a light one goes to a free light slot first), else the oldest light job when a light
        slot is free. A job that needs a busy GPU waits (and so does the normal lane behind it)."""
        light_busy = sum(1 for h in self.children.values() if h.lane == "light")
        room_light = light_busy < self.light
        if len(self.children) - light_busy < self.max_jobs:
            nxt = self.queue.next_queued()
            if nxt is not None:
                gpu = self.executor.pick_gpu(nxt, self.children)
                if gpu is not False:
                    return nxt, "light" if nxt.kind in LIGHT_KINDS and room_light else "normal", gpu
                self.note_wait(nxt)
        if room_light:
            nxt = self.queue.next_queued(kinds=LIGHT_KINDS)
            gpu = self.executor.pick_gpu(nxt, self.children) if nxt is not None else False
            if gpu is not False:
                return nxt, "light", gpu
            if nxt is not None:
                self.note_wait(nxt)
        return None, None, None

    def note_wait(self, snap) -> None:
        """Record why a queued job cannot start (the executor's ``wait_reason``, e.g. every GPU busy) in its
        progress, ``{"type": "waiting", "detail": ...}``, for the job cards, the sidebar and ``tlcore jobs``;
        written only when the reason changes, and cleared when the job is claimed."""
        reason = getattr(self.executor, "wait_reason", None)
        if not reason or self.waiting.get(snap.job_id) == reason:
            return
        if len(self.waiting) > 1000:  # jobs cancelled while they waited
            self.waiting.clear()
        self.waiting[snap.job_id] = reason
        with self.queue.store.connect() as db:
            db.execute("UPDATE jobs SET progress=? WHERE job_id=? AND status='queued'",
                       (json.dumps({"type": "waiting", "detail": reason}), snap.job_id))

    def adopt(self, row: dict) -> None:
        """Take over a live job process whose worker stopped (see ``reconcile``)."""
        h = self.executor.adopt(row, self.timeout)
        if h is None:
            return
        h.lane = "light" if row.get("kind") in LIGHT_KINDS and self._light_free() else "normal"
        with self.queue.store.connect() as db:  # only if no other worker adopted it meanwhile (PostgreSQL: several)
            cur = db.execute("UPDATE jobs SET worker_id=? WHERE job_id=? AND status='running' AND pid=? AND "
                             + same(db, "worker_id", "?"), (self.wid, row["job_id"], row["pid"], row["worker_id"]))
        if cur.rowcount == 1:
            self.children[row["job_id"]] = h
            print(f"{self.wid}: adopted job {row['job_id']} (process {row['pid']}) from a worker that stopped",
                  file=sys.stderr, flush=True)

    def _light_free(self) -> bool:
        return sum(1 for h in self.children.values() if h.lane == "light") < self.light

    def shutdown(self) -> None:
        """Stop the running jobs (killed after a grace), mark them failed, deregister, close the executor."""
        for h in self.children.values():
            self.executor.stop(h)
        for job_id, h in self.children.items():
            if not self.executor.wait(h, KILL_GRACE_S):
                self.executor.stop(h, force=True)
                self.executor.wait(h, KILL_GRACE_S)
            snap = self.queue.get(job_id)
            fail_job(self.queue, job_id, snap.run_id, "the worker was stopped while this job ran")
        self.queue.remove_worker(self.wid)
        self.executor.close()
