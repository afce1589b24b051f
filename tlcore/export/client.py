"""Client side of the prediction server and of batch predictions, for the dashboard. No torch import: the
model runs in a child process (``python -m tlcore predict-server`` / ``python -m tlcore predict``).
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from tlcore.errors import TLError

PROJECT = Path(__file__).resolve().parents[2]
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
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "TL_HOME": self.root, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
        with open(self.log, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "tlcore", "predict-server"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, env=env, cwd=str(PROJECT))

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
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.stdin.close()
                try:
                    self._proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
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
    """Start ``python -m tlcore predict`` for one run in its own process; returns a job dict for
    :func:`job_status`. Only the run's owner or an admin (``actor``) may."""
    authorize_use(root, run_id, actor, "predict with")
    out = input_path.parent / f"predictions_{run_id}.csv"
    args = ["predict", run_id, str(input_path), "--out", str(out)]
    if text_column:
        args += ["--text-column", text_column]
    return launch(root, args, out, input_path.parent / f"predict_{run_id}.log", actor=actor, run_id=run_id)


def launch_export(root, run_id: str, fmt: str, actor: str | None = None) -> dict:
    """Start ``python -m tlcore export`` into ``$TL_HOME/exports/<id>/<run>-<fmt>``; the job is done when that
    folder exists (the export renames it into place last). Only the run's owner or an admin may."""
    authorize_use(root, run_id, actor, "export")
    folder = Path(root) / "exports" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    out = folder / f"{run_id}-{fmt}"
    return launch(root, ["export", run_id, "--format", fmt, "--out", str(out)], out, folder / "export.log",
                  actor=actor, run_id=run_id, format=fmt)


def launch_compress(root, run_id: str, prune: float, quantize: bool, finetune_epochs: int = 0,
                    actor: str | None = None) -> dict:
    """Start ``python -m tlcore compress`` (a new run, owned by ``actor``); only the run's owner or an admin may."""
    authorize_use(root, run_id, actor, "compress")
    folder = Path(root) / "compress" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True)
    args = ["compress", run_id, "--prune", str(prune), "--quantize", "int8" if quantize else "none",
            "--finetune-epochs", str(int(finetune_epochs))]
    return launch(root, args, None, folder / "compress.log", actor=actor, run_id=run_id)


def launch(root, args: list[str], out: Path | None, log: Path, actor: str | None = None, **info) -> dict:
    """Start ``python -m tlcore ARGS`` in its own session, output to ``log``; what it creates is owned by
    ``actor`` (``TL_USER`` of the child) when given."""
    env = {**os.environ, "TL_HOME": str(root), "TOKENIZERS_PARALLELISM": "false"}
    if actor:
        env["TL_USER"] = actor
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tlcore", *args], stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, cwd=str(PROJECT), start_new_session=True)
    return {**info, "pid": proc.pid, "out": str(out) if out else None, "log": str(log), "started": time.time(),
            "_proc": proc}


def zip_folder(folder) -> bytes:
    """The folder as ZIP bytes (for a download button)."""
    import io
    import zipfile

    folder = Path(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, f"{folder.name}/{p.relative_to(folder)}")
    return buf.getvalue()


def last_json(log) -> dict | None:
    """The last JSON line a finished CLI command printed (its result)."""
    for line in reversed(_tail(Path(log), 20000).splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def job_status(job: dict) -> dict:
    """``{"state": "running" | "done" | "failed", "detail"}`` for a job from :func:`launch`."""
    proc = job.get("_proc")
    code = proc.poll() if proc is not None else None
    if code is None and proc is not None:
        return {"state": "running", "detail": f"{time.time() - job['started']:.0f} s"}
    if code == 0 and (job.get("out") is None or Path(job["out"]).exists()):
        return {"state": "done", "detail": ""}
    text = _tail(Path(job["log"]), 2000)
    errors = [ln[len("error: "):] for ln in text.splitlines() if ln.startswith("error: ")]
    return {"state": "failed", "detail": errors[-1] if errors else text[-500:]}
