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

from tlcore import settings
from tlcore.errors import ConfigError, PermissionDenied
from tlcore.runs.home import default_root

ITERATIONS = 600_000  # OWASP 2023 for PBKDF2-HMAC-SHA256; older hashes are re-hashed at the next sign-in
FREE_FAILURES = 3          # per (user name, address)
ADDRESS_FREE_FAILURES = 10  # per address, whatever the names
MAX_LOCK_S = 15 * 60
MAX_ENTRIES = 10_000       # failure entries kept; only unlocked ones are ever dropped
SSO_PREFIX = "sso:"        # single-sign-on identities: never equal to a users-file name (no ':' allowed there)
SESSION_HOURS_DEFAULT = 12.0
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


def needs_rehash(encoded: str) -> bool:
    """True for a hash made with fewer than ``ITERATIONS`` (or another scheme): re-hash at the next sign-in."""
    try:
        algo, iterations, _, _ = encoded.split("$")
        return algo != "pbkdf2_sha256" or int(iterations) < ITERATIONS
    except (ValueError, AttributeError):
        return True


@contextmanager
def _file_locked(path: Path):
    """An exclusive lock on ``path``'s sibling ``<name>.lock`` (0600) for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def _users_locked(root):
    """Serialise read-modify-write of the users file (add, remove, admin, re-hash)."""
    with _file_locked(users_file(root)):
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
    data = _read_file(users_file(root))
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


class _AuditDB:
    """Just enough of a run store for :func:`tlcore.runs.audit.record` (the run store itself imports this module:
    no cycle); an autocommit connection to the data root's existing ``tl.db``, or to the PostgreSQL database of
    ``TL_DATABASE_URL``."""

    def __init__(self, root):
        from tlcore.runs.db import database_url

        self.path = _root(root) / "tl.db"
        self.url = database_url()

    @contextmanager
    def connect(self):
        import sqlite3

        if self.url:
            from tlcore.runs.db import postgres

            with postgres(self.url).connect() as db:
                yield db
            return

        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()


def audit_refusal(actor: str | None, action: str, what: str, why: str, root=None) -> None:
    """Write a refused change to the audit log (``refused: <action>``); never blocks or raises."""
    try:
        from tlcore.runs import audit

        db = _AuditDB(root)
        if db.url or db.path.exists():  # no data root yet: nothing to protect, and no world-readable file to create
            audit.record(db, actor or os_user(), f"refused: {action}", what, why)
    except Exception:  # noqa: BLE001 - the log never blocks the answer
        pass


def os_user() -> str:
    """The OS account of this process from the password database (not ``getpass.getuser()``, which believes the
    ``LOGNAME``/``USER`` variables anyone can set)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # no passwd entry in some containers
        return f"uid{os.geteuid()}" if hasattr(os, "geteuid") else "unknown"


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
OPEN_ENV = "TL_OPEN_WITHOUT_SIGN_IN"   # "1": serve every page without sign-in even on a non-loopback address
SESSION_ENV = "TL_SESSION_HOURS"       # absolute lifetime of a dashboard sign-in (hours; default 12, 0 = none)


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost); False for unset or empty
    (Streamlit then listens on every interface), 0.0.0.0, :: and any other address or host name."""
    import ipaddress

    a = (address or "").strip().strip("[]")
    if a.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


def open_access_problem(address: str | None, env: dict | None = None) -> str | None:
    """Why a dashboard with no users (and no single sign-on) must not open its pages, or None when it may: it
    listens on loopback only, or an admin set ``TL_OPEN_WITHOUT_SIGN_IN=1`` on purpose (e.g. behind an
    authenticating reverse proxy)."""
    env = os.environ if env is None else env
    if is_loopback(address) or env.get(OPEN_ENV) == "1":
        return None
    where = address or "every interface (server.address unset)"
    return (f"The dashboard listens on {where} and has no users, so anyone who reaches it would get every page "
            f"and action. Create the first admin with the one-time setup token from the server log, or on the "
            f"server: `python -m tlcore user add NAME` and `python -m tlcore admin add NAME`. (To serve it "
            f"without sign-in on purpose, e.g. behind an authenticating proxy, set {OPEN_ENV}=1.)")


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


def session_lifetime_s(env: dict | None = None) -> float | None:
    """The absolute lifetime of a dashboard sign-in in seconds (``TL_SESSION_HOURS``, default 12); None: no
    limit (``0``). A signed-in session older than this is signed out, however active."""
    env = os.environ if env is None else env
    try:
        hours = float(env.get(SESSION_ENV) or SESSION_HOURS_DEFAULT)
    except ValueError:
        hours = SESSION_HOURS_DEFAULT
    return hours * 3600 if hours > 0 else None


def session_expired(signed_in_at: float | None, now: float | None = None, env: dict | None = None) -> bool:
    limit = session_lifetime_s(env)
    if limit is None:
        return False
    if signed_in_at is None:
        return True
    return (time.time() if now is None else now) - float(signed_in_at) > limit


# -- sign-in attempts (lock per name and address, throttle per address; persisted) ----------------------
def failures_file(root: str | Path | None = None) -> Path:
    return _root(root) / "sign_in_failures.json"


@contextmanager
def _failures(root):
    path = failures_file(root)
    with _file_locked(path):
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
    with _failures(root) as data:
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
        with _failures(root) as data:
            data.pop(key, None)  # the name's count from this address starts again
            if akey:  # refund this attempt's charge on the address (its other failures stay counted)
                entry = data.get(akey) or {}
                n = max(0, int(entry.get("failures") or 0) - 1)
                data[akey] = {"failures": n, "locked_until": float(before[akey].get("locked_until") or 0),
                              "last": now}
        _rehash(name, password, root)
    return ok
