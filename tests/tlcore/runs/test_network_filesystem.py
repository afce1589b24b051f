"""RELIABILITY.md item 75: a data root on a network filesystem (NFS/SMB). SQLite's WAL needs shared memory and
reliable locks, so the store detects the filesystem from the mount table (/proc/mounts; a fake table here) and opens
tl.db with the rollback journal there (journal_mode=DELETE) instead of WAL; ``doctor`` reports it."""
import json
import os
import subprocess
import sys

from tlcore.runs.fstype import filesystem_of, is_network, journal_mode, parse_mounts
from tlcore.runs.store import RunStore

from tests.conftest import ROOT


def fake_mounts(tmp_path, home, fstype="nfs4"):
    table = tmp_path / "mounts"
    table.write_text("/dev/vda / ext4 rw,relatime 0 0\n"
                     "tmpfs /dev/shm tmpfs rw 0 0\n"
                     f"fileserver:/export/team {home} {fstype} rw,relatime,vers=4.2,hard 0 0\n"
                     "//nas/share /mnt/with\\040space cifs rw 0 0\n")
    return table


def test_item_75_mount_table_parser_finds_the_filesystem_of_a_path(tmp_path):
    home = tmp_path / "data"
    home.mkdir()
    table = fake_mounts(tmp_path, home)
    rows = parse_mounts(table.read_text())
    assert ("//nas/share", "/mnt/with space", "cifs") in rows  # octal escapes decoded
    assert filesystem_of(home / "runs" / "x", table)[:2] == ("nfs4", str(home))
    assert filesystem_of(tmp_path, table)[0] == "ext4"  # the longest containing mount point wins
    sibling = tmp_path / "data_evil"  # same prefix, not inside the mount
    sibling.mkdir()
    assert filesystem_of(sibling, table)[0] == "ext4"
    assert [t for t in ("nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "ceph", "lustre") if is_network(t)] == \
        ["nfs", "nfs4", "cifs", "smb3", "fuse.sshfs", "ceph", "lustre"]
    assert not any(is_network(t) for t in ("ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", None))
    assert filesystem_of(home, tmp_path / "no-such-table") is None  # unreadable table: unknown, not an error


def test_item_75_store_on_nfs_uses_the_rollback_journal_and_doctor_reports_it(tmp_path, monkeypatch):
    home = tmp_path / "data"
    home.mkdir()
    table = fake_mounts(tmp_path, home)
    monkeypatch.delenv("TL_SQLITE_JOURNAL", raising=False)
    monkeypatch.setenv("TL_MOUNTS_FILE", str(table))
    assert journal_mode(home) == "DELETE"
    store = RunStore(home)
    store.create({"strategy": "source_only", "backbone": "tiny_cnn", "source": {"demo": "digits"},
                  "target": {"demo": "digits"}})
    with store.connect() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert len(store.list()) == 1
    assert not os.path.exists(f"{store.db_path}-wal"), "no WAL file on a network filesystem"

    env = {**os.environ, "TL_HOME": str(home), "TL_MOUNTS_FILE": str(table)}
    out = subprocess.run([sys.executable, "-m", "tlcore", "doctor"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    fs = json.loads(out.stdout.splitlines()[-1])["filesystem"]
    assert fs["fstype"] == "nfs4" and fs["network"] and fs["journal_mode"] == "delete"
    assert "network filesystem (nfs4" in out.stderr and "local disk" in out.stderr

    local = tmp_path / "local"
    local.mkdir()
    monkeypatch.setenv("TL_MOUNTS_FILE", str(fake_mounts(tmp_path, home, "ext4")))
    with RunStore(local).connect() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal", "local disk keeps WAL"
