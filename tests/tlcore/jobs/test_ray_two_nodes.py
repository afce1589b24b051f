"""Issue 26 item 4: Ray across nodes without a shared filesystem, on one machine.

Two Ray nodes started by ``ray_node.py`` (a head and a second node offering the custom resource ``node_b``, each in
its own process with its own temp dir, node address 127.0.0.1 and every port on 127.0.0.1 outside 10002-19999;
``ray start`` cannot keep a joining node on loopback, see ray_node.py), a real PostgreSQL server (the session's, a fresh schema),
moto's S3 server and an ``mlflow server``. The second node runs with its own ``TL_HOME`` and without any of the
store/artifact/tracking settings in its environment: its jobs get them from the worker (the Ray task's argument) and
work in that node's data root, so nothing needs the head's. Three tiny jobs pinned to ``node_b`` (one through
``submit --ray-resources``) complete there; from the head, ``tlcore runs``/``show`` list them with their metrics
(read from the bucket) and so does the dashboard's Compare page, their files are in the bucket and each is an MLflow
run with its metrics. The third job's target is a domain saved in the head's library, absent from node_b's view
of the disk while the jobs run: node_b reads it from the bucket. Each job's log is read from the head (it is in
the bucket). Skipped with the reason when ray, the PostgreSQL binaries, moto or mlflow are missing. The Ray nodes are stopped by signalling the
two ``ray_node.py`` processes this test started (never ``ray stop``, which stops every Ray on the machine).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.tlcore.runs.servers import binary, free_port, stop

pytest.importorskip("ray", reason="ray is a dev dependency (requirements-dev.txt)")
pytest.importorskip("mlflow", reason="mlflow is a dev dependency (mlflow-skinny at run time)")
pytest.importorskip("boto3", reason="boto3 (moto's client) is a dev dependency")

ROOT = Path(__file__).resolve().parents[3]
CREDS = {"AWS_ACCESS_KEY_ID": "tl-test-key", "AWS_SECRET_ACCESS_KEY": "tl-test-secret-do-not-print",
         "AWS_DEFAULT_REGION": "us-east-1"}
JOB = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
       "image_size": 16, "batch_size": 32, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}
FORWARDED = ("TL_DATABASE_URL", "TL_ARTIFACTS_URL", "AWS_", "MLFLOW_")
# a Ray driver (ray.init(address=...)) with clusters "enabled" swaps 127.0.0.1 for the machine's own address
DRIVER_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0",
              "RAY_DISABLE_DOCKER_CPU_WARNING": "1"}


def _node_env(home: Path) -> dict:
    """A Ray node's environment: its own TL_HOME and none of the store/artifact/tracking settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FORWARDED)}  # RAY_AUTH_* stay (the fixture's)
    env.update({"TL_HOME": str(home), "TL_GPUS": "none", "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_DISABLE_DOCKER_CPU_WARNING": "1", "PYTHONPATH": str(ROOT)})
    return env


def _ray_start(temp: Path, env: dict, log: Path, head_port: int | None = None, resources: dict | None = None):
    """One Ray node on 127.0.0.1 (``ray_node.py``, its own process group): a head when ``head_port`` is None, else a
    node joining it; returns the process and the GCS port once the node is up."""
    ports = {k: free_port() for k in ("node_manager", "object_manager", "dashboard_agent_listen", "metrics_agent",
                                      "metrics_export", "runtime_env_agent")}
    cmd = [sys.executable, str(Path(__file__).with_name("ray_node.py")), f"--temp-dir={temp}",
           f"--ports={json.dumps(ports)}"]
    if head_port is None:
        port = free_port()
        cmd += [f"--head-port={port}", "--num-cpus=1"]
    else:
        port = head_port
        cmd += [f"--join=127.0.0.1:{head_port}", "--num-cpus=2", f"--resources={json.dumps(resources or {})}"]
    proc = subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and b'"gcs_address"' not in log.read_bytes():
        time.sleep(0.5)  # it prints its GCS address once its processes are up
    assert proc.poll() is None and b'"gcs_address"' in log.read_bytes(), log.read_text(errors="replace")[-3000:]
    return proc, port


def _stop_ray(proc, temp: Path) -> None:
    """End one ``ray_node.py`` (SIGTERM: it stops the processes of its node), then any process left whose
    command line names this node's own temp dir (ours alone)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    for pid_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(temp) in cmdline:
            try:
                os.kill(int(pid_dir.name), signal.SIGKILL)
            except OSError:
                pass


def _wait_http(url: str, proc, deadline: float, log: Path) -> None:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer: {log.read_text(errors='replace')[-2000:]}")


def _saved_digits(home: Path) -> dict:
    """A ZIP of 120 digits (the demo's target side, PNG per class folder) saved in the head's domain library
    (stored in the bucket too); returns its spec."""
    import io
    import zipfile

    from PIL import Image

    from tlcore.data.demos import load_demo
    from tlcore.data.library import DomainLibrary

    domain, buf = load_demo("digits", "target"), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (pixels, label) in enumerate(zip(domain.samples[:120], domain.labels[:120])):
            png = io.BytesIO()
            Image.fromarray(pixels).save(png, format="PNG")
            z.writestr(f"{label}/{i}.png", png.getvalue())
    lib = DomainLibrary(home)
    entry = lib.ingest_upload("saved digits", "digits.zip", io.BytesIO(buf.getvalue()))
    assert "artifacts_problem" not in entry, entry
    return lib.spec(entry["domain_id"])


WAIT_FOR_NODE_B = """
import json, sys, time
import ray
ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)
end = time.monotonic() + 120
while time.monotonic() < end and not ray.cluster_resources().get("node_b"):
    time.sleep(0.5)
