"""Copy a data root's SQLite database (``tl.db``) into an empty PostgreSQL database (issue 26):
``python -m tlcore db migrate --to postgresql://user:pass@host:5432/db``.

Every table of the SQLite file (runs, jobs, workers, saved domains, label sets, users' settings, the audit log...) is
created on the server from its SQLite declaration (the dialect translation of :func:`tlcore.runs.db.pg_sql`:
``REAL`` -> ``DOUBLE PRECISION``, ``INTEGER`` -> ``BIGINT``; its indexes too) unless it exists, missing columns are
added, and its rows are copied, all in one transaction: a failure leaves the server as it was. The SQLite file is
read in one read transaction (a consistent snapshot; stop the dashboard and workers first so nothing is written
after it) and left unchanged. A server that already holds rows in one of these tables is refused (a second
migration would duplicate them). Run folders, logs and uploads stay under ``TL_HOME`` (or in the artifact store).
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tlcore.errors import ConfigError, TLError
from tlcore.runs import db as dbm

_CREATE = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s+(?!IF\s+NOT\s+EXISTS)", re.I)


class MigrationRefused(TLError):
    """The target database is not empty (or the source is not a run database)."""


def _if_not_exists(sql: str) -> str:
    """SQLite stores ``CREATE TABLE t`` without its ``IF NOT EXISTS``: put it back."""
    return _CREATE.sub(lambda m: f"CREATE {m.group(1) or ''}{m.group(2).upper()} IF NOT EXISTS ", sql, count=1)


def _source_schema(src: sqlite3.Connection) -> tuple[list[tuple[str, str]], list[str]]:
    """(table name, CREATE TABLE) of every table, and the CREATE INDEX statements, of the SQLite file."""
    rows = src.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
                       "ORDER BY type DESC, name").fetchall()
    return [(n, s) for t, n, s in rows if t == "table"], [s for t, _n, s in rows if t == "index"]


def migrate(sqlite_path: str | Path, url: str) -> dict[str, int]:
    """Copy every table of ``sqlite_path`` into the PostgreSQL database at ``url``; returns {table: rows copied}.

    Raises:
        MigrationRefused: the server already holds rows in one of the tables, or the file has no runs table.
        DatabaseUnavailable: the server cannot be reached (password masked).
        StorageFull: the server's disk is full.
        TLError: the file is missing or unreadable, or the server refused a statement (nothing copied).
    """
    dbm.check_url(url)
    try:
        import psycopg
    except ImportError:
        raise ConfigError("migrating to PostgreSQL needs the psycopg package: pip install 'psycopg[binary]'") from None
    tables, indexes, data = _read_sqlite(Path(sqlite_path))
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        raise dbm.postgres(url).unavailable(exc) from None
    try:
        with conn.transaction():
            _refuse_rows(conn, [n for n, _ in tables], url)
            _create(conn, tables, indexes, data)
            for name, (cols, rows) in data.items():
                if rows:
                    names, marks = ", ".join(f'"{c}"' for c in cols), ", ".join(["%s"] * len(cols))
                    with conn.cursor() as cur:
                        cur.executemany(f'INSERT INTO "{name}" ({names}) VALUES ({marks})', rows)
    except psycopg.errors.DiskFull as exc:
        from tlcore.runs.records import StorageFull

        raise StorageFull(f"{dbm.ENV}={dbm.mask(url)}: the PostgreSQL server's disk is full "
                          f"({dbm._first_line(exc)}); nothing was copied") from None
    except psycopg.Error as exc:
        raise TLError(f"{dbm.ENV}={dbm.mask(url)}: the migration failed and nothing was copied: "
                      f"{dbm._first_line(exc)}") from None
    finally:
        conn.close()
    return {name: len(rows) for name, (_cols, rows) in data.items()}


def _read_sqlite(path: Path):
    """(tables, indexes, {table: (columns, rows)}) of the SQLite file, read in one snapshot."""
    if not path.is_file():
        raise ConfigError(f"{path}: no SQLite run database there (give the data root with TL_HOME or --from)")
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        src.execute("BEGIN")  # one snapshot for every table
        tables, indexes = _source_schema(src)
        if "runs" not in {n for n, _ in tables}:
            raise MigrationRefused(f"{path}: not a TL Studio run database (no runs table)")
        data = {}
        for name, _sql in tables:
            cur = src.execute(f'SELECT * FROM "{name}"')
            data[name] = ([d[0] for d in cur.description], cur.fetchall())
        src.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise TLError(f"{path}: cannot read the SQLite database ({exc}); check it with `python -m tlcore doctor`") \
            from None
    finally:
        src.close()
    return tables, indexes, data


def _refuse_rows(conn, names: list[str], url: str) -> None:
    """MigrationRefused when one of the tables already exists on the server with rows."""
    full = {}
    for name in names:
        if conn.execute("SELECT to_regclass(%s)", (f'"{name}"',)).fetchone()[0] is not None:
            full[name] = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
    full = {n: c for n, c in full.items() if c}
    if full:
        raise MigrationRefused(f"{dbm.ENV}={dbm.mask(url)} already holds rows "
                               f"({', '.join(f'{n}: {c}' for n, c in full.items())}): migrate into an empty database "
                               "(nothing was copied)")


def _create(conn, tables, indexes, data) -> None:
    """The tables (and missing columns) and indexes on the server, from their SQLite declarations."""
    for name, sql in tables:
        conn.execute(dbm.pg_sql(_if_not_exists(sql), False))
        have = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                                           "AND table_schema = current_schema()", (name,))}
        for col in data[name][0]:
            if col not in have:
                conn.execute(dbm.pg_sql(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {src_decl(sql, col)}', False))
    for sql in indexes:
        conn.execute(dbm.pg_sql(_if_not_exists(sql), False))


def src_decl(create_sql: str, column: str) -> str:
    """The declaration of ``column`` in a SQLite ``CREATE TABLE`` (type, default), ``TEXT`` when not found."""
    body = create_sql[create_sql.find("(") + 1:create_sql.rfind(")")]
    for part in re.split(r",(?![^()]*\))", body):
        words = part.strip().split(None, 1)
        if words and words[0].strip('"') == column:
            decl = words[1] if len(words) > 1 else "TEXT"
            return re.sub(r"\bPRIMARY\s+KEY\b|\bUNIQUE\b", "", decl, flags=re.I).strip() or "TEXT"
    return "TEXT"
