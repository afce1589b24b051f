"""Decoded image domains on disk, so a job process does not decode the same archive again.

Every training job is a fresh process; without this, "Run all strategies" on a 20,000-image ZIP decodes it
once per job (about 7 s each on 2 CPU cores). One file per (resolved path, file signature, name) under
``$TL_HOME/cache/domains/``: the images as one flat uint8 buffer plus their shapes, and the rest as JSON.
Nothing is unpickled; a corrupt or unreadable file is ignored (and the archive read again); files are written
atomically and deleting the folder is always safe. ``TL_DOMAIN_CACHE=0`` turns it off.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import numpy as np

from tlcore import settings
from tlcore.data.domain import Domain, Skipped
from tlcore.runs.files import FILE_MODE, private_dir

VERSION = 1


def cache_file(key: tuple) -> Path | None:
    if not settings.get_bool("TL_DOMAIN_CACHE"):
        return None
    root = Path(os.environ.get("TL_HOME", "tl_data")).expanduser()
    digest = hashlib.sha256(repr((VERSION, key)).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return root / "cache" / "domains" / f"{digest}.npz"


def load(path: Path | None) -> Domain | None:
    if path is None or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            shapes, flat = z["shapes"], z["flat"]
        ends = np.cumsum([int(np.prod(s)) for s in shapes])
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        samples = [flat[a:b].reshape(tuple(s)) for a, b, s in zip(starts, ends, shapes)]
        return Domain(name=meta["name"], modality="image", samples=samples, labels=meta["labels"],
                      sources=meta["sources"], skipped=[Skipped(**s) for s in meta["skipped"]],
                      description=meta.get("description", ""),
                      original_sizes=[tuple(x) for x in meta["original_sizes"]])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(path: Path | None, domain: Domain) -> None:
    if path is None or domain.modality != "image" or not domain.samples:
        return
    meta = {"name": domain.name, "labels": domain.labels, "sources": domain.sources,
            "skipped": [{"file": s.file, "reason": s.reason} for s in domain.skipped],
            "description": domain.description, "original_sizes": [list(x) for x in domain.original_sizes]}
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.npz")
    try:
        private_dir(path.parent)
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE))  # 0600 before numpy writes
        np.savez(tmp, flat=np.concatenate([np.asarray(s, np.uint8).ravel() for s in domain.samples]),
                 shapes=np.array([s.shape for s in domain.samples], dtype=np.int64), meta=np.array(json.dumps(meta)))
        os.replace(tmp, path)
    except OSError:  # a full disk or a read-only data root only costs the cache
        tmp.unlink(missing_ok=True)
