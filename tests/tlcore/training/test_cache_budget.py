"""The size cap of the on-disk feature/prefix caches (tlcore/cache_budget.py): least recently used files go
first, the file just written stays, a hit refreshes a file, and ``tlcore cache`` reports and clears."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tlcore import cache_budget
from tlcore.training.features import FeatureCache

ROOT = Path(__file__).resolve().parents[3]


def _file(folder: Path, name: str, size: int, age: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}.npz"
    p.write_bytes(b"x" * size)
    t = time.time() - age
    os.utime(p, (t, t))
    return p


def test_enforce_removes_least_recently_used_first_and_never_the_kept_file(tmp_path):
    cache = tmp_path / "cache"
    old = _file(cache / "features", "old", 400, age=300)
    mid = _file(cache / "prefix", "mid", 400, age=200)
    new = _file(cache / "features", "new", 400, age=100)
    keep = _file(cache / "prefix", "keep", 400, age=400)  # the oldest, but just written by the caller
    tmp = _file(cache / "features", ".writing", 10_000, age=500)  # a write in progress is not counted
    removed = cache_budget.enforce(cache, keep=keep, limit=900)
    assert removed == [old, mid]
    assert new.exists() and keep.exists() and tmp.exists()
    assert cache_budget.usage(cache)["total"] == {"files": 2, "bytes": 800}


def test_no_cap_and_bad_values(monkeypatch):
    monkeypatch.setenv("TL_CACHE_MAX_GB", "unlimited")
    assert cache_budget.max_bytes() is None
    monkeypatch.setenv("TL_CACHE_MAX_GB", "0.5")
    assert cache_budget.max_bytes() == 512 * 1024 ** 2
    monkeypatch.setenv("TL_CACHE_MAX_GB", "lots")
    assert cache_budget.max_bytes() == int(cache_budget.DEFAULT_MAX_GB * 1024 ** 3)


def test_feature_cache_writes_evict_older_domains_and_hits_refresh(tmp_path, monkeypatch):
    feats = np.ones((50, 64), np.float32)
    a = FeatureCache(tmp_path / "cache" / "features", {"s": ("a" * 32, np.arange(50))})
    b = FeatureCache(tmp_path / "cache" / "features", {"s": ("b" * 32, np.arange(50))})
    c = FeatureCache(tmp_path / "cache" / "features", {"s": ("c" * 32, np.arange(50))})
    a.save("s", feats)
    one = cache_budget.usage(tmp_path / "cache")["total"]["bytes"]
    monkeypatch.setenv("TL_CACHE_MAX_GB", str(2.5 * one / 1024 ** 3))  # room for two files
    b.save("s", feats)
    past = time.time() - 100
    os.utime(a._file("a" * 32), (past, past))
    os.utime(b._file("b" * 32), (past + 1, past + 1))
    assert a.lookup("s") is not None  # a hit: "a" becomes the most recently used
    c.save("s", feats)
    assert a.lookup("s") is not None and c.lookup("s") is not None
    assert b.lookup("s") is None  # least recently used: evicted
    assert cache_budget.usage(tmp_path / "cache")["total"]["files"] == 2


def test_cli_reports_and_clears(tmp_path):
    _file(tmp_path / "cache" / "prefix", "p", 1000, age=0)
    env = {**os.environ, "TL_HOME": str(tmp_path)}

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "tlcore", "cache", "--json", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    rep = run()
    assert rep["usage"]["prefix"] == {"files": 1, "bytes": 1000}
    rep = run("--clear")
    assert rep["freed_bytes"] == 1000 and rep["usage"]["total"]["files"] == 0
