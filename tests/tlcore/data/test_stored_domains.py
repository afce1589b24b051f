"""Issue 26: a domain saved on the head is read by a job on a node without the head's disk, through the artifact
store (``TL_ARTIFACTS_URL``), against moto's S3 server on 127.0.0.1 (tests/tlcore/runs/test_artifact_store.py)."""
from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from tests.tlcore.runs.servers import free_port
from tests.tlcore.runs.test_artifact_store import bucket, keys, s3_endpoint  # noqa: F401 - fixtures

CSV = b"text,label\n" + b"".join(b"lovely book %d,pos\nawful plot %d,neg\n" % (i, i) for i in range(6))


@pytest.fixture
def head_and_node(tmp_path, monkeypatch):
    """Two data roots: the head's (the library's) and a node's own; TL_HOME is the head's until ``on_node``."""
    head, node = tmp_path / "head", tmp_path / "node"
    monkeypatch.setenv("TL_HOME", str(head))
    monkeypatch.delenv("TL_ALLOWED_ROOTS", raising=False)
    return head, node


def test_a_saved_domain_is_read_on_a_node_without_the_heads_disk(bucket, head_and_node, monkeypatch):  # noqa: F811
    from tlcore.data.library import DomainLibrary
    from tlcore.data.loading import clear_cache, load_domain

    client, name = bucket
    head, node = head_and_node
    lib = DomainLibrary(head)
    entry = lib.ingest_upload("books", "books.csv", io.BytesIO(CSV))
    assert "artifacts_problem" not in entry
    domain_id = entry["domain_id"]
    assert keys(client, name, f"runs/_domains/{domain_id}/") == {"data.csv"}
    spec = lib.spec(domain_id)

    # the job's node: its own TL_HOME, and the head's file is not there (no shared disk)
    saved = Path(spec["path"])
    away = saved.rename(saved.with_name("elsewhere"))
    monkeypatch.setenv("TL_HOME", str(node))
    clear_cache()
    try:
        domain = load_domain(spec, "source")
        assert len(domain) == 12 and domain.classes == ["neg", "pos"]
        copy = node / "cache" / "artifacts" / "_domains" / domain_id / "data.csv"
        assert copy.read_bytes() == CSV
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
        # a path that names no saved domain is still just missing
        with pytest.raises(Exception, match="file not found"):
            load_domain({"path": str(node / "nothing.csv")}, "source")
    finally:
        away.rename(saved)
        clear_cache()

    # deleting the domain on the head removes its stored file too
    monkeypatch.setenv("TL_HOME", str(head))
    lib.delete(domain_id)
    assert keys(client, name, f"runs/_domains/{domain_id}/") == set()


def test_an_unreachable_store_is_named_when_a_node_lacks_the_file(head_and_node, monkeypatch):
    from tlcore.data.loading import load_domain
    from tlcore.errors import DataError

    _head, node = head_and_node
    monkeypatch.setenv("TL_HOME", str(node))
    monkeypatch.setenv("TL_ARTIFACTS_URL", "s3://tl-nowhere/runs")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    for k, v in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    from s3fs import S3FileSystem

    S3FileSystem.clear_instance_cache()  # fsspec reuses a filesystem made with the same arguments (another endpoint)
    path = f"/srv/head/domains/{'a' * 32}/data.csv"
    with pytest.raises(DataError, match=r"not on this node, and .*TL_ARTIFACTS_URL=s3://tl-nowhere/runs"):
        load_domain({"path": path}, "source")
