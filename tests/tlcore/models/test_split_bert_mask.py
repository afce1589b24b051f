"""Cached partial fine-tuning of the embedded MiniLM never calls a private transformers API (issue 21): the
attention mask comes from the public ``masking_utils.create_bidirectional_mask`` or, where that is missing, from
the additive mask built here. Both paths must reproduce the real model's own forward."""
from __future__ import annotations

import pytest
import torch

from tlcore.errors import ModelError
from tlcore.models import prefix_split
from tlcore.models.backbones import create_backbone


@pytest.fixture(scope="module")
def minilm():
    torch.manual_seed(0)
    return create_backbone("minilm_l6", pretrained=True).eval()


def _probe(bb):
    enc = bb.tokenizer(["short", "a much longer review about a pan that burnt", "ok then"], padding=True,
                       return_tensors="pt")
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


@pytest.mark.parametrize("path", ["public", "additive"])
@pytest.mark.parametrize("top", [1, 3])
def test_minilm_split_reproduces_the_model_on_both_mask_paths(minilm, monkeypatch, path, top):
    if path == "additive":  # a transformers release without the public mask function
        monkeypatch.setattr(prefix_split, "_public_mask_function", lambda: None)
    calls = []
    orig = prefix_split.additive_mask
    monkeypatch.setattr(prefix_split, "additive_mask", lambda *a: calls.append(1) or orig(*a))
    prefix, suffix = prefix_split.split_backbone(minilm, top)
    x = _probe(minilm)
    with torch.no_grad():
        want, got = minilm(x), suffix.eval()(prefix(x))
    assert torch.allclose(want, got, atol=1e-5)
    assert bool(calls) == (path == "additive")  # the path asked for is the one that ran


def test_a_split_that_disagrees_with_the_model_is_refused(minilm, monkeypatch):
    # a mask that attends to padding (what a silently changed mask convention would do) is caught at split time
    monkeypatch.setattr(prefix_split, "_public_mask_function", lambda: None)
    monkeypatch.setattr(prefix_split, "additive_mask", lambda mask, dtype: torch.zeros(mask.shape[0], 1, 1, mask.shape[1]))
    with pytest.raises(ModelError, match="does not reproduce"):
        prefix_split.split_backbone(minilm, 2)


def test_no_private_transformers_call_in_the_split():
    import inspect

    src = inspect.getsource(prefix_split)
    assert "_create_attention_masks" not in src.replace("``BertModel._create_attention_masks``", "")
    assert "get_extended_attention_mask" not in src
