"""A size cap for the on-disk caches under ``<TL_HOME>/cache/`` (frozen features and partial fine-tuning
prefixes), torch-free.

Both caches are safe to delete, but nothing else bounds them: every new domain pair, backbone, input size or
depth adds a file, and a text prefix of 4,000 reviews is ~0.5 GB. After each write the cache evicts its least
recently used files (a cache hit refreshes a file's mtime) until the total fits ``TL_CACHE_MAX_GB`` (default
20; ``unlimited`` turns the cap off). The file just written is never evicted, so one file larger than the cap
still serves its run. ``python -m tlcore cache`` shows the usage and clears it.
"""
from __future__ import annotations

import os
from pathlib import Path

from tlcore import settings

DEFAULT_MAX_GB = 20.0
KINDS = ("features", "prefix")


def max_bytes() -> int | None:
    """The cap in bytes from ``TL_CACHE_MAX_GB``, or None (no cap) for ``unlimited``/``none``."""
    raw = (settings.get("TL_CACHE_MAX_GB") or "").strip().lower()
    if raw in ("unlimited", "none", "inf"):
        return None
    try:
        gb = float(raw) if raw else DEFAULT_MAX_GB
    except ValueError:
        gb = DEFAULT_MAX_GB
    return max(0, int(gb * 1024 ** 3))


def _files(cache_root: Path) -> list[tuple[Path, os.stat_result]]:
    out = []
    for kind in KINDS:
        folder = Path(cache_root) / kind
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name.endswith(".npz") and not e.name.startswith("."):  # ".x.npz" are writes in progress
                try:
                    out.append((Path(e.path), e.stat()))
                except OSError:  # removed meanwhile
                    pass
    return out


def usage(cache_root) -> dict:
    """``{kind: {"files": n, "bytes": b}}`` plus ``"total"``."""
    out = {k: {"files": 0, "bytes": 0} for k in (*KINDS, "total")}
    for path, st in _files(Path(cache_root)):
        for k in (path.parent.name, "total"):
            out[k]["files"] += 1
            out[k]["bytes"] += st.st_size
    return out


def touch(path) -> None:
    """Mark a cache file as just used (its mtime orders eviction)."""
    try:
        os.utime(path)
    except OSError:
        pass


def enforce(cache_root, keep=None, limit: int | None = -1) -> list[Path]:
    """Remove least recently used cache files until the total is at most ``limit`` bytes (default: the
    configured cap); never ``keep``. Returns the removed paths."""
    limit = max_bytes() if limit == -1 else limit
    if limit is None:
        return []
    files = sorted(_files(Path(cache_root)), key=lambda f: f[1].st_mtime_ns)
    total = sum(st.st_size for _, st in files)
    keep = Path(keep).resolve() if keep else None
    removed = []
    for path, st in files:
        if total <= limit:
            break
        if keep is not None and path.resolve() == keep:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            continue
        total -= st.st_size
        removed.append(path)
    return removed


def clear(cache_root) -> int:
    """Remove every cache file; returns the bytes freed."""
    freed = 0
    for path, st in _files(Path(cache_root)):
        try:
            path.unlink()
            freed += st.st_size
        except OSError:
            pass
    return freed
