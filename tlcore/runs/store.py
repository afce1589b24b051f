"""The run store: a SQLite index (WAL; the rollback journal on a network filesystem, see :mod:`tlcore.runs.fstype`)
plus one folder per run under the data root.

Layout under ``TL_HOME`` (default ``./tl_data``)::

    tl.db                  index of runs (and the job queue, see tlcore.jobs); mode 0600
    backups/               rotating online backups of tl.db (``python -m tlcore doctor``)
    runs/<run_id>/         config.json, events.jsonl, metrics.json, history.json, predictions_*.csv,
                           model.safetensors, labels.json, split.json

Every JSON file is written to a temporary name and renamed into place, so a crash never leaves a
half-written file; listing reads only the index and tolerates missing artifacts. A write that fails (a
full disk) removes its temporary file and raises :class:`StorageFull`. The data root, the database and every
run folder are private to the server's user (0700/0600). A damaged database raises :class:`StoreCorrupt`,
which names the file and the recovery command.

With ``TL_DATABASE_URL=postgresql://...`` the index (runs, jobs, domains, audit log) lives in that PostgreSQL
database instead of ``tl.db`` (:mod:`tlcore.runs.db`); the run folders stay under the data root.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from tlcore.errors import PermissionDenied, TLError  # noqa: F401 - PermissionDenied re-exported
from tlcore.runs.files import (DIR_MODE, FILE_MODE, LOW_SPACE_MB, append_jsonl, disk_full_message, free_mb,
                               is_disk_full, private_dir, private_umask, tighten_root)
from tlcore.runs import db as dbm
from tlcore.runs import artifact_store
from tlcore.runs.fstype import journal_mode
from tlcore.runs.home import current_user, default_root
from tlcore.runs.records import (RunBusy, RunNotFound, RunRecord, StorageFull, StoreCorrupt,  # noqa: F401 - also
                                 domain_label, record_from_row)  # imported from here
from tlcore.runs.run_files import RunFiles

STATUSES = ("queued", "running", "completed", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    name TEXT, status TEXT NOT NULL, strategy TEXT, backbone TEXT, source TEXT, target TEXT,
    modality TEXT, seed INTEGER, created REAL NOT NULL, finished REAL, seconds REAL,
    target_acc REAL, target_f1 REAL, source_acc REAL, error TEXT, config TEXT NOT NULL, owner TEXT,
    pid INTEGER, pid_start REAL, host TEXT
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created);
"""
_CORRUPT = ("not a database", "malformed", "disk i/o error", "database or disk is full", "file is encrypted",
            "unsupported file format")


# columns added after the first release: (name, declaration); adding one backs the database up first
_MIGRATIONS = (("owner", "TEXT"), ("pid", "INTEGER"), ("pid_start", "REAL"), ("host", "TEXT"))


