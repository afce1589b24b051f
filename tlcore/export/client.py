"""For the dashboard: the client of the prediction server (one long-lived ``python -m tlcore predict-server``
child, started by the job system's :func:`tlcore.jobs.process.start_service`), and the asking side of the
``predict``, ``export`` and ``compress`` job kinds (:mod:`tlcore.export.job_kinds`): queued in the one job queue
with the signed-in owner (quota, timeout, Cancel), read back from the job snapshots. No torch import: the models run
in the worker's job processes and the server child.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import select
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from tlcore.errors import TLError

if TYPE_CHECKING:
    import subprocess

REQUEST_TIMEOUT = 180.0  # the first request of a run loads its model (seconds on a busy CPU)


class PredictClient:
    """One long-lived ``predict-server`` child; thread-safe (one request at a time); restarts it if it died."""

    def __init__(self, root: str | os.PathLike):
        self.root = str(root)
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.log = Path(self.root) / "predict" / "server.log"

    def _start(self) -> subprocess.Popen:
        from tlcore.jobs.process import start_service

        return start_service(["predict-server"], self.root, self.log)

    def request(self, req: dict, timeout: float = REQUEST_TIMEOUT) -> dict:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            proc = self._proc
            rid = next(self._ids)
            try:
                proc.stdin.write((json.dumps({**req, "id": rid}) + "\n").encode())
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._proc = None
                raise TLError("the prediction process stopped; try again") from None
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
                if not ready:
                    self._kill()
                    raise TLError(f"no answer from the prediction process within {timeout:.0f} s")
                line = proc.stdout.readline()
                if not line:
                    self._proc = None
                    raise TLError(f"the prediction process stopped ({_tail(self.log)})")
                ans = json.loads(line)
                if ans.get("id") == rid:
                    return ans

    def predict(self, run_id: str, text: str | None = None, image: bytes | None = None, name: str = "input",
                top_k: int = 3, actor: str | None = None) -> dict:
        authorize_use(self.root, run_id, actor, "predict with")  # owner or admin, as for delete and cancel
        req = {"op": "predict", "run_id": run_id, "name": name, "top_k": top_k}
        if image is not None:
            req["image_b64"] = base64.b64encode(image).decode("ascii")
        else:
            req["text"] = text
        t = time.perf_counter()
        ans = self.request(req)
        ans["roundtrip_ms"] = round((time.perf_counter() - t) * 1000, 1)
        return ans

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def close(self) -> None:
        from tlcore.jobs.process import stop_service

        with self._lock:
            if self._proc is not None:
                stop_service(self._proc)
            self._proc = None


def _tail(path: Path, n: int = 400) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:].strip() or "no log"
    except OSError:
        return "no log"


# -- batch predictions ---------------------------------------------------------------------------------------
def new_batch(root, filename: str, data: bytes) -> Path:
    """Save an uploaded batch under ``$TL_HOME/predict/<id>/`` and return the saved input path."""
    from tlcore.data.library import sanitize_filename

    folder = Path(root) / "predict" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    name = sanitize_filename(filename) or "input"
    path = folder / (f"upload{name}" if name.startswith(".") else name)
    path.write_bytes(data)
    return path


def authorize_use(root, run_id: str, actor: str | None, action: str) -> None:
    """The same owner-or-admin check as delete and cancel (tlcore.auth.authorize; refusals audited) before a
    run's model is predicted with, exported or compressed. ``actor`` None: the server's operator."""
    from tlcore.auth import authorize
    from tlcore.runs.store import RunStore

    authorize(actor, RunStore(root).get(run_id).owner, f"run {run_id}", root, action=action)


def launch_batch(root, run_id: str, input_path: Path, text_column: str | None = None,
                 actor: str | None = None) -> dict:
    """Queue a ``predict`` job for one run (owner: ``actor``, the signed-in user); returns a job dict for
    :func:`job_status`. Only the run's owner or an admin may."""
    authorize_use(root, run_id, actor, "predict with")
    return _submit(root, "predict", {"run_id": run_id, "input": str(input_path), "text_column": text_column},
                   actor)


def launch_export(root, run_id: str, fmt: str, actor: str | None = None) -> dict:
    """Queue an ``export`` job (owner: ``actor``); the job writes the export's ZIP once, in its own folder.
    Only the run's owner or an admin may."""
    authorize_use(root, run_id, actor, "export")
    return _submit(root, "export", {"run_id": run_id, "format": fmt}, actor, format=fmt)


def launch_compress(root, run_id: str, prune: float, quantize: bool, finetune_epochs: int = 0,
                    actor: str | None = None) -> dict:
    """Queue a ``compress`` job: a new run owned by ``actor``; only the run's owner or an admin may."""
    authorize_use(root, run_id, actor, "compress")
    return _submit(root, "compress", {"run_id": run_id, "prune": float(prune), "quantize": "int8" if quantize
                                      else None, "finetune_epochs": int(finetune_epochs)}, actor)


def _submit(root, kind: str, config: dict, actor: str | None, **info) -> dict:
    """Queue the job (validated, counted against ``actor``'s quota: ConfigError past it). The same request while
    the user's earlier one is still queued or running (a second click) returns that job. ``actor`` None (a
    dashboard without sign-in): the server's operator (:func:`~tlcore.runs.store.current_user`)."""
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunStore, current_user

    queue = JobQueue(RunStore(root))
    owner = actor or current_user()
    same = [s.job_id for s in queue.list(active_only=True, kinds=(kind,))
            if s.owner == owner and all(s.config.get(k) == v for k, v in config.items())]
    job_id = same[0] if same else queue.submit(config, kind=kind, owner=owner)
    return {**info, "job_id": job_id, "kind": kind, "run_id": config["run_id"], "root": str(root)}


def job_status(job: dict) -> dict:
    """``{"state": "queued" | "running" | "done" | "failed" | "cancelled", "detail", "progress", "result"}`` of a
    job from the ``launch_*`` functions, read from the job queue (the same snapshot the job cards poll) and, once
    done, the job's ``result.json`` (``result["file"]``: the CSV or the export's ZIP; compress: ``run_id``)."""
    from tlcore.export.job_kinds import read_result
    from tlcore.jobs.queue import JobNotFound, JobQueue
    from tlcore.runs.store import RunStore

    try:
        snap = JobQueue(RunStore(job["root"])).get(job["job_id"])
    except JobNotFound:
        return {"state": "failed", "detail": f"job {job['job_id']} was deleted", "progress": 0.0, "result": None}
    prog = snap.progress or {}
    frac = float(prog.get("progress") or 0.0)
    if snap.status == "queued":
        return {"state": "queued", "detail": prog.get("detail") or "waiting for a free worker slot",
                "progress": 0.0, "result": None}
    if snap.status == "running":
        took = f"{time.time() - snap.started:.0f} s" if snap.started else ""
        return {"state": "running", "detail": ", ".join(x for x in (prog.get("phase"), took) if x),
                "progress": frac, "result": None}
    if snap.status == "completed":
        result = read_result(job["root"], snap.job_id)
        if result is not None:
            return {"state": "done", "detail": "", "progress": 1.0, "result": result}
        return {"state": "failed", "detail": "the job ended without writing its result", "progress": 1.0,
                "result": None}
    return {"state": snap.status, "detail": (snap.error or snap.status).splitlines()[0][:500], "progress": frac,
            "result": None}


def cancel(job: dict, actor: str | None = None) -> str:
    """Cancel a job from the ``launch_*`` functions (only its owner or an admin may); returns its status."""
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunStore

    return JobQueue(RunStore(job["root"])).cancel(job["job_id"], actor=actor)
