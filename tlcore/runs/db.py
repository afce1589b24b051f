"""The database behind the run store: the embedded SQLite file (default) or a PostgreSQL server.

Runs, jobs, workers, saved domains and the audit log live in one database. Without ``TL_DATABASE_URL`` it is
``$TL_HOME/tl.db`` (SQLite; opened by :class:`tlcore.runs.store.RunStore`, whose behaviour this module does not
change: one short-lived connection per call, WAL, busy timeouts). With ``TL_DATABASE_URL=postgresql://user:pass@
host:5432/db`` it is that server, so several machines (Ray nodes, a second worker) share one queue without a
shared filesystem. Files (run folders, logs, uploads) still live under ``TL_HOME`` or the artifact store.

Callers write SQLite's dialect (``?`` placeholders, ``BEGIN IMMEDIATE``, ``REAL``/``INTEGER`` columns) and get
rows readable by position and by column name, like :class:`sqlite3.Row`; on PostgreSQL :class:`PgConnection`
translates placeholders and column types, and raises the exception types callers already catch
(``sqlite3.IntegrityError`` for a duplicate key, ``sqlite3.OperationalError`` for a missing table or column). The
few statements that differ ask :func:`engine` of the connection (e.g. :func:`for_update`, the row lock a claim takes
on PostgreSQL where SQLite's ``BEGIN IMMEDIATE`` already serialises writers). A server that cannot be reached
raises :class:`DatabaseUnavailable`, one line naming ``TL_DATABASE_URL`` with its password masked.

Standard library only; ``psycopg`` (3) is imported when a PostgreSQL URL is used.
"""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from tlcore.errors import ConfigError, TLError
from tlcore.runs.records import StorageFull

ENV = "TL_DATABASE_URL"
SCHEMES = ("postgresql", "postgres")
_POOL_SIZE = 4
_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"tlcore schema").digest()[:8], "big", signed=True)


class DatabaseUnavailable(TLError):
    """The PostgreSQL server named by ``TL_DATABASE_URL`` cannot be reached (or refused the login)."""


class SQLiteConnection(sqlite3.Connection):
    """A plain :class:`sqlite3.Connection` that says which engine it is (``factory=`` of ``sqlite3.connect``)."""

    engine = "sqlite"


def engine(db) -> str:
    """``"sqlite"`` or ``"postgresql"``: the engine behind an open connection."""
    return getattr(db, "engine", "sqlite")


def for_update(db, skip_locked: bool = False, of: str = "") -> str:
    """The row-lock clause a read inside a claim or cancel transaction ends with: nothing on SQLite (``BEGIN
    IMMEDIATE`` holds the only write lock), ``FOR UPDATE [OF t] [SKIP LOCKED]`` on PostgreSQL."""
    if engine(db) != "postgresql":
        return ""
    return " FOR UPDATE" + (f" OF {of}" if of else "") + (" SKIP LOCKED" if skip_locked else "")


def same(db, left: str, right: str) -> str:
    """Null-safe equality (``IS`` on SQLite, ``IS NOT DISTINCT FROM`` on PostgreSQL)."""
    return f"{left} IS NOT DISTINCT FROM {right}" if engine(db) == "postgresql" else f"{left} IS {right}"


def database_url() -> str | None:
    """``TL_DATABASE_URL`` when set to something (None: the SQLite file under ``TL_HOME``). A value that is not a
    ``postgresql://`` URL raises ConfigError naming the setting."""
    from tlcore import settings

    url = (settings.get(ENV) or "").strip()
    if not url:
        return None
    check_url(url)
    return url


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"{ENV}: not a URL ({exc}); expected postgresql://user:password@host:5432/dbname") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"{ENV}={mask(url)}: expected a postgresql://user:password@host:5432/dbname URL "
                          f"(unset it to use the SQLite file under TL_HOME), got scheme {parts.scheme or 'none'!r}")


def mask(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs, ``doctor`` and error messages)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "<unreadable URL>"


