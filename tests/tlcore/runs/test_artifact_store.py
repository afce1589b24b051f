"""Issue 26 item 2: run files in object storage (``TL_ARTIFACTS_URL``), against a real S3-compatible server
(moto's server mode, started here on 127.0.0.1)."""
from __future__ import annotations

import json
import shutil
import stat
import uuid

import pytest

from tests.tlcore.runs.servers import binary, free_port, start, stop

CREDS = {"AWS_ACCESS_KEY_ID": "tl-test-key", "AWS_SECRET_ACCESS_KEY": "tl-test-secret-do-not-print",
         "AWS_DEFAULT_REGION": "us-east-1"}
TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 300, "strategy": "linear_probe"}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = start([binary("moto_server"), "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}/", log, 20)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """A fresh bucket; ``TL_ARTIFACTS_URL=s3://<bucket>/runs``. Returns (boto3 client, bucket name)."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    name = f"tl-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    monkeypatch.setenv("TL_ARTIFACTS_URL", f"s3://{name}/runs")
    return client, name


def keys(client, name: str, prefix: str) -> set[str]:
    out = client.list_objects_v2(Bucket=name, Prefix=prefix).get("Contents") or []
    return {o["Key"][len(prefix):] for o in out}


def test_a_run_is_stored_in_the_bucket_and_read_back_from_it(bucket, tl_home):
    from tlcore.config import RunConfig
    from tlcore.models.io import load_run_model
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore
    from tlcore.runs.view import RunView

    client, name = bucket
    store = RunStore(tl_home)
    rec = run_experiment(RunConfig.from_dict(TINY), store)
    assert rec.status == "completed"
    stored = keys(client, name, f"runs/{rec.run_id}/")
    for f in ("config.json", "metrics.json", "history.json", "events.jsonl", "model.safetensors", "model.json",
              "predictions_target_test.csv", "features_after.npz", "features_before.npz", "labels.json"):
        assert f in stored, f
    body = client.get_object(Bucket=name, Key=f"runs/{rec.run_id}/events.jsonl")["Body"].read().decode()
    assert json.loads(body.splitlines()[-1]) == {**json.loads(body.splitlines()[-1]), "type": "status",
                                                 "status": "completed"}  # the final event reached the bucket
    metrics = store.metrics(rec.run_id)

    shutil.rmtree(store.folder(rec.run_id))  # another node's run: no local folder here
    here = RunStore(tl_home)
    view = RunView(here, rec.run_id)
    assert view.metrics() == metrics
    assert view.history() and view.history()[0]["epoch"] == 1
    assert view.has_predictions() and view.has_model() and view.has_features("after")
    assert view.predictions_download().startswith(b"index,source,true,pred")
    assert view.features("after")["features"].shape[0] > 0
    assert any(e.get("status") == "completed" for e in view.events())
    loaded = load_run_model(here, rec.run_id)  # what predict and export use
    assert loaded.meta["classes"] == metrics["classes"]
    cache = tl_home / "cache" / "artifacts" / rec.run_id
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE((cache / "model.safetensors").stat().st_mode) == 0o600

    here.delete(rec.run_id)
    assert keys(client, name, f"runs/{rec.run_id}/") == set()
    assert not cache.exists()


def test_a_changed_stored_file_is_fetched_again(bucket, tl_home):
    from tlcore.runs.store import RunStore

    client, name = bucket
    store = RunStore(tl_home)
    rid = store.create({"strategy": "scratch", "source": {"demo": "digits"}, "target": {"demo": "digits"}})
    store.append_event(rid, {"type": "status", "status": "running"})
    shutil.rmtree(store.folder(rid))
    assert [e["status"] for e in store.events(rid)] == ["running"]
    client.put_object(Bucket=name, Key=f"runs/{rid}/events.jsonl",  # the node appended meanwhile
                      Body=b'{"type": "status", "status": "running"}\n{"type": "epoch", "epoch": 1}\n')
    assert [e["type"] for e in store.events(rid)] == ["status", "epoch"]
    assert store.read_json(rid, "metrics.json") is None


@pytest.mark.parametrize("url, says", [("s3://tl-no-such-bucket-{u}/runs", "NoSuchBucket|does not exist|Not Found"),
                                       ("nosuchscheme://x/y", "cannot be opened")])
def test_upload_failures_are_reported_and_the_local_files_stay(bucket, tl_home, monkeypatch, capsys, url, says):
    import re

    from tlcore.runs.store import RunStore

    monkeypatch.setenv("TL_ARTIFACTS_URL", url.format(u=uuid.uuid4().hex[:8]))
    store = RunStore(tl_home)
    rid = store.create({"strategy": "scratch", "source": {"demo": "digits"}, "target": {"demo": "digits"}})
    store.write_json(rid, "labels.json", {"classes": ["a", "b"]})
    store.finish(rid, "completed", metrics={"classes": ["a", "b"]})
    assert store.get(rid).status == "completed"
    assert store.read_json(rid, "labels.json") == {"classes": ["a", "b"]}
    assert store.metrics(rid) == {"classes": ["a", "b"]}
    warnings = [e for e in store.events(rid) if e.get("type") == "warning"]
    assert warnings and all("TL_ARTIFACTS_URL=" in w["message"] for w in warnings)
    assert re.search(says, warnings[0]["message"]), warnings[0]["message"]
    err = capsys.readouterr().err
    assert "TL_ARTIFACTS_URL=" in err and CREDS["AWS_SECRET_ACCESS_KEY"] not in err + json.dumps(warnings)
    assert len(err.strip().splitlines()) <= 2  # one line at the first write, one at the finish: not one per file


def test_doctor_checks_the_store_without_printing_credentials(bucket, monkeypatch):
    from tlcore.runs.artifact_store import FsspecArtifacts

    _, name = bucket
    ok = FsspecArtifacts(f"s3://{name}/runs", __import__("pathlib").Path("/nonexistent")).check()
    assert ok == {"url": f"s3://{name}/runs", "ok": True}
    bad = FsspecArtifacts("s3://key:secret@tl-missing-bucket-xyz/runs", __import__("pathlib").Path("/x")).check()
    assert not bad["ok"] and "TL_ARTIFACTS_URL=s3://***@tl-missing-bucket-xyz/runs" in bad["problem"]
    assert "secret" not in json.dumps(bad)
