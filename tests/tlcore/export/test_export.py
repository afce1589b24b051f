"""Exports: ONNX parity with ONNX Runtime, TorchScript and safetensors round trips, the Hugging Face folder that
``transformers.pipeline`` loads, model cards, and refusals that leave nothing behind."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tlcore.export.formats import ExportError, export_run
from tlcore.export.predict import Predictor

from tests.tlcore.export.artifacts import artifact_run

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _text_batch(tokenizer, texts):
    enc = tokenizer(texts, truncation=True, max_length=32, padding=True, return_tensors="np")
    return enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)


TEXTS = ["a fine blender", "the book was dull and far too long, I gave up", "ok", "great value, would buy again"]


def test_onnx_image_parity_dynamic_batch(store, tmp_path):
    rid, model = artifact_run(store, "tiny_cnn", "digits", bottleneck=8)
    out = export_run(store, rid, "onnx", tmp_path / "onnx")
    path = tmp_path / "onnx" / "model.onnx"
    proto = onnx.load(str(path))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 7):
        x = torch.randn(n, 3, 16, 16)
        with torch.no_grad():
            ref = model(x)[1].numpy()
        got = sess.run(["logits"], {"pixel_values": x.numpy()})[0]
        assert np.abs(got - ref).max() <= 1e-4
    assert {"README.md", "model.json", "onnx_check.json"} <= set(out["files"])


def test_onnx_text_parity_with_padding(store, tmp_path):
    import json

    rid, model = artifact_run(store, "tiny_text", "reviews")
    export_run(store, rid, "onnx", tmp_path / "onnx", int8=True)
    check = json.loads((tmp_path / "onnx" / "onnx_check.json").read_text())
    assert check["max_abs_diff"] <= 1e-4 and check["int8"]["file"] == "model.int8.onnx"
    assert (tmp_path / "onnx" / "model.int8.onnx").is_file() and check["int8"]["max_abs_prob_diff"] < 0.1
    sess = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    for texts in (TEXTS, TEXTS[:1]):
        ids, mask = _text_batch(model.backbone.tokenizer, texts)
        with torch.no_grad():
            ref = model({"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)})[1].numpy()
        got = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        assert np.abs(got - ref).max() <= 1e-4, np.abs(got - ref).max()
    assert (tmp_path / "onnx" / "tokenizer" / "tokenizer_config.json").is_file()


def test_safetensors_reload_predicts_bit_identical_and_torchscript_matches(store, tmp_path):
    rid, model = artifact_run(store, "tiny_text", "reviews")
    export_run(store, rid, "safetensors", tmp_path / "st")
    export_run(store, rid, "torchscript", tmp_path / "ts")
    again = Predictor.from_folder(tmp_path / "st")
    original = Predictor.from_run(store, rid)
    assert np.array_equal(again.logits(TEXTS), original.logits(TEXTS))
    ids, mask = _text_batch(model.backbone.tokenizer, TEXTS)
    scripted = torch.jit.load(str(tmp_path / "ts" / "model.pt"))
    with torch.no_grad():
        a = scripted(torch.from_numpy(ids), torch.from_numpy(mask))
        b = model({"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)})[1]
    assert torch.allclose(a, b, atol=1e-5, rtol=0)  # traced graph vs eager kernels: equal to rounding


def test_hf_text_folder_loads_in_a_transformers_pipeline_with_the_same_predictions(store, tmp_path):
    from transformers import pipeline

    from tlcore.models.backbones import create_backbone

    rid, model = artifact_run(store, "minilm_l6", "reviews", encoder=create_backbone("minilm_l6", pretrained=True))
    with torch.no_grad():  # a head with real margins, so the check is not about near-ties
        model.head.weight.mul_(40)
    from tlcore.models.io import build_meta, save_model

    save_model(store.folder(rid), model, build_meta(model, ["negative", "positive"], "minilm_l6", max_length=32))
    export_run(store, rid, "hf", tmp_path / "hf")
    clf = pipeline("text-classification", model=str(tmp_path / "hf"), top_k=None)
    ours = Predictor.from_run(store, rid).predict_proba(TEXTS)
    theirs = np.array([[{d["label"]: d["score"] for d in row}[c] for c in ("negative", "positive")]
                       for row in clf(TEXTS)])
    assert np.abs(ours - theirs).max() <= 1e-4
    assert (ours.argmax(1) == theirs.argmax(1)).all()
    card = (tmp_path / "hf" / "README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag" in card and 'pipeline("text-classification"' in card


def test_hf_refuses_a_non_bert_text_backbone_and_writes_nothing(store, tmp_path):
    rid, _ = artifact_run(store, "tiny_text", "reviews")
    with pytest.raises(ExportError, match="BERT-family"):
        export_run(store, rid, "hf", tmp_path / "hf")
    assert not (tmp_path / "hf").exists() and not list(tmp_path.glob(".tmp-*"))


def test_hf_image_folder_and_card(store, tmp_path):
    rid, _ = artifact_run(store, "tiny_cnn", "digits", name="digits probe")
    out = export_run(store, rid, "hf", tmp_path / "hf")
    assert {"config.json", "model.safetensors", "model.json", "README.md"} <= set(out["files"])
    card = (tmp_path / "hf" / "README.md").read_text()
    for text in ("## Data", "## Metrics (95% bootstrap intervals)", "0.500 [0.300, 0.700]", "source validation",
                 "target test", "## Intended use and limits", "image-classification"):
        assert text in card


def test_bad_requests_are_named(store, tmp_path):
    rid, _ = artifact_run(store)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ExportError, match="not an empty folder"):
        export_run(store, rid, "onnx", tmp_path / "busy")
    with pytest.raises(ExportError, match="unknown"):
        export_run(store, rid, "tflite", tmp_path / "new")
    failed, _ = artifact_run(store, status="failed")
    with pytest.raises(Exception, match=f"{failed}.*not completed"):
        export_run(store, failed, "onnx", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_image_card_snippet_runs_with_plain_timm_and_matches(store, tmp_path, monkeypatch):
    import re

    from PIL import Image

    rid, _ = artifact_run(store, "efficientnet_lite0", "digits", bottleneck=8)
    export_run(store, rid, "hf", tmp_path / "hf")
    card = (tmp_path / "hf" / "README.md").read_text()
    snippet = next(b for b in re.findall(r"```python\n(.*?)```", card, re.S) if "timm.create_model" in b)
    assert "tlcore" not in snippet
    Image.new("RGB", (50, 40), (30, 200, 90)).save(tmp_path / "hf" / "photo.jpg")
    monkeypatch.chdir(tmp_path / "hf")
    scope: dict = {}
    exec(compile(snippet, "card-snippet", "exec"), scope)  # the card's own code, as a user would paste it
    arr = np.asarray(Image.open(tmp_path / "hf" / "photo.jpg").convert("RGB"))
    ours = Predictor.from_folder(tmp_path / "hf").logits([arr])
    assert np.abs(scope["logits"].numpy() - ours).max() <= 1e-4
