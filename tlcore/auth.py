"""Dashboard sign-in for a shared server: named users with salted PBKDF2 password hashes.

Users live in ``$TL_HOME/users.json`` (mode 0600, written atomically), managed with
``python -m tlcore user add|remove|list``. With no users file the dashboard is open (a single user on a
laptop, or a team behind an authenticating reverse proxy); as soon as one user exists every page asks to sign
in. Passwords are never stored: only ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``, compared in
constant time. Streamlit holds the session.

Failed sign-ins are counted per user name in ``$TL_HOME/sign_in_failures.json`` (0600), so a new browser
session does not reset them: after ``FREE_FAILURES`` wrong passwords the name is locked for 2, 4, 8... seconds
(at most ``MAX_LOCK_S``); a success clears the count. Unknown names are counted the same way (no hint).

Ownership: runs, jobs and domains record who created them; :func:`authorize` lets the owner or an admin
(``"admins"`` in the users file, or ``TL_ADMINS``) change them. Everyone signed in may read.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

from tlcore.errors import ConfigError, PermissionDenied
from tlcore.runs.home import default_root

ITERATIONS = 200_000
FREE_FAILURES = 3
MAX_LOCK_S = 15 * 60
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


def users_file(root: str | Path | None = None) -> Path:
    return Path(root).expanduser().resolve() / "users.json" if root else default_root() / "users.json"


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; False for a wrong password or a malformed entry."""
    try:
        algo, iterations, salt, digest = encoded.split("$")
        if algo != "pbkdf2_sha256":
            return False
        mine = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), int(iterations))
        return hmac.compare_digest(mine.hex(), digest)
    except (ValueError, AttributeError):
        return False


class LockedOut(ConfigError):
    """Too many failed sign-ins for this name; ``retry_after`` seconds to wait."""

    def __init__(self, msg: str, retry_after: float):
        super().__init__(msg)
        self.retry_after = retry_after


def _root(root) -> Path:
    return Path(root).expanduser().resolve() if root else default_root()