def _ensure_journal_mode(db: sqlite3.Connection, mode: str, wait: float = 30.0) -> None:
    """Switch the database to ``mode`` only when it is not in it already (WAL persists in the file, so this is a
    read on every later connection). Switching needs the database to itself, and SQLite answers "database is
    locked" at once instead of waiting when other processes are opening a fresh data root at the same moment
    (catalogue item 73): retry for up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        try:
            current = str(db.execute("PRAGMA journal_mode").fetchone()[0]).upper()
            if current == mode.upper():
                return
            db.execute(f"PRAGMA journal_mode={mode}")
            return
        except sqlite3.OperationalError as exc:
            msg = str(exc).lower()
            if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class RunStore(RunFiles):
    """Thread- and process-safe: every call opens its own short-lived connection (on PostgreSQL, one of a few
    kept open per process).

    Args:
        database_url: a ``postgresql://`` URL; None: ``TL_DATABASE_URL``, and without it the SQLite file
            ``tl.db`` under the data root; ``""``: that file whatever the setting says.
    """

    def __init__(self, root: str | Path | None = None, owner: str | None = None, database_url: str | None = None):
        self.root = Path(root).expanduser().resolve() if root else default_root()
        private_umask()  # every process that opens a data root writes private files there (issue 22 item 5)
        private_dir(self.root)
        tighten_root(self.root)  # an older data root's loose files and folders, once (issue 22 item 5)
        self.runs_dir = private_dir(self.root / "runs")
        self.db_path = self.root / "tl.db"
        self.journal_mode = journal_mode(self.root)  # WAL on local disk, DELETE on NFS/SMB (runs/fstype.py)
        self.owner = owner  # recorded on runs this handle creates (default: current_user())
        self.artifacts = artifact_store.from_settings(self.root)  # TL_ARTIFACTS_URL (runs/artifact_store.py)
        self.database_url = dbm.database_url() if database_url is None else (database_url or None)
        self.engine = "postgresql" if self.database_url else "sqlite"
        if self.database_url:  # backups are the database server's job (pg_dump), not a copy under TL_HOME
            self._pg = dbm.postgres(self.database_url)
            with self.connect() as db:
                db.executescript(SCHEMA)
                for column, decl in _MIGRATIONS:
                    dbm.add_column(db, "runs", column, decl)
            return
        if not self.db_path.exists():
            os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        with self.connect() as db:
            cols = dbm.columns(db, "runs")
            missing = [(c, d) for c, d in _MIGRATIONS if c not in cols]
        if cols and missing:  # an older data root: a backup before its schema changes (issue 22 item 4)
            from tlcore.runs import backup

            try:
                backup.backup(self.root)
            except TLError:  # a damaged database is not backed up; the migration below reports it
                pass
        with self.connect() as db:
            db.executescript(SCHEMA)
            for column, decl in missing:
                dbm.add_column(db, "runs", column, decl)
        for suffix in ("", "-wal", "-shm"):
            try:
                os.chmod(f"{self.db_path}{suffix}", FILE_MODE)
            except OSError:
                pass

    @contextmanager
    def connect(self):
        """A short-lived connection. A damaged or unreadable database raises :class:`StoreCorrupt`; an unreachable
        PostgreSQL server :class:`~tlcore.runs.db.DatabaseUnavailable`."""
        if self.engine == "postgresql":
            with self._pg.connect() as db:
                yield db
            return
        try:
            db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None, factory=dbm.SQLiteConnection)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=30000")
            _ensure_journal_mode(db, self.journal_mode)
            db.execute("PRAGMA synchronous=" + ("NORMAL" if self.journal_mode == "WAL" else "FULL"))
        except sqlite3.DatabaseError as exc:
            raise self._translate(exc) from None
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            translated = self._translate(exc)
            if translated is exc:
                raise
            raise translated from None
        finally:
            db.close()

    def _translate(self, exc: sqlite3.DatabaseError) -> Exception:
        msg = str(exc).lower()
        if isinstance(exc, sqlite3.IntegrityError) or not any(m in msg for m in _CORRUPT):
            return exc
        free = free_mb(self.root)
        if "full" in msg or ("disk i/o error" in msg and free is not None and free < LOW_SPACE_MB):
            return StorageFull(f"{self.db_path}: {disk_full_message(self.root)}")
        return StoreCorrupt(f"{self.db_path}: the run database is damaged or unreadable ({exc}). Check it with "
                            f"`python -m tlcore doctor`, then restore the newest good backup with "
                            f"`python -m tlcore doctor --restore` (backups in {self.root / 'backups'})")

    # -- runs -------------------------------------------------------------------------------------
    def create(self, config: dict, status: str = "running", run_id: str | None = None) -> str:
        """Create the run folder (config.json) and its index row; returns the run id.

        The row records this process (pid, start time, host): a reader that finds it gone while the run still
        says running marks the run failed (:meth:`reap_stale`). If the row cannot be written (a full disk) the
        folder is removed again: never a folder without a row.
        """
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        folder = self.folder(run_id)
        try:
            folder.mkdir(parents=True, exist_ok=False, mode=DIR_MODE)
        except OSError as exc:
            if is_disk_full(exc):
                raise StorageFull(f"{folder}: {disk_full_message(self.root)}") from None
            raise
        try:
            self.write_json(run_id, "config.json", config)
            from tlcore.liveness import process_start_time  # stdlib-only leaf

            src, tgt = config.get("source", {}), config.get("target", {})
            pid = os.getpid()
            with self.connect() as db:
                db.execute(
                    "INSERT INTO runs (run_id, name, status, strategy, backbone, source, target, seed, created, "
                    "config, owner, pid, pid_start, host) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (run_id, config.get("name") or "", status, config.get("strategy"), config.get("backbone"),
                     domain_label(src), domain_label(tgt), config.get("seed"), time.time(), json.dumps(config),
                     self.owner or current_user(), pid, process_start_time(pid), socket.gethostname()),
                )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return run_id

    def reap_stale(self) -> list[str]:
        """Mark failed every queued/running run whose owning process (recorded by :meth:`create` on this host)
        is gone: killed, crashed, or stopped by a full disk before it could record its end. Returns their ids.

        Runs created on another host (a Ray node) or before processes were recorded are left as they are.
        """
        with self.connect() as db:
            rows = db.execute("SELECT run_id, pid, pid_start, host FROM runs WHERE status IN ('queued', 'running') "
                              "AND pid IS NOT NULL").fetchall()
        if not rows:
            return []
        from tlcore.liveness import is_alive  # stdlib-only leaf

        here = socket.gethostname()
        stale = [r for r in rows if r["host"] == here and not is_alive(r["pid"], r["pid_start"])]
        reaped = []
        for r in stale:
            reason = (f"the process that ran it (pid {r['pid']} on {r['host']}) ended without finishing it "
                      "(killed, crashed or out of memory)")
            free = free_mb(self.root)
            if free is not None and free < LOW_SPACE_MB:
                reason += f"; {disk_full_message(self.root)}"
            try:
                with self.connect() as db:
                    cur = db.execute("UPDATE runs SET status = 'failed', finished = ?, error = ? WHERE run_id = ? "
                                     "AND status IN ('queued', 'running') AND pid = ?",
                                     (time.time(), reason, r["run_id"], r["pid"]))
            except StorageFull:  # nothing can be recorded now; the next reader tries again
                break
            if cur.rowcount:
                reaped.append(r["run_id"])
                append_jsonl(self.path(r["run_id"], "events.jsonl"), {"type": "status", "status": "failed",
                                                                       "error": reason}, r["run_id"])
        return reaped

    def update(self, run_id: str, **fields) -> None:
        if not fields:
            return
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown status {fields['status']}")
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.connect() as db:
            db.execute(f"UPDATE runs SET {cols} WHERE run_id = ?", (*fields.values(), run_id))

    def finish(self, run_id: str, status: str, metrics: dict | None = None, error: str | None = None,
               seconds: float | None = None) -> None:
        """Write metrics.json (atomically) and mark the run finished."""
        fields = {"status": status, "finished": time.time(), "error": error, "seconds": seconds}
        if metrics is not None:
            self.write_json(run_id, "metrics.json", metrics)
            tt, sv = metrics.get("target_test") or {}, metrics.get("source_val") or {}
            fields.update(target_acc=tt.get("accuracy"), target_f1=tt.get("f1_macro"), source_acc=sv.get("accuracy"))
        self.update(run_id, **fields)
        self._artifact_problem(run_id, self.artifacts.publish(run_id, self.folder(run_id)))

    def get(self, run_id: str) -> RunRecord:
        with self.connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"run {run_id!r} not found")
        if row["status"] in ("queued", "running") and row["pid"] and run_id in self.reap_stale():
            return self.get(run_id)
        return record_from_row(row)

    def list(self, status: str | None = None, limit: int = 10_000) -> list[RunRecord]:
        self.reap_stale()
        q, args = "SELECT * FROM runs", []
        if status:
            q += " WHERE status = ?"
            args.append(status)
        q += " ORDER BY created DESC LIMIT ?"
        args.append(limit)
        with self.connect() as db:
            return [record_from_row(r) for r in db.execute(q, args).fetchall()]

    def delete(self, run_id: str, actor: str | None = None) -> None:
        """Remove the index row first (listing stays consistent), then the folder.

        Args:
            actor: the signed-in user asking; None for the server's own operator (CLI). Only the run's owner
                or an admin may delete it.

        Raises:
            RunBusy: the run is still training (cancel its job first); nothing is removed.
            PermissionDenied: ``actor`` is neither the owner nor an admin.
        """
        rec = self.get(run_id)
        from tlcore.auth import authorize

        authorize(actor, rec.owner, f"run {run_id}", self.root)
        if rec.status in ("queued", "running"):
            jobs = self._active_jobs_of(run_id)
            raise RunBusy(f"run {run_id} is still {rec.status}" + (f" (job {', '.join(jobs)})" if jobs else "")
                          + "; cancel it first, then delete it")
        pupils = self._jobs_distilling_from(run_id)
        if pupils:  # its weights are referenced by a job that has not finished (RELIABILITY.md item 55)
            raise RunBusy(f"run {run_id} is the teacher of queued or running job(s) {', '.join(pupils)}; "
                          "delete it once they have finished, or cancel them first")
        with self.connect() as db:
            db.execute("DELETE FROM runs WHERE run_id = ? AND status NOT IN ('queued', 'running')", (run_id,))
        shutil.rmtree(self.folder(run_id), ignore_errors=True)
        try:
            self.artifacts.delete(run_id)
        except artifact_store.ArtifactsUnavailable as exc:  # the run is gone here; its stored copy is reported
            artifact_store.report(f"run {run_id} deleted, but not its stored files: {exc}")
        from tlcore.runs import audit

        audit.record(self, actor, "delete run", run_id, f"owner {rec.owner}")

    def _active_jobs_of(self, run_id: str) -> list[str]:
        try:
            with self.connect() as db:
                rows = db.execute("SELECT job_id FROM jobs WHERE run_id = ? AND status IN ('queued', 'running')",
                                  (run_id,)).fetchall()
        except sqlite3.OperationalError:  # no jobs table yet
            return []
        return [r["job_id"] for r in rows]

    def _jobs_distilling_from(self, run_id: str) -> list[str]:
        """Queued or running jobs whose config names ``run_id`` as the teacher to distil from."""
        try:
            with self.connect() as db:
                rows = db.execute("SELECT job_id, config FROM jobs WHERE status IN ('queued', 'running') "
                                  "AND config LIKE ? ORDER BY created", (f"%{run_id}%",)).fetchall()
        except sqlite3.OperationalError:  # no jobs table yet
            return []
        out = []
        for r in rows:
            try:
                params = json.loads(r["config"]).get("params") or {}
            except (ValueError, AttributeError):
                continue
            if isinstance(params, dict) and params.get("teacher_run_id") == run_id:
                out.append(r["job_id"])
        return out
