"""Dashboard sign-in for a shared server: named users with salted PBKDF2 password hashes.

Users live in ``$TL_HOME/users.json`` (mode 0600, written atomically), managed with
``python -m tlcore user add|remove|list``. With no users file the dashboard is open (a single user on a
laptop, or a team behind an authenticating reverse proxy); as soon as one user exists every page asks to sign
in. Passwords are never stored: only ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``, compared in
constant time. Streamlit holds the session.

Failed sign-ins are counted in ``$TL_HOME/sign_in_failures.json`` (0600), so a new browser session does not
reset them, per user name *and address* (after ``FREE_FAILURES`` wrong passwords that name is locked for 2, 4,
8... seconds from that address, at most ``MAX_LOCK_S``) and per address over all names (after
``ADDRESS_FREE_FAILURES``). Failing on someone's name from another address thus never locks them out of their
own. The lock check and the failure record are one step under a file lock: an attempt is charged as a failure
before its password is checked (and refunded on success), so parallel attempts are checked at most the allowed
number of times. Locked entries are never evicted to bound the file. Unknown names are counted the same way.

Ownership: runs, jobs and domains record who created them; :func:`authorize` lets the owner or an admin
(``"admins"`` in the users file, or ``TL_ADMINS``) change them, and writes every refusal to the audit log.
Everyone signed in may read. Single-sign-on identities carry the prefix ``sso:`` (a users-file name cannot
contain ``:``), so the two sources never match each other's names or admin entries.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path

from tlcore import settings
from tlcore.auth_audit import audit_refusal, os_user
from tlcore.auth_files import (failure_counts, failures_file, file_locked,  # noqa: F401 - also from here
                               read_users_file, users_file)
from tlcore.auth_passwords import ITERATIONS, hash_password, needs_rehash, verify_password
from tlcore.auth_session import (OPEN_ENV, SESSION_ENV, is_loopback,  # noqa: F401 - also imported from here
                                 open_access_problem, session_expired, session_lifetime_s)
from tlcore.errors import ConfigError, PermissionDenied

FREE_FAILURES = 3          # per (user name, address)
ADDRESS_FREE_FAILURES = 10  # per address, whatever the names
MAX_LOCK_S = 15 * 60
MAX_ENTRIES = 10_000       # failure entries kept; only unlocked ones are ever dropped
SSO_PREFIX = "sso:"        # single-sign-on identities: never equal to a users-file name (no ':' allowed there)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD = 8


class LockedOut(ConfigError):
    """Too many failed sign-ins for this name; ``retry_after`` seconds to wait."""

    def __init__(self, msg: str, retry_after: float):
        super().__init__(msg)
        self.retry_after = retry_after


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


@contextmanager
def _users_locked(root):
    """Serialise read-modify-write of the users file (add, remove, admin, re-hash)."""
    with file_locked(users_file(root)):
        yield


def add_user(name: str, password: str, root: str | Path | None = None, admin: bool = False,
             only_if_none: bool = False) -> bool:
    """Add ``name`` or change its password; returns True when the user is new.

    Args:
        admin: also make the user an admin.
        only_if_none: refuse (ConfigError) when a users file already exists (the first-admin setup).
    """
    if not _NAME.match(name or ""):
        raise ConfigError(f"user: {name!r} is not a valid name (letters, digits, _ . @ -; at most 64 characters)")
    if len(password or "") < MIN_PASSWORD:
        raise ConfigError(f"password: at least {MIN_PASSWORD} characters")
    encoded = hash_password(password)
    with _users_locked(root):
        if only_if_none and users_file(root).exists():
            raise ConfigError("users already exist: sign in, or ask an admin")
        users = load_users(root)
        new = name not in users
        users[name] = encoded
        _write(users_file(root), users, _file_admins(root) + ([name] if admin else []))
    return new


def remove_user(name: str, root: str | Path | None = None) -> None:
    with _users_locked(root):
        users = load_users(root)
        if name not in users:
            raise ConfigError(f"user: no user {name!r}; users: {sorted(users) or 'none'}")
        del users[name]
        # an empty file keeps sign-in on: nobody gets in until a user is added
        _write(users_file(root), users, [a for a in _file_admins(root) if a != name])


def _rehash(name: str, password: str, root) -> None:
    """Store a fresh ``ITERATIONS`` hash for ``name`` if its stored one is older (after a successful check)."""
    with _users_locked(root):
        users = load_users(root)
        if name in users and needs_rehash(users[name]) and verify_password(password, users[name]):
            users[name] = hash_password(password)
            _write(users_file(root), users, _file_admins(root))


def _write(path: Path, users: dict[str, str], admin_names: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"users": users, "admins": sorted(set(admin_names or []))}, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)


# -- admins and ownership ---------------------------------------------------------------------------
def _file_admins(root) -> list[str]:
    data = read_users_file(users_file(root))
    names = data.get("admins") if isinstance(data, dict) else None
    return [str(n) for n in names] if isinstance(names, list) else []


def admins(root: str | Path | None = None) -> list[str]:
    """Admin identities: ``"admins"`` in the users file and ``TL_ADMINS`` (comma-separated) name users-file (or
    CLI) users; ``admins`` in the ``[app]`` section of ``.streamlit/secrets.toml`` name single-sign-on users and
    are returned as ``sso:<name>``, so an unverified or look-alike identity of one source never becomes an admin
    of the other."""
    env = [n.strip() for n in (settings.get("TL_ADMINS") or "").split(",") if n.strip()]
    return sorted(set(_file_admins(root) + env + [sso_name(n) for n in sso_admins()]))


def sso_name(identity: str) -> str:
    """The TL Studio name of a single-sign-on identity (``sso:`` + the provider's e-mail or user name)."""
    identity = str(identity)
    return identity if identity.startswith(SSO_PREFIX) else SSO_PREFIX + identity


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
    with _users_locked(root):
        users = load_users(root)
        if name not in users:
            raise ConfigError(f"user: no user {name!r}; users: {sorted(users) or 'none'}")
        current = set(_file_admins(root))
        current = current | {name} if admin else current - {name}
        _write(users_file(root), users, sorted(current))


def is_admin(name: str | None, root: str | Path | None = None) -> bool:
    return bool(name) and name in admins(root)


def authorize(actor: str | None, owner: str | None, what: str, root: str | Path | None = None,
              action: str = "change") -> None:
    """Allow ``action`` on ``what`` (owned by ``owner``) by ``actor``, or raise PermissionDenied (and write the
    refusal to the audit log).

    ``actor`` None is the server's own process acting for nobody in particular (a dashboard without sign-in):
    always allowed. A signed-in user (password or single sign-on) or a CLI user (:func:`cli_actor`) may change
    what they own; admins may change everything.
    """
    if actor is None or actor == owner or is_admin(actor, root):
        return
    msg = (f"{what} belongs to {owner or 'nobody (created before owners were recorded)'}; "
           f"only its owner or an admin may {action} it")
    audit_refusal(actor, action, what, msg, root)
    raise PermissionDenied(msg)


def cli_actor(root: str | Path | None = None) -> str:
    """Who changes things from the command line: the OS user. ``TL_USER`` naming someone else is honoured only
    when the OS user is an admin (an admin acting for a user); otherwise PermissionDenied (audited), so
    ``TL_USER=bo python -m tlcore delete ...`` does not make anyone ``bo``."""
    me = os_user()
    asked = (settings.get("TL_USER") or "").strip()
    if not asked or asked == me:
        return me
    if is_admin(me, root):
        return asked
    msg = (f"TL_USER={asked}: only an admin may act as another user from the command line (you are {me}); "
           "unset TL_USER, or ask an admin (python -m tlcore admin add NAME, or TL_ADMINS)")
    audit_refusal(me, f"act as {asked}", "command line", msg, root)
    raise PermissionDenied(msg)


# -- where the dashboard listens, first admin, session lifetime -------------------------------------
_setup_lock = __import__("threading").Lock()
_setup_token: str | None = None


def setup_token(announce=None) -> str:
    """This server process's one-time first-admin token: created on first use and printed once to the server
    log (stderr), as Jupyter prints its token. Used up by :func:`create_first_admin`."""
    global _setup_token
    with _setup_lock:
        if _setup_token is None:
            import sys

            _setup_token = secrets.token_urlsafe(24)
            (announce or (lambda line: print(line, file=sys.stderr, flush=True)))(
                "TL Studio: no users yet and the dashboard is reachable from other machines. To create the first "
                f"admin, open the dashboard and enter this one-time setup token: {_setup_token}")
        return _setup_token


def create_first_admin(token: str, name: str, password: str, root: str | Path | None = None) -> None:
    """Create the first user, an admin, when ``token`` is this process's setup token and no users file exists
    yet; the token is used up. Raises ConfigError otherwise (a wrong token is audited)."""
    global _setup_token
    with _setup_lock:
        good = _setup_token is not None and hmac.compare_digest(str(token or "").encode(), _setup_token.encode())
        if not good:
            audit_refusal(name or None, "create the first admin", "setup", "wrong setup token", root)
            raise ConfigError("Wrong setup token: copy it from the server log (a new server process prints a new one).")
        add_user(name, password, root, admin=True, only_if_none=True)
        _setup_token = ""  # used up: never accepted again by this process


# -- sign-in attempts (lock per name and address, throttle per address; persisted) ----------------------
def lock_seconds(failures: int, free: int = FREE_FAILURES) -> float:
    """Lock after the ``failures``-th consecutive failure: 0 for the first ``free``, then 2, 4, 8... s."""
    if failures < free:
        return 0.0
    return float(min(MAX_LOCK_S, 2 ** (failures - free + 1)))


def _keys(name: str, address: str | None) -> tuple[str, str | None]:
    addr = (address or "").strip()[:64]
    return "n:" + (name or "").strip().casefold()[:128] + "|" + addr, ("a:" + addr if addr else None)


def _prune(data: dict, now: float) -> None:
    """Bound the file: drop the oldest *unlocked* entries only (a locked name or address is never freed)."""
    if len(data) <= MAX_ENTRIES:
        return
    free = [k for k, e in data.items() if float((e or {}).get("locked_until") or 0) <= now]
    for k in sorted(free, key=lambda k: data[k].get("last", 0))[: len(data) - MAX_ENTRIES]:
        del data[k]


def sign_in(name: str, password: str, root: str | Path | None = None, now: float | None = None,
            address: str | None = None) -> bool:
    """Check a sign-in attempt from ``address`` (the browser's IP; None: unknown) with the lockouts. Returns True
    on success, False on a wrong password.

    Raises:
        LockedOut: the name is locked from this address, or the address is throttled; the password is not even
            checked.
    """
    now = time.time() if now is None else now
    key, akey = _keys(name, address)
    limits = [(key, FREE_FAILURES, "for this user name"), (akey, ADDRESS_FREE_FAILURES, "from your address")]
    limits = [x for x in limits if x[0]]
    # one atomic step: refuse while locked, else charge this attempt as a failure before checking it
    with failure_counts(root) as data:
        for k, _, why in limits:
            until = float((data.get(k) or {}).get("locked_until") or 0)
            if until > now:
                wait = until - now
                raise LockedOut(f"Too many failed sign-ins {why}; try again in {wait:.0f} s.", wait)
        before = {}
        for k, free, _ in limits:
            entry = data.get(k) or {}
            before[k] = dict(entry)
            n = int(entry.get("failures") or 0) + 1
            data[k] = {"failures": n, "locked_until": max(float(entry.get("locked_until") or 0),
                                                          now + lock_seconds(n, free)), "last": now}
        _prune(data, now)
    ok = check(name, password, root)
    if ok:
        with failure_counts(root) as data:
            data.pop(key, None)  # the name's count from this address starts again
            if akey:  # refund this attempt's charge on the address (its other failures stay counted)
                entry = data.get(akey) or {}
                n = max(0, int(entry.get("failures") or 0) - 1)
                data[akey] = {"failures": n, "locked_until": float(before[akey].get("locked_until") or 0),
                              "last": now}
        _rehash(name, password, root)
    return ok
