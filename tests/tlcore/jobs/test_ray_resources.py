"""Issue 26 item 4 without a cluster: ``submit --ray-resources`` (checked, stored on the job), the settings a Ray
task gets from its worker, and where a task keeps its files (the node's own data root only when nothing needs the
worker's: PostgreSQL + object storage)."""
from __future__ import annotations

import json

import pytest

from tlcore.errors import ConfigError
from tlcore.jobs.executors import forwarded_env, task_root
from tlcore.jobs.queue import JobQueue, check_ray_resources


def test_ray_resources_are_checked_and_stored_on_the_job(store):
    q = JobQueue(store)
    job = q.submit({"seconds": 0.1}, kind="probe", resources={"num_cpus": 1, "ray_resources": {"node_b": 1}})
    assert q.get(job).resources == {"num_cpus": 1, "ray_resources": {"node_b": 1}}
    for bad, says in (({}, "JSON object"), ([1], "JSON object"), ({"CPU": 1}, "Ray's own"),
                      ({"node:10.0.0.1": 1}, "Ray's own"), ({"node_b": 0}, "amount > 0"),
                      ({"node_b": "1"}, "amount > 0"), ({"node_b": True}, "amount > 0"), ({"": 1}, "not a resource")):
        with pytest.raises(ConfigError, match=says):
            check_ray_resources(bad)
    with pytest.raises(ConfigError, match="ray_resources"):
        q.submit({"seconds": 0.1}, kind="probe", resources={"ray_resources": {"GPU": 1}})


def test_submit_ray_resources_on_the_command_line(tl_home, capsys):
    from tlcore.__main__ import main

    assert main(["submit", "--probe", "0.1", "--ray-resources", '{"node_b": 1, "big_mem": 0.5}']) == 0
    job_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["job_id"]
    assert JobQueue().get(job_id).resources == {"ray_resources": {"node_b": 1, "big_mem": 0.5}}
    for text, says in (("{node_b: 1}", "--ray-resources: not JSON"), ('{"node_b": -1}', "--ray-resources: "
                                                                                          "ray_resources: node_b")):
        assert main(["submit", "--probe", "0.1", "--ray-resources", text]) != 0
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_a_task_gets_the_workers_store_artifact_and_tracking_settings(monkeypatch):
    for k, v in {"TL_DATABASE_URL": "postgresql://tl:pw@db:5432/tl", "TL_ARTIFACTS_URL": "s3://b/p",
                 "AWS_ENDPOINT_URL": "http://s3:9000", "AWS_SECRET_ACCESS_KEY": "s", "MLFLOW_TRACKING_URI": "http://m",
                 "TL_GPUS": "none"}.items():
        monkeypatch.setenv(k, v)
    env = forwarded_env()
    assert {"TL_DATABASE_URL", "TL_ARTIFACTS_URL", "AWS_ENDPOINT_URL", "AWS_SECRET_ACCESS_KEY",
            "MLFLOW_TRACKING_URI"} <= set(env)
    assert "TL_GPUS" not in env and "TL_HOME" not in env and "PATH" not in env


def test_a_task_uses_its_nodes_data_root_only_with_postgresql_and_object_storage(monkeypatch, tmp_path):
    monkeypatch.delenv("TL_DATABASE_URL", raising=False)
    monkeypatch.delenv("TL_ARTIFACTS_URL", raising=False)
    assert task_root("/shared/tl", str(tmp_path)) == task_root("/shared/tl", None) == type(tmp_path)("/shared/tl")
    monkeypatch.setenv("TL_DATABASE_URL", "postgresql://db/tl")
    assert str(task_root("/shared/tl", str(tmp_path))) == "/shared/tl"  # run files on disk: shared root needed
    monkeypatch.setenv("TL_ARTIFACTS_URL", "s3://b/p")
    assert task_root("/shared/tl", str(tmp_path)) == tmp_path
    assert task_root("/shared/tl", None).name.startswith("tl-studio-")  # a private folder under the node's tmp


class _FakeRay:
    """What RayExecutor asks of ray: the cluster's resources and a remote function's options (recorded)."""

    def __init__(self, resources: dict):
        self.resources, self.calls = resources, []

    def cluster_resources(self):
        return dict(self.resources)

    def options(self, **opts):
        return type("R", (), {"remote": lambda _, *args: self.calls.append((opts, args)) or "ref"})()


def _executor(tmp_path, resources):
    from tlcore.jobs.executors import RayExecutor

    ex = RayExecutor.__new__(RayExecutor)  # no cluster: only the placement decisions are under test
    fake = _FakeRay(resources)
    ex.ray, ex.root, ex._remote, ex.own_node, ex.wait_reason = fake, tmp_path, fake, "a" * 56, None
    return ex, fake


def _snap(kind="train", **resources):
    return type("S", (), {"job_id": "job-x", "kind": kind, "resources": resources, "config": {"device": "cpu"},
                          "log_path": "/head/logs/job-x.log"})()


def test_a_pinned_job_waits_while_no_node_offers_its_resources(tmp_path):
    ex, _ = _executor(tmp_path, {"CPU": 4, "node_b": 1})
    assert ex.pick_gpu(_snap(ray_resources={"node_c": 1}), {}) is False
    assert "node_c" in ex.wait_reason and "ray start --resources" in ex.wait_reason
    assert ex.pick_gpu(_snap(ray_resources={"node_b": 2}), {}) is False  # too little of it
    assert ex.pick_gpu(_snap(ray_resources={"node_b": 1}), {}) == "" and ex.wait_reason is None
    assert ex.pick_gpu(_snap(), {}) == ""


def test_ray_task_options_resources_settings_and_where_non_run_jobs_go(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_DATABASE_URL", "postgresql://db/tl")
    monkeypatch.setenv("TL_ARTIFACTS_URL", "s3://b/p")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://s3:9000")
    ex, fake = _executor(tmp_path, {"CPU": 4, "node_b": 1})
    ex.start(None, _snap(num_cpus=1, ray_resources={"node_b": 1}), "w1", 0)
    opts, args = fake.calls[-1]
    assert opts["resources"] == {"node_b": 1} and opts["num_cpus"] == 1 and "scheduling_strategy" not in opts
    assert args[:3] == ("job-x", str(tmp_path), "w1") and args[3]["AWS_ENDPOINT_URL"] == "http://s3:9000"
    assert args[4] is False  # a run: the node's own data root, uploaded to the artifact store
    assert args[5] == "/head/logs/job-x.log"  # the queue's log path (used where the node shares the data root)
    assert "TL_DATABASE_URL" not in json.dumps(opts)  # settings (secrets) travel as an argument, not runtime_env
    ex.start(None, _snap(kind="probe"), "w1", 0)  # not a run: its files stay under the worker's data root
    opts, args = fake.calls[-1]
    assert opts["scheduling_strategy"].node_id == "a" * 56 and args[4] is True
    monkeypatch.delenv("TL_ARTIFACTS_URL")  # a shared data root: anywhere
    ex.start(None, _snap(kind="probe"), "w1", 0)
    assert "scheduling_strategy" not in fake.calls[-1][0] and fake.calls[-1][1][4] is False
