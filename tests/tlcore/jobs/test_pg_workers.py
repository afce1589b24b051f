"""Issue 26 target: two workers (each with its own data root, as on two machines) claim from one PostgreSQL queue
while they are SIGKILLed and restarted 5 times under 20 probe jobs: every job completes and none runs twice.

Probe jobs (real job processes that wait and append where they ran to their worker's ``logs/probes.jsonl``) keep it
fast. A killed worker's job processes run on in their own process groups and are adopted by a live worker, or finish
and record their result themselves; a job claimed but not yet bound to a process goes back to the queue."""
import json
import os
import random
import signal
import subprocess
import sys
import time

from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore

from tests.conftest import ROOT


def start_worker(home):
    env = {**os.environ, "TL_HOME": str(home)}  # TL_DATABASE_URL (pg_url) is inherited
    return subprocess.Popen([sys.executable, "-m", "tlcore", "worker", "--max-jobs", "2"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def probes(*homes) -> list[dict]:
    out = []
    for home in homes:
        p = home / "logs" / "probes.jsonl"
        if p.exists():
            out += [json.loads(ln) for ln in p.read_text().splitlines()]
    return out


def test_two_workers_on_one_postgres_queue_with_5_kills_run_every_job_exactly_once(pg_url, tmp_path):
    homes = [tmp_path / "node_a", tmp_path / "node_b"]
    q = JobQueue(RunStore(homes[0]))
    assert q.store.engine == "postgresql"
    ids = [q.submit({"seconds": 0.3}, kind="probe") for _ in range(20)]
    workers = [start_worker(h) for h in homes]
    rng = random.Random(26)
    try:
        for _ in range(5):
            time.sleep(rng.uniform(0.8, 2.0))  # any moment: claiming, spawning, mid-job, finishing
            i = rng.randrange(2)
            os.kill(workers[i].pid, signal.SIGKILL)
            workers[i].wait()
            workers[i] = start_worker(homes[i])
        deadline = time.time() + 240  # ~15 s on an idle 2-core machine; far more when it is shared
        while time.time() < deadline and any(q.get(j).status in ("queued", "running") for j in ids):
            time.sleep(0.5)
        statuses = {j: q.get(j).status for j in ids}
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
                w.wait(timeout=60)
    assert set(statuses.values()) == {"completed"}, statuses
    ran = [p["job_id"] for p in probes(*homes)]
    assert sorted(ran) == sorted(ids), "every job ran exactly once"
    assert all(probes(h) for h in homes), "both workers ran jobs from the one queue"
