"""RELIABILITY.md item 67: CUDA initialised before fork ("Cannot re-initialize CUDA in forked subprocess").

Job processes start as fresh interpreters (``subprocess.Popen([sys.executable, "-m", "tlcore", "run-job", id])``),
never by a plain fork of a process that may have touched CUDA; data-parallel ranks use the ``spawn`` context; the
worker that starts jobs (and the dashboard, tests/app/test_pages_torch_free.py) never imports torch at all."""
import ast
import os
import subprocess
import sys

import tlcore.jobs.executors as executors
import tlcore.jobs.worker as worker
from tlcore.jobs.queue import JobQueue

from tests.conftest import ROOT

SAFE_METHODS = {"spawn", "forkserver"}


class FakePopen:
    calls = []

    def __init__(self, args, **kw):
        FakePopen.calls.append((args, kw))
        self.pid = os.getpid()
        self.args = args


def test_item_67_job_processes_are_fresh_interpreters(store, monkeypatch):
    FakePopen.calls = []
    monkeypatch.setattr(executors.subprocess, "Popen", FakePopen)
    q = JobQueue(store)
    job = q.submit({"seconds": 0}, kind="probe")
    snap = q.claim_next("w-test", job_id=job)
    executors.LocalExecutor(store.root, gpus=[]).start(q, snap, "w-test", 0)
    args, kw = FakePopen.calls[-1]
    assert args == [sys.executable, "-m", "tlcore", "run-job", job]
    assert kw["start_new_session"] is True and kw.get("preexec_fn") is None
    monkeypatch.setattr(worker.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(worker, "worker_running", lambda root=None: False)
    assert worker.ensure_worker(store.root)
    args, kw = FakePopen.calls[-1]
    assert args == [sys.executable, "-m", "tlcore", "worker"]


def forks_in(text: str) -> list[str]:
    """Ways of starting a process by fork: os.fork/forkpty, multiprocessing's default (fork on Linux) context,
    a fork or default start method, a process pool without an explicit spawn context."""
    found = []
    for n in ast.walk(ast.parse(text)):
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
        arg = n.args[0].value if n.args and isinstance(n.args[0], ast.Constant) else None
        kw = {k.arg for k in n.keywords}
        if owner == "os" and name in ("fork", "forkpty"):
            found.append(f"{n.lineno}: os.{name}")
        elif owner in ("multiprocessing", "mp") and name in ("Process", "Pool"):
            found.append(f"{n.lineno}: {owner}.{name} (the default start method forks)")
        elif name in ("get_context", "set_start_method") and arg not in SAFE_METHODS:
            found.append(f"{n.lineno}: {name}({arg!r})")
        elif name == "ProcessPoolExecutor" and "mp_context" not in kw:
            found.append(f"{n.lineno}: ProcessPoolExecutor without mp_context")
    return found


def test_item_67_no_code_path_forks_a_process_that_may_hold_cuda():
    files = [ROOT / "app.py", ROOT / "serve.py"] + [p for d in ("tlcore", "ui", "views") for p in (ROOT / d).rglob("*.py")]
    found = [f"{p.relative_to(ROOT)}:{hit}" for p in files for hit in forks_in(p.read_text("utf-8"))]
    assert found == []
    ddp = (ROOT / "tlcore" / "training" / "ddp.py").read_text()
    assert 'multiprocessing.get_context("spawn")' in ddp, "data-parallel ranks start by spawn"
    # the sweep itself can fail
    assert forks_in("import os\nos.fork()\n") == ["2: os.fork"]
    assert forks_in("import multiprocessing\nmultiprocessing.Process(target=f)\n")
    assert forks_in("ctx = multiprocessing.get_context('fork')\n") == ["1: get_context('fork')"]
    assert forks_in("ProcessPoolExecutor(2)\n") and not forks_in("ProcessPoolExecutor(2, mp_context=ctx)\n")


def test_item_67_the_worker_starts_jobs_without_importing_torch(store):
    JobQueue(store).submit({"seconds": 0}, kind="probe")
    code = ("import sys\nfrom tlcore.jobs.worker import run_worker\nrun_worker(once=True, poll_s=0.1)\n"
            "from tlcore.jobs.queue import JobQueue\nprint([j.status for j in JobQueue().list()])\n"
            "print('torch' in sys.modules, 'torch.cuda' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TL_HOME": str(store.root), "TL_GPUS": "none"})
    assert out.returncode == 0, out.stderr
    statuses, imported = out.stdout.splitlines()[-2:]
    assert statuses == "['completed']"
    assert imported == "False False", "the worker process must never import torch (CUDA) before starting jobs"
