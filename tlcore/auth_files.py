"""The files of dashboard sign-in under the data root: the users file (``users.json``), the sign-in failures
(``sign_in_failures.json``), both 0600 and changed under an exclusive lock file. Used by :mod:`tlcore.auth`."""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from tlcore.errors import ConfigError
from tlcore.runs.home import default_root


def users_file(root: str | Path | None = None) -> Path:
    return Path(root).expanduser().resolve() / "users.json" if root else default_root() / "users.json"


def data_root(root) -> Path:
    return Path(root).expanduser().resolve() if root else default_root()


def read_users_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{path}: not a valid users file (expected {{\"users\": {{name: hash}}}}); fix or "
                          "delete it, then add users again with `python -m tlcore user add NAME`") from None


@contextmanager
def file_locked(path: Path):
    """An exclusive lock on ``path``'s sibling ``<name>.lock`` (0600) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def failures_file(root: str | Path | None = None) -> Path:
    return data_root(root) / "sign_in_failures.json"


@contextmanager
def failure_counts(root):
    path = failures_file(root)
    with file_locked(path):
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        before = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != before:
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, path)
