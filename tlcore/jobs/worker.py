"""The worker: claims queued jobs and runs each in its own process (``python -m tlcore run-job``).

A training crash, an out-of-memory kill or a segfault ends only that job's process; the worker marks the
job failed with the exit reason and the log tail. One worker per data root (an exclusive file lock);
the dashboard starts one when none runs, or run ``python -m tlcore worker`` as a service.
"""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tlcore.jobs.process import describe_exit, is_alive, kill_group
from tlcore.jobs.queue import HEARTBEAT_STALE_S, JobQueue
from tlcore.runs.store import RunStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CANCEL_GRACE_S = 5.0
KILL_GRACE_S = 5.0
DEFAULT_JOB_TIMEOUT_S = 24 * 3600


def job_timeout_s() -> float:
    """Wall-clock limit of one job (``TL_JOB_TIMEOUT_S``, default 24 h; 0 = none): a runaway job (a typo in
    epochs, a hung data pipeline) is stopped and marked failed."""
    try:
        return max(0.0, float(os.environ.get("TL_JOB_TIMEOUT_S", DEFAULT_JOB_TIMEOUT_S)))
    except ValueError:
        return float(DEFAULT_JOB_TIMEOUT_S)


def default_max_jobs() -> int:
    """One job per GPU, one on CPU (read without initialising CUDA in this process)."""
    env = os.environ.get("TL_MAX_JOBS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5)
        n = len([ln for ln in out.stdout.splitlines() if ln.startswith("GPU")])
        return max(1, n)
    except (OSError, subprocess.SubprocessError):
        return 1


def reconcile(queue: JobQueue, own: set[str] | None = None) -> list[str]:
    """Mark running jobs whose process died as failed (with the log tail); re-queue never-started ones."""
    own = own or set()
    fixed = []
    live_workers = {w["worker_id"] for w in queue.live_workers()}
    now = time.time()
    with queue.store.connect() as db:
        rows = [dict(r) for r in db.execute("SELECT * FROM jobs WHERE status='running'").fetchall()]
    for r in rows:
        if r["job_id"] in own:
            continue
        if r["pid"] is None:
            if r["worker_id"] not in live_workers and now - (r["started"] or now) > 10:
                queue.update(r["job_id"], status="queued", started=None, worker_id=None)
                fixed.append(r["job_id"])
            continue
        stale = now - (r["heartbeat"] or 0) > HEARTBEAT_STALE_S
        if not is_alive(r["pid"], r["pid_start"]) or (stale and r["worker_id"] not in live_workers):
            tail = queue.log_tail(r["job_id"], 1500).strip()
            msg = f"job process {r['pid']} died without reporting a result" + (f"; log tail:\n{tail}" if tail else "")
            _fail(queue, r["job_id"], r["run_id"], msg)
            fixed.append(r["job_id"])
    return fixed


def _fail(queue: JobQueue, job_id: str, run_id: str | None, msg: str) -> None:
    queue.finish(job_id, "failed", msg)
    if run_id:
        try:
            rec = queue.store.get(run_id)
            if rec.status == "running":
                queue.store.finish(run_id, "failed", error=msg.splitlines()[0])
        except Exception:  # noqa: BLE001 - the run row may not exist yet
            pass


def _lock(root: Path):
    fh = open(root / "worker.lock", "a+")
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
    env = {**os.environ, "TL_HOME": str(store.root), "PYTHONPATH": _pythonpath()}
    (store.root / "logs").mkdir(parents=True, exist_ok=True)
    log = open(store.root / "logs" / "worker.log", "ab")
    subprocess.Popen([sys.executable, "-m", "tlcore", "worker"], stdout=log, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL, env=env, start_new_session=True, cwd=str(PROJECT_ROOT))
    log.close()
    return True


def run_worker(max_jobs: int | None = None, once: bool = False, poll_s: float = 0.5) -> int:
    """Main loop. ``once``: exit when nothing is queued or running."""
    queue = JobQueue()
    lock = None
    for _ in range(20):  # a status probe may hold the lock for a moment
        lock = _lock(queue.store.root)
        if lock is not None:
            break
        time.sleep(0.1)
    if lock is None:
        print("another worker already serves this data root; exiting", file=sys.stderr)
        return 0
    max_jobs = max_jobs or default_max_jobs()
    timeout = job_timeout_s()
    wid = f"worker-{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:4]}"
    queue.register_worker(wid, max_jobs)
    children: dict[str, dict] = {}
    stopping = {"flag": False}

    def on_signal(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"{wid}: serving {queue.store.root} with up to {max_jobs} concurrent job(s)", file=sys.stderr, flush=True)
    last_reconcile = 0.0
    try:
        while not stopping["flag"]:
            queue.worker_heartbeat(wid)
            if time.time() - last_reconcile > 2.0:
                reconcile(queue, own=set(children))
                last_reconcile = time.time()
            _reap(queue, children)
            _enforce_cancel(queue, children)
            _enforce_timeout(children, timeout)
            while len(children) < max_jobs:
                snap = queue.claim_next(wid)
                if snap is None:
                    break
                children[snap.job_id] = {"proc": _spawn(queue, snap), "cancel_at": None, "run_id": None,
                                         "started": time.time(), "timeout_at": None, "limit": timeout}
            if once and not children and not queue.counts().get("queued"):
                break
            time.sleep(poll_s)
    finally:
        for job_id, c in children.items():
            kill_group(c["proc"].pid, signal.SIGTERM)
        for job_id, c in children.items():
            try:
                c["proc"].wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                kill_group(c["proc"].pid, signal.SIGKILL)
                c["proc"].wait()
            snap = queue.get(job_id)
            _fail(queue, job_id, snap.run_id, "the worker was stopped while this job ran")
        queue.remove_worker(wid)
        lock.close()
    return 0


def _pythonpath() -> str:
    extra = os.environ.get("PYTHONPATH")
    return str(PROJECT_ROOT) + (os.pathsep + extra if extra else "")


def _spawn(queue: JobQueue, snap) -> subprocess.Popen:
    log = open(snap.log_path, "ab")
    env = {**os.environ, "TL_HOME": str(queue.store.root), "TORCH_FORCE_WEIGHTS_ONLY_LOAD": "1",
           "PYTHONUNBUFFERED": "1", "PYTHONPATH": _pythonpath()}
    proc = subprocess.Popen([sys.executable, "-m", "tlcore", "run-job", snap.job_id], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                            cwd=str(PROJECT_ROOT))
    log.close()
    return proc


def _reap(queue: JobQueue, children: dict) -> None:
    for job_id in list(children):
        proc = children[job_id]["proc"]
        rc = proc.poll()
        if rc is None:
            continue
        child = children.pop(job_id)
        snap = queue.get(job_id)
        if snap.status != "running":
            continue  # the job reported its own result
        if snap.cancel_requested:
            queue.finish(job_id, "cancelled", "cancelled by the user (process stopped)")
            if snap.run_id:
                try:
                    if queue.store.get(snap.run_id).status == "running":
                        queue.store.finish(snap.run_id, "cancelled", error="cancelled by the user")
                except Exception:  # noqa: BLE001
                    pass
            continue
        tail = queue.log_tail(job_id, 1500).strip()
        if child.get("timeout_at"):
            _fail(queue, job_id, snap.run_id, f"timed out: stopped after {child['limit']:g} s of wall-clock time "
                                              "(TL_JOB_TIMEOUT_S)" + (f"; log tail:\n{tail}" if tail else ""))
            continue
        _fail(queue, job_id, snap.run_id, f"job process {describe_exit(rc)}" + (f"; log tail:\n{tail}" if tail else ""))


def _enforce_timeout(children: dict, limit: float) -> None:
    """Stop jobs running longer than ``limit`` seconds: SIGTERM to the process group, SIGKILL after a grace."""
    if not limit:
        return
    now = time.time()
    for c in children.values():
        if c["timeout_at"] is None and now - c["started"] > limit:
            c["timeout_at"] = now
            kill_group(c["proc"].pid, signal.SIGTERM)
        elif c["timeout_at"] is not None and now - c["timeout_at"] > KILL_GRACE_S:
            kill_group(c["proc"].pid, signal.SIGKILL)


def _enforce_cancel(queue: JobQueue, children: dict) -> None:
    """A cancelled job stops itself at its next step; if it has not within the grace period, kill it."""
    now = time.time()
    for job_id, c in children.items():
        if c["cancel_at"] is None:
            if queue.cancel_requested(job_id):
                c["cancel_at"] = now
            continue
        waited = now - c["cancel_at"]
        if waited > CANCEL_GRACE_S + KILL_GRACE_S:
            kill_group(c["proc"].pid, signal.SIGKILL)
        elif waited > CANCEL_GRACE_S:
            kill_group(c["proc"].pid, signal.SIGTERM)
