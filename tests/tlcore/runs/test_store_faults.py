"""Run store faults from issue 15: disk full while saving, a corrupt tl.db (doctor, backups, restore),
delete while running, owners."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from tlcore import auth
from tlcore.config import RunConfig
from tlcore.jobs.queue import JobQueue
from tlcore.runs import backup
from tlcore.runs.store import PermissionDenied, RunBusy, RunStore, StoreCorrupt

from tests.conftest import ROOT

FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}


def cli(home, *args, stdin=None):
    env = {**os.environ, "TL_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, input=stdin, timeout=600)  # generous: a loaded box starts Python slowly


def test_item_64_disk_full_while_saving_the_model_fails_the_run_and_leaves_no_temp_files(
        store, monkeypatch):
    from tlcore.pipeline import run_experiment

    real_fsync = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("model.safetensors"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError):
        run_experiment(RunConfig.from_dict(FAST), store)
    monkeypatch.undo()
    [rec] = store.list()
    assert rec.status == "failed" and "the disk holding TL_HOME is full" in rec.error  # issue 22: one clear line
    leftovers = [p.name for p in store.folder(rec.run_id).iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    assert not store.path(rec.run_id, "model.safetensors").exists()
    out = cli(store.root, "runs", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])[0]["status"] == "failed"


def test_item_76_store_write_on_a_full_disk_raises_storage_full_and_leaves_no_temp_file(store, monkeypatch):
    rid = store.create(FAST)
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError, match="the disk holding TL_HOME is full: [0-9]+ MB free"):
        store.write_bytes(rid, "model.safetensors", b"x" * 1000)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert [p.name for p in store.folder(rid).iterdir()] == ["config.json"]


def _corrupt(path):
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(os.urandom(8192))


def test_item_77_corrupt_database_names_the_file_and_doctor_backs_up_and_restores(store):
    rid = store.create(FAST)
    store.finish(rid, "completed", metrics={"target_test": {"accuracy": 0.5}})
    for i in range(3):  # enough pages that offset 4096..12288 hits table data
        store.create({**FAST, "seed": i, "name": "x" * 2000})
    made = cli(store.root, "doctor", "--backup")
    assert made.returncode == 0, made.stderr
    assert len(backup.list_backups(store.root)) == 1
    ok = cli(store.root, "doctor")
    assert ok.returncode == 0 and json.loads(ok.stdout.splitlines()[-1])["ok"] is True
    _corrupt(store.db_path)
    failed = 0
    for args in (("runs",), ("jobs",), ("show", rid), ("submit", "--probe", "1")):
        out = cli(store.root, *args)
        assert "Traceback" not in out.stderr, out.stderr
        if out.returncode:  # whatever touches a damaged page says which file and how to recover
            failed += 1
            assert str(store.db_path) in out.stderr and "doctor" in out.stderr, out.stderr
    assert failed >= 2
    with pytest.raises(StoreCorrupt, match="tl.db"):
        RunStore(store.root).list()
    bad = cli(store.root, "doctor")
    assert bad.returncode == 1 and json.loads(bad.stdout.splitlines()[-1])["ok"] is False
    assert "--restore" in bad.stderr
    refused = cli(store.root, "doctor", "--backup")
    assert refused.returncode != 0 and "not backed up" in refused.stderr
    fixed = cli(store.root, "doctor", "--restore")
    assert fixed.returncode == 0, fixed.stderr
    kept = json.loads(fixed.stdout.splitlines()[-1])["damaged_copy"]
    assert os.path.exists(kept)
    assert RunStore(store.root).get(rid).status == "completed"


def test_backups_rotate(store, monkeypatch):
    monkeypatch.setenv("TL_BACKUPS_KEEP", "2")
    for _ in range(4):
        backup.backup(store.root)
    assert len(backup.list_backups(store.root)) == 2
    assert backup.backup_if_due(store) is None  # the newest is fresh


def test_delete_while_running_is_refused_with_the_reason(store):
    q = JobQueue(store)
    job = q.submit(FAST)
    q.claim_next("w")
    rid = store.create(FAST, status="running", run_id="20260101-000000-abcdef")
    q.update(job, run_id=rid)
    with pytest.raises(RunBusy, match=f"still running \\(job {job}\\); cancel it first"):
        store.delete(rid)
    out = cli(store.root, "delete", rid)
    assert out.returncode == 2 and "cancel it first" in out.stderr and "Traceback" not in out.stderr
    assert store.folder(rid).is_dir() and store.get(rid).status == "running"
    store.finish(rid, "cancelled")
    store.delete(rid)


def test_item_09_only_the_owner_or_an_admin_may_delete_runs_or_cancel_jobs(store):
    for name in ("ana", "bo", "boss"):
        auth.add_user(name, "password-x", store.root)
    auth.set_admin("boss", True, store.root)
    store.owner = "ana"
    rid = store.create(FAST, status="completed")
    rid2 = store.create(FAST, status="completed")
    assert store.get(rid).owner == "ana"
    with pytest.raises(PermissionDenied, match="belongs to ana"):
        store.delete(rid, actor="bo")
    store.delete(rid, actor="ana")
    store.delete(rid2, actor="boss")
    q = JobQueue(store)
    job = q.submit(FAST, owner="ana")
    assert q.get(job).owner == "ana"
    with pytest.raises(PermissionDenied):
        q.cancel(job, actor="bo")
    assert q.get(job).status == "queued"
    assert q.cancel(job, actor="boss") == "cancelled"


def test_audit_log_records_who_started_cancelled_and_deleted_what(store):
    import io

    from tlcore.data.library import DomainLibrary
    from tlcore.runs import audit

    q = JobQueue(store)
    job = q.submit(FAST, owner="ana")
    q.cancel(job, actor="ana")
    store.owner = "ana"
    rid = store.create(FAST, status="completed")
    store.delete(rid, actor="ana")
    lib = DomainLibrary(store.root)
    e = lib.ingest_upload("reviews", "r.csv", io.BytesIO(b"text,label\na,x\nb,y\n"), owner="bo")
    lib.delete(e["domain_id"], actor="bo")
    got = [(r["actor"], r["action"], r["object"]) for r in reversed(audit.entries(store))]
    assert got == [("ana", "submit job", job), ("ana", "cancel job", job), ("ana", "delete run", rid),
                   ("bo", "add domain (upload)", "reviews"), ("bo", "delete domain", "reviews")]
    out = cli(store.root, "audit", "--json")
    assert out.returncode == 0 and len(json.loads(out.stdout.splitlines()[-1])) == 5
