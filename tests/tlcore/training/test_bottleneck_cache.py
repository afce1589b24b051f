"""Bottleneck layer, frozen-backbone fine-tuning on cached features, and the on-disk feature cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tlcore.config import RunConfig
from tlcore.embeddings.project import load_features_npz
from tlcore.errors import ConfigError
from tlcore.models.backbones import TinyCNN
from tlcore.models.classifier import Classifier, bottleneck_of, count_parameters
from tlcore.pipeline import run_experiment

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 2,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 200, "bottleneck": 16}


def test_bottleneck_sits_between_backbone_and_head():
    torch.manual_seed(0)
    m = Classifier(TinyCNN(width=8), 3, bottleneck=16)
    f, logits = m(torch.randn(4, 3, 16, 16))
    assert f.shape == (4, 16) and logits.shape == (4, 3) and m.out_features == 16
    assert bottleneck_of(m.state_dict()) == 16 and bottleneck_of(Classifier(TinyCNN(width=8), 3).state_dict()) == 0
    assert {id(p) for p in m.head_parameters()} == {id(p) for p in [*m.neck.parameters(), *m.head.parameters()]}


def _events(cfg, store):
    events = []
    rec = run_experiment(RunConfig.from_dict(cfg), store, callbacks=[events.append])
    return rec, [e.get("detail", "") for e in events if e.get("phase") == "caching frozen features"]


def test_frozen_dann_trains_only_the_bottleneck_and_reuses_cached_features(store):
    cfg = {**TINY, "strategy": "dann", "params": {"freeze_backbone": True}}
    rec1, details1 = _events(cfg, store)
    assert rec1.status == "completed"
    assert not any("feature cache" in d for d in details1)
    assert list((store.root / "cache" / "features").glob("*.npz"))
    rec2, details2 = _events(cfg, store)
    assert details2 and all("from the feature cache" in d for d in details2 if d)
    m1, m2 = store.metrics(rec1.run_id), store.metrics(rec2.run_id)
    # a cache hit gives the very same run
    assert m1["target_test"]["accuracy"] == m2["target_test"]["accuracy"]
    from tlcore.strategies import build_strategy
    from tlcore.strategies.base import SetupContext

    strat = build_strategy("dann", {"freeze_backbone": True})
    from tlcore.models.backbones import create_backbone

    model = Classifier(create_backbone("tiny_cnn", pretrained=False), 10, bottleneck=16)
    strat.configure(model, SetupContext(1e-3, 0.0, 10, 16, torch.device("cpu")))
    assert count_parameters(model.backbone) == 0 and count_parameters(model.neck) > 0
    assert m1["trainable_params"] == count_parameters(model) + sum(count_parameters(x) for x in strat.extra_modules())
    # before = the backbone's features, after = the bottleneck's (another width), and they differ
    before, after = load_features_npz(store, rec1.run_id, "before"), load_features_npz(store, rec1.run_id, "after")
    assert after["target_test.features"].shape[1] == 16 and before["target_test.features"].shape[1] != 16
    assert m1["embeddings"]["frozen_backbone"] is False


def test_cache_is_keyed_by_seed_for_random_init_backbones(store):
    _events({**TINY, "strategy": "fine_tuning", "params": {"freeze_backbone": True}}, store)
    _, details = _events({**TINY, "seed": 1, "strategy": "fine_tuning", "params": {"freeze_backbone": True}}, store)
    assert not any("feature cache" in d for d in details)


def test_cache_can_be_turned_off(store, monkeypatch):
    monkeypatch.setenv("TL_FEATURE_CACHE", "0")
    _events({**TINY, "strategy": "linear_probe"}, store)
    assert not (store.root / "cache" / "features").exists()


def test_tradaboost_refuses_a_bottleneck(store):
    cfg = {**TINY, "strategy": "tradaboost", "target": {"demo": "digits", "labeled_fraction": 0.2}}
    with pytest.raises(ConfigError, match="bottleneck"):
        run_experiment(RunConfig.from_dict(cfg), store)


def test_distillation_refuses_a_frozen_backbone(store):
    cfg = {**TINY, "strategy": "distillation", "params": {"freeze_backbone": True, "teacher_run_id": "x"}}
    with pytest.raises(ConfigError, match="freeze_backbone"):
        run_experiment(RunConfig.from_dict(cfg), store)


def test_teacher_with_a_bottleneck_loads(store):
    from tlcore.strategies.distillation import load_teacher

    rec = run_experiment(RunConfig.from_dict({**TINY, "strategy": "fine_tuning", "epochs": 1}), store)
    classes = store.read_json(rec.run_id, "labels.json")["classes"]
    teacher = load_teacher(rec.run_id, len(classes), store)
    assert teacher.bottleneck == 16
    f, logits = teacher(torch.zeros(2, 3, 16, 16))
    assert logits.shape == (2, len(classes)) and np.isfinite(logits.numpy()).all()


def test_feature_set_views_are_drawn_in_training_only():
    from tlcore.training.batches import FeatureSet

    clean = torch.zeros(6, 2)
    views = torch.stack([torch.full((6, 2), 1.0), torch.full((6, 2), 2.0)])
    fs = FeatureSet(clean, np.zeros(6, int), views=views)
    assert torch.equal(fs.batch(np.arange(6), torch.device("cpu")), clean)
    torch.manual_seed(0)
    seen = set()
    for _ in range(20):
        seen |= set(fs.batch(np.array([0, 3, 5]), torch.device("cpu"), train=True)[:, 0].tolist())
    assert seen == {0.0, 1.0, 2.0}


def test_feature_views_are_extracted_once_cached_and_recorded_only_when_set(store):
    cfg = {**TINY, "strategy": "mcc", "params": {"freeze_backbone": True}, "feature_views": 2}
    rec1, details1 = _events(cfg, store)
    assert rec1.status == "completed"
    assert [d for d in details1 if "augmented view" in d] == ["source_train: augmented view 1/2 (shapes)",
                                                              "source_train: augmented view 2/2 (shapes)"]
    rec2, details2 = _events(cfg, store)
    assert not any("augmented view" in d for d in details2)  # both views came from the cache
    m1, m2 = store.metrics(rec1.run_id), store.metrics(rec2.run_id)
    assert m1["target_test"]["accuracy"] == m2["target_test"]["accuracy"]
    assert RunConfig.from_dict(cfg).to_dict()["feature_views"] == 2
    assert "feature_views" not in RunConfig.from_dict(TINY).to_dict()  # earlier configs keep their JSON
    with pytest.raises(ConfigError, match="feature_views"):
        RunConfig.from_dict({**cfg, "feature_views": 17})


def test_feature_views_are_refused_where_nothing_is_cached():
    from tlcore.validation import validate

    base = {**TINY, "feature_views": 4}
    validate(RunConfig.from_dict({**base, "strategy": "linear_probe"}))
    validate(RunConfig.from_dict({**base, "strategy": "mcc", "params": {"freeze_backbone": True}}))
    with pytest.raises(ConfigError, match="feature_views: .*frozen"):
        validate(RunConfig.from_dict({**base, "strategy": "fine_tuning"}))
    with pytest.raises(ConfigError, match="feature_views: .*image backbone"):
        validate(RunConfig.from_dict({"source": {"demo": "reviews"}, "target": {"demo": "reviews"},
                                      "backbone": "tiny_text", "strategy": "linear_probe", "feature_views": 2}))
