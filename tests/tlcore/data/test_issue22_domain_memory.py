"""Issue 22 item 2: image domains stay small in memory. Decoded images are written once, one at a time, to a
memory-mapped ``<hash>_<size>.npy`` under ``$TL_HOME/cache/domains`` and read on access; every reader (training,
duplicates, the Domains page) sees exactly the arrays the in-memory decoder gives."""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT
from tlcore.data import disk_cache, loading
from tlcore.data.archive import read_images
from tlcore.data.mapped import MappedImages
from tlcore.errors import DataError


def _png(array, mode=None, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(array)
    (im.convert(mode) if mode else im).save(buf, fmt)
    return buf.getvalue()


def _mixed_zip(path, n=12):
    """Images of several sizes and modes (some larger than the stored 256 px), in two classes, plus junk."""
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as z:
        for i in range(n):
            h, w = [(8, 6), (300, 40), (17, 17), (520, 260)][i % 4]
            arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            mode = [None, "L", "RGBA", "P"][i % 4]
            z.writestr(f"set/{'ab'[i % 2]}/{i}.png", _png(arr, mode))
        z.writestr(f"set/a/dup.png", _png(np.zeros((5, 5, 3), np.uint8)))
        z.writestr(f"set/b/dup.png", _png(np.zeros((5, 5, 3), np.uint8)))
        z.writestr("set/readme.txt", "not an image")
    return path


def _cache_files(home):
    return sorted(p.name for p in (home / "cache" / "domains").iterdir())


def test_item2_mapped_domain_gives_the_same_arrays_hashes_and_summary(tl_home, tmp_path):
    p = _mixed_zip(tmp_path / "mixed.zip")
    before = read_images(p)  # every image decoded into a list (how every reader got them before)
    after = disk_cache.read(p)
    assert isinstance(after.samples, MappedImages) and isinstance(before.samples, list)
    assert len(after) == len(before) == 14
    for i in range(len(before)):
        a = after.samples[i]
        assert type(a) is np.ndarray and a.dtype == np.uint8 and a.flags.writeable
        assert np.array_equal(a, before.samples[i]) and a.shape == before.samples[i].shape
    assert all(np.array_equal(x, y) for x, y in zip(after.samples, before.samples))  # iteration: file reads
    assert np.array_equal(after.samples[-1], before.samples[-1])
    assert after.summary() == before.summary()  # duplicates (label conflict dup.png) from the stored hashes
    assert after.summary()["duplicates"]["label_conflicts"]["groups"] == 1
    assert after.fingerprint() == before.fingerprint()
    again = disk_cache.read(p)  # a second reader: from the files, the stored fingerprint and hashes
    assert again.fingerprint() == before.fingerprint() and again.skipped == before.skipped
    again.__dict__.pop("_fingerprint")
    assert again.fingerprint() == before.fingerprint()  # recomputed from the mapped pixels
    sub_a, sub_b = after.subset([5, 1, 1, 13]), before.subset([5, 1, 1, 13])
    assert isinstance(sub_a.samples, MappedImages)
    assert sub_a.fingerprint() == sub_b.fingerprint() and sub_a.sources == sub_b.sources
    assert np.array_equal(sub_a.subset([2]).samples[0], before.samples[1])
    copy = pickle.loads(pickle.dumps(sub_a.samples))  # another process maps the same file
    assert all(np.array_equal(x, y) for x, y in zip(copy, sub_b.samples))
    with pytest.raises(IndexError):
        after.samples[len(after)]


def test_item2_cache_is_one_private_npy_per_content_and_size(tl_home, tmp_path):
    p = _mixed_zip(tmp_path / "mixed.zip")
    disk_cache.read(p)
    names = _cache_files(tl_home)
    assert len(names) == 2 and names[0].endswith("_256.json") and names[1].endswith("_256.npy")
    npy = tl_home / "cache" / "domains" / names[1]
    for f in (tl_home / "cache" / "domains").iterdir():
        assert f.stat().st_mode & 0o777 == 0o600, f
    assert (tl_home / "cache" / "domains").stat().st_mode & 0o777 == 0o700
    flat = np.load(npy, mmap_mode="r")
    meta = json.loads((tl_home / "cache" / "domains" / names[0]).read_text())
    assert flat.dtype == np.uint8 and flat.ndim == 1 and flat.size == meta["nbytes"] == sum(
        int(np.prod(s)) for s in meta["shapes"])
    stamp = npy.stat().st_mtime_ns
    elsewhere = tmp_path / "copy" / "other-name.zip"  # the same bytes at another path (an upload moved into place)
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(p.read_bytes())
    d = disk_cache.read(elsewhere, name="renamed")
    assert d.name == "renamed" and _cache_files(tl_home) == names and npy.stat().st_mtime_ns == stamp
    disk_cache.read(p, max_side=32)  # another stored size: another pair
    assert len(_cache_files(tl_home)) == 4 and any(n.endswith("_32.npy") for n in _cache_files(tl_home))


def test_item2_a_refused_archive_leaves_no_partial_cache_file(tl_home, tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("a/readme.txt", "no images here")
    with pytest.raises(DataError, match="no images"):
        disk_cache.read(bad)
    assert _cache_files(tl_home) == []


def test_item2_incomplete_cache_pair_is_rebuilt(tl_home, tmp_path):
    p = _mixed_zip(tmp_path / "mixed.zip")
    first = disk_cache.read(p)
    npy = next((tl_home / "cache" / "domains").glob("*.npy"))
    npy.write_bytes(npy.read_bytes()[:-10])  # truncated (a full disk, a killed copy)
    again = disk_cache.read(p)
    assert again.fingerprint() == first.fingerprint()
    assert all(np.array_equal(x, y) for x, y in zip(again.samples, first.samples))


def test_item2_an_upload_checked_in_the_child_fills_the_cache_the_dashboard_maps(tl_home, tmp_path, monkeypatch):
    from tlcore.data import archive
    from tlcore.data.library import DomainLibrary

    p = _mixed_zip(tmp_path / "mixed.zip")
    lib = DomainLibrary(tl_home)
    entry = lib.ingest_upload("mixed", "mixed.zip", io.BytesIO(p.read_bytes()))  # validated in the parse child
    assert len(_cache_files(tl_home)) == 2

    def no_decode(*a, **k):
        raise AssertionError("the dashboard decoded the archive again")

    monkeypatch.setattr(archive, "read_images", no_decode)
    monkeypatch.setattr(disk_cache, "read_images", no_decode)
    loading.clear_cache()
    dom = loading.load_domain(lib.spec(entry["domain_id"]), "source")
    assert isinstance(dom.samples, MappedImages) and dom.name == "mixed" and len(dom) == entry["n"]
    assert dom.summary()["n"] == entry["n"]


def test_item2_training_predictions_identical_from_the_mapped_domain(tl_home, tmp_path, monkeypatch):
    """The same tiny run on the same ZIP pair, images decoded into memory (cache off) and mapped from the cache:
    identical predictions and accuracy."""
    import pandas as pd

    from tlcore.config import RunConfig
    from tlcore.data.demos import load_demo
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    paths = {}
    for role in ("source", "target"):
        dom = load_demo("digits", role, 0).subset(range(120))
        paths[role] = tmp_path / f"{role}.zip"
        with zipfile.ZipFile(paths[role], "w") as z:
            for i, (arr, lab) in enumerate(zip(dom.samples, dom.labels)):
                z.writestr(f"{lab}/{i}.png", _png(arr))
    config = {"source": {"path": str(paths["source"])}, "target": {"path": str(paths["target"])},
              "backbone": "tiny_cnn", "strategy": "linear_probe", "epochs": 1, "image_size": 16, "batch_size": 32,
              "device": "cpu", "seed": 3}
    monkeypatch.setenv("TL_FEATURE_CACHE", "0")  # both runs extract their own features
    store = RunStore(tl_home)
    out = {}
    for cache in ("0", "1"):
        monkeypatch.setenv("TL_DOMAIN_CACHE", cache)
        loading.clear_cache()
        rec = run_experiment(RunConfig.from_dict(config), store)
        assert rec.status == "completed"
        out[cache] = (rec, pd.read_csv(store.path(rec.run_id, "predictions_target_test.csv")))
    assert list((tl_home / "cache" / "domains").glob("*.npy"))  # the second run read the mapped copy
    (a, pa), (b, pb) = out["0"], out["1"]
    assert a.target_acc == b.target_acc
    pd.testing.assert_frame_equal(pa, pb)
    ma, mb = store.metrics(a.run_id), store.metrics(b.run_id)
    assert ma["target_test"]["confusion_matrix"] == mb["target_test"]["confusion_matrix"]


_READER = r"""
import json, sys
from tlcore.data import loading

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

spec = {"path": sys.argv[1], "name": "big"}
loading.load_domain(spec, "source")  # warm the imports and the in-process index
loading.clear_cache()
held = rss()
dom = loading.load_domain(spec, "source")  # what the Domains page does
summary = dom.summary()
thumbs = [dom.samples[i] for i in range(0, len(dom), max(1, len(dom) // 48))]
print(json.dumps({"growth": rss() - held, "n": summary["n"], "decoded_mb": dom.samples.nbytes / 2**20,
                  "thumbs": len(thumbs)}))
"""


def test_item2_a_process_showing_a_large_domain_does_not_hold_it(tl_home, tmp_path):
    """A ZIP of 4,000 64x64 images (47 MB decoded): a process that loads it, summarises it and reads 48 thumbnails
    grows by a small fraction of the decoded size (it used to hold all of it)."""
    p = tmp_path / "big.zip"
    rng = np.random.default_rng(1)
    tiles = [_png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(16)]
    with zipfile.ZipFile(p, "w", zipfile.ZIP_STORED) as z:
        for i in range(4000):
            z.writestr(f"c{i % 4}/{i}.png", tiles[i % 16])
    disk_cache.read(p)  # as the upload's parse child does
    env = {**os.environ, "TL_HOME": str(tl_home), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", _READER, str(p)], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["n"] == 4000 and got["thumbs"] >= 48 and got["decoded_mb"] > 45
    assert got["growth"] < 15, got  # index, labels, names, hashes: not the pixels
