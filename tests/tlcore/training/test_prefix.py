"""Cached partial fine-tuning (``train_last_groups``): the split backbone, cached vs uncached training, the
frozen prefix left untouched, the pipeline and its on-disk activation cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError, ModelError
from tlcore.models.backbones import create_backbone
from tlcore.models.classifier import Classifier
from tlcore.models.prefix_split import split_backbone
from tlcore.pipeline import run_experiment
from tlcore.strategies import build_strategy
from tlcore.training.batches import encode_texts
from tlcore.training.loop import TrainData, fit, predict
from tlcore.training.prefix import ActivationSet, HiddenStateSet, prepare_partial

from tests.tlcore.helpers import tiny_image_data

CPU = torch.device("cpu")
TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 200, "bottleneck": 16}


def _text_data(tokenizer, n=48, seed=0):
    g = np.random.default_rng(seed)
    words = ["good", "great", "bad", "awful", "book", "pan", "knife", "story", "the", "a", "very", "not"]

    def make(n):
        y = g.integers(0, 2, n)
        texts = [" ".join(g.choice(words[4:], g.integers(2, 12)).tolist() + [words[int(c) * 2]]) for c in y]
        return encode_texts(texts, y, tokenizer, 32)

    return TrainData(source_train=make(n), source_val=make(n // 2), target_train=make(n), num_classes=2,
                     target_labeled_mask=np.zeros(n, bool))


def _sets(data):
    return {"source_train": data.source_train, "source_val": data.source_val, "target_train": data.target_train,
            "target_test": data.target_train, "target_labeled_mask": data.target_labeled_mask}


def _model(backbone, classes, seed=0):
    torch.manual_seed(seed)
    bb = create_backbone(backbone, pretrained=False)
    return Classifier(bb, classes, bottleneck=8)


@pytest.mark.parametrize("backbone,top", [("tiny_cnn", 2), ("small_cnn", 1), ("tiny_text", 1)])
def test_split_reproduces_the_backbone_and_holds_the_top_groups(backbone, top):
    torch.manual_seed(0)
    bb = create_backbone(backbone, pretrained=False).eval()
    if bb.modality == "image":
        x = torch.randn(3, 3, 32, 32)
    else:
        enc = bb.tokenizer(["short", "a longer text about pans"], padding=True, return_tensors="pt")
        x = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    prefix, suffix = split_backbone(bb, top)
    suffix.eval()
    with torch.no_grad():
        assert torch.allclose(bb(x), suffix(prefix(x)), atol=1e-6)
    want = [{id(p) for p in g} for g in bb.layer_groups()[-top:]]
    assert [{id(p) for p in g} for g in suffix.layer_groups()] == want
    with pytest.raises(ModelError, match="train_last_groups"):
        split_backbone(bb, len(bb.layer_groups()))


def _train(data, backbone, classes, top, cached, strategy="mcc"):
    model = _model(backbone, classes)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    sets, train_model = prepare_partial(model, _sets(data), top, CPU, 16, cached=cached)
    tdata = TrainData(sets["source_train"], sets["source_val"], sets["target_train"], classes,
                      sets["target_labeled_mask"])
    fit(train_model, build_strategy(strategy, {"train_last_groups": top}), tdata, epochs=3, batch_size=16, lr=1e-2,
        weight_decay=0.0, device=CPU, seed=0, patience=0, checkpoint="last")
    probs = predict(train_model, sets["target_test"], 16, CPU)
    return model, initial, probs, sets


@pytest.mark.parametrize("backbone,top", [("tiny_cnn", 1), ("tiny_text", 1)])
def test_cached_prefix_training_equals_uncached_and_leaves_the_prefix_untouched(backbone, top, monkeypatch):
    import tlcore.training.device as device

    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: False)  # bf16 inference would differ by ~1e-4
    if backbone == "tiny_text":
        tok = create_backbone("tiny_text", pretrained=False).tokenizer
        data, classes = _text_data(tok), 2
    else:
        data, classes = tiny_image_data(shift=40), 3
    cached, initial, p_cached, sets = _train(data, backbone, classes, top, cached=True)
    assert isinstance(sets["source_train"], HiddenStateSet if backbone == "tiny_text" else ActivationSet)
    plain, _, p_plain, raw = _train(data, backbone, classes, top, cached=False)
    assert raw["source_train"] is data.source_train  # the uncached run really fed raw inputs
    a, b = cached.state_dict(), plain.state_dict()
    for k in a:  # every weight and buffer of the two runs agree (batch-norm statistics included)
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k
    assert np.allclose(p_cached, p_plain, atol=1e-5)
    groups = cached.backbone.layer_groups()
    frozen_ids = {id(p) for g in groups[:-top] for p in g}
    names = {id(p): n for n, p in cached.named_parameters()}
    for pid in frozen_ids:  # frozen prefix: bit for bit the initial weights
        assert torch.equal(a[names[pid]], initial[names[pid]]), names[pid]
    for k in a:  # its batch-norm statistics too (the prefix runs in eval mode)
        if k.startswith("backbone.") and "running" in k and not any(
                k.startswith(f"backbone.blocks.{i}.") for i in range(len(groups) - top, len(groups))):
            assert torch.equal(a[k], initial[k]), k
    top_names = [names[id(p)] for p in groups[-1]]
    assert any(not torch.equal(a[n], initial[n]) for n in top_names)  # the top trained


def test_pipeline_trains_only_the_top_and_reuses_the_activation_cache(store):
    conf = {**TINY, "strategy": "mcc", "params": {"train_last_groups": 1}, "checkpoint": "last"}
    events = []
    rec = run_experiment(RunConfig.from_dict(conf), store, callbacks=[events.append])
    assert rec.status == "completed"
    m = store.metrics(rec.run_id)
    full = Classifier(create_backbone("tiny_cnn", pretrained=False), 10, bottleneck=16)
    top = sum(p.numel() for p in full.backbone.layer_groups()[-1])
    head = sum(p.numel() for p in full.head_parameters())
    setup = next(e for e in events if e.get("type") == "setup")
    assert setup["trainable_params"] == top + head + 0  # mcc owns no modules
    assert list((store.root / "cache" / "prefix").glob("*.npz"))
    # the saved model: prefix exactly as initialised (same seed), the top trained
    from safetensors.torch import load_file

    saved = load_file(store.path(rec.run_id, "model.safetensors"))
    torch.manual_seed(conf.get("seed", 0))
    init = create_backbone("tiny_cnn", pretrained=False).state_dict()
    assert torch.equal(saved["backbone.blocks.0.0.weight"], init["blocks.0.0.weight"])
    assert torch.equal(saved["backbone.blocks.1.1.running_mean"], init["blocks.1.1.running_mean"])
    assert not torch.equal(saved["backbone.blocks.2.0.weight"], init["blocks.2.0.weight"])
    # a second run reads the cached activations and is the very same run
    events2 = []
    rec2 = run_experiment(RunConfig.from_dict(conf), store, callbacks=[events2.append])
    details = [e.get("detail", "") for e in events2 if e.get("phase") == "caching the frozen layers"]
    assert any("(from the cache)" in d for d in details)
    assert store.metrics(rec2.run_id)["target_test"]["accuracy"] == m["target_test"]["accuracy"]


@pytest.mark.parametrize("params,match", [({"train_last_groups": 1, "freeze_backbone": True},
                                           "not freeze_backbone and train_last_groups"),
                                          ({"train_last_groups": 1, "trainable_groups": 2},
                                           "not trainable_groups and train_last_groups"),
                                          ({"freeze_backbone": True, "trainable_groups": 2},
                                           "not freeze_backbone and trainable_groups"),
                                          ({"train_last_groups": 3}, "between 1 and 2")])
def test_conflicting_or_impossible_settings_are_refused(store, params, match):
    with pytest.raises((ConfigError, ModelError), match=match):
        run_experiment(RunConfig.from_dict({**TINY, "strategy": "fine_tuning", "params": params}), store)


def test_one_freezing_knob_and_two_shorthands():
    """``trainable_groups`` says how much trains; ``freeze_backbone`` and ``train_last_groups`` are its cached
    shorthands (tlcore.strategies.specs.base.freezing), read the same way by the strategy and the prefix cache."""
    from types import SimpleNamespace

    from tlcore.strategies.specs.base import Freezing, freezing

    def p(**kw):
        return SimpleNamespace(**{"freeze_backbone": False, "trainable_groups": 0, "train_last_groups": 0, **kw})

    assert freezing(p()) == Freezing(None, False)
    assert freezing(p(trainable_groups=2)) == Freezing(2, False)
    assert freezing(p(freeze_backbone=True)) == Freezing(0, True)
    assert freezing(p(train_last_groups=1)) == Freezing(1, True)
    assert freezing(SimpleNamespace()) == Freezing(None, False)  # strategies without the knobs
