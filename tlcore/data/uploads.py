"""Validating what enters the domain library: reading a domain file once (in this process or, for large
uploads, in a child process so the dashboard's memory stays flat), the server-wide slots for such reads, the
disk-space check, copying an upload stream with its size limit, the allowed-roots check for server folders,
and the owner marks that let a later server start sweep what a killed upload left.

Used by :class:`tlcore.data.library.DomainLibrary`; the child process is :mod:`tlcore.data.sandbox`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from tlcore import settings
from tlcore.data.domain import Domain
from tlcore.data.formats import EXTENSIONS as TABLE_EXTENSIONS
from tlcore.data.table import read_text
from tlcore.errors import DataError
from tlcore.liveness import is_alive, process_start_time
from tlcore.runs.store import private_dir

MAX_UPLOAD_MB = 1024  # keep equal to server.maxUploadSize in .streamlit/config.toml
CHUNK = 1024 * 1024


def sanitize_filename(name: str | None) -> str:
    """A client file name made safe to display: NFC, no control/format characters, no folders, <= 255."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.split(r"[\\/]", text)[-1].strip()
    if len(text) > 255:
        suffix = Path(text).suffix[:16]
        text = text[: 255 - len(suffix)] + suffix
    return text or "upload"


def allowed_roots(root: Path) -> list[Path]:
    """Folders under which server folders may be registered: env ``TL_ALLOWED_ROOTS`` or ``<root>/imports``."""
    env = settings.get("TL_ALLOWED_ROOTS") or ""
    roots = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return [p.resolve() for p in (roots or [root / "imports"])]


def resolve_allowed(path, roots: list[Path]) -> Path:
    """``path`` resolved, when it lies (also after following links) under one of ``roots``.

    A path outside them gets the same answer as a missing one, and the check is made on the path as written
    before anything on disk is looked at: the answer tells nothing about other paths.
    """
    text = str(path or "")
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)[:300]
    missing = DataError(f"{shown}: no such file or folder in the allowed import folders "
                        f"({', '.join(map(str, roots))}); ask an admin to copy the data there or to set "
                        "TL_ALLOWED_ROOTS")
    if not text.strip() or "\x00" in text or any(not ch.isprintable() for ch in text):
        raise missing
    lexical = Path(os.path.abspath(os.path.expanduser(text)))
    if not any(lexical == r or lexical.is_relative_to(r) for r in roots):
        raise missing  # outside: never touch the file system for it
    try:
        resolved = lexical.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        raise missing from None
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise missing  # a link inside the roots pointing out of them
    return resolved


