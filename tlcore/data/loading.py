"""One entry point from a domain spec (``{"path": ...}`` or ``{"demo": ...}``) to a Domain.

Loaded domains are kept in a small in-process LRU cache keyed by the resolved path,
its modification time and size (or the demo, role and seed), so the dashboard and
the engine can ask again cheaply. Domains are treated as immutable, so the same
object is returned on a hit.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from tlcore.data.demos import load_demo
from tlcore.data.domain import Domain
from tlcore.data.formats import EXTENSIONS as TABLE_EXTENSIONS
from tlcore.data.table import read_text
from tlcore.errors import DataError

CACHE_SIZE = 8
IMAGE_EXTENSIONS = (".zip",)
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def load_domain(spec: dict, role: str, seed: int = 0) -> Domain:
    """Load the domain a spec describes.

    Args:
        spec: Exactly one of ``path`` (a directory, ``.zip`` or table file) or ``demo``
            (a :data:`~tlcore.data.demos.DEMOS` key); optional ``text_column``,
            ``label_column`` and ``name``. Other keys are ignored.
        role: ``"source"`` or ``"target"`` (selects the side of a demo pair).
        seed: Seed for generated demos.

    Returns:
        The Domain (the cached object when the same input was loaded before).

    Raises:
        DataError: Bad spec, missing file, unsupported extension, or any reader error.
    """
    has_path, has_demo = bool(spec.get("path")), bool(spec.get("demo"))
    if has_path == has_demo:
        raise DataError(f"{role} domain: give exactly one of 'path' or 'demo' (got keys {sorted(spec)})")
    if has_demo:
        key = ("demo", spec["demo"], role, seed)
        return _cached(key, lambda: load_demo(spec["demo"], role, seed))
    path = Path(spec["path"]).expanduser()
    if not path.exists():
        path = _stored_copy(spec["path"])
    suffix = path.suffix.lower()
    name = spec.get("name")
    if path.is_dir() or suffix in IMAGE_EXTENSIONS:
        key = ("images", str(path.resolve()), _signature(path), name)
        return _cached(key, lambda: _images_via_disk_cache(path, name))
    if suffix in TABLE_EXTENSIONS:
        columns = (spec.get("text_column"), spec.get("label_column"))
        key = ("table", str(path.resolve()), _signature(path), columns, name)
        return _cached(key, lambda: read_text(path, text_column=columns[0], label_column=columns[1], name=name))
    supported = ", ".join((*IMAGE_EXTENSIONS, *TABLE_EXTENSIONS))
    raise DataError(f"{path.name}: unsupported file type {suffix or '(none)'!r}; supported: a folder, {supported}")


def _stored_copy(path) -> Path:
    """A saved domain's file that is not on this node (a job on another node, no shared disk): this node's copy
    from the artifact store (:mod:`tlcore.data.stored_domains`), or DataError."""
    from tlcore.data import stored_domains
    from tlcore.runs.artifact_store import ArtifactsUnavailable

    try:
        copy = stored_domains.local_copy(path)
    except ArtifactsUnavailable as exc:
        raise DataError(f"{path}: not on this node, and {exc}") from None
    if copy is None:
        raise DataError(f"{path}: file not found")
    return copy


def _images_via_disk_cache(path: Path, name: str | None) -> Domain:
    """Read an image domain through the decoded copy on disk (``disk_cache``): its samples are mapped from one
    file and read on access, so this process never holds the whole decoded domain. The copy is keyed by the ZIP's
    content (a folder: its file names, sizes and modification times) and the stored size."""
    from tlcore.data import disk_cache

    return disk_cache.read(path, name=name)


def clear_cache() -> None:
    """Forget every cached domain."""
    with _lock:
        _cache.clear()


def _signature(path: Path) -> tuple:
    """Return what identifies a version of a file (mtime, size) or a folder tree (folder mtimes, file counts).

    A file overwritten in place inside a folder keeps the folder's signature; call
    :func:`clear_cache` after such an edit.
    """
    if not path.is_dir():
        st = path.stat()
        return (st.st_mtime_ns, st.st_size)
    parts = []
    for dirpath, _dirnames, filenames in os.walk(path):
        st = os.stat(dirpath)
        parts.append((dirpath, st.st_mtime_ns, len(filenames)))
    return tuple(parts)


def _cached(key: tuple, build) -> Domain:
    """Return the cached domain for ``key``, building and storing it on a miss."""
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    domain = build()
    with _lock:
        _cache[key] = domain
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return domain
