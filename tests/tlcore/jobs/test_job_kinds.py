"""Typed jobs: the classical baseline goes through the queue like any run (Compare and sweeps no longer fit it
in the page's process), and a sweep is all jobs (so it fans out over a Ray cluster)."""
import os
import subprocess
import sys

from tlcore.jobs.queue import JobQueue
from tlcore.sweeps import plan_sweep, submit_sweep

from tests.conftest import ROOT

BASE = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}


def test_classical_baseline_is_a_job_and_a_sweep_is_all_jobs(store):
    q = JobQueue(store)
    job = q.submit({**BASE, "strategy": "classical"}, owner="ana")
    assert q.get(job).kind == "classical"
    plan = plan_sweep([(BASE["source"], BASE["target"])], ["scratch"], [0], BASE, classical=True)
    out = submit_sweep(q, plan)
    assert out["runs"] == [] and len(out["jobs"]) == len(plan) == 2
    assert sorted(q.get(j).kind for j in out["jobs"]) == ["classical", "train"]
    for j in out["jobs"]:  # only the classical jobs run here (fast); the deep one is cancelled
        if q.get(j).kind == "train":
            q.cancel(j)
    env = {**os.environ, "TL_HOME": str(store.root)}
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert w.returncode == 0, w.stderr
    snap = q.get(job)
    assert snap.status == "completed", (snap.error, q.log_tail(job))
    rec = store.get(snap.run_id)
    assert rec.strategy == "classical" and rec.status == "completed" and rec.owner == "ana"
    assert rec.target_acc is not None
