"""Every registry row that loads offline builds (random init), runs a forward pass, and its ``layer_groups()``
cover its parameters (timm's test_model_* style, over the whole table)."""
from __future__ import annotations

import pytest
import torch

from tlcore.models.backbones import LOADERS, OFFLINE_FAMILIES, create_backbone
from tlcore.models.registry import BACKBONES

OFFLINE = [name for name, spec in BACKBONES.items() if spec.family in OFFLINE_FAMILIES]
# Parameters a backbone holds but its forward never uses, so no layer group needs them. The Hugging Face encoders
# keep BERT's pooler (its weights are part of the checkpoint, so saved runs load unchanged), but the features are
# the masked mean of the last hidden states: the pooler gets no gradient (checked below).
UNUSED_PREFIXES = ("model.pooler.",)


def test_every_family_has_a_loader_and_some_rows_load_offline():
    assert {spec.family for spec in BACKBONES.values()} <= set(LOADERS)
    assert set(OFFLINE_FAMILIES) <= set(LOADERS)
    assert {"efficientnet_lite0", "minilm_l6", "tiny_cnn", "small_cnn", "tiny_text"} <= set(OFFLINE)


def _inputs(bb):
    if bb.modality == "text":
        enc = bb.tokenizer(["a short text", "another, somewhat longer text here"], padding=True,
                           return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", OFFLINE)
def test_backbone_builds_runs_and_layer_groups_cover_its_parameters(name):
    torch.manual_seed(0)
    bb = create_backbone(name, pretrained=False)
    assert bb.spec.name == name and bb.modality == BACKBONES[name].modality
    out = bb(_inputs(bb))
    assert out.shape == (2, bb.out_features) and torch.isfinite(out).all()

    grouped = [p for g in bb.layer_groups() for p in g]
    assert len({id(p) for p in grouped}) == len(grouped), "a parameter is in two layer groups"
    grouped_ids = {id(p) for p in grouped}
    named = dict(bb.named_parameters())
    missing = [n for n, p in named.items() if id(p) not in grouped_ids]
    assert all(n.startswith(UNUSED_PREFIXES) for n in missing), f"not in any layer group: {missing[:8]}"
    assert grouped_ids <= {id(p) for p in named.values()}

    out.float().pow(2).mean().backward()
    for n in missing:  # the documented exceptions really are unused
        assert named[n].grad is None, f"{n} is used by the forward pass but in no layer group"
    assert len(bb.group_names()) == len(bb.layer_groups()) >= 2
