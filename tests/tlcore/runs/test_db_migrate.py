"""Issue 26: ``python -m tlcore db migrate --to postgresql://...`` copies a data root's SQLite ``tl.db`` into an
empty PostgreSQL database (the session's server, a fresh schema), and a PostgreSQL server that cannot write (disk
full) raises the store's StorageFull like SQLite's full disk."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "strategy": "scratch"}


def _cli(home: Path, *args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TL_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**env, "TL_HOME": str(home)})


def _with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", "postgresql://postgres:pw-do-not-print@", 1)


def test_db_migrate_copies_a_sqlite_data_root_into_postgresql(tl_home, pg_server):
    from tlcore.data.library import DomainLibrary
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs import audit
    from tlcore.runs.store import RunStore

    sqlite_store = RunStore(tl_home)
    assert sqlite_store.engine == "sqlite"
    run_id = sqlite_store.create(CONFIG)
    sqlite_store.finish(run_id, "completed", metrics={"target_test": {"accuracy": 0.5}})
    q = JobQueue(sqlite_store)
    job_id = q.submit({**CONFIG, "seed": 3}, label="queued one", resources={"ray_resources": {"node_b": 1}})
    domain = DomainLibrary(tl_home).ingest_upload("books", "b.csv", io.BytesIO(b"text,label\na b,x\nc d,y\n"))
    audit.record(sqlite_store, "alice", "test action", "thing")
    before = {r.run_id: r for r in sqlite_store.list()}

    url = pg_server.schema_url()
    if "postgresql://postgres@" in url:  # trust authentication ignores a password: one that must not be printed
        url = _with_password(url)
    out = _cli(tl_home, "db", "migrate", "--to", url)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["tables"]["runs"] == 1 and report["tables"]["jobs"] == 1 and report["tables"]["domains"] == 1
    assert report["tables"]["audit"] >= 2  # the domain's and ours
    assert "pw-do-not-print" not in out.stdout + out.stderr

    pg = RunStore(tl_home, database_url=url)
    assert pg.engine == "postgresql"
    after = {r.run_id: r for r in pg.list()}
    assert after.keys() == before.keys()
    assert after[run_id].status == "completed" and after[run_id].config == before[run_id].config
    assert after[run_id].created == pytest.approx(before[run_id].created, abs=1e-6)  # no precision lost
    pq = JobQueue(pg)
    job = pq.get(job_id)
    assert job.status == "queued" and job.label == "queued one" and job.resources == {"ray_resources": {"node_b": 1}}
    assert pq.claim_next("w1").job_id == job_id  # the queue works on the copy
    with pg.connect() as db:
        names = [r["name"] for r in db.execute("SELECT name FROM domains").fetchall()]
        actions = [r["action"] for r in db.execute("SELECT action FROM audit ORDER BY ts").fetchall()]
    assert names == [domain["name"]] and "test action" in actions
    assert sqlite_store.get(run_id).status == "completed"  # the SQLite file is left as it was

    # a second migration would duplicate every row: refused, nothing copied
    again = _cli(tl_home, "db", "migrate", "--to", url)
    assert again.returncode == 2 and "already holds rows" in again.stderr, again.stderr
    assert "pw-do-not-print" not in again.stderr
    assert len(pg.list()) == 1


def test_db_migrate_refuses_a_bad_url_and_a_missing_file(tl_home, tmp_path):
    out = _cli(tl_home, "db", "migrate", "--to", "mysql://x@127.0.0.1/db")
    assert out.returncode == 2 and "postgresql://" in out.stderr
    out = _cli(tl_home, "db", "migrate", "--to", "postgresql://x@127.0.0.1:1/db", "--from", str(tmp_path / "no.db"))
    assert out.returncode == 2 and "no SQLite run database" in out.stderr


def test_a_full_postgresql_disk_is_storage_full(tl_home, pg_url):
    """The server's disk_full error (SQLSTATE 53100, what PostgreSQL raises when it cannot extend a file): a trigger
    makes the server raise it for the runs table."""
    import psycopg

    from tlcore.runs.store import RunStore, StorageFull

    store = RunStore(tl_home)
    assert store.engine == "postgresql"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION tl_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                     "USING ERRCODE = 'disk_full', MESSAGE = 'could not extend file \"base/1/2\": No space left on "
                     "device'; END $$")
        conn.execute("CREATE TRIGGER tl_full BEFORE INSERT ON runs FOR EACH ROW EXECUTE FUNCTION tl_full()")
    with pytest.raises(StorageFull, match=r"TL_DATABASE_URL=.*cannot write .*No space left on device"):
        store.create(CONFIG)
    assert not any(store.runs_dir.iterdir())  # never a folder without a row
    assert store.list() == []  # and the store still answers