def copy_upload(fileobj: BinaryIO, staged: Path, display: str) -> int:
    """Copy an upload stream in chunks to a new private file; refuses more than ``MAX_UPLOAD_MB`` and an empty
    file. Returns the bytes copied."""
    limit = MAX_UPLOAD_MB * 1024 * 1024
    copied = 0
    with os.fdopen(os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        while True:
            chunk = fileobj.read(CHUNK)
            if not chunk:
                break
            copied += len(chunk)
            if copied > limit:
                raise DataError(f"{display}: larger than the {MAX_UPLOAD_MB} MB upload limit; ask an admin "
                                "to put large data in the server import folder")
            out.write(chunk)
    if copied == 0:
        raise DataError(f"{display}: the file is empty")
    return copied


def read_domain(path: Path, display: str, name: str, text_column, label_column) -> Domain:
    """Read a domain file or folder with the normal readers; errors name the file as the user gave it."""
    try:
        if path.is_dir() or path.suffix.lower() == ".zip":  # decoded once into the shared disk cache
            from tlcore.data import disk_cache

            return disk_cache.read(path, name=name)
        if path.suffix.lower() in TABLE_EXTENSIONS:
            return read_text(path, text_column=text_column or None, label_column=label_column or None, name=name)
    except DataError as exc:
        raise DataError(f"{display}: {exc}".replace(f"{display}: {path.name}: ", f"{display}: ")) from None
    raise DataError(f"{display}: unsupported file type; give a folder, a .zip or one of {', '.join(TABLE_EXTENSIONS)}")


def inspect_domain(path: Path, display: str, name: str, text_column, label_column, in_child: bool) -> dict:
    """Read the domain once (validation) and return what the index keeps: modality, n, classes, summary.
    ``in_child``: read in a child process under the parse limits (:mod:`tlcore.data.sandbox`), so this
    process's memory stays flat in the file size and a file that expands past ``TL_PARSE_MEMORY_MB`` is refused."""
    if not in_child:
        return domain_info(read_domain(path, display, name, text_column, label_column))
    from tlcore.data import sandbox

    return sandbox.run("inspect", path, display, name=name, text_column=text_column, label_column=label_column)


def needs_child(path: Path, size: int, threshold: int) -> bool:
    """Whether validating ``path`` must run in the limited child: always for folders and compressed formats
    (ZIP, Parquet: a small file may expand without bound), for plain text tables above ``threshold`` bytes."""
    return path.is_dir() or path.suffix.lower() in (".zip", ".parquet") or size > threshold


@contextmanager
def ingest_slot(root: Path, display: str):
    """One of ``TL_MAX_INGESTS`` (default 2) server-wide slots for validating a large upload (file locks, so
    every dashboard process and user shares them); none free: "Server busy" instead of exhausting memory."""
    import fcntl

    n = max(1, settings.get_int("TL_MAX_INGESTS"))
    locks = private_dir(Path(root) / "locks")
    for i in range(n):
        fh = open(locks / f"ingest-{i}.lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            continue
        try:
            yield
        finally:
            fh.close()
        return
    raise DataError(f"{display}: the server is busy checking {n} other large upload(s); retry in a minute")


def check_free_space(folder: Path, needed: int, display: str) -> None:
    """Refuse an upload the disk cannot hold (plus ``TL_MIN_FREE_MB``, default 512 MB), with the numbers."""
    margin = settings.get_int("TL_MIN_FREE_MB") * 1024 * 1024
    free = shutil.disk_usage(folder).free
    if needed + margin > free:
        raise DataError(f"{display}: not enough disk space on the server: {needed / 2**20:,.0f} MB to store plus "
                        f"{margin / 2**20:,.0f} MB to keep free, {free / 2**20:,.0f} MB free; ask an admin to "
                        "free space")


def domain_info(domain: Domain) -> dict:
    """What the library's index keeps of a domain: modality, n, classes and the JSON-safe summary."""
    return {"modality": domain.modality, "n": len(domain), "classes": list(domain.classes),
            "summary": json.loads(json.dumps(domain.summary(), default=str))}


def mark_owner(folder: Path) -> None:
    """Record this process as the owner of a staging folder (see :func:`in_use`)."""
    pid = os.getpid()
    (folder / "owner.json").write_text(json.dumps({"pid": pid, "start": process_start_time(pid)}), encoding="utf-8")


def in_use(folder: Path, now: float, max_age_s: float) -> bool:
    """True while the process that made ``folder`` still runs (or, with no owner file, while it is young)."""
    try:
        owner = json.loads((folder / "owner.json").read_text(encoding="utf-8"))
        return is_alive(owner.get("pid"), owner.get("start"))
    except (OSError, ValueError, AttributeError):
        try:
            return now - folder.stat().st_mtime < max_age_s
        except OSError:
            return False


def peek_columns(path: str | Path, display: str | None = None) -> list[str]:
    """Column names of a table file, read in the limited child (:mod:`tlcore.data.sandbox`): what the column
    pickers of the Domains and Predict pages call, so a hostile table never expands in the dashboard."""
    from tlcore.data import sandbox

    path = Path(path)
    return list(sandbox.run("columns", path, display or path.name)["columns"])
