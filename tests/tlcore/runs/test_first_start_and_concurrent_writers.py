"""RELIABILITY.md items 73 (concurrent writers) and 74 (schema creation race at first start) on a team server:
several processes (dashboard sessions, the worker, CLI users) open a fresh data root at the same instant and
then write to it at once. Expected: no "database is locked", no "table already exists"/"duplicate column",
every write lands exactly once."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.conftest import ROOT

WRITER = r"""
import json, sys, time
from tlcore.jobs.queue import JobQueue
from tlcore.data.library import DomainLibrary
from tlcore.runs.store import RunStore
root, start, me, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
time.sleep(max(0.0, start - time.time()))          # every process opens the fresh root at the same instant
store = RunStore(root); q = JobQueue(store); DomainLibrary(root)
done = {"runs": [], "jobs": []}
for i in range(n):
    rid = store.create({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "name": f"p{me}-{i}"})
    for e in range(5):
        store.append_event(rid, {"type": "step", "step": e})
    store.finish(rid, "completed", metrics={"target_test": {"accuracy": 0.5}}, seconds=1.0)
    done["runs"].append(rid)
    done["jobs"].append(q.submit({"seconds": 0}, kind="probe", submit_key=f"shared-{i}"))  # same keys everywhere
print(json.dumps(done))
"""


def test_item_73_many_processes_open_a_fresh_data_root_at_once_and_write_concurrently(tmp_path):
    root, procs, writes = tmp_path / "fresh", 6, 5
    start = time.time() + 3.0
    ps = [subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(start), str(i), str(writes)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(procs)]
    outs = [p.communicate(timeout=240) for p in ps]
    for p, (out, err) in zip(ps, outs):
        assert p.returncode == 0, err[-3000:]
        assert "locked" not in err and "Traceback" not in err
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunStore

    store = RunStore(root)
    runs = store.list()
    assert len(runs) == procs * writes == len({r for res in results for r in res["runs"]})
    assert all(r.status == "completed" for r in runs)
    assert all(len(store.events(r.run_id)) == 5 for r in runs)
    # one job per submit key, whichever process asked first; every process got that same id back
    jobs = JobQueue(store).list()
    ids_per_key = [{res["jobs"][i] for res in results} for i in range(writes)]
    assert all(len(ids) == 1 for ids in ids_per_key), ids_per_key
    assert len(jobs) == writes


OPENER = r"""
import sys, time
from tlcore.data.library import DomainLibrary
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore
root, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
store = RunStore(root); JobQueue(store); DomainLibrary(root)
print("opened")
"""


def test_item_74_processes_migrating_an_older_database_at_once_all_proceed_and_migrate_once(tmp_path):
    import sqlite3

    from tlcore.runs.store import RunStore

    root = tmp_path / "old"
    store = RunStore(root)
    rid = store.create({"source": {"demo": "digits"}, "target": {"demo": "digits"}}, status="completed")
    with sqlite3.connect(store.db_path) as db:  # a data root from before runs had owners
        db.execute("ALTER TABLE runs DROP COLUMN owner")
    start = time.time() + 3.0
    ps = [subprocess.Popen([sys.executable, "-c", OPENER, str(root), str(start)], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=240) for p in ps]
    for p, (out, err) in zip(ps, outs):
        assert p.returncode == 0 and out.strip() == "opened", err[-3000:]
        assert "duplicate column" not in err and "already exists" not in err and "locked" not in err
    with sqlite3.connect(store.db_path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(runs)")]
    assert columns.count("owner") == 1
    assert [r.run_id for r in RunStore(root).list()] == [rid]
