"""Dashboard sign-in for a shared server: named users with salted PBKDF2 password hashes.

Users live in ``$TL_HOME/users.json`` (mode 0600, written atomically), managed with
``python -m tlcore user add|remove|list``. With no users file the dashboard is open (a single user on a
laptop, or a team behind an authenticating reverse proxy); as soon as one user exists every page asks to sign
in. Passwords are never stored: only ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``, compared in
constant time. Streamlit holds the session; this module holds no state.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

from tlcore.errors import ConfigError

ITERATIONS = 200_000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


def users_file(root: str | Path | None = None) -> Path:
    from tlcore.runs.store import default_root

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
    _write(users_file(root), users)
    return new


def remove_user(name: str, root: str | Path | None = None) -> None:
    users = load_users(root)
    if name not in users:
        raise ConfigError(f"user: no user {name!r}; users: {sorted(users) or 'none'}")
    del users[name]
    _write(users_file(root), users)  # an empty file keeps sign-in on: nobody gets in until a user is added


def _write(path: Path, users: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"users": users}, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)
