"""The job queue, persisted in the run store's database (the SQLite file, or PostgreSQL with ``TL_DATABASE_URL``).

A job is a run configuration waiting to be trained. The dashboard and the CLI submit jobs; a worker
process (:mod:`tlcore.jobs.worker`) claims them and runs each in its own child process
(:mod:`tlcore.jobs.runner`). Every reader sees the same queue: a browser refresh or another user's
browser shows the same jobs.

Jobs are typed (``kind``): ``train`` (a RunConfig), ``classical`` (the classical baseline of a RunConfig's pair,
never fitted inside a page), the tasks (:mod:`tlcore.jobs.tasks`: ``embeddings`` and ``shift`` for the
Embeddings page's projections and the Domains page's shift report; ``predict``, ``export`` and ``compress`` for the
Predict page and the exports panel) and ``probe`` (a diagnostic that sleeps and reports where it ran: checks a
worker or a Ray cluster without training). Users are served round-robin (:mod:`tlcore.jobs.fair`). Each job
records its ``owner`` (only the owner or an admin may cancel or delete it), the ``executor`` that ran it (``local``
or ``ray``), the ``node`` (host) and the ``gpus`` it was given.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid

from tlcore import settings
from tlcore.errors import ConfigError, TLError
from tlcore.job_context import job_folder
from tlcore.jobs import fair
from tlcore.jobs.job_rows import (JobNotFound, JobSnapshot, check_ray_resources,  # noqa: F401 - also imported
                                  check_resources, job_label, snapshot)  # from here (tlcore.jobs, the CLI, tests)
from tlcore.jobs.tasks import TASK_KINDS
from tlcore.producers import PRODUCERS, check, producer_for
from tlcore.runs import artifact_store, audit
from tlcore.runs.files import tail_text
from tlcore.runs.store import RunStore, current_user
from tlcore.runs.db import add_column, for_update

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
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);  -- the pages poll the newest jobs every 2 s
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL, heartbeat REAL, max_jobs INTEGER
);
"""

JOB_COLUMNS = {"kind": "TEXT NOT NULL DEFAULT 'train'", "owner": "TEXT", "executor": "TEXT", "node": "TEXT",
               "gpus": "TEXT", "resources": "TEXT"}
KINDS = (*PRODUCERS, "probe", *TASK_KINDS)  # a run of each producer (train, classical), a probe, a light task
WORKER_STALE_S = 15.0