print(json.dumps({n["NodeID"]: {**n["Resources"], "address": n["NodeManagerAddress"]}
                  for n in ray.nodes() if n["Alive"]}))
"""


def _nodes_once_node_b_joined(address: str, log: Path) -> dict:
    """{node id: resources and address} of the cluster's live nodes once node_b has joined (a driver of its own, not this
    test process: Ray keeps its settings per process)."""
    out = subprocess.run([sys.executable, "-c", WAIT_FOR_NODE_B, address], capture_output=True, text=True,
                         timeout=180, env={**os.environ, **DRIVER_ENV})
    assert out.returncode == 0, out.stderr[-3000:] + log.read_text(errors="replace")[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ray_logs(temp: Path) -> str:
    tails = []
    for f in sorted(temp.glob("session_*/logs/worker-*")):
        text = f.read_text(errors="replace").strip()
        if text:
            tails.append(f"== {f.name}\n{text[-1500:]}")
    return "\n".join(tails)[-6000:]


@pytest.fixture
def cluster(pg_url, tmp_path, monkeypatch):
    """PostgreSQL (``pg_url``), moto, mlflow and the two Ray nodes, started together; the test's environment is
    the head's (the worker's): TL_HOME, TL_DATABASE_URL, TL_ARTIFACTS_URL, AWS_*, MLFLOW_*."""
    import boto3

    base = Path(tempfile.mkdtemp(prefix="tlr2_"))  # short: Ray's socket paths live under the temp dirs
    head_tmp, b_tmp = base / "h", base / "b"
    head_home, b_home = tmp_path / "head_home", tmp_path / "node_b_home"
    s3_port, mlflow_port = free_port(), free_port()
    # Ray's token authentication (as the README advises): this cluster's own token, in every node's and driver's
    # environment (a token file some other cluster left in ~/.ray would otherwise turn it on half-way)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
    procs = {}
    try:
        procs["moto"] = subprocess.Popen([binary("moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
                                         stdout=open(tmp_path / "moto.log", "wb"), stderr=subprocess.STDOUT,
                                         start_new_session=True)
        procs["mlflow"] = subprocess.Popen(
            [binary("mlflow"), "server", "--host", "127.0.0.1", "--port", str(mlflow_port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--artifacts-destination",
             str(tmp_path / "mlflow_artifacts")], stdout=open(tmp_path / "mlflow.log", "wb"),
            stderr=subprocess.STDOUT, start_new_session=True)
        head, port = _ray_start(head_tmp, _node_env(head_home), tmp_path / "ray_head.log")
        procs["ray_head"] = head
        node_b, _ = _ray_start(b_tmp, _node_env(b_home), tmp_path / "ray_b.log", head_port=port,
                               resources={"node_b": 1})
        procs["ray_b"] = node_b
        endpoint = f"http://127.0.0.1:{s3_port}"
        _wait_http(endpoint + "/", procs["moto"], time.monotonic() + 30, tmp_path / "moto.log")
        bucket = f"tl-{uuid.uuid4().hex[:12]}"
        for k, v in {**CREDS, "AWS_ENDPOINT_URL": endpoint, "TL_ARTIFACTS_URL": f"s3://{bucket}/runs",
                     "TL_HOME": str(head_home), "TL_GPUS": "none",
                     "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
                     "MLFLOW_EXPERIMENT_NAME": f"tl-ray-{uuid.uuid4().hex[:8]}"}.items():
            monkeypatch.setenv(k, v)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)

        nodes = _nodes_once_node_b_joined(f"127.0.0.1:{port}", tmp_path / "ray_b.log")
        assert node_b.poll() is None and len(nodes) == 2, nodes
        assert {n["address"] for n in nodes.values()} == {"127.0.0.1"}, nodes  # both nodes on loopback
        b_id = next(i for i, r in nodes.items() if r.get("node_b"))
        _wait_http(f"http://127.0.0.1:{mlflow_port}/health", procs["mlflow"], time.monotonic() + 150,
                   tmp_path / "mlflow.log")
        yield {"address": f"127.0.0.1:{port}", "head_home": head_home, "b_home": b_home, "b_id": b_id,
               "b_tmp": b_tmp, "s3": s3, "bucket": bucket, "mlflow": f"http://127.0.0.1:{mlflow_port}"}
    finally:
        for name, temp in (("ray_b", b_tmp), ("ray_head", head_tmp)):
            if name in procs:
                _stop_ray(procs[name], temp)
        for name in ("mlflow", "moto"):
            if name in procs:
                stop(procs[name])
        shutil.rmtree(base, ignore_errors=True)


def _cli(env: dict, *args, timeout: float = 120) -> str:
    out = subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_jobs_pinned_to_a_second_ray_node_need_no_shared_filesystem(cluster):
    from mlflow.tracking import MlflowClient

    from tlcore import settings
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunStore

    head_home, b_home = cluster["head_home"], cluster["b_home"]
    env = {**os.environ, **DRIVER_ENV}
    store = RunStore(head_home)
    assert store.engine == "postgresql"
    q = JobQueue(store)

    cfg = head_home.parent / "job.json"
    cfg.write_text(json.dumps({**JOB, "seed": 0}))
    first = json.loads(_cli(env, "submit", str(cfg), "--num-cpus", "1", "--ray-resources", '{"node_b": 1}')
                       .strip().splitlines()[-1])["job_id"]
    saved = _saved_digits(head_home)  # the third job's target: a domain saved on the head
    jobs = [first] + [q.submit({**JOB, "seed": s, **({"target": saved} if s == 2 else {})},
                               resources={"num_cpus": 1, "ray_resources": {"node_b": 1}}) for s in (1, 2)]
    assert q.get(first).resources == {"num_cpus": 1, "ray_resources": {"node_b": 1}}

    saved_file = Path(saved["path"])
    away = saved_file.rename(saved_file.with_name("away"))  # node_b shares no disk with the head
    try:
        out = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once", "--ray", cluster["address"]],
                             cwd=ROOT, capture_output=True, text=True, timeout=240, env=env)
    finally:
        away.rename(saved_file)
    assert out.returncode == 0, out.stderr[-3000:]
    for secret in (CREDS["AWS_SECRET_ACCESS_KEY"],):
        assert secret not in out.stdout + out.stderr

    runs = {r["run_id"]: r for r in json.loads(_cli(env, "runs", "--json"))}
    client = MlflowClient(tracking_uri=cluster["mlflow"])
    exp = client.get_experiment_by_name(settings.get("MLFLOW_EXPERIMENT_NAME"))
    for job_id in jobs:
        snap = q.get(job_id)
        assert snap.status == "completed", (snap.error, _ray_logs(cluster["b_tmp"]))
        assert snap.executor == "ray" and snap.node.split("/")[1] == cluster["b_id"][:12], snap.node
        rid = snap.run_id
        # made in node_b's own data root; the head's has no folder for it
        assert (b_home / "runs" / rid / "metrics.json").is_file()
        assert not (head_home / "runs" / rid).exists()
        # visible from the head: the run row (PostgreSQL) with its metrics, the files read back from the bucket
        assert runs[rid]["status"] == "completed" and runs[rid]["target_acc"] is not None, runs[rid]
        metrics = store.metrics(rid)
        assert metrics["target_test"]["accuracy"] == pytest.approx(runs[rid]["target_acc"])
        listed = cluster["s3"].list_objects_v2(Bucket=cluster["bucket"], Prefix=f"runs/{rid}/").get("Contents", [])
        names = {o["Key"].rsplit("/", 1)[-1] for o in listed}
        assert {"config.json", "metrics.json", "events.jsonl", "model.json", "model.safetensors"} <= names, names
        # an MLflow run, sent from node_b's task, with the same metrics
        (mrun,) = client.search_runs([exp.experiment_id], filter_string=f"tags.`tl.run_id` = '{rid}'")
        assert mrun.info.status == "FINISHED"
        assert mrun.data.metrics["target_accuracy"] == pytest.approx(metrics["target_test"]["accuracy"])
        assert metrics["tracking"]["ok"] is True
        # its log: written on node_b, read from the bucket by the head
        assert not Path(snap.log_path).exists() and (b_home / "logs" / f"{job_id}.log").is_file()
        assert "phase:" in q.log_tail(job_id), q.log_tail(job_id)
    domain_id = Path(saved["path"]).parent.name
    assert (b_home / "cache" / "artifacts" / "_domains" / domain_id / "data.zip").is_file()
    assert store.get(q.get(jobs[2]).run_id).config["target"]["path"] == saved["path"]
    shown = json.loads(_cli(env, "show", q.get(first).run_id, "--json"))
    assert shown["metrics"]["target_test"]["accuracy"] == pytest.approx(runs[q.get(first).run_id]["target_acc"])

    # and in the dashboard on the head: the Compare page's run table lists them
    from streamlit.testing.v1 import AppTest

    from tests.app.apptest_paths import APP, TIMEOUT, open_page

    at = open_page(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "compare").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    listed = {str(i) for d in at.dataframe for i in d.value.index}
    assert {q.get(j).run_id for j in jobs} <= listed, listed
