"""Light job kinds (tlcore/jobs/tasks.py): the Embeddings page's projections (``embeddings``) and the Domains page's
shift report (``shift``) go through the persisted queue; the worker runs them like any job (submit -> worker --once
-> done), in a light slot that a training job holding the only normal slot does not block; cancel works; readers
settle their progress files from the queue, not from a local pid."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tlcore.embeddings.extract import PROGRESS_FILE
from tlcore.jobs import light
from tlcore.jobs.light import extraction_status, launch_extraction
from tlcore.errors import ConfigError
from tlcore.jobs.executors import Handle
from tlcore.jobs.queue import JobQueue
from tlcore.jobs.worker import _Serving

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "app"))
from fake_runs import make_run  # noqa: E402
from test_embeddings_page import add_before  # noqa: E402

TRAIN = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
         "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}
PAIR = ({"demo": "digits"}, {"demo": "digits"})


class FakeExecutor:
    """Starts nothing: records which jobs the worker started; ``done`` ends one."""

    name, node = "fake", "here"

    def __init__(self):
        self.started, self.ended = [], set()

    def pick_gpu(self, snap, handles):
        return ""

    def start(self, queue, snap, worker_id, limit):
        self.started.append(snap.job_id)
        return Handle(snap.job_id, pid=None)

    def poll(self, h):
        return 0 if h.job_id in self.ended else None

    def done(self, queue, job_id):
        queue.finish(job_id, "completed")
        self.ended.add(job_id)


def shift_job(q, seed):
    return q.submit({"source": PAIR[0], "target": PAIR[1], "backbone": "tiny_cnn", "cap": 40, "seed": seed},
                    kind="shift", owner="ana")


def test_the_light_slot_runs_while_a_train_job_holds_the_only_normal_slot(store):
    q = JobQueue(store)
    train = q.submit(TRAIN, owner="ana")
    light1, light2 = shift_job(q, 1), shift_job(q, 2)
    train2 = q.submit({**TRAIN, "seed": 5}, owner="ana")
    ex = FakeExecutor()
    w = _Serving(q, ex, max_jobs=1, timeout=0, light=1)
    w.start_queued()
    assert ex.started == [train, light1]  # the shift report does not wait behind training
    assert w.children[train].lane == "normal" and w.children[light1].lane == "light"
    assert q.get(light2).status == "queued"  # one light slot, and the normal slot is busy
    ex.done(q, light1)
    w.tick()
    assert ex.started[-1] == light2 and q.get(train2).status == "queued"  # the light slot does not take training
    ex.done(q, train)
    ex.done(q, light2)
    w.tick()
    assert ex.started[-1] == train2 and w.children[train2].lane == "normal"


def test_without_light_slots_light_jobs_wait_for_a_normal_slot(store, monkeypatch):
    monkeypatch.setenv("TL_LIGHT_JOBS", "0")
    q = JobQueue(store)
    train, light = q.submit(TRAIN, owner="ana"), shift_job(q, 1)
    ex = FakeExecutor()
    w = _Serving(q, ex, max_jobs=1, timeout=0)
    assert w.light == 0
    w.start_queued()
    assert ex.started == [train] and q.get(light).status == "queued"


def test_a_light_job_takes_its_light_slot_first_leaving_the_normal_slot_free(store):
    q = JobQueue(store)
    light, train = shift_job(q, 1), q.submit(TRAIN, owner="ana")
    ex = FakeExecutor()
    w = _Serving(q, ex, max_jobs=1, timeout=0, light=1)
    w.start_queued()
    assert ex.started == [light, train] and w.children[light].lane == "light"


def test_light_jobs_are_validated_at_submit(store):
    q = JobQueue(store)
    rid = make_run(store)
    with pytest.raises(ConfigError, match="unknown projection"):
        q.submit({"run_id": rid, "method": "nope"}, kind="embeddings")
    with pytest.raises(ConfigError, match="takes no parameter"):
        q.submit({"run_id": rid, "method": "tsne", "params": {"no_such_option": 1}}, kind="embeddings")
    with pytest.raises(Exception, match="not found"):
        q.submit({"run_id": "no-such-run"}, kind="embeddings")
    with pytest.raises(ConfigError, match="source and target"):
        q.submit({"source": "digits"}, kind="shift")
    job = q.submit({"run_id": rid, "method": "tsne", "dim": 3}, kind="embeddings", owner="bo")
    snap = q.get(job)
    assert snap.kind == "embeddings" and snap.owner == "bo" and snap.config["params"]["perplexity"] == 30.0


def worker_once(store, **env):
    full = {**os.environ, "TL_HOME": str(store.root), "TL_MAX_JOBS": "1", **env}
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, env=full,
                       capture_output=True, text=True, timeout=300)
    assert w.returncode == 0, w.stderr
    return w


def test_embeddings_and_shift_jobs_submit_worker_once_done(store):
    q = JobQueue(store)
    rid = make_run(store)
    add_before(store, rid)
    emb = launch_extraction(store, rid, method="pca", owner="ana")
    sh = light.launch_shift_report(*PAIR, store.root, backbone="tiny_cnn", owner="bo", cap=40)
    # queued: the readers say so from the queue (no process exists yet)
    assert extraction_status(store, rid)["status"] == "running"
    assert "queued as " + emb in extraction_status(store, rid)["detail"]
    assert "waiting for a free worker slot" in light.read_shift_report(store.root, *PAIR, "tiny_cnn", 40)["detail"]
    worker_once(store)
    for job, owner in ((emb, "ana"), (sh, "bo")):
        snap = q.get(job)
        assert snap.status == "completed", (snap.error, q.log_tail(job))
        assert snap.owner == owner and snap.executor == "local" and snap.node and snap.run_id is None
        assert snap.progress.get("type") == "phase" and snap.progress.get("progress") > 0  # mirrored to the row
    s = extraction_status(store, rid)
    assert s["status"] == "done" and s["job_id"] == emb
    assert (store.metrics(rid).get("embeddings") or {}).get("gap")  # the job did what the CLI does
    rep = light.read_shift_report(store.root, *PAIR, "tiny_cnn", 40)
    assert rep["status"] == "done" and rep["gap"]["n_source"] == 40 and rep["backbone"] == "tiny_cnn"


def test_a_job_that_fails_or_is_cancelled_reads_so_without_a_local_pid(store):
    q = JobQueue(store)
    rid = make_run(store)
    add_before(store, rid)
    job = launch_extraction(store, rid, method="tsne", params={"perplexity": -5.0}, owner="ana")
    sh = light.launch_shift_report(*PAIR, store.root, backbone="tiny_cnn", owner="ana", cap=40)
    assert q.cancel(sh, actor="ana") == "cancelled"  # cancelled while queued
    worker_once(store)
    assert q.get(job).status == "failed"
    s = extraction_status(store, rid)
    assert s["status"] == "failed" and "perplexity" in s["detail"], s
    assert light.read_shift_report(store.root, *PAIR, "tiny_cnn", 40)["status"] == "cancelled"
    # a report naming a job that ran elsewhere: its pid means nothing here; the queue decides
    store.write_json(rid, PROGRESS_FILE, {"status": "running", "progress": 0.5, "detail": "x", "time": time.time(),
                                          "pid": 999999999, "job_id": job})
    assert extraction_status(store, rid)["status"] == "failed"
    with store.connect() as db:
        db.execute("UPDATE jobs SET status='running', finished=NULL WHERE job_id=?", (job,))
    s = extraction_status(store, rid)
    assert s["status"] == "running" and s["progress"] == 0.5  # a dead local pid does not fail a running job


def test_cancel_stops_a_running_light_job(store):
    q = JobQueue(store)
    env = {**os.environ, "TL_HOME": str(store.root), "TL_MAX_JOBS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "tlcore", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        job = light.launch_shift_report(*PAIR, store.root, backbone="tiny_cnn", owner="ana", cap=400)
        deadline = time.time() + 120
        while q.get(job).status == "queued" and time.time() < deadline:
            time.sleep(0.05)
        assert q.get(job).status == "running"
        assert q.cancel(job, actor="ana") == "running"  # asked; the job's watcher interrupts the work
        while q.get(job).status == "running" and time.time() < deadline:
            time.sleep(0.1)
        snap = q.get(job)
        assert snap.status == "cancelled", (snap.status, snap.error, q.log_tail(job))
        assert light.read_shift_report(store.root, *PAIR, "tiny_cnn", 400)["status"] == "cancelled"
    finally:
        worker.terminate()
        worker.wait(30)


def test_cli_submit_queues_light_jobs_like_the_pages(store):
    rid = make_run(store)
    env = {**os.environ, "TL_HOME": str(store.root), "TL_USER": "cli-user"}
    out = {}
    for kind, cfg in (("embeddings", {"run_id": rid, "method": "tsne"}),
                      ("shift", {"source": PAIR[0], "target": PAIR[1], "backbone": "tiny_cnn", "cap": 40})):
        r = subprocess.run([sys.executable, "-m", "tlcore", "submit", "--kind", kind, json.dumps(cfg)], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        out[kind] = json.loads(r.stdout.strip().splitlines()[-1])["job_id"]
    q = JobQueue(store)
    assert [q.get(out[k]).kind for k in out] == ["embeddings", "shift"]
    assert {q.get(j).owner for j in out.values()} == {"cli-user"}
    assert extraction_status(store, rid)["job_id"] == out["embeddings"]
    r = subprocess.run([sys.executable, "-m", "tlcore", "submit", "--kind", "embeddings", "{}"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "run_id is required" in r.stderr