class JobQueue:
    """Submit, list, cancel and claim jobs. Safe across threads and processes."""

    def __init__(self, store: RunStore | None = None):
        self.store = store or RunStore()
        self.logs_dir = self.store.root / "logs"
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(self.logs_dir, 0o700)
        except OSError:
            pass
        with self.store.connect() as db:
            db.executescript(JOB_SCHEMA)
            for col, decl in JOB_COLUMNS.items():
                add_column(db, "jobs", col, decl)
            fair.ensure_index(db)

    def submit(self, config: dict, label: str = "", submit_key: str | None = None, kind: str = "train",
               owner: str | None = None, resources: dict | None = None) -> str:
        """Queue a validated job; with the same ``submit_key`` twice (even at the same instant from several
        processes), the first job id is returned.

        Args:
            kind: ``train`` (config is a RunConfig dict) or ``probe`` (``{"seconds": s}``).
            owner: who submits (default: :func:`~tlcore.runs.store.current_user`).
            resources: ``{"num_cpus": c, "num_gpus": g, "ray_resources": {name: amount}}`` for the executor (Ray
                task options; locally, ``num_gpus`` 0 runs without a GPU, ``num_cpus`` sets the job's torch threads
                and ``ray_resources``, custom Ray resources that pin a job to a kind of node, are ignored).
        """
        if kind not in KINDS:
            raise ConfigError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        if kind == "train" and isinstance(config, dict):
            kind = producer_for(config).key  # e.g. the classical baseline: a job like any other, its own kind
        if kind in PRODUCERS:  # validated by its producer, with the store (distillation checks its teacher run)
            cfg = check(config, self.store, PRODUCERS[kind])
            text, label = cfg.to_json(), label or job_label(cfg.to_dict())
        elif kind in TASK_KINDS:
            from tlcore.jobs import tasks

            cfg, default_label = tasks.check(kind, config, self.store)
            text, label = json.dumps(cfg), label or default_label
        else:
            seconds = config.get("seconds", 0.5)
            if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
                raise ConfigError(f"seconds: expected a number of seconds in [0, 3600], got {seconds!r}")
            text, label = json.dumps(config), label or f"probe · {seconds:g} s"
        resources = check_resources(resources or {})
        owner = owner or current_user()
        self._check_quota(owner, submit_key)
        job_id = "job-" + uuid.uuid4().hex[:10]
        log_path = str(self.logs_dir / f"{job_id}.log")
        row = (job_id, submit_key, label, text, "queued", time.time(), log_path, kind, owner,
               json.dumps(resources))
        for _ in range(3):
            with self.store.connect() as db:
                if submit_key:
                    found = db.execute("SELECT job_id FROM jobs WHERE submit_key = ?", (submit_key,)).fetchone()
                    if found:
                        return found["job_id"]
                try:
                    db.execute("INSERT INTO jobs (job_id, submit_key, label, config, status, created, log_path, kind,"
                               " owner, resources) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
                except sqlite3.IntegrityError:
                    continue  # the same key was inserted by a concurrent submit: return that job
            audit.record(self.store, row[8], "submit job", job_id, label)
            return job_id
        raise TLError(f"submit: could not queue the job with key {submit_key!r}")

    def _check_quota(self, owner: str, submit_key: str | None) -> None:
        """At most ``TL_MAX_QUEUED_PER_USER`` (default 200) queued jobs per user: one user cannot fill the queue."""
        limit = settings.get_int("TL_MAX_QUEUED_PER_USER")
        if limit <= 0:
            return
        with self.store.connect() as db:
            if submit_key and db.execute("SELECT 1 FROM jobs WHERE submit_key=?", (submit_key,)).fetchone():
                return  # a repeated submit returns the existing job
            n = db.execute("SELECT COUNT(*) FROM jobs WHERE owner=? AND status='queued'", (owner,)).fetchone()[0]
        if n >= limit:
            raise ConfigError(f"queue quota: {owner} already has {n} queued job(s), the limit is {limit} "
                              "(TL_MAX_QUEUED_PER_USER); wait for some to run or cancel some")

    def get(self, job_id: str) -> JobSnapshot:
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"job {job_id!r} not found")
        return snapshot(row)

    def list(self, limit: int = 200, active_only: bool = False,
             kinds: tuple[str, ...] | None = None) -> list[JobSnapshot]:
        """The newest jobs first; ``active_only``: queued or running; ``kinds``: only jobs of those kinds."""
        where, args = [], []
        if active_only:
            where.append("status IN ('queued', 'running')")
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args += list(kinds)
        q = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created DESC LIMIT ?"
        with self.store.connect() as db:
            return [snapshot(r) for r in db.execute(q, (*args, limit)).fetchall()]

    def counts(self) -> dict:
        with self.store.connect() as db:
            rows = db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").fetchall()
        return {r["status"]: r["n"] for r in rows}

    def cancel(self, job_id: str, actor: str | None = None) -> str:
        """Cancel a queued job at once; ask a running job to stop (its worker enforces it). Returns the status.

        Args:
            actor: the signed-in user asking (None: the server's operator); only the owner or an admin may cancel.
        """
        from tlcore.auth import authorize

        authorize(actor, self.get(job_id).owner, f"job {job_id}", self.store.root)
        with self.store.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status FROM jobs WHERE job_id = ?" + for_update(db), (job_id,)).fetchone()
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
        audit.record(self.store, actor, "cancel job", job_id, f"was {row['status']}")
        return status

    def cancel_requested(self, job_id: str) -> bool:
        with self.store.connect() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def delete(self, job_id: str, actor: str | None = None) -> None:
        from tlcore.auth import authorize

        authorize(actor, self.get(job_id).owner, f"job {job_id}", self.store.root)
        with self.store.connect() as db:
            cur = db.execute("DELETE FROM jobs WHERE job_id = ? AND status NOT IN ('queued', 'running')", (job_id,))
        if cur.rowcount:
            shutil.rmtree(job_folder(self.store.root, job_id), ignore_errors=True)  # its CSV or export ZIP
            audit.record(self.store, actor, "delete job", job_id)

    def next_queued(self, kinds: tuple[str, ...] | None = None) -> JobSnapshot | None:
        """The job :meth:`claim_next` would take (to check it fits a free GPU first): users served round-robin
        with a per-user running limit (:mod:`tlcore.jobs.fair`); with ``kinds``, among jobs of those kinds (a
        light slot is free)."""
        with self.store.connect() as db:
            row = fair.next_row(db, kinds)
        return snapshot(row) if row else None

    def claim_next(self, worker_id: str, job_id: str | None = None, **fields) -> JobSnapshot | None:
        """Atomically move the next queued job in fair order (or ``job_id`` if still queued) to running for
        ``worker_id``; ``fields`` (executor, node, gpus) are set in the same transaction.

        SQLite: ``BEGIN IMMEDIATE`` makes this the only writer. PostgreSQL: the chosen row is locked with ``FOR
        UPDATE SKIP LOCKED`` (a concurrent claimer skips it and takes the next), and the update still requires
        ``status='queued'``: two workers never take one job."""
        with self.store.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            if job_id:
                row = db.execute("SELECT job_id FROM jobs WHERE status='queued' AND job_id=?"
                                 + for_update(db, skip_locked=True), (job_id,)).fetchone()
            else:
                row = fair.next_row(db, lock=True)
            if row is None:
                db.execute("COMMIT")
                return None
            now = time.time()
            extra = "".join(f", {k}=?" for k in fields)
            cur = db.execute(f"UPDATE jobs SET status='running', started=?, heartbeat=?, worker_id=?, pid=NULL, "
                             f"pid_start=NULL{extra} WHERE job_id=? AND status='queued'",
                             (now, now, worker_id, *fields.values(), row["job_id"]))
            db.execute("COMMIT")
        return self.get(row["job_id"]) if cur.rowcount == 1 else None

    def bind_process(self, job_id: str, worker_id: str | None, pid: int, pid_start: float | None) -> bool:
        """Record ``pid`` as the job's process, only while the job is running for ``worker_id`` and no other
        process holds it. Returns False when the job was re-queued, re-claimed or finished meanwhile: the caller
        must then not run it (this is what keeps a job from running twice across worker restarts).

        A row that already names this very process (``pid`` and its start time, written by the worker that
        spawned it) is this process's whatever worker now holds it: a worker killed while its job process was
        still starting has its job adopted by the next worker (``worker_id`` changes), and the job process must
        then run on, not exit."""
        cond = "job_id=? AND status='running' AND (pid IS NULL OR pid=?)"
        args = [job_id, pid]
        if worker_id:
            cond = ("job_id=? AND status='running' AND ((pid IS NULL AND worker_id=?) "
                    "OR (pid=? AND (pid_start IS NULL OR ? IS NULL OR pid_start=?)))")
            args = [job_id, worker_id, pid, pid_start, pid_start]
        with self.store.connect() as db:
            cur = db.execute(f"UPDATE jobs SET pid=?, pid_start=?, heartbeat=? WHERE {cond}",
                             (pid, pid_start, time.time(), *args))
            return cur.rowcount == 1

    def requeue_unbound(self, job_id: str, worker_id: str) -> bool:
        """Put a claimed job whose worker died before its process started back in the queue."""
        with self.store.connect() as db:
            cur = db.execute("UPDATE jobs SET status='queued', started=NULL, worker_id=NULL, gpus=NULL, node=NULL "
                             "WHERE job_id=? AND status='running' AND pid IS NULL AND worker_id=?",
                             (job_id, worker_id))
            return cur.rowcount == 1

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
        """The end of the job's log: its file here, else the copy a job that ran on another node (a Ray node
        without this data root) left in the artifact store (``TL_ARTIFACTS_URL``) when it ended."""
        snap = self.get(job_id)
        if snap.log_path and os.path.isfile(snap.log_path):
            return tail_text(snap.log_path, chars)
        if not self.store.artifacts.url or snap.status == "queued":  # a queued job has no log anywhere yet
            return ""
        try:
            stored = self.store.artifacts.fetch_shared(artifact_store.JOB_LOGS, f"{job_id}.log")
        except artifact_store.ArtifactsUnavailable as exc:
            return f"(the job's log cannot be read from the artifact store: {exc})"
        return tail_text(stored, chars) if stored else ""

    # -- workers ----------------------------------------------------------------------------------
    def register_worker(self, worker_id: str, max_jobs: int) -> None:
        now = time.time()
        with self.store.connect() as db:
            db.execute("INSERT INTO workers (worker_id, pid, host, started, heartbeat, max_jobs) VALUES (?,?,?,?,?,?) "
                       "ON CONFLICT (worker_id) DO UPDATE SET pid=excluded.pid, host=excluded.host, "
                       "started=excluded.started, heartbeat=excluded.heartbeat, max_jobs=excluded.max_jobs",
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
