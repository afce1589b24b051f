import pytest
import torch

from tlcore.errors import ConfigError, ModelError
from tlcore.models.backbones import create_backbone, load_effnet_lite0_weights
from tlcore.models.registry import BACKBONES, resolve_spec


def test_registry_rows_are_consistent():
    for name, spec in BACKBONES.items():
        assert spec.name == name
        assert spec.modality in ("image", "text")
        assert resolve_spec(name) is spec


def test_unknown_backbone_lists_known():
    with pytest.raises(ConfigError, match="efficientnet_lite0"):
        resolve_spec("no_such_model")


def test_embedded_effnet_loads_all_247_tensors_and_differs_from_random():
    import timm

    m = timm.create_model("efficientnet_lite0", pretrained=False)
    before = m.conv_stem.weight.clone()
    assert load_effnet_lite0_weights(m) == 247
    assert not torch.equal(before, m.conv_stem.weight)
    # ImageNet sanity: a smooth synthetic image gets confident, non-uniform predictions
    m.eval()
    with torch.no_grad():
        p = torch.softmax(m(torch.zeros(1, 3, 224, 224)), 1)
    assert p.max() > 5 * (1 / 1000)
    assert load_effnet_lite0_weights(timm.create_model("efficientnet_lite0", num_classes=0)) == 245
    bb = create_backbone("efficientnet_lite0")
    assert bb.out_features == 1280 and bb.modality == "image"
    groups = bb.layer_groups()
    assert len(groups) > 5 and sum(len(g) for g in groups) == len(list(bb.parameters()))
    bb.eval()
    with torch.no_grad():
        f = bb(torch.randn(2, 3, 64, 64))
    assert f.shape == (2, 1280) and torch.isfinite(f).all()


def test_embedded_minilm_gives_sentence_features():
    bb = create_backbone("minilm_l6")
    assert bb.modality == "text" and bb.out_features == 384
    enc = bb.tokenizer(["a great book", "the kettle leaks"], padding=True, return_tensors="pt")
    bb.eval()
    with torch.no_grad():
        f = bb({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})
    assert f.shape == (2, 384)
    assert len(bb.layer_groups()) == 7  # embeddings + 6 transformer layers


def test_scratch_init_differs_from_pretrained():
    a = create_backbone("minilm_l6", pretrained=True)
    b = create_backbone("minilm_l6", pretrained=False)
    wa = a.model.encoder.layer[0].attention.self.query.weight
    wb = b.model.encoder.layer[0].attention.self.query.weight
    assert not torch.allclose(wa, wb)


def test_unreachable_weights_fail_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelError, match="not reachable|could not"):
        create_backbone("hf:some-org/model-that-is-not-cached")
    with pytest.raises(ModelError, match="timm"):
        create_backbone("timm:convnext_tiny", pretrained=True)


def test_timm_and_torchvision_by_name_without_weights():
    bb = create_backbone("timm:resnet18", pretrained=False)
    assert bb.out_features == 512 and len(bb.layer_groups()) >= 2
    tv = create_backbone("torchvision:resnet18", pretrained=False).eval()
    with torch.no_grad():
        assert tv(torch.randn(1, 3, 32, 32)).shape == (1, 512)


def test_local_hf_folder_loads(tmp_path):
    from tlcore.models.backbones import minilm_folder

    spec = resolve_spec(str(minilm_folder()))
    assert spec.family == "hf" and spec.modality == "text"
    bb = create_backbone(str(minilm_folder()))
    assert bb.out_features == 384
