"""Issue 26: the log of a job that ran on a node without the data root (a Ray node, no shared disk) is readable
from the head: the Ray task's body (:func:`tlcore.jobs.ray_executor.run_on_node`, run here in a child process with
the node's own TL_HOME and the settings only through the task's argument, as on a Ray node) writes the log in the
node's root and uploads it to the artifact store when the job ends; ``JobQueue.log_tail`` reads it from there.
PostgreSQL (the session's server) and moto's S3 server on 127.0.0.1."""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.tlcore.runs.test_artifact_store import bucket, keys, s3_endpoint  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[3]
JOB = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
       "image_size": 16, "batch_size": 32, "max_samples_per_domain": 80, "strategy": "scratch", "device": "cpu"}
NODE = """
import json, sys
from tlcore.jobs import ray_executor
ray_executor.LOG_UPLOAD_EVERY_S = float(sys.argv[2])
sys.exit(ray_executor.run_on_node(**json.loads(sys.argv[1])))
"""


def _node_env(node_home: Path) -> dict:
    from tlcore.jobs.ray_executor import FORWARDED, FORWARDED_PREFIXES

    env = {k: v for k, v in os.environ.items() if k not in FORWARDED and not k.startswith(FORWARDED_PREFIXES)}
    return {**env, "TL_HOME": str(node_home), "TL_GPUS": "none", "PYTHONPATH": str(ROOT)}


def _run_on_node(node_home: Path, **task) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NODE, json.dumps(task), "30"], cwd=ROOT, env=_node_env(node_home),
                          capture_output=True, text=True, timeout=180)


def test_the_log_of_a_job_on_another_node_is_read_from_the_artifact_store(bucket, pg_url, tmp_path,  # noqa: F811
                                                                          monkeypatch):
    from tlcore.jobs.queue import JobQueue
    from tlcore.jobs.ray_executor import forwarded_env
    from tlcore.runs.store import RunStore

    client, name = bucket
    head, node = tmp_path / "head", tmp_path / "node"
    monkeypatch.setenv("TL_HOME", str(head))
    q = JobQueue(RunStore(head))
    job_id = q.submit(JOB)
    snap = q.claim_next("w-head", job_id=job_id, executor="ray")
    assert q.log_tail(job_id) == ""  # nothing yet, anywhere

    out = _run_on_node(node, job_id=job_id, root=str(head), worker_id="w-head", node="node-b/0123456789ab",
                       env=forwarded_env(), worker_root=False, log_path=snap.log_path)
    assert out.returncode == 0, out.stderr[-3000:]
    done = q.get(job_id)
    assert done.status == "completed" and done.node == "node-b/0123456789ab", done.error

    # written on the node (private), not in the head's logs folder, and stored beside the runs
    own = node / "logs" / f"{job_id}.log"
    assert "phase:" in own.read_text()
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert not Path(snap.log_path).exists()
    assert keys(client, name, "runs/_jobs/") == {f"{job_id}.log"}
    # the head (the dashboard's job panel, the supervisor) reads it from the store
    tail = q.log_tail(job_id)
    assert "phase:" in tail and tail == own.read_text()[-4000:]
    assert q.log_tail(job_id, 20) == own.read_text()[-20:]
    assert "tl-test-secret" not in tail


def test_a_node_that_dies_mid_job_leaves_its_log_up_to_the_last_upload(bucket, pg_url, tmp_path,  # noqa: F811
                                                                        monkeypatch):
    """The log is uploaded while the job runs (here every 0.3 s): the node is killed (SIGKILL: no final upload)
    once the job has logged a phase, and the head still reads that phase from the store."""
    from tlcore.jobs.queue import JobQueue
    from tlcore.jobs.ray_executor import forwarded_env
    from tlcore.runs.store import RunStore

    head, node = tmp_path / "head", tmp_path / "node"
    monkeypatch.setenv("TL_HOME", str(head))
    q = JobQueue(RunStore(head))
    job_id = q.submit({**JOB, "epochs": 1000, "max_samples_per_domain": 200, "early_stopping_patience": 0,
                       "checkpoint": "last"})  # runs far longer than the test (no early stop)
    snap = q.claim_next("w-head", job_id=job_id, executor="ray")
    task = dict(job_id=job_id, root=str(head), worker_id="w-head", node="node-b/0123456789ab", env=forwarded_env(),
                worker_root=False, log_path=snap.log_path)
    proc = subprocess.Popen([sys.executable, "-c", NODE, json.dumps(task), "0.3"], cwd=ROOT, env=_node_env(node),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    own = node / "logs" / f"{job_id}.log"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "epoch 1/" not in (own.read_text() if own.is_file() else ""):
            assert proc.poll() is None, "the job ended before it was killed"
            time.sleep(0.2)
        time.sleep(1.5)  # a few periodic uploads
        assert proc.poll() is None, "the job ended before it was killed"
    finally:
        proc.kill()
        proc.wait(30)
    assert q.get(job_id).status == "running"  # it never finished: the supervisor would mark it failed
    tail = q.log_tail(job_id)  # the last 4,000 characters: epoch lines of this job (epoch 1 may be above them)
    assert re.search(r"epoch \d+/1000 loss", tail), tail[-2000:]


def test_a_job_with_a_shared_data_root_writes_the_queues_log(store, tmp_path):
    """Without PostgreSQL + object storage every node shares the data root: the Ray task writes the queue's log
    file itself, and nothing is uploaded."""
    from tlcore.jobs.queue import JobQueue

    q = JobQueue(store)
    job_id = q.submit({"seconds": 0.05}, kind="probe")
    snap = q.claim_next("w-head", job_id=job_id, executor="ray")
    out = _run_on_node(tmp_path / "node", job_id=job_id, root=str(store.root), worker_id="w-head", node="n/1",
                       env={}, worker_root=False, log_path=snap.log_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert q.get(job_id).status == "completed"
    assert Path(snap.log_path).is_file() and not (tmp_path / "node" / "logs").exists()
