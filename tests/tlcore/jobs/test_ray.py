"""The Ray executor on a local Ray cluster (``ray.init(num_cpus=2)``): real tiny jobs, recorded with their
node, and the same metrics as the local executor for the same seeds. Skipped when ray is not installed
(requirements-dev.txt installs it, so CI runs it)."""
import pytest

ray = pytest.importorskip("ray")

from tlcore.jobs.executors import LocalExecutor, RayExecutor  # noqa: E402
from tlcore.jobs.queue import JobQueue  # noqa: E402
from tlcore.jobs.worker import run_worker  # noqa: E402

FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 200, "strategy": "scratch", "device": "cpu"}
JOBS = [{**FAST, "seed": 0}, {**FAST, "seed": 1}, {**FAST, "strategy": "linear_probe", "seed": 0},
        {**FAST, "strategy": "fine_tuning", "seed": 2}]


# Loopback only: a head Ray starts always runs its dashboard process (even with include_dashboard=False, which
# loads UsageStatsHead alone), and UsageStatsHead.run() calls usage_lib.get_cluster_config_to_report() before it
# checks whether usage stats are enabled: without ~/ray_bootstrap_config.yaml that probes the cloud metadata services
# (http://169.254.169.254/ for Azure and AWS, a DNS lookup of metadata.google.internal; seen with strace -e connect,
# ray 2.60). Through this dead loopback proxy those requests end on 127.0.0.1 (no DNS either); loopback addresses
# bypass it, and Ray's gRPC channels use no proxy.
NO_CLOUD_PROBES = {k: v for name in ("http_proxy", "https_proxy") for k, v in
                   ((name, "http://127.0.0.1:9"), (name.upper(), "http://127.0.0.1:9"))}
NO_CLOUD_PROBES.update({"no_proxy": "127.0.0.1,localhost,::1", "NO_PROXY": "127.0.0.1,localhost,::1"})


@pytest.fixture(scope="module")
def cluster():
    with pytest.MonkeyPatch.context() as mp:  # the dashboard process inherits them when ray.init starts it
        for k, v in NO_CLOUD_PROBES.items():
            mp.setenv(k, v)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _metrics(q, job_ids):
    out = []
    for j in job_ids:
        snap = q.get(j)
        assert snap.status == "completed", (snap.error, q.log_tail(j))
        m = q.store.metrics(snap.run_id)["target_test"]
        losses = [round(float(h["loss"]), 6) for h in q.store.read_json(snap.run_id, "history.json", [])
                  if "loss" in h]
        out.append((round(m["accuracy"], 9), round(m["f1_macro"], 9), losses))
    return out


def test_ray_executor_runs_jobs_records_nodes_and_matches_the_local_executor(cluster, store):
    q = JobQueue(store)
    ray_ids = [q.submit(c, resources={"num_cpus": 1}) for c in JOBS]
    assert run_worker(once=True, poll_s=0.2, executor=RayExecutor(store.root)) == 0
    node_ids = {n["NodeID"][:12] for n in ray.nodes()}
    for j in ray_ids:
        snap = q.get(j)
        assert snap.executor == "ray"
        host, node_id = snap.node.split("/")
        assert node_id in node_ids, snap.node
        assert store.get(snap.run_id).owner == snap.owner
    local_ids = [q.submit(c, resources={"num_cpus": 1}) for c in JOBS]
    assert run_worker(max_jobs=2, once=True, poll_s=0.2, executor=LocalExecutor(store.root, gpus=[])) == 0
    assert all(q.get(j).executor == "local" for j in local_ids)
    on_ray, on_local = _metrics(q, ray_ids), _metrics(q, local_ids)
    assert len({str(m) for m in on_ray}) > 1, "the jobs differ (so equal metrics mean something)"
    assert on_ray == on_local


def test_ray_cancel_maps_to_ray_cancel(cluster, store):
    import threading
    import time

    q = JobQueue(store)
    long_job = q.submit({"seconds": 120}, kind="probe", resources={"num_cpus": 1})
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("rc", run_worker(once=True, poll_s=0.2,
                                                                           executor=RayExecutor(store.root))))
    t.start()
    end = time.time() + 60
    while time.time() < end and q.get(long_job).pid is None:
        time.sleep(0.2)
    assert q.get(long_job).pid, "the Ray task started"
    t0 = time.time()
    q.cancel(long_job)
    t.join(timeout=60)
    assert done.get("rc") == 0
    assert q.get(long_job).status == "cancelled"
    assert time.time() - t0 < 30


def test_light_jobs_run_as_ray_tasks_and_record_their_node(cluster, store):
    """The embeddings and shift-report kinds go through the Ray executor like training (issue 15 item 1)."""
    import sys
    from pathlib import Path

    from tlcore.jobs import light
    from tlcore.jobs.light import extraction_status, launch_extraction

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))
    from fake_runs import make_run
    from test_embeddings_page import add_before

    q = JobQueue(store)
    rid = make_run(store)
    add_before(store, rid)
    pair = ({"demo": "digits"}, {"demo": "digits"})
    jobs = [launch_extraction(store, rid, method="pca", owner="ana"),
            light.launch_shift_report(*pair, store.root, backbone="tiny_cnn", owner="ana", cap=40)]
    assert run_worker(max_jobs=1, once=True, poll_s=0.2, executor=RayExecutor(store.root)) == 0
    for job in jobs:
        snap = q.get(job)
        assert snap.status == "completed", (snap.error, q.log_tail(job))
        assert snap.executor == "ray" and "/" in (snap.node or "")  # host/ray-node-id
    assert extraction_status(store, rid)["status"] == "done"
    assert light.read_shift_report(store.root, *pair, "tiny_cnn", 40)["status"] == "done"


def test_cli_submit_worker_ray_and_jobs_json(tmp_path):
    """The issue's command-line path end to end: ``submit`` prints {"job_id": ...} last, ``worker --ray local``
    serves it through a Ray cluster of its own, ``jobs --json`` lists it with status, executor and node."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "TL_HOME": str(tmp_path / "home"), "TL_GPUS": "none", "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
           **NO_CLOUD_PROBES}  # `worker --ray local` starts a head of its own (its dashboard: NO_CLOUD_PROBES)

    def cli(*args, timeout=240):
        out = subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=timeout, env=env)
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout

    job_id = json.loads(cli("submit", "--probe", "0.2", "--label", "probe").strip().splitlines()[-1])["job_id"]
    queued = {j["job_id"]: j for j in json.loads(cli("jobs", "--json"))}
    assert queued[job_id]["status"] == "queued" and queued[job_id]["executor"] is None
    cli("worker", "--once", "--ray", "local")
    row = {j["job_id"]: j for j in json.loads(cli("jobs", "--json"))}[job_id]
    assert row["status"] == "completed", row
    assert row["executor"] == "ray" and row["node"] and "/" in row["node"], row
    assert set(row) >= {"job_id", "kind", "status", "run_id", "executor", "node"}
