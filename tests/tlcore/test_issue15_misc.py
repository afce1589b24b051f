"""Smaller failures from issue 15 item 14: hf backbone offline, embeddings without features, one-class ZIP,
class folders differing by case or Unicode form."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import zipfile

import pytest
from PIL import Image

from tlcore.errors import DataError, ModelError

from tests.conftest import ROOT


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(path, names):
    with zipfile.ZipFile(path, "w") as z:
        for n in names:
            z.writestr(n, _png())
    return path


def test_item_88_hf_backbone_not_cached_fails_at_once_when_offline_without_network_attempts(monkeypatch):
    import importlib

    importlib.import_module("huggingface_hub")  # imported before the clock starts (slow on a busy CI machine)

    from tlcore.models.backbones import create_backbone

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    tried = []

    def no_network(self, *a, **k):
        tried.append(a)
        raise OSError("network blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ModelError, match="not in the Hugging Face cache and this server is offline"):
        create_backbone("hf:nobody/not-a-cached-model-xyz")
    assert tried == []  # refused from the local cache alone (its time: bench/refusal_timings.py)


def test_job_processes_are_offline_by_default(monkeypatch):
    from tlcore.jobs.executors import job_env

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    env = job_env(ROOT)
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the operator may allow downloads explicitly
    assert job_env(ROOT)["HF_HUB_OFFLINE"] == "0"


def test_item_77_embeddings_on_a_run_missing_its_features_file_gives_a_clear_message(store):
    rid = store.create({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                        "strategy": "scratch", "image_size": 16}, status="completed")
    out = subprocess.run([sys.executable, "-m", "tlcore", "embeddings", rid], cwd=ROOT, capture_output=True,
                         text=True, env={**os.environ, "TL_HOME": str(store.root)}, timeout=120)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "features_after.npz" in out.stderr


def test_item_23_one_class_zip_is_explained_not_silently_called_unlabeled(tmp_path):
    from tlcore.data.archive import read_images
    from tlcore.data.split import make_split

    d = read_images(_zip(tmp_path / "cat.zip", ["cat/1.png", "cat/2.png", "cat/3.png"]), name="cats")
    assert d.labels is None
    assert "single folder 'cat'" in d.description and "one folder per class" in d.description
    assert d.summary()["description"] == d.description
    with pytest.raises(DataError, match="single folder 'cat'"):
        make_split(d, d, seed=0)
    two = read_images(_zip(tmp_path / "two.zip", ["cat/1.png", "dog/1.png"]), name="pets")
    assert two.description == "" and two.classes == ["cat", "dog"]


@pytest.mark.parametrize("names,shown", [
    (["Cat/1.png", "cat/2.png", "dog/1.png"], "'Cat' vs 'cat'"),
    (["caf\u00e9/1.png", "cafe\u0301/2.png", "dog/1.png"], "(NFD) vs"),
])
def test_item_21_class_folders_differing_only_by_unicode_form_or_case_are_flagged(tmp_path, names, shown):
    from tlcore.data.archive import read_images

    with pytest.raises(DataError, match="differ only by case or Unicode form") as err:
        read_images(_zip(tmp_path / "x.zip", names))
    assert shown in str(err.value)
    folder = tmp_path / "folder"
    for n in names:
        (folder / n).parent.mkdir(parents=True, exist_ok=True)
        (folder / n).write_bytes(_png())
    with pytest.raises(DataError, match="differ only by case or Unicode form"):
        read_images(folder)