def _read_file(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{path}: not a valid users file (expected {{\"users\": {{name: hash}}}}); fix or "
                          "delete it, then add users again with `python -m tlcore user add NAME`") from None


def load_users(root: str | Path | None = None) -> dict[str, str]:
    """``{name: encoded hash}``; {} when there is no users file. A damaged file raises a ConfigError naming
    it (the dashboard then refuses everyone rather than opening up)."""
    path = users_file(root)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        users = data["users"]
        if not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values()):
            raise TypeError
        return dict(users)
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(f"{path}: not a valid users file (expected {{\"users\": {{name: hash}}}}); fix or "
                          "delete it, then add users again with `python -m tlcore user add NAME`") from None


def auth_enabled(root: str | Path | None = None) -> bool:
    """Sign-in is required once the users file exists (even if damaged: then nobody gets in)."""
    return users_file(root).exists()


def check(name: str, password: str, root: str | Path | None = None) -> bool:
    encoded = load_users(root).get(name or "")
    if encoded is None:
        # the same PBKDF2 work as for a known name, so timing does not tell which names exist
        hashlib.pbkdf2_hmac("sha256", (password or "").encode("utf-8"), bytes(16), ITERATIONS)
        return False
    return verify_password(password or "", encoded)


def add_user(name: str, password: str, root: str | Path | None = None) -> bool:
    """Add ``name`` or change its password; returns True when the user is new."""
    if not _NAME.match(name or ""):
        raise ConfigError(f"user: {name!r} is not a valid name (letters, digits, _ . @ -; at most 64 characters)")
    if len(password or "") < MIN_PASSWORD:
        raise ConfigError(f"password: at least {MIN_PASSWORD} characters")
    users = load_users(root)
    new = name not in users
    users[name] = hash_password(password)
    _write(users_file(root), users, admins(root))
    return new


def remove_user(name: str, root: str | Path | None = None) -> None:
    users = load_users(root)
    if name not in users:
        raise ConfigError(f"user: no user {name!r}; users: {sorted(users) or 'none'}")
    del users[name]
    # an empty file keeps sign-in on: nobody gets in until a user is added
    _write(users_file(root), users, [a for a in admins(root) if a != name])


def _write(path: Path, users: dict[str, str], admin_names: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"users": users, "admins": sorted(set(admin_names or []))}, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


# -- admins and ownership ---------------------------------------------------------------------------
def admins(root: str | Path | None = None) -> list[str]:
    """Admin names: ``"admins"`` in the users file, ``TL_ADMINS`` (comma-separated) and, for single sign-on,
    ``admins`` in the ``[app]`` section of ``.streamlit/secrets.toml``."""
    data = _read_file(users_file(root))
    names = data.get("admins") if isinstance(data, dict) else None
    env = [n.strip() for n in os.environ.get("TL_ADMINS", "").split(",") if n.strip()]
    return sorted(set((names if isinstance(names, list) else []) + env + sso_admins()))


def sso_admins() -> list[str]:
    """``[app] admins`` of the dashboard's secrets file (the project's or the working directory's)."""
    import tomllib

    out: list[str] = []
    for folder in {Path(__file__).resolve().parents[1], Path.cwd()}:
        path = folder / ".streamlit" / "secrets.toml"
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        names = (data.get("app") or {}).get("admins") or []
        out += [str(n) for n in names] if isinstance(names, list) else []
    return out


def set_admin(name: str, admin: bool, root: str | Path | None = None) -> None:
    users = load_users(root)
    if name not in users:
        raise ConfigError(f"user: no user {name!r}; users: {sorted(users) or 'none'}")
    data = _read_file(users_file(root))
    current = set(data.get("admins") or [])
    current = current | {name} if admin else current - {name}
    _write(users_file(root), users, sorted(current))


def is_admin(name: str | None, root: str | Path | None = None) -> bool:
    return bool(name) and name in admins(root)


def authorize(actor: str | None, owner: str | None, what: str, root: str | Path | None = None) -> None:
    """Allow a change of ``what`` (owned by ``owner``) by ``actor``, or raise PermissionDenied.

    ``actor`` None is the server's operator (CLI, or a dashboard without sign-in): always allowed. A signed-in
    user (password or single sign-on) may change what they own; admins may change everything.
    """
    if actor is None or actor == owner or is_admin(actor, root):
        return
    raise PermissionDenied(f"{what} belongs to {owner or 'nobody (created before owners were recorded)'}; "
                           "only its owner or an admin may change it")


# -- sign-in attempts (lockout per name, persisted) ------------------------------------------------
def failures_file(root: str | Path | None = None) -> Path:
    return _root(root) / "sign_in_failures.json"


@contextmanager
def _failures(root):
    path = failures_file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
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
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def lock_seconds(failures: int) -> float:
    """Lock after the ``failures``-th consecutive failure: 0 for the first FREE_FAILURES, then 2, 4, 8... s."""
    if failures < FREE_FAILURES:
        return 0.0
    return float(min(MAX_LOCK_S, 2 ** (failures - FREE_FAILURES + 1)))


def sign_in(name: str, password: str, root: str | Path | None = None, now: float | None = None) -> bool:
    """Check a sign-in attempt with the per-name lockout. Returns True on success, False on a wrong password.

    Raises:
        LockedOut: the name is locked (too many recent failures); the password is not even checked.
    """
    now = time.time() if now is None else now
    key = (name or "").strip().casefold()[:128]
    with _failures(root) as data:
        entry = data.get(key) or {}
        until = float(entry.get("locked_until") or 0)
        if until > now:
            wait = until - now
            raise LockedOut(f"Too many failed sign-ins for this user name; try again in {wait:.0f} s.", wait)
    ok = check(name, password, root)
    with _failures(root) as data:
        if ok:
            data.pop(key, None)
        else:
            entry = data.get(key) or {}
            n = int(entry.get("failures") or 0) + 1
            data[key] = {"failures": n, "locked_until": now + lock_seconds(n), "last": now}
            if len(data) > 10_000:  # bound the file: forget the oldest names
                for k in sorted(data, key=lambda k: data[k].get("last", 0))[: len(data) - 10_000]:
                    del data[k]
    return ok
