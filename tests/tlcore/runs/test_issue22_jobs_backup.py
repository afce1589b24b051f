"""Issue 22 item 4 (remainder): a job that dies on a full disk names the cause (not "exit code 1; log tail:" with
an empty tail), and the dashboard backs up ``tl.db`` when it starts, without a worker."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from tlcore.jobs import worker
from tlcore.jobs.queue import JobQueue
from tlcore.runs import backup, files
from tlcore.runs.store import RunStore

FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}


@pytest.fixture
def queue(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_HOME", str(tmp_path / "home"))
    return JobQueue(RunStore(tmp_path / "home"))


def _claimed(queue):
    jid = queue.submit(FAST)
    queue.claim_next("gone-worker")
    return jid


def test_item4_job_error_names_a_full_disk_not_an_empty_log_tail(queue, monkeypatch):
    monkeypatch.setattr(files, "free_mb", lambda path: 3.0)
    # a job process that exited 1 with nothing in its log (it could write nothing)
    jid = _claimed(queue)
    queue.update(jid, pid=424242)
    handle = SimpleNamespace(timeout_at=None, error=None, pid=424242, limit=0)
    executor = SimpleNamespace(poll=lambda h: 1)
    worker._reap(queue, {jid: handle}, executor)
    err = queue.get(jid).error
    assert queue.get(jid).status == "failed"
    assert err.startswith("the disk holding TL_HOME is full: 3 MB free"), err
    assert "log tail" not in err and "exit code 1" in err
    # a job process found dead by reconcile, same cause first
    jid2 = _claimed(queue)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    queue.update(jid2, pid=dead.pid, pid_start=12345.0)
    assert jid2 in worker.reconcile(queue)
    assert queue.get(jid2).error.startswith("the disk holding TL_HOME is full: 3 MB free")


def test_item4_job_error_with_room_on_the_disk_is_unchanged(queue, monkeypatch):
    monkeypatch.setattr(files, "free_mb", lambda path: 50_000.0)
    jid = _claimed(queue)
    queue.update(jid, pid=424243)
    worker._reap(queue, {jid: SimpleNamespace(timeout_at=None, error=None, pid=424243, limit=0)},
                 SimpleNamespace(poll=lambda h: 1))
    assert "disk" not in queue.get(jid).error and "exit code 1" in queue.get(jid).error


def test_item4_backup_at_dashboard_start_once_per_process(tmp_path, monkeypatch):
    root = tmp_path / "home"
    backup.backup_at_start(root, wait=True)  # no database yet: nothing to back up, no error
    assert backup.list_backups(root) == []
    backup._started.clear()  # a later server start
    RunStore(root).create({"name": "x"})
    backup.backup_at_start(root, wait=True)
    assert len(backup.list_backups(root)) == 1
    backup.backup_at_start(root, wait=True)  # the same process: no second backup
    backup._started.clear()  # a restart within the hour: the recent backup is enough
    backup.backup_at_start(root, wait=True)
    assert len(backup.list_backups(root)) == 1


def test_item4_dashboard_start_makes_a_backup_without_a_worker(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    home = tmp_path / "home"
    monkeypatch.setenv("TL_HOME", str(home))
    monkeypatch.setenv("TL_NO_AUTOWORKER", "1")
    monkeypatch.chdir(ROOT)
    RunStore(home).create({"name": "x"})
    backup._started.clear()
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    backup.backup_at_start(home, wait=True)  # joins the thread app.py started
    assert len(backup.list_backups(home)) == 1