def describe(url: str | None, sqlite_path=None) -> str:
    """One line for ``doctor``: which engine holds the data, password masked."""
    if url:
        return f"PostgreSQL at {mask(url)} ({ENV})"
    return f"SQLite file {sqlite_path}" if sqlite_path else "SQLite file under TL_HOME"


# -- rows and cursors ---------------------------------------------------------------------------------
class Row(tuple):
    """A result row readable by position and by column name, and convertible with ``dict(row)``."""

    def __new__(cls, values, names: dict):
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key):
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


class PgCursor:
    """The result of one statement: ``fetchone``, ``fetchall``, iteration and ``rowcount``."""

    def __init__(self, rows: list, rowcount: int):
        self._rows, self.rowcount, self._i = rows, rowcount, 0

    def fetchone(self):
        if self._i >= len(self._rows):
            return None
        self._i += 1
        return self._rows[self._i - 1]

    def fetchall(self) -> list:
        out, self._i = self._rows[self._i:], len(self._rows)
        return out

    def __iter__(self):
        return iter(self.fetchall())


_DDL_TYPES = ((re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"), (re.compile(r"\bINTEGER\b", re.I), "BIGINT"))


def pg_sql(sql: str, with_params: bool) -> str:
    """SQLite's dialect to PostgreSQL's: ``?`` -> ``%s`` (and a literal ``%`` doubled), ``BEGIN IMMEDIATE`` ->
    ``BEGIN``, and in ``CREATE``/``ALTER`` statements ``REAL`` -> ``DOUBLE PRECISION`` (SQLite's REAL is 8 bytes,
    PostgreSQL's 4: timestamps would lose seconds) and ``INTEGER`` -> ``BIGINT``."""
    s = sql.strip()
    if re.match(r"BEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)\b", s, re.I):
        return "BEGIN"
    if re.match(r"(CREATE\s+TABLE|ALTER\s+TABLE)\b", s, re.I):
        for pattern, repl in _DDL_TYPES:
            s = pattern.sub(repl, s)
    if with_params:
        s = s.replace("%", "%%").replace("?", "%s")
    return s


def split_script(script: str) -> list[str]:
    """The statements of a schema script (``--`` comments dropped); no statement here contains a ``;``."""
    text = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]


class PgConnection:
    """One PostgreSQL connection (autocommit, like the SQLite connections with ``isolation_level=None``: a
    statement commits on its own; ``BEGIN``/``COMMIT`` group several)."""

    engine = "postgresql"

    def __init__(self, conn, database: "PostgresDatabase"):
        self._conn, self._db = conn, database

    def execute(self, sql: str, params=()) -> PgCursor:
        import psycopg

        params = tuple(int(p) if isinstance(p, bool) else p for p in params or ())
        query = pg_sql(sql, bool(params))
        try:
            cur = self._conn.execute(query, params or None)
            rows = []
            if cur.description is not None:
                names = {d.name: i for i, d in enumerate(cur.description)}
                rows = [Row(r, names) for r in cur.fetchall()]
            return PgCursor(rows, cur.rowcount)
        except psycopg.errors.IntegrityError as exc:
            raise sqlite3.IntegrityError(_first_line(exc)) from None
        except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn, psycopg.errors.DuplicateColumn,
                psycopg.errors.DuplicateTable, psycopg.errors.LockNotAvailable,
                psycopg.errors.TransactionRollback) as exc:
            raise sqlite3.OperationalError(_first_line(exc)) from None
        except (psycopg.errors.DiskFull, psycopg.errors.IoError) as exc:  # 53100, 58030: the server cannot write
            raise StorageFull(f"{ENV}={mask(self._db.url)}: the PostgreSQL server cannot write ({_first_line(exc)}); "
                              "free space on the database server's disk and run again") from None
        except psycopg.OperationalError as exc:
            if self._conn.broken or self._conn.closed:
                raise self._db.unavailable(exc) from None
            raise sqlite3.OperationalError(_first_line(exc)) from None

    @property
    def ensured(self) -> set:
        """What this process already created in this database (schema scripts, added columns)."""
        return self._db.ensured

    def executescript(self, script: str) -> None:
        """Create what a schema script declares, once per process and database: serialised across processes by
        an advisory lock (two processes creating one table at once would otherwise collide)."""
        key = ("script", script)
        if key in self.ensured:
            return
        with self.schema_lock():
            for statement in split_script(script):
                self.execute(statement)
        self.ensured.add(key)

    @contextmanager
    def schema_lock(self):
        """A transaction holding the schema-change lock (one per database): concurrent ``CREATE ... IF NOT
        EXISTS`` or ``ADD COLUMN IF NOT EXISTS`` from two processes would otherwise collide in the catalogue."""
        self.execute("BEGIN")
        try:
            self.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            yield
            self.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the connection is discarded anyway
            pass

    def close(self) -> None:
        self._conn.close()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# idle connections kept for reuse, per process id (a forked child never reuses its parent's sockets): at most
