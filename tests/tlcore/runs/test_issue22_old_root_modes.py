"""Issue 22 item 5 leftover: a data root written by an older version (umask 022: folders 0755, files 0644) is made
private when a run store opens it: once, recorded by a marker file, links never followed."""
from __future__ import annotations

import os
import stat

import pytest

from tlcore.runs import files


def _open_to_others(root) -> list[str]:
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            mode = os.lstat(p).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                bad.append(f"{os.path.relpath(p, root)} {oct(mode & 0o777)}")
    return bad


@pytest.fixture
def old_root(tmp_path):
    old = os.umask(0o022)
    try:
        root = tmp_path / "tl_data"
        for folder in ("runs/abc", "cache/domains", "domains/d1", "settings", "param_counts"):
            (root / folder).mkdir(parents=True)
        for f in ("runs/abc/metrics.json", "cache/domains/k.npz", "domains/d1/data.zip", "settings/ann.json",
                  "worker.lock"):
            (root / f).write_bytes(b"x")
        os.chmod(root / "runs" / "abc", 0o775)
        outside = tmp_path / "elsewhere.txt"  # a link under the root to a file outside it stays as it is
        outside.write_bytes(b"y")
        os.chmod(outside, 0o644)
        (root / "imports").mkdir()
        (root / "imports" / "link.txt").symlink_to(outside)
    finally:
        os.umask(old)
    files._tightened.discard(str(root.resolve()))
    yield root
    files._tightened.discard(str(root.resolve()))


def test_item5_an_older_data_root_is_made_private_when_a_store_opens_it(old_root, tmp_path):
    from tlcore.runs.store import RunStore

    assert len(_open_to_others(old_root)) >= 10
    RunStore(old_root)
    assert _open_to_others(old_root) == []
    assert (old_root / "runs" / "abc" / "metrics.json").stat().st_mode & 0o777 == 0o600
    assert (old_root / "runs" / "abc").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "elsewhere.txt").stat().st_mode & 0o777 == 0o644  # not followed
    assert (old_root / files.MODES_MARKER).stat().st_mode & 0o777 == 0o600


def test_item5_the_walk_runs_once_per_data_root(old_root, monkeypatch):
    assert files.tighten_root(old_root.resolve()) >= 10
    files._tightened.clear()  # a new process: the marker says it was done

    def no_walk(*a, **k):
        raise AssertionError("walked the data root again")

    monkeypatch.setattr(files.os, "walk", no_walk)
    assert files.tighten_root(old_root.resolve()) == 0
