"""Runs one job inside its own process: ``python -m tlcore run-job JOB_ID`` (started by the worker)."""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback

from tlcore.errors import Cancelled, TLError
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.process import process_start_time


def run_job(job_id: str) -> int:
    """Train the job's config, reporting progress and heartbeats to the queue. Returns the exit code."""
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment

    queue = JobQueue()
    snap = queue.get(job_id)
    if snap.status != "running":
        print(f"job {job_id} is {snap.status}, not running; nothing to do", file=sys.stderr)
        return 0
    run_id = time.strftime("%Y%m%d-%H%M%S-") + job_id[-6:]
    queue.update(job_id, pid=os.getpid(), pid_start=process_start_time(os.getpid()), heartbeat=time.time(),
                 run_id=run_id)
    stop = threading.Event()

    def beat():
        while not stop.wait(5.0):
            queue.update(job_id, heartbeat=time.time())

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

    try:
        cfg = RunConfig.from_dict(snap.config)
        run_experiment(cfg, queue.store, callbacks=[on_event], cancel_check=cancel_check, run_id=run_id)
    except Cancelled as exc:
        queue.finish(job_id, "cancelled", str(exc))
        return 0
    except TLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        queue.finish(job_id, "failed", str(exc))
        return 1
    except BaseException as exc:  # noqa: BLE001 - the job process reports every failure before exiting
        traceback.print_exc()
        queue.finish(job_id, "failed", f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        stop.set()
    queue.finish(job_id, "completed")
    return 0


def _line(ev: dict) -> str:
    if ev.get("type") == "epoch":
        return f"epoch {ev.get('epoch')}/{ev.get('epochs')} loss {ev.get('loss')} val_acc {ev.get('val_acc')}"
    if ev.get("type") == "phase":
        return f"phase: {ev.get('phase')} {ev.get('detail', '')}"
    return f"status: {ev.get('status')} {ev.get('error', '')}"
