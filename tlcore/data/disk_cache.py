"""Decoded image domains kept once on disk, memory-mapped by every process that reads them (issue 22 item 2).

Every training job is a fresh process; without this, "Run all strategies" on a 20,000-image ZIP decodes it once
per job (about 7 s each on 2 CPU cores), and a process that shows a domain (the dashboard's Domains page) would
hold every decoded image. One pair of files per (archive content, stored image size) under
``$TL_HOME/cache/domains/``:

* ``<hash>_<size>.npy``: every image as one flat uint8 array, written by :class:`~tlcore.data.mapped.ImageWriter`
  while the archive is decoded (one image in memory at a time), read with ``np.load(mmap_mode="r")``;
* ``<hash>_<size>.json``: shapes, labels, member names, skipped files, original sizes, and each image's content
  hash and the domain fingerprint (so duplicates, summaries and run records never read the pixels again).

``<hash>`` is a blake2b digest of the ZIP's bytes (or of a folder's file names, sizes and modification times), so
an upload validated in the parse child and the same file read later by the dashboard or a job share one copy,
whatever their path. Files are 0600, written atomically (temp + rename; the JSON last); nothing is unpickled; a
corrupt or incomplete pair is ignored (and the archive read again); deleting the folder is always safe.
``TL_DOMAIN_CACHE=0`` turns it off (images are then decoded into memory by each reader).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path

from tlcore import settings
from tlcore.data.archive import read_images
from tlcore.data.domain import Domain, Skipped
from tlcore.data.mapped import HEADER_BYTES, ImageWriter, MappedImages
from tlcore.runs.files import FILE_MODE, private_dir

VERSION = 2
MAX_SIDE = 256  # the stored size: images are downscaled so their longest side is at most this (read_images)
STALE_TMP_S = 24 * 3600  # temp files of a killed writer are swept after this
_digests: dict[tuple, str] = {}  # file content digests by (path, inode, mtime, size): a rerun does not rehash


def folder() -> Path:
    return Path(settings.get("TL_HOME") or "tl_data").expanduser() / "cache" / "domains"


def cache_paths(path: str | Path, max_side: int = MAX_SIDE) -> tuple[Path, Path] | None:
    """The ``(.npy, .json)`` pair for ``path`` at ``max_side``; None when the cache is off."""
    if not settings.get_bool("TL_DOMAIN_CACHE"):
        return None
    stem = f"{source_digest(Path(path))}_{int(max_side)}"
    return folder() / f"{stem}.npy", folder() / f"{stem}.json"


def source_digest(path: Path) -> str:
    """32 hex digits identifying a ZIP's content, or a folder's listing (names, sizes, modification times)."""
    path = Path(path).resolve()
    h = hashlib.blake2b(f"v{VERSION}\0".encode(), digest_size=16)
    if path.is_dir():
        h.update(b"dir\0")
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for f in sorted(filenames):
                full = os.path.join(dirpath, f)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                rel = os.path.relpath(full, path)
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogatepass"))
        return h.hexdigest()
    st = path.stat()
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    if key not in _digests:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        _digests[key] = h.hexdigest()
        while len(_digests) > 256:
            _digests.pop(next(iter(_digests)))
    return _digests[key]


def read(path: str | Path, name: str | None = None, max_side: int = MAX_SIDE) -> Domain:
    """An image domain from a ZIP or folder: mapped from the cache, or decoded into it (one image in memory at a
    time) on a miss. With the cache off, or when it cannot be written (full disk, read-only data root), the images
    are decoded into memory as :func:`~tlcore.data.archive.read_images` does. Same errors as ``read_images``."""
    path = Path(path)
    try:
        paths = cache_paths(path, max_side) if path.exists() else None
    except OSError:
        paths = None
    if paths is None:
        return read_images(path, name=name, max_side=max_side)
    domain = load(paths, name or (path.stem if path.is_file() else path.name))
    if domain is not None:
        return domain
    try:
        return build(paths, path, name, max_side)
    except OSError:
        return read_images(path, name=name, max_side=max_side)


def load(paths: tuple[Path, Path] | None, name: str) -> Domain | None:
    """The cached domain (samples mapped from disk), or None when missing, incomplete or unreadable."""
    if paths is None:
        return None
    npy, meta_file = paths
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("version") != VERSION or npy.stat().st_size != HEADER_BYTES + int(meta["nbytes"]):
            return None
        samples = MappedImages(npy, meta["shapes"])
        domain = Domain(name=name, modality="image", samples=samples, labels=meta["labels"],
                        sources=meta["sources"], skipped=[Skipped(**s) for s in meta["skipped"]],
                        description=meta.get("description", ""),
                        original_sizes=[tuple(x) for x in meta["original_sizes"]])
        hashes = [bytes.fromhex(h) for h in meta["hashes"]]
        if len(hashes) != len(domain):
            return None
        domain.__dict__["_content_hashes"] = hashes  # tlcore.data.duplicates reads these, not the pixels
        domain.__dict__["_fingerprint"] = (len(domain), meta["fingerprint"])
        return domain
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build(paths: tuple[Path, Path], path: Path, name: str | None, max_side: int = MAX_SIDE) -> Domain:
    """Decode ``path`` into the cache pair and return the mapped domain. Raises what ``read_images`` raises (the
    partial file is removed), or OSError when the cache cannot be written."""
    from tlcore.data.duplicates import content_hashes

    npy, meta_file = paths
    _sweep_stale(npy.parent)
    writer = ImageWriter(npy)
    try:
        domain = read_images(path, name=name, max_side=max_side, sink=writer)
    except BaseException:
        writer.discard()
        raise
    meta = {"version": VERSION, "nbytes": domain.samples.nbytes, "shapes": [list(s) for s in writer.shapes],
            "labels": domain.labels, "sources": domain.sources,
            "skipped": [{"file": s.file, "reason": s.reason} for s in domain.skipped],
            "description": domain.description, "original_sizes": [list(x) for x in domain.original_sizes],
            # both read the file sequentially (not mapped): building never makes the domain resident
            "hashes": [h.hex() for h in content_hashes(domain)], "fingerprint": domain.fingerprint()}
    tmp = meta_file.with_name(f".{meta_file.stem}.{uuid.uuid4().hex}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            json.dump(meta, fh)
        os.replace(tmp, meta_file)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return domain


def _sweep_stale(where: Path) -> None:
    """Remove temp files a killed writer left (older than a day)."""
    try:
        private_dir(where)
        cutoff = time.time() - STALE_TMP_S
        for f in where.glob(".*.tmp"):
            if f.stat().st_mtime < cutoff:
                f.unlink(missing_ok=True)
    except OSError:
        pass