# _POOL_SIZE in all, the oldest closed first, as (url, connection)
_idle: dict[int, list] = {}
_idle_lock = threading.Lock()


class PostgresDatabase:
    """Connections to one PostgreSQL database (a few idle ones are kept for reuse)."""

    def __init__(self, url: str):
        check_url(url)
        self.url = url
        self.ensured: set = set()

    def unavailable(self, exc: Exception) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"{ENV}={mask(self.url)}: cannot use the PostgreSQL server: "
                                   f"{_first_line(exc)}")

    def _open(self):
        try:
            import psycopg
        except ImportError:
            raise ConfigError(f"{ENV} is set but the psycopg package is not installed: pip install 'psycopg[binary]'"
                              ) from None
        with _idle_lock:
            idle = _idle.setdefault(os.getpid(), [])
            for i in range(len(idle) - 1, -1, -1):
                if idle[i][0] == self.url:
                    conn = idle.pop(i)[1]
                    if not conn.closed and not conn.broken:
                        return conn
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise self.unavailable(exc) from None
        except ValueError as exc:  # psycopg refuses to parse the URL (e.g. a bad port)
            raise ConfigError(f"{ENV}={mask(self.url)}: {exc}") from None

    @contextmanager
    def connect(self):
        import psycopg

        conn = self._open()
        ok = False
        try:
            yield PgConnection(conn, self)
            ok = True
        finally:
            reuse = (ok and not conn.closed and not conn.broken
                     and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)
            old = []
            with _idle_lock:
                idle = _idle.setdefault(os.getpid(), [])
                if reuse:
                    idle.append((self.url, conn))
                    conn = None
                while len(idle) > _POOL_SIZE:
                    old.append(idle.pop(0)[1])
            for c in [conn, *old]:
                if c is not None:
                    c.close()


_databases: dict[str, PostgresDatabase] = {}
_databases_lock = threading.Lock()


def postgres(url: str) -> PostgresDatabase:
    """The (process-wide, shared) handle of the database at ``url``."""
    with _databases_lock:
        if url not in _databases:
            _databases[url] = PostgresDatabase(url)
        return _databases[url]


# -- schema migrations ---------------------------------------------------------------------------------
def columns(db, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    if engine(db) == "postgresql":
        rows = db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                          "AND table_schema = current_schema()", (table,)).fetchall()
        return {r[0] for r in rows}
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


def add_column(db, table: str, column: str, decl: str) -> None:
    """Add a column to an existing table (schema migration of older databases); a no-op when it exists."""
    if engine(db) == "postgresql":
        key = ("column", table, column)
        if key in db.ensured:  # checked once per process (pages open the store often)
            return
        if column not in columns(db, table):
            with db.schema_lock():
                db.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {decl}")
        db.ensured.add(key)
        return
    if column not in columns(db, table):
        try:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        except sqlite3.OperationalError as exc:  # another process added it meanwhile
            if "duplicate column" not in str(exc):
                raise
