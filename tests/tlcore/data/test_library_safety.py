"""Domain library faults and abuse from issue 15: in-use deletes, owners, staging leftovers, memory-flat
uploads, private files, and a server-folder field that is no oracle for what exists."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tracemalloc

import pytest

from tlcore import auth
from tlcore.data import library as library_mod
from tlcore.data.library import DomainLibrary
from tlcore.errors import DataError
from tlcore.liveness import process_start_time
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import PermissionDenied

CSV = b"text,label\nlovely book,pos\nawful plot,neg\ngreat read,pos\nboring,neg\n"


@pytest.fixture
def lib(tmp_path, monkeypatch):
    monkeypatch.delenv("TL_ALLOWED_ROOTS", raising=False)
    monkeypatch.setenv("TL_HOME", str(tmp_path / "home"))
    return DomainLibrary(tmp_path / "home")


def test_server_folder_field_does_not_reveal_whether_paths_exist_and_handles_nul(lib, tmp_path):
    existing = tmp_path / "secret"
    existing.mkdir()
    messages = []
    for path in (existing, tmp_path / "missing", lib.root / "imports" / "missing", "/etc"):
        with pytest.raises(DataError) as err:
            lib.register_folder(f"x{len(messages)}", path)
        messages.append(str(err.value).split(": ", 1)[1])
    assert len(set(messages)) == 1, messages  # existing, missing, outside, inside: one answer
    for bad in ("imports/a\x00b", "\x00", "", "   ", "a\nb"):
        with pytest.raises(DataError, match="no such file or folder"):
            lib.register_folder("nul", bad)


def test_item_84_deleting_a_domain_used_by_a_queued_job_is_refused_with_the_job_ids(lib):
    e = lib.ingest_upload("reviews", "r.csv", io.BytesIO(CSV))
    q = JobQueue(lib.store)
    spec = lib.spec(e["domain_id"])
    cfg = {"source": spec, "target": spec, "backbone": "tiny_text", "epochs": 1, "strategy": "scratch"}
    job = q.submit(cfg)
    with pytest.raises(DataError, match=job) as err:
        lib.delete(e["domain_id"])
    assert "1 queued or running job" in str(err.value)
    assert lib.get(e["domain_id"])["name"] == "reviews"
    q.cancel(job)
    lib.delete(e["domain_id"])  # allowed once no active job uses it
    with pytest.raises(DataError, match="not found"):
        lib.get(e["domain_id"])


def test_only_the_owner_or_an_admin_deletes_a_domain_everyone_reads(lib):
    auth.add_user("ana", "password-1", lib.root)
    auth.add_user("bo", "password-2", lib.root)
    auth.add_user("root", "password-3", lib.root)
    auth.set_admin("root", True, lib.root)
    a = lib.ingest_upload("ana's", "a.csv", io.BytesIO(CSV), owner="ana")
    b = lib.ingest_upload("ana's too", "b.csv", io.BytesIO(CSV), owner="ana")
    assert {e["owner"] for e in lib.list()} == {"ana"}  # bo reads them
    with pytest.raises(PermissionDenied, match="belongs to ana"):
        lib.delete(a["domain_id"], actor="bo")
    lib.delete(a["domain_id"], actor="ana")
    lib.delete(b["domain_id"], actor="root")
    assert lib.list() == []


def test_item_05_staging_leftovers_of_a_killed_upload_are_swept_at_start(lib, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = lib.dir / "abc" / ".staging"
    left.mkdir(parents=True)
    (left / "data.csv").write_bytes(b"x" * 1000)
    (left / "owner.json").write_text(json.dumps({"pid": dead.pid, "start": 1.0}))
    live = lib.dir / "def" / ".staging"
    live.mkdir(parents=True)
    (live / "owner.json").write_text(json.dumps({"pid": os.getpid(),
                                                 "start": process_start_time(os.getpid())}))
    peek = lib.dir / ".peek-123"
    peek.mkdir()
    (peek / "owner.json").write_text(json.dumps({"pid": dead.pid, "start": 1.0}))
    library_mod._swept.discard(str(lib.root))
    DomainLibrary(lib.root)  # a server start
    assert not (lib.dir / "abc").exists() and not peek.exists()
    assert live.exists(), "an upload in progress (live owner) is kept"


def test_streamed_upload_saving_keeps_memory_flat_in_the_file_size(lib, tmp_path, monkeypatch):
    monkeypatch.setattr(library_mod, "CHILD_READ_BYTES", 1024 * 1024)
    peaks = {}
    for rows in (20_000, 200_000):  # ~0.6 MB vs ~6 MB
        src = tmp_path / f"big{rows}.csv"
        with open(src, "wb") as fh:
            fh.write(b"text,label\n")
            for i in range(rows):
                fh.write(f"review number {i} with some words,{'pos' if i % 2 else 'neg'}\n".encode())
        with open(src, "rb") as up:  # Streamlit's UploadedFile reads in chunks like any file object
            tracemalloc.start()
            e = lib.ingest_upload(f"big {rows}", "big.csv", up)
            peaks[rows] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert e["n"] == rows
    assert peaks[200_000] < 4 * 1024 * 1024, peaks
    assert peaks[200_000] < 2 * peaks[20_000] + 1024 * 1024, f"memory grows with the file: {peaks}"


def test_data_root_db_and_run_and_domain_folders_are_private(lib):
    e = lib.ingest_upload("reviews", "r.csv", io.BytesIO(CSV))
    rid = lib.store.create({"source": {"demo": "digits"}, "target": {"demo": "digits"}})
    lib.store.write_json(rid, "metrics.json", {})

    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)

    assert mode(lib.root) == 0o700
    assert mode(lib.store.db_path) == 0o600
    assert mode(lib.store.runs_dir) == 0o700 and mode(lib.store.folder(rid)) == 0o700
    assert mode(lib.store.path(rid, "metrics.json")) == 0o600
    assert mode(lib.dir) == 0o700 and mode(lib.dir / e["domain_id"]) == 0o700
    assert mode(e["path"]) == 0o600


def test_item_76_upload_refused_when_the_disk_is_almost_full_with_the_numbers(lib, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 * 2**30, 10 * 2**30 - 600 * 2**20, 600 * 2**20))
    up = io.BytesIO(CSV * 1000)
    up.size = 200 * 2**20  # as Streamlit's UploadedFile reports it
    with pytest.raises(DataError, match=r"not enough disk space.*200 MB to store plus 512 MB to keep free, 600 MB free"):
        lib.ingest_upload("big", "big.csv", up)
    assert lib.list() == [] and [p for p in lib.dir.iterdir()] == []


def test_item_04_concurrent_large_ingests_are_bounded_server_busy_message(lib, monkeypatch, tmp_path):
    import fcntl

    monkeypatch.setattr(library_mod, "CHILD_READ_BYTES", 100)
    monkeypatch.setenv("TL_MAX_INGESTS", "1")
    (lib.root / "locks").mkdir(exist_ok=True)
    big = CSV + CSV.split(b"\n", 1)[1] * 19
    held = open(lib.root / "locks" / "ingest-0.lock", "a+")  # another upload is being checked
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        with pytest.raises(DataError, match="server is busy checking 1 other large upload"):
            lib.ingest_upload("big", "big.csv", io.BytesIO(big))
        assert [p for p in lib.dir.iterdir()] == []  # nothing left behind
    finally:
        held.close()
    assert lib.ingest_upload("big", "big.csv", io.BytesIO(big))["n"] == 80
