"""RELIABILITY.md section E (model weights and checkpoints), items 46 and 48-55. TL Studio takes no weight
uploads: weights come from the backbone registry, a local Hugging Face folder given as the backbone, or a
completed run's artifact (``model.json`` + ``model.safetensors``, referenced by run id). These tests feed
hostile content through those doors."""
from __future__ import annotations

import ast
import hashlib
import json
import resource
import struct

import pytest
import torch

from tests.conftest import ROOT
from tests.tlcore.export.artifacts import artifact_run
from tlcore.errors import ConfigError, ModelError
from tlcore.models.io import load_model


def _replace_weights(folder, data: bytes) -> None:
    """Put ``data`` in place of the artifact's weights, with a matching checksum in model.json (so the
    content, not the checksum, is what gets checked)."""
    (folder / "model.safetensors").write_bytes(data)
    meta = json.loads((folder / "model.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "model.json").write_text(json.dumps(meta))


def _header(entries: dict, declared: int | None = None, body: bytes = b"") -> bytes:
    raw = json.dumps(entries).encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + body


class _Marker:
    """Unpickling this writes a file: proof that the loader ran pickled code."""

    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


# in-memory hand-offs between TL Studio's own processes, never a file a user supplied
INTERNAL_PICKLES = {("ddp.py", "pickle.loads")}  # the DDP helper ranks get the parent's model from its memory


def test_item_46_no_loader_unpickles_and_a_pickle_posing_as_weights_is_refused_without_running(store, tmp_path):
    unsafe = []
    for path in (ROOT / "tlcore").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if name.endswith("torch.load") and kw.get("weights_only") != "True":
                unsafe.append(f"{path.name}:{node.lineno} torch.load without weights_only=True")
            unpickles = name in ("pickle.load", "pickle.loads", "dill.load", "joblib.load")
            if (unpickles or kw.get("weights_only") == "False") and (path.name, name) not in INTERNAL_PICKLES:
                unsafe.append(f"{path.name}:{node.lineno} {name}")
    assert unsafe == []
    rid, _ = artifact_run(store)
    marker = tmp_path / "pwned"
    _Marker.path = str(marker)
    payload = tmp_path / "evil.pt"
    torch.save({"weights": _Marker()}, payload)
    _replace_weights(store.folder(rid), payload.read_bytes())
    with pytest.raises(ModelError, match="not safetensors; such files can run code and are never loaded"):
        load_model(store.folder(rid))
    assert not marker.exists()


def test_item_48_torchscript_and_full_model_pickles_are_named_not_loaded(store, tmp_path):
    rid, model = artifact_run(store)
    scripted = tmp_path / "model.ts"
    torch.jit.save(torch.jit.trace(model.eval(), torch.zeros(1, 3, 16, 16), strict=False), scripted)
    full = tmp_path / "full.pt"
    torch.save(model, full)
    for data in (scripted.read_bytes(), full.read_bytes()):
        _replace_weights(store.folder(rid), data)
        with pytest.raises(ModelError, match=r"model\.safetensors: this is a ZIP archive such as torch\.save or "
                                             r"TorchScript writes, not safetensors.*export the weights as safetensors"):
            load_model(store.folder(rid))


@pytest.mark.parametrize("data", [
    struct.pack("<Q", 10**12) + b"{}",                                                     # length > file size
    _header({}, declared=200 * 2**20) + b"x" * 64,                                         # 200 MB header
    struct.pack("<Q", 5) + b"hello",                                                       # not JSON
    _header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}}, body=b"\0" * 8),  # out of range
    _header({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}, body=b"\0" * 8),   # shape x dtype
    _header({"a": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, body=b"\0" * 8),  # overflow
    _header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
             "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, body=b"\0" * 12),  # overlapping
], ids=["length", "huge-header", "not-json", "offsets", "shape-bytes", "overflow", "overlap"])
def test_item_49_malformed_safetensors_is_a_clear_error(store, data):
    rid, _ = artifact_run(store)
    _replace_weights(store.folder(rid), data)
    with pytest.raises(ModelError, match=r"model\.safetensors: corrupt safetensors file \("):
        load_model(store.folder(rid))


def test_item_50_weights_that_do_not_fit_the_head_name_the_keys(store):
    rid, _ = artifact_run(store)
    folder = store.folder(rid)
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "classes": [*meta["classes"], "extra"]}))
    with pytest.raises(ModelError, match=r"(?s)weights do not fit the architecture in model\.json: "
                                         r".*size mismatch for head\.weight"):
        load_model(folder)


def _hf_folder(tmp_path, config: dict):
    folder = tmp_path / "hf_model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_item_51_a_folder_that_needs_custom_code_is_refused_and_its_code_never_runs(tmp_path):
    from tlcore.models.backbones import create_backbone

    marker = tmp_path / "ran"
    folder = _hf_folder(tmp_path, {"model_type": "evilnet", "architectures": ["EvilModel"],
                                   "auto_map": {"AutoConfig": "modeling_evil.EvilConfig",
                                                "AutoModel": "modeling_evil.EvilModel"}})
    (folder / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    with pytest.raises(ModelError, match="needs custom code .* which is disabled on this server"):
        create_backbone(str(folder))
    assert not marker.exists()


def test_item_52_a_config_describing_an_allocation_bomb_is_refused_before_allocating(tmp_path):
    from tlcore.models.backbones import create_backbone

    folder = _hf_folder(tmp_path, {"model_type": "bert", "hidden_size": 10**6, "num_hidden_layers": 12,
                                   "num_attention_heads": 16, "intermediate_size": 4 * 10**6, "vocab_size": 30522})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match=r"describes a model of about [\d,]+ parameters .*TL_MAX_HF_PARAMS"):
        create_backbone(str(folder))
    # refused before allocating (the time it takes is measured by bench/refusal_timings.py)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB


@pytest.mark.parametrize("teacher", ["../../etc", "/tmp", "%2e%2e%2f", "runs/../x", "not-a-run"])
def test_item_53_training_state_comes_only_from_runs_by_id_never_from_a_path(store, teacher):
    from tlcore.strategies.distillation import load_teacher

    artifact_run(store)  # a real completed run exists; a path or an unknown id still finds nothing
    with pytest.raises(ConfigError, match="params.teacher_run_id: run .* not found"):
        load_teacher(teacher, 10, store)


def test_item_54_a_weights_file_declaring_terabytes_is_refused_without_allocating(store):
    rid, _ = artifact_run(store)
    bomb = _header({"head.weight": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}},
                   body=b"\0" * 64)
    _replace_weights(store.folder(rid), bomb)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelError, match="corrupt safetensors file"):
        load_model(store.folder(rid))
    # the time it takes is measured by bench/refusal_timings.py
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: no 4 TB allocation


def test_item_55_a_run_whose_weights_a_queued_job_uses_cannot_be_deleted(store):
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunBusy

    teacher, _ = artifact_run(store)
    q = JobQueue(store)
    job = q.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                    "image_size": 16, "epochs": 1, "strategy": "distillation",
                    "params": {"teacher_run_id": teacher}})
    with pytest.raises(RunBusy, match=f"run {teacher} is the teacher of queued or running job.*{job}"):
        store.delete(teacher)
    assert store.get(teacher).status == "completed" and (store.folder(teacher) / "model.safetensors").is_file()
    q.cancel(job)
    store.delete(teacher)  # nothing uses it any more
