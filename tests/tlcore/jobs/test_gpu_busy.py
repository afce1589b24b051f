"""RELIABILITY.md item 58: a GPU that someone else uses (another user's job, an external program) is not given to
a job: the worker reads each GPU's memory and compute processes from the device probe (nvidia-smi; faked here with
TL_GPUS plus TL_GPU_PROBE_FILE, or an injected probe), the job stays queued and the job cards, the sidebar and
``python -m tlcore jobs`` say why; it starts once the GPU is free."""
import json
import os
import subprocess
import sys
import time

from tlcore.device_probe import GpuState, parse_nvidia_smi
from tlcore.jobs.executors import Handle, LocalExecutor
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.worker import _Serving
from tlcore.cli.jobs import job_row
from ui.jobs_panel import progress_text
from ui.sidebar import wait_lines

from tests.conftest import ROOT


def serving(store, state: dict, gpus=("0", "1")):
    ex = LocalExecutor(store.root, gpus=list(gpus), per_gpu=1, probe=lambda: dict(state), probe_ttl_s=0)
    ex.start = lambda queue, snap, wid, limit: Handle(snap.job_id, gpus=snap.gpus)  # no process: placement only
    return _Serving(JobQueue(store), ex, max_jobs=3, timeout=0, light=0)


def test_item_58_busy_gpus_are_skipped_and_the_job_waits_with_the_reason(store, monkeypatch):
    monkeypatch.setenv("TL_GPU_MIN_FREE_GB", "2")
    state = {"0": GpuState(used_gb=6.0, total_gb=80.0, pids=(4242,)),   # an external process, memory to spare
             "1": GpuState(used_gb=79.5, total_gb=80.0)}                 # nearly full (processes not visible)
    w = serving(store, state)
    q = w.queue
    job = q.submit({"seconds": 0}, kind="probe", resources={"num_gpus": 1})
    cpu = q.submit({"seconds": 0}, kind="probe", resources={"num_gpus": 0})
    w.start_queued()
    snap = q.get(job)
    assert snap.status == "queued", "never placed on a busy GPU"
    assert q.get(cpu).status == "queued", "FIFO: the queue head waits for its GPU"
    why = snap.progress["detail"]
    assert snap.progress["type"] == "waiting"
    assert "GPU 0: in use by another process (pid 4242" in why
    assert "GPU 1: 0.5 of 80.0 GB free (below TL_GPU_MIN_FREE_GB=2)" in why
    assert progress_text(snap) == (0.0, why)                     # the job card
    assert wait_lines(q.list(active_only=True)) == [f"{job} {why}"]  # the sidebar
    assert job_row(snap)["waiting"] == why                       # python -m tlcore jobs [--json]

    state["1"] = GpuState(used_gb=1.0, total_gb=80.0)  # the other program ended
    w.start_queued()
    snap = q.get(job)
    assert snap.status == "running" and snap.gpus == "1" and snap.progress == {}, "reason cleared on start"
    assert q.get(cpu).status == "running" and q.get(cpu).gpus is None
    nxt = q.submit({"seconds": 0}, kind="probe", resources={"num_gpus": 1})
    w.start_queued()
    assert q.get(nxt).status == "queued"
    assert "GPU 1 runs " + job in q.get(nxt).progress["detail"], "own jobs count as busy too"


def test_item_58_nvidia_smi_output_is_parsed_into_memory_and_processes():
    gpus = "0, GPU-aaa, 1024, 81920\n1, GPU-bbb, 40960, 81920\n2, GPU-ccc, [N/A], [N/A]\n"
    apps = "GPU-bbb, 4242\nGPU-bbb, 777\n"
    state = parse_nvidia_smi(gpus, apps)
    assert state == {"0": GpuState(1.0, 80.0, ()), "1": GpuState(40.0, 80.0, (4242, 777))}
    assert parse_nvidia_smi("", "") == {}


def wait_for(pred, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_item_58_worker_with_a_fake_busy_gpu_keeps_the_job_queued_until_it_frees(store, tmp_path):
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps({"0": {"used_gb": 3, "total_gb": 24, "pids": [4242]}}))
    env = {**os.environ, "TL_HOME": str(store.root), "TL_GPUS": "0", "TL_GPU_PROBE_FILE": str(probe)}
    q = JobQueue(store)
    job = q.submit({"seconds": 0}, kind="probe", resources={"num_gpus": 1})
    w = subprocess.Popen([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: q.get(job).progress.get("type") == "waiting", 60)
        listed = subprocess.run([sys.executable, "-m", "tlcore", "jobs"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=60).stdout
        assert "GPU 0: in use by another process (pid 4242" in listed
        time.sleep(1.0)
        assert q.get(job).status == "queued"
        probe.write_text(json.dumps({"0": {"used_gb": 0.3, "total_gb": 24, "pids": []}}))
        assert w.wait(timeout=120) == 0
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    done = q.get(job)
    assert done.status == "completed" and done.gpus == "0"
