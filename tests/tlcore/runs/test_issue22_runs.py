"""Issue 22 items 5 and 6 / "Runs never stick": a run records its process; a reader that finds it gone marks the
run failed so ``delete`` works; a full disk gives one clear line (never restore advice, no traceback, no folder
without a row); a migration is preceded by a backup."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from tlcore.runs import backup
from tlcore.runs.store import RunStore, StorageFull, StoreCorrupt

from tests.conftest import ROOT

FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}

OWNER = """
import sys, time
from tlcore.runs.store import RunStore
print(RunStore(sys.argv[1]).create({"name": "doomed"}), flush=True)
time.sleep(120)
"""


def _cli(home, *args):
    env = {**os.environ, "TL_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_item5_killed_cli_run_is_marked_failed_and_deletable(store):
    proc = subprocess.Popen([sys.executable, "-c", OWNER, str(store.root)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    rid = proc.stdout.readline().strip()
    rec = store.get(rid)
    assert rec.status == "running"  # alive: left alone
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    t0 = time.monotonic()
    rec = store.get(rid)  # any reader notices
    assert rec.status == "failed" and f"pid {proc.pid}" in rec.error and "ended without finishing" in rec.error
    assert any(e.get("status") == "failed" for e in store.events(rid))
    store.delete(rid)
    assert time.monotonic() - t0 < 90 and not store.folder(rid).exists()


def test_item5_runs_list_and_doctor_reap_a_dead_owner(store, tl_home):
    rid = store.create({"name": "stuck"})
    with sqlite3.connect(store.db_path) as db:  # as if created by a process that has died since
        db.execute("UPDATE runs SET pid = ?, pid_start = ? WHERE run_id = ?", (2**22 + 7, 1.0, rid))
    out = _cli(tl_home, "runs", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1])[0]["status"] == "failed"
    rid2 = store.create({"name": "stuck too"})
    with sqlite3.connect(store.db_path) as db:  # pid reused by another process: the start time differs
        db.execute("UPDATE runs SET pid = ?, pid_start = ? WHERE run_id = ?", (os.getpid(), 1.0, rid2))
    assert _cli(tl_home, "doctor").returncode == 0
    assert store.get(rid2).status == "failed"


def test_item5_runs_of_another_host_or_a_live_owner_are_left_alone(store):
    rid = store.create({"name": "remote"})
    with sqlite3.connect(store.db_path) as db:
        db.execute("UPDATE runs SET pid = ?, host = ? WHERE run_id = ?", (2**22 + 7, "ray-node-9", rid))
    live = store.create({"name": "mine"})
    assert store.reap_stale() == []
    assert store.get(rid).status == "running" and store.get(live).status == "running"
    assert store.get(live).to_dict()  # and the row records this process
    with sqlite3.connect(store.db_path) as db:
        pid, host = db.execute("SELECT pid, host FROM runs WHERE run_id = ?", (live,)).fetchone()
    assert pid == os.getpid() and host == socket.gethostname()


def test_item6_disk_io_error_on_a_full_disk_is_not_called_damage(store, monkeypatch):
    import tlcore.runs.store as store_mod

    exc = sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr(store_mod, "free_mb", lambda p: 3.0)
    monkeypatch.setattr("tlcore.runs.files.free_mb", lambda p: 3.0)
    got = store._translate(exc)
    assert isinstance(got, StorageFull) and "the disk holding TL_HOME is full: 3 MB free" in str(got)
    assert "restore" not in str(got) and "backup" not in str(got)
    monkeypatch.setattr(store_mod, "free_mb", lambda p: 50_000.0)
    assert isinstance(store._translate(exc), StoreCorrupt)  # plenty of space: the file itself is suspect


def test_item6_disk_full_when_the_row_is_written_leaves_no_folder(store, monkeypatch):
    real = store.connect

    def full_connect():
        raise StorageFull("the disk holding TL_HOME is full: 0 MB free")

    monkeypatch.setattr(store, "connect", full_connect)
    with pytest.raises(StorageFull):
        store.create({"name": "x"}, run_id="20260101-000000-fullfu")
    monkeypatch.setattr(store, "connect", real)
    assert not store.folder("20260101-000000-fullfu").exists() and store.list() == []


def test_item6_disk_full_while_saving_the_model_is_one_line_not_a_traceback(tl_home):
    # a child process whose every fsync of model.safetensors fails with ENOSPC: the CLI prints one line
    code = f"""
import errno, os, sys
real = os.fsync
def fsync(fd):
    if os.readlink(f"/proc/self/fd/{{fd}}").endswith("model.safetensors"):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(fd)
os.fsync = fsync
from tlcore.__main__ import main
sys.exit(main(["train", "--demo", "digits", "--quiet"] + sum([["--set", f"{{k}}={{v}}"] for k, v in {json.dumps(
    {k: v for k, v in FAST.items() if k not in ("source", "target")})}.items()], [])))
"""
    env = {**os.environ, "TL_HOME": str(tl_home)}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr and "restore" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "the disk holding TL_HOME is full:" in last and "MB free" in last
    [rec] = RunStore(tl_home).list()
    assert rec.status == "failed" and "the disk holding TL_HOME is full" in rec.error


def test_item4_doctor_backup_and_a_backup_before_migration(store, tl_home):
    assert _cli(tl_home, "doctor", "--backup").returncode == 0
    assert len(backup.list_backups(tl_home)) == 1
    with sqlite3.connect(tl_home / "tl.db") as db:  # an older data root: no pid/host columns yet
        db.execute("DROP TABLE runs")
        db.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, strategy TEXT, "
                   "backbone TEXT, source TEXT, target TEXT, modality TEXT, seed INTEGER, created REAL NOT NULL, "
                   "finished REAL, seconds REAL, target_acc REAL, target_f1 REAL, source_acc REAL, error TEXT, "
                   "config TEXT NOT NULL)")
    time.sleep(0.01)
    RunStore(tl_home)
    assert len(backup.list_backups(tl_home)) == 2
    RunStore(tl_home)  # nothing left to migrate: no further backup
    assert len(backup.list_backups(tl_home)) == 2
