"""RELIABILITY.md item 81: two users (processes) claim jobs for one GPU at the same instant: every job is
claimed exactly once (BEGIN IMMEDIATE claim)."""
import json
import os
import subprocess
import sys

from tlcore.jobs.queue import JobQueue

from tests.conftest import ROOT

DB_ENGINES = ("sqlite", "postgresql")  # each test runs on both engines (tests/tlcore/conftest.py)

CLAIMER = """
import json, sys
from tlcore.jobs.queue import JobQueue
q = JobQueue()
got = []
while True:
    s = q.claim_next(sys.argv[1])
    if s is None:
        break
    got.append(s.job_id)
print(json.dumps(got))
"""


def test_item_81_two_processes_claiming_in_a_loop_claim_every_job_exactly_once(store):
    q = JobQueue(store)
    ids = [q.submit({"seconds": 0}, kind="probe") for _ in range(60)]
    env = {**os.environ, "TL_HOME": str(store.root), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, f"w{i}"], env=env, stdout=subprocess.PIPE, text=True)
             for i in range(3)]
    claimed = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        claimed += json.loads(out.strip().splitlines()[-1])
    assert sorted(claimed) == sorted(ids)
    assert {q.get(j).status for j in ids} == {"running"}
