"""The job queue, persisted in the run store's SQLite database.

A job is a run configuration waiting to be trained. The dashboard and the CLI submit jobs; a worker
process (:mod:`tlcore.jobs.worker`) claims them and runs each in its own child process
(:mod:`tlcore.jobs.runner`). Every reader sees the same queue: a browser refresh or another user's
browser shows the same jobs.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass

from tlcore.errors import TLError
from tlcore.runs.store import RunStore

JOB_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    submit_key TEXT UNIQUE,
    label TEXT,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL, started REAL, finished REAL, heartbeat REAL,
    run_id TEXT, pid INTEGER, pid_start REAL, worker_id TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    error TEXT, progress TEXT, log_path TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL, heartbeat REAL, max_jobs INTEGER
);
"""

ACTIVE = ("queued", "running")
HEARTBEAT_STALE_S = 60.0
WORKER_STALE_S = 15.0


@dataclass(frozen=True)
class JobSnapshot:
    """One job as plain data (what pages poll)."""

    job_id: str
    label: str
    status: str
    created: float
    started: float | None
    finished: float | None
    heartbeat: float | None
    run_id: str | None
    pid: int | None
    cancel_requested: bool
    error: str | None
    progress: dict
    config: dict
    log_path: str | None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobNotFound(TLError):
    """No job with that id."""


class JobQueue:
    """Submit, list, cancel and claim jobs. Safe across threads and processes."""

    def __init__(self, store: RunStore | None = None):
        self.store = store or RunStore()
        self.logs_dir = self.store.root / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with self.store.connect() as db:
            db.executescript(JOB_SCHEMA)

    def submit(self, config: dict, label: str = "", submit_key: str | None = None) -> str:
        """Queue a validated config; with the same ``submit_key`` twice, the first job id is returned."""
        from tlcore.config import RunConfig
        from tlcore.pipeline import validate

        cfg = RunConfig.from_dict(config)
        validate(cfg)
        job_id = "job-" + uuid.uuid4().hex[:10]
        log_path = str(self.logs_dir / f"{job_id}.log")
        with self.store.connect() as db:
            if submit_key:
                row = db.execute("SELECT job_id FROM jobs WHERE submit_key = ?", (submit_key,)).fetchone()
                if row:
                    return row["job_id"]
            db.execute("INSERT INTO jobs (job_id, submit_key, label, config, status, created, log_path) "
                       "VALUES (?,?,?,?,?,?,?)",
                       (job_id, submit_key, label or _label(cfg.to_dict()), cfg.to_json(), "queued", time.time(),
                        log_path))
        return job_id

    def get(self, job_id: str) -> JobSnapshot:
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"job {job_id!r} not found")
        return _snapshot(row)

    def list(self, limit: int = 200, active_only: bool = False) -> list[JobSnapshot]:
        q = "SELECT * FROM jobs"
        if active_only:
            q += " WHERE status IN ('queued', 'running')"
        q += " ORDER BY created DESC LIMIT ?"
        with self.store.connect() as db:
            return [_snapshot(r) for r in db.execute(q, (limit,)).fetchall()]

    def counts(self) -> dict:
        with self.store.connect() as db:
            rows = db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").fetchall()
        return {r["status"]: r["n"] for r in rows}

    def cancel(self, job_id: str) -> str:
        """Cancel a queued job at once; ask a running job to stop (its worker enforces it). Returns the status."""
        with self.store.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise JobNotFound(f"job {job_id!r} not found")
            status = row["status"]
            if status == "queued":
                db.execute("UPDATE jobs SET status='cancelled', finished=?, error='cancelled before it started' "
                           "WHERE job_id=?", (time.time(), job_id))
                status = "cancelled"
            elif status == "running":
                db.execute("UPDATE jobs SET cancel_requested=1 WHERE job_id=?", (job_id,))
            db.execute("COMMIT")
        return status

    def cancel_requested(self, job_id: str) -> bool:
        with self.store.connect() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def delete(self, job_id: str) -> None:
        with self.store.connect() as db:
            db.execute("DELETE FROM jobs WHERE job_id = ? AND status NOT IN ('queued', 'running')", (job_id,))

    def claim_next(self, worker_id: str) -> JobSnapshot | None:
        """Atomically move the oldest queued job to running for ``worker_id``."""
        with self.store.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT job_id FROM jobs WHERE status='queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                db.execute("COMMIT")
                return None
            now = time.time()
            db.execute("UPDATE jobs SET status='running', started=?, heartbeat=?, worker_id=? WHERE job_id=?",
                       (now, now, worker_id, row["job_id"]))
            db.execute("COMMIT")
        return self.get(row["job_id"])

    def update(self, job_id: str, **fields) -> None:
        if "progress" in fields and not isinstance(fields["progress"], (str, type(None))):
            fields["progress"] = json.dumps(fields["progress"])
        cols = ", ".join(f"{k} = ?" for k in fields)
        with self.store.connect() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE job_id = ?", (*fields.values(), job_id))

    def finish(self, job_id: str, status: str, error: str | None = None) -> None:
        """Mark a running job finished, unless it already is (first writer wins)."""
        with self.store.connect() as db:
            db.execute("UPDATE jobs SET status=?, finished=?, error=COALESCE(?, error) "
                       "WHERE job_id=? AND status='running'", (status, time.time(), error, job_id))

    def log_tail(self, job_id: str, chars: int = 4000) -> str:
        snap = self.get(job_id)
        if not snap.log_path or not os.path.isfile(snap.log_path):
            return ""
        with open(snap.log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - chars))
            return fh.read().decode("utf-8", "replace")

    # -- workers ----------------------------------------------------------------------------------
    def register_worker(self, worker_id: str, max_jobs: int) -> None:
        now = time.time()
        with self.store.connect() as db:
            db.execute("INSERT OR REPLACE INTO workers VALUES (?,?,?,?,?,?)",
                       (worker_id, os.getpid(), os.uname().nodename, now, now, max_jobs))

    def worker_heartbeat(self, worker_id: str) -> None:
        with self.store.connect() as db:
            db.execute("UPDATE workers SET heartbeat=? WHERE worker_id=?", (time.time(), worker_id))

    def remove_worker(self, worker_id: str) -> None:
        with self.store.connect() as db:
            db.execute("DELETE FROM workers WHERE worker_id=?", (worker_id,))

    def live_workers(self) -> list[dict]:
        with self.store.connect() as db:
            rows = db.execute("SELECT * FROM workers WHERE heartbeat > ?", (time.time() - WORKER_STALE_S,)).fetchall()
        return [dict(r) for r in rows]


def _label(cfg: dict) -> str:
    def dom(d):
        return d.get("name") or (f"demo:{d['demo']}" if d.get("demo") else os.path.basename(str(d.get("path"))))

    return f"{cfg['strategy']} · {cfg['backbone']} · {dom(cfg['source'])} → {dom(cfg['target'])}"


def _snapshot(row) -> JobSnapshot:
    d = dict(row)
    return JobSnapshot(job_id=d["job_id"], label=d["label"] or "", status=d["status"], created=d["created"],
                       started=d["started"], finished=d["finished"], heartbeat=d["heartbeat"], run_id=d["run_id"],
                       pid=d["pid"], cancel_requested=bool(d["cancel_requested"]), error=d["error"],
                       progress=json.loads(d["progress"]) if d["progress"] else {},
                       config=json.loads(d["config"]), log_path=d["log_path"])
