"""Private files of the data root: folders made 0700, files written 0600 and atomically (temp file, fsync,
rename), an append-only JSON-lines log that survives a full disk, and the JSON encoding of numpy values.

The run store (:mod:`tlcore.runs.store`) writes every run file through these functions.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import uuid
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_umask() -> None:
    """Make every file and folder this process creates from now on private (0600/0700), whatever writes it
    (numpy, SQLite, logs): set where the engine starts (the CLI, the run store a dashboard or job opens)."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it private (0700). Returns it."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:  # every level made here is private, not only the last
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        p.mkdir(exist_ok=True, mode=DIR_MODE)
        try:
            os.chmod(p, DIR_MODE)
        except OSError:
            pass
    if not missing:
        try:
            os.chmod(path, DIR_MODE)
        except OSError:
            pass
    return path


MODES_MARKER = ".private-modes"  # in a data root: every file and folder under it was made private once
_tightened: set[str] = set()


def tighten_root(root: Path) -> int:
    """Make what an older version left under the data root ``root`` private: every file and folder this user owns
    loses its group and other permission bits (files 0600, folders 0700 as created today; links are not followed).
    The walk runs once per data root, recorded by the marker file ``.private-modes`` (0600), and once per process
    after that only looks for the marker (issue 22 item 5). Returns how many entries were changed."""
    root = Path(root)
    if str(root) in _tightened:
        return 0
    marker = root / MODES_MARKER
    if marker.exists():
        _tightened.add(str(root))
        return 0
    changed, me = 0, os.getuid()
    for dirpath, dirnames, filenames in os.walk(root):  # does not descend into links to folders
        for name in (*dirnames, *filenames):
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
                if not os.path.islink(p) and st.st_uid == me and st.st_mode & 0o077:
                    os.chmod(p, st.st_mode & 0o7700)
                    changed += 1
            except OSError:  # gone meanwhile, or not ours to change
                continue
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    except OSError:  # a read-only data root: walk again next time
        return changed
    _tightened.add(str(root))
    return changed


def is_disk_full(exc: BaseException) -> bool:
    """The exception says the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


LOW_SPACE_MB = 64  # "disk I/O error" from SQLite with less free than this is a full disk, not a damaged file


def free_mb(path) -> float | None:
    """Free megabytes on the filesystem holding ``path`` (its nearest existing parent); None when unknown."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free / 1e6
    except OSError:
        return None


def disk_full_message(root) -> str:
    """The one line every full-disk failure shows (issue 22 item 4)."""
    free = free_mb(root)
    amount = "unknown" if free is None else f"{free:.0f}"
    return f"the disk holding TL_HOME is full: {amount} MB free ({root}); free space there and run again"


def write_atomic(dst: Path, data: bytes) -> Path:
    """Write ``dst`` atomically (temp file, fsync, rename), mode 0600. On any failure the temp file is removed
    and the exception re-raised."""
    tmp = dst.with_name(f".tmp-{uuid.uuid4().hex}-{dst.name}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return dst


def read_json(path: Path, default=None):
    """The JSON value in ``path``; ``default`` when the file is missing or unreadable."""
    if not path.is_file():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return default


def append_jsonl(path: Path, obj, what: str) -> None:
    """Append one JSON line (mode 0600). On a full disk the line is dropped with a note on stderr naming
    ``what``, so a progress log never blocks recording a failure."""
    line = json.dumps(obj, default=json_default) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.write(line)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        print(f"warning: {what}: event not recorded, the disk is full", file=sys.stderr)


def read_jsonl(path: Path) -> list:
    """Every readable line of a JSON-lines file; a line cut by a crash is skipped, the rest stays readable."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def tail_text(path, chars: int) -> str:
    """The last ``chars`` bytes of a file as text (a cut UTF-8 sequence becomes U+FFFD)."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - chars))
        return fh.read().decode("utf-8", "replace")


def json_default(o):
    """numpy scalars and arrays as plain values, paths as strings (``json.dumps(..., default=json_default)``)."""
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
