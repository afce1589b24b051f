"""Runs one job inside its own process: ``python -m tlcore run-job JOB_ID`` (started by the local executor), or
inside a Ray worker process (:mod:`tlcore.jobs.executors`). Either way :func:`run_job` first binds the job to
this process in the store (:meth:`JobQueue.bind_process`): a job that was re-queued or claimed by another worker
meanwhile is not run, so a job never runs twice."""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import traceback

from tlcore import settings
from tlcore.errors import Cancelled, TLError
from tlcore.liveness import process_start_time
from tlcore.jobs import tasks
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.tasks import TASK_KINDS
from tlcore.producers import PRODUCERS


def run_job(job_id: str, worker_id: str | None = None, node: str | None = None) -> int:
    """Run the job, reporting progress and heartbeats to the queue. Returns the exit code."""
    os.umask(0o077)
    worker_id = worker_id or settings.get("TL_WORKER_ID") or None
    queue = JobQueue()
    snap = queue.get(job_id)
    if snap.status != "running":
        print(f"job {job_id} is {snap.status}, not running; nothing to do", file=sys.stderr)
        return 0
    if not queue.bind_process(job_id, worker_id, os.getpid(), process_start_time(os.getpid())):
        print(f"job {job_id} was re-queued or taken by another worker; not running it here", file=sys.stderr)
        return 0
    run_id = snap.run_id or (time.strftime("%Y%m%d-%H%M%S-") + job_id[-6:])
    queue.update(job_id, heartbeat=time.time(), run_id=run_id if snap.kind in PRODUCERS else None,
                 node=node or snap.node or socket.gethostname())
    stop = threading.Event()

    def beat():
        while not stop.wait(5.0):
            try:
                queue.update(job_id, heartbeat=time.time())
            except Exception:  # noqa: BLE001 - a busy or full disk must not kill the job; the next beat retries
                pass

    threading.Thread(target=beat, daemon=True).start()
    last = {"progress": 0.0, "cancel": 0.0, "cancelled": False}

    def on_event(ev: dict):
        now = time.time()
        if ev.get("type") in ("phase", "epoch", "setup", "status") or now - last["progress"] > 0.5:
            last["progress"] = now
            queue.update(job_id, progress=ev, heartbeat=now)
        if ev.get("type") in ("phase", "epoch", "status"):
            print(_line(ev), file=sys.stderr, flush=True)

    def cancel_check() -> bool:
        now = time.time()
        if now - last["cancel"] > 1.0:
            last["cancel"] = now
            last["cancelled"] = queue.cancel_requested(job_id)
        return last["cancelled"]

    run = run_id if snap.kind in PRODUCERS else None
    try:
        if snap.kind == "probe":
            _probe(queue, snap, cancel_check)
        elif snap.kind in TASK_KINDS:
            tasks.run(queue, snap, cancel_check)
        else:
            _produce(queue, snap, run_id, on_event, cancel_check)
    except Cancelled as exc:
        return _finish(queue, job_id, run, "cancelled", str(exc), 0)
    except KeyboardInterrupt:  # ray.cancel interrupts the task's thread
        if queue.cancel_requested(job_id):
            return _finish(queue, job_id, run, "cancelled", "cancelled by the user", 0)
        return _finish(queue, job_id, run, "failed", "interrupted", 1)
    except TLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _finish(queue, job_id, run, "failed", str(exc), 1)
    except BaseException as exc:  # noqa: BLE001 - the job process reports every failure before exiting
        traceback.print_exc()
        return _finish(queue, job_id, run, "failed", f"{type(exc).__name__}: {exc}", 1)
    finally:
        stop.set()
    return _finish(queue, job_id, run, "completed", None, 0)


def _finish(queue: JobQueue, job_id: str, run_id: str | None, status: str, error: str | None, rc: int) -> int:
    """Record the job's result, and make sure its run is not left ``running`` (e.g. when the pipeline could not
    record its own failure on a full disk)."""
    try:
        queue.finish(job_id, status, error)
        if run_id and status != "completed":
            try:
                if queue.store.get(run_id).status == "running":
                    queue.store.finish(run_id, status, error=(error or status).splitlines()[0][:500])
            except TLError:
                pass  # the run row was never created
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk: the worker records the result when it can
        print(f"error: could not record the job's result ({status}): {exc}", file=sys.stderr)
        return rc or 1
    return rc


def _produce(queue: JobQueue, snap, run_id: str, on_event, cancel_check) -> None:
    """Make the job's run with the producer of its kind (a network trained by a strategy, the classical
    baseline...)."""
    from tlcore.producers import produce_run

    producer = PRODUCERS[snap.kind]
    threads = snap.resources.get("num_cpus")
    if producer.trains_network and threads and threads >= 1:
        import torch

        torch.set_num_threads(int(threads))
    queue.store.owner = snap.owner
    produce_run(snap.config, queue.store, producer=producer, callbacks=[on_event], cancel_check=cancel_check,
                run_id=run_id)


def _probe(queue: JobQueue, snap, cancel_check) -> None:
    """A diagnostic job: waits ``seconds`` (cancellable) and appends where it ran to ``logs/probes.jsonl``."""
    end = time.time() + float(snap.config.get("seconds", 0.5))
    while time.time() < end:
        if cancel_check():
            raise Cancelled("cancelled by the user")
        time.sleep(min(0.05, max(0.0, end - time.time())))
    line = json.dumps({"job_id": snap.job_id, "pid": os.getpid(), "node": socket.gethostname(), "t": time.time(),
                       "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}) + "\n"
    fd = os.open(queue.logs_dir / "probes.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
    queue.update(snap.job_id, progress={"type": "probe", "node": socket.gethostname(), "pid": os.getpid()})


def _line(ev: dict) -> str:
    if ev.get("type") == "epoch":
        return f"epoch {ev.get('epoch')}/{ev.get('epochs')} loss {ev.get('loss')} val_acc {ev.get('val_acc')}"
    if ev.get("type") == "phase":
        return f"phase: {ev.get('phase')} {ev.get('detail', '')}"
    return f"status: {ev.get('status')} {ev.get('error', '')}"
