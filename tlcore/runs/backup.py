"""Check, back up and restore the run database (``tl.db``): ``python -m tlcore doctor``.

Backups use SQLite's online backup API (consistent while workers write; never a file copy of a live database)
into ``<root>/backups/tl-<time>.db`` (0600), keeping the newest ``TL_BACKUPS_KEEP`` (default 7). The worker
makes one when it starts and the newest is older than a day, the dashboard when it starts (:func:`backup_at_start`),
the run store before each schema migration, and ``doctor --backup`` on demand. A damaged database is never backed up (it would
rotate good backups out). Restoring moves the damaged file aside (``tl.db.damaged-<time>``), never deletes it.

SQLite only: with ``TL_DATABASE_URL`` (PostgreSQL) nothing here runs; the database server is backed up with its
own tools (``pg_dump``), and ``doctor`` says so (:data:`PG_BACKUPS`).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

from tlcore import settings
from tlcore.errors import TLError

DAY = 24 * 3600
PG_BACKUPS = ("the run database is PostgreSQL (TL_DATABASE_URL): back it up on the database server, e.g. "
              "pg_dump --format=custom --file=tl-$(date +%F).dump DBNAME, and restore with pg_restore; run folders "
              "under TL_HOME are backed up as files")


def db_path(root: Path) -> Path:
    return Path(root) / "tl.db"


def backups_dir(root: Path) -> Path:
    d = Path(root) / "backups"
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    return d


def keep_count() -> int:
    env = settings.get("TL_BACKUPS_KEEP") or ""
    return max(1, int(env)) if env.isdigit() else 7


def integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of the database file: [] when it is sound, else the problems found."""
    path = Path(path)
    if not path.exists():
        return [f"{path}: missing"]
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return [f"{path}: {exc}"]
    problems = [r for r in rows if r != "ok"]
    if not problems and "runs" not in tables:
        problems.append(f"{path}: no runs table (not a TL Studio database?)")
    return problems


def list_backups(root: Path) -> list[Path]:
    """Backups, newest first."""
    return sorted(backups_dir(root).glob("tl-*.db"), key=lambda p: p.name, reverse=True)


def backup(root: Path) -> Path:
    """An online backup of ``tl.db``; rotates old ones out. Raises TLError when the database is damaged."""
    src_path = db_path(root)
    problems = integrity(src_path)
    if problems:
        raise TLError(f"{src_path} is damaged, so it was not backed up (that would rotate a good backup out): "
                      f"{problems[0]}")
    now = time.time()
    dest = backups_dir(root) / f"tl-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{int(now * 1e6) % 10**6:06d}.db"
    tmp = dest.with_suffix(".tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    src = sqlite3.connect(src_path, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    os.replace(tmp, dest)
    for old in list_backups(root)[keep_count():]:
        old.unlink(missing_ok=True)
    return dest


def backup_if_due(store, max_age_s: float = DAY) -> Path | None:
    """Back up when the newest backup is older than ``max_age_s`` (or there is none). Never on PostgreSQL
    (``TL_DATABASE_URL``): backing that up is the database server's job (``pg_dump``)."""
    if getattr(store, "engine", "sqlite") != "sqlite":
        return None
    newest = list_backups(store.root)[:1]
    if newest and time.time() - newest[0].stat().st_mtime < max_age_s:
        return None
    return backup(store.root)


_started: dict[str, object] = {}  # data root -> the start backup's thread (one per process and root)
START_MIN_AGE_S = 3600  # a restart loop makes no more than one start backup an hour


def backup_at_start(root, wait: bool = False):
    """The dashboard's start backup (issue 22 item 4: backups that do not depend on a worker): once per process
    and data root, in a background thread (the first page is not held up), skipped when a backup is younger than
    an hour or there is no database yet. A failure (a damaged database, a full disk) is logged, never raised: the
    dashboard starts anyway and ``doctor`` tells what is wrong. ``wait``: join the thread (tests)."""
    import logging
    import threading

    key = str(Path(root).resolve())
    if key not in _started:
        def run():
            try:
                from tlcore import settings

                if settings.get("TL_DATABASE_URL") or not db_path(key).exists():
                    return
                newest = list_backups(Path(key))[:1]
                if newest and time.time() - newest[0].stat().st_mtime < START_MIN_AGE_S:
                    return
                backup(Path(key))
            except (TLError, OSError, sqlite3.Error) as exc:
                logging.getLogger("tlcore.backup").warning("start backup of %s skipped: %s", key, exc)

        thread = threading.Thread(target=run, name="tl-start-backup", daemon=True)
        _started[key] = thread
        thread.start()
    if wait:
        _started[key].join(60)
    return _started[key]


def restore(root: Path, source: Path | None = None) -> dict:
    """Replace ``tl.db`` with ``source`` (default: the newest sound backup). The current file is kept aside.

    Stop the worker and the dashboard first: open connections would keep writing to the moved file.
    """
    root = Path(root)
    candidates = [Path(source)] if source else list_backups(root)
    chosen = next((c for c in candidates if not integrity(c)), None)
    if chosen is None:
        raise TLError(f"no sound backup to restore in {backups_dir(root)}" if not source
                      else f"{source}: damaged or not a TL Studio database: {integrity(Path(source))[0]}")
    target = db_path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = None
    if target.exists():
        aside = target.with_name(f"tl.db.damaged-{stamp}")
        os.replace(target, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{target}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside or target}{suffix}") if aside else side.with_name(side.name + "." + stamp))
    tmp = target.with_name(f".tl.db.restore-{stamp}")
    shutil.copyfile(chosen, tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return {"restored": str(chosen), "database": str(target), "damaged_copy": str(aside) if aside else None}
