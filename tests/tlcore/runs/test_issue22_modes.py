"""Issue 22 item 7 / "Modes": every file and folder under the data root is private (0600/0700), whichever process
writes it, even when that process starts with a permissive umask (022)."""
from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from tests.conftest import ROOT

FAST = ["--set", "backbone=tiny_cnn", "--set", "epochs=1", "--set", "image_size=16", "--set",
        "max_samples_per_domain=120", "--set", "strategy=scratch", "--set", "device=cpu"]


def _open_to_others(root) -> list[str]:
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            mode = os.lstat(p).st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                bad.append(f"{os.path.relpath(p, root)} {oct(mode & 0o777)}")
    if os.stat(root).st_mode & 0o077:
        bad.append(f". {oct(os.stat(root).st_mode & 0o777)}")
    return bad


def _png(array) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_item7_cli_train_writes_only_private_files(tl_home):
    env = {**os.environ, "TL_HOME": str(tl_home)}
    res = subprocess.run([sys.executable, "-m", "tlcore", "train", "--demo", "digits", "--quiet", *FAST], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.umask(0o022))
    assert res.returncode == 0, res.stderr[-2000:]
    files = {p.name for p in tl_home.rglob("*")}
    assert {"model.json", "model.safetensors", "tl.db"} <= files
    assert _open_to_others(tl_home) == []


def test_item7_dashboard_side_writers_are_private_under_a_loose_umask(tl_home, loose_umask):
    from tlcore.data import disk_cache
    from tlcore.jobs.worker import worker_running
    from tlcore.models.io import write_atomic
    from tlcore.progress_file import write_report
    from tlcore.user_settings import save_settings

    tl_home.mkdir(mode=0o700)
    save_settings(tl_home, "ann", {"strategy": "dann"})
    archive = tl_home.parent / "d.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for cls in ("a", "b"):
            z.writestr(f"{cls}/x.png", _png(np.zeros((4, 4, 3), np.uint8)))
    disk_cache.read(archive)  # the decoded copy: <hash>_256.npy and .json
    write_report(tl_home / "param_counts" / "abc.json", {"status": "running"})
    assert worker_running(tl_home) is False
    (tl_home / "runs").mkdir(mode=0o700)
    write_atomic(tl_home / "runs" / "model.json", b"{}")
    assert {p.name for p in tl_home.rglob("*")} >= {"settings", "cache", "domains", "param_counts",
                                                      "abc.json", "worker.lock", "model.json"}
    assert any(p.name.endswith("_256.npy") for p in tl_home.rglob("*"))
    assert _open_to_others(tl_home) == []


def test_item7_run_store_makes_the_process_umask_private(tmp_path, loose_umask):
    from tlcore.runs.store import RunStore

    RunStore(tmp_path / "home")
    (tmp_path / "home" / "later.npz").write_bytes(b"x")  # any writer after the store opened: numpy, logs...
    assert _open_to_others(tmp_path / "home") == []
