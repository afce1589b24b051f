"""Issue 23 item 7 / issue 24 item 1: batch predict, export and compress are job kinds of the one job queue
(tlcore/export/job_kinds.py, asked for through tlcore/export/client.py): the signed-in owner, that user's quota,
the worker's timeout, Cancel, progress in the job snapshots; an export is zipped once, by its job. One worker
(``worker --once``) runs the three kinds of one module-wide data root, so torch is imported once."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tlcore.errors import ConfigError
from tlcore.export import client
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore

from tests.conftest import ROOT
from tests.tlcore.export.artifacts import artifact_run


def worker_once(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TL_HOME": str(root), "TL_MAX_JOBS": "1", "TL_USER": "server-os-user"}
    w = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert w.returncode == 0, w.stderr
    return w


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """ana's text run; ana asks for a batch prediction, an export and a compression; one worker runs them."""
    root = tmp_path_factory.mktemp("jobs_home")
    store = RunStore(root, owner="ana")
    rid, _ = artifact_run(store, "tiny_text", "reviews")
    batch = client.new_batch(root, "texts.csv", b"text\na great film\nawful and boring\n")
    jobs = {"predict": client.launch_batch(root, rid, batch, "text", actor="ana"),
            "export": client.launch_export(root, rid, "safetensors", actor="ana"),
            "compress": client.launch_compress(root, rid, 0.5, False, 0, actor="ana")}
    queued = {k: client.job_status(j) for k, j in jobs.items()}
    worker_once(root)
    return root, store, rid, jobs, queued


def test_item7_compress_is_a_queued_job_owned_by_the_requester(done):
    root, store, rid, jobs, queued = done
    q = JobQueue(store)
    job = jobs["compress"]
    assert queued["compress"]["state"] == "queued"  # nothing ran in the asking process
    snap = q.get(job["job_id"])
    assert snap.kind == "compress" and snap.owner == "ana" and snap.status == "completed", q.log_tail(snap.job_id)
    status = client.job_status(job)
    assert status["state"] == "done"
    new = status["result"]["run_id"]
    rec = store.get(new)
    assert rec.owner == "ana"  # not the worker's OS user (TL_USER=server-os-user in the worker)
    assert rec.config["parent_run_id"] == rid and snap.run_id == new  # the job names the run it made
    assert snap.progress.get("type") == "phase" and snap.progress.get("progress") == 1.0


def test_item7_batch_predict_is_a_queued_job_with_its_csv(done):
    root, store, rid, jobs, queued = done
    snap = JobQueue(store).get(jobs["predict"]["job_id"])
    assert queued["predict"]["state"] == "queued" and snap.kind == "predict" and snap.owner == "ana"
    status = client.job_status(jobs["predict"])
    assert status["state"] == "done", status
    csv = Path(status["result"]["file"])
    assert csv.parent == root / "outputs" / snap.job_id  # the job's own folder
    lines = csv.read_text().splitlines()
    assert len(lines) == 3 and lines[1].startswith("a great film")


def test_export_zip_built_once(done):
    root, store, rid, jobs, queued = done
    job = jobs["export"]
    status = client.job_status(job)
    assert status["state"] == "done", status
    zipped = Path(status["result"]["file"])
    folder = root / "outputs" / job["job_id"]
    assert zipped.parent == folder and zipped.name == f"{rid}-safetensors.zip"
    names = zipfile.ZipFile(zipped).namelist()
    assert f"{rid}-safetensors/README.md" in names and f"{rid}-safetensors/model.safetensors" in names
    assert not (folder / f"{rid}-safetensors").exists()  # one copy on disk: the ZIP
    stamp = zipped.stat().st_mtime_ns
    for _ in range(3):  # what the exports fragment does every 2 s: read the snapshot, never zip
        assert client.job_status(job)["result"]["file"] == str(zipped)
    assert zipped.stat().st_mtime_ns == stamp and sorted(p.name for p in folder.iterdir()) == [
        zipped.name, "result.json"]
    JobQueue(store).delete(job["job_id"], actor="ana")
    assert not folder.exists()  # the job's outputs go with the job


def test_item7_ten_compress_clicks_respect_the_quota(store, monkeypatch):
    monkeypatch.setenv("TL_MAX_QUEUED_PER_USER", "3")
    rid, _ = artifact_run(store, "tiny_cnn", "digits")
    root = store.root
    same = {client.launch_compress(root, rid, 0.5, True, actor=None)["job_id"] for _ in range(10)}
    assert len(same) == 1  # ten clicks on the same settings: one job (the first, still queued)
    started, refused = [], []
    for i in range(10):  # ten different settings: the user's queue quota holds
        try:
            started.append(client.launch_compress(root, rid, 0.05 * (i + 1), False, actor=None)["job_id"])
        except ConfigError as exc:
            refused.append(str(exc))
    assert len(started) == 2 and len(refused) == 8 and "queue quota" in refused[0]
    q = JobQueue(store)
    assert {q.get(j).status for j in (*same, *started)} == {"queued"}
    assert {q.get(j).kind for j in (*same, *started)} == {"compress"}


def test_item7_a_queued_export_can_be_cancelled_by_its_owner_only(store):
    from tlcore import auth
    from tlcore.auth import PermissionDenied

    for name in ("ana", "bo"):
        auth.add_user(name, "password-x", store.root)
    store.owner = "ana"
    rid, _ = artifact_run(store, "tiny_cnn", "digits")
    job = client.launch_export(store.root, rid, "onnx", actor="ana")
    assert client.job_status(job)["state"] == "queued"
    with pytest.raises(PermissionDenied):
        client.cancel(job, actor="bo")
    assert client.cancel(job, actor="ana") == "cancelled"
    status = client.job_status(job)
    assert status["state"] == "cancelled" and "cancelled" in status["detail"]


def test_item7_job_configs_are_checked_at_submit(store):
    rid, _ = artifact_run(store, "tiny_cnn", "digits")
    q = JobQueue(store)
    with pytest.raises(ConfigError, match="format"):
        q.submit({"run_id": rid, "format": "pickle"}, kind="export")
    with pytest.raises(ConfigError, match="nothing to do"):
        q.submit({"run_id": rid, "prune": 0}, kind="compress")
    outside = store.root.parent / "elsewhere.csv"
    outside.write_text("text\nx\n")
    with pytest.raises(ConfigError, match=r"\$TL_HOME/predict"):
        q.submit({"run_id": rid, "input": str(outside)}, kind="predict")  # no reading of arbitrary files
    failed, _ = artifact_run(store, "tiny_cnn", "digits", status="failed")
    with pytest.raises(ConfigError, match="completed"):
        q.submit({"run_id": failed, "format": "onnx"}, kind="export")
