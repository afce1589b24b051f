"""Decoded image domains cached on disk (one memory-mapped .npy + its .json per archive content and size): same
domain back, ignored when corrupt, renewed when the file changes."""
from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from tlcore.data import disk_cache, loading


def _zip(path, n=6, colour=200):
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            buf = io.BytesIO()
            Image.fromarray(np.full((8, 8, 3), colour + i, np.uint8)).save(buf, "PNG")
            z.writestr(f"set/{'ab'[i % 2]}/{i}.png", buf.getvalue())
        z.writestr("set/labels.csv", "not an image")
    return path


def _files(home):
    return sorted((home / "cache" / "domains").glob("*.npy"))


def test_second_process_reads_the_decoded_copy(tl_home, tmp_path):
    p = _zip(tmp_path / "d.zip")
    first = loading.load_domain({"path": str(p)}, "source")
    assert len(_files(tl_home)) == 1
    loading.clear_cache()  # as a new process would
    again = loading.load_domain({"path": str(p)}, "source")
    assert again is not first and again.fingerprint() == first.fingerprint()
    assert again.skipped == first.skipped and again.original_sizes == first.original_sizes
    assert again.summary() == first.summary()


def test_corrupt_cache_file_is_ignored(tl_home, tmp_path):
    p = _zip(tmp_path / "d.zip")
    first = loading.load_domain({"path": str(p)}, "source")
    _files(tl_home)[0].write_bytes(b"garbage")
    loading.clear_cache()
    assert loading.load_domain({"path": str(p)}, "source").fingerprint() == first.fingerprint()


def test_a_changed_archive_is_read_again(tl_home, tmp_path):
    p = _zip(tmp_path / "d.zip")
    first = loading.load_domain({"path": str(p)}, "source")
    loading.clear_cache()
    _zip(p, n=8, colour=100)
    second = loading.load_domain({"path": str(p)}, "source")
    assert len(second) == 8 and second.fingerprint() != first.fingerprint()


def test_cache_can_be_turned_off(tl_home, tmp_path, monkeypatch):
    monkeypatch.setenv("TL_DOMAIN_CACHE", "0")
    loading.load_domain({"path": str(_zip(tmp_path / "d.zip"))}, "source")
    assert disk_cache.cache_paths(tmp_path / "d.zip") is None and not (tl_home / "cache" / "domains").exists()
