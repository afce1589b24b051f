"""RELIABILITY.md item 70 (polling load): every open Train page polls the newest jobs every 2 s and the sidebar
the queue counts every 5 s. On a team server's queue (20,000 finished jobs) each of those reads must use an
index, not scan and sort the whole table (measured before the fix: 108 ms per poll of the 20 newest jobs)."""
from __future__ import annotations

import json
import statistics
import time
from contextlib import contextmanager

from tlcore.jobs.queue import JobQueue


def _fill(store, n=20_000):
    now = time.time()
    config = json.dumps({"seconds": 0, "note": "x" * 2000})  # real train configs are ~2 KB
    with store.connect() as db:
        db.execute("BEGIN")
        db.executemany("INSERT INTO jobs (job_id, status, created, config, label, kind) VALUES (?,?,?,?,?,?)",
                       [(f"j{i}", "completed" if i < n - 5 else "queued", now - n + i, config, "l", "probe")
                        for i in range(n)])
        db.execute("COMMIT")


def test_item_70_polling_reads_use_indexes_on_a_large_queue(store, monkeypatch):
    q = JobQueue(store)
    _fill(store)
    statements: list[str] = []
    connect = type(store).connect

    @contextmanager
    def traced(self):
        with connect(self) as db:
            db.set_trace_callback(statements.append)
            yield db

    monkeypatch.setattr(type(store), "connect", traced)
    polls = {"newest jobs (Train page)": lambda: q.list(limit=20),
             "active jobs (sidebar GPUs)": lambda: q.list(active_only=True),
             "queue counts (sidebar)": q.counts}
    for name, poll in polls.items():
        statements.clear()
        poll()
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert selects, name
        monkeypatch.setattr(type(store), "connect", connect)
        with store.connect() as db:
            for sql in selects:
                plan = " | ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
                assert "SCAN jobs" not in plan or "INDEX" in plan, f"{name}: {sql} -> {plan}"
                assert "TEMP B-TREE FOR ORDER BY" not in plan or "status IN" in sql, f"{name}: {plan}"
        monkeypatch.setattr(type(store), "connect", traced)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            poll()
            times.append(time.perf_counter() - t)
        assert statistics.median(times) < 0.04, f"{name}: {statistics.median(times) * 1000:.0f} ms per poll"
