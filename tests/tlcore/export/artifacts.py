"""Runs holding a real model artifact without training: a seeded random Classifier saved with save_model, under a
config the pipeline accepts (so compress can rebuild the data split)."""
from __future__ import annotations

import torch

from tlcore.config import RunConfig
from tlcore.models.backbones import create_backbone
from tlcore.models.classifier import Classifier
from tlcore.models.io import build_meta, save_model

CLASSES = {"digits": [str(i) for i in range(10)], "reviews": ["negative", "positive"]}


def artifact_run(store, backbone="tiny_cnn", demo="digits", bottleneck=0, seed=0, name="", strategy="fine_tuning",
                 status="completed", encoder=None):
    """A run of ``store`` whose model.json + model.safetensors hold a seeded random model. Returns
    ``(run_id, model)``. ``encoder`` replaces the backbone (e.g. a pretrained one)."""
    cfg = RunConfig.from_dict({"source": {"demo": demo}, "target": {"demo": demo}, "backbone": backbone,
                               "strategy": strategy, "image_size": 16, "max_length": 32, "bottleneck": bottleneck,
                               "max_samples_per_domain": 120, "seed": seed, "epochs": 1, "name": name})
    torch.manual_seed(seed)
    bb = encoder if encoder is not None else create_backbone(backbone, pretrained=False)
    model = Classifier(bb, len(CLASSES[demo]), bottleneck=bottleneck).eval()
    if bottleneck:  # non-trivial BatchNorm statistics, so a wrong eval/train mode would show
        bn = model.neck[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    rid = store.create(cfg.to_dict(), status="running")
    store.update(rid, modality=bb.modality)
    store.write_json(rid, "labels.json", {"classes": CLASSES[demo]})
    if status != "completed":
        store.finish(rid, status, error="boom")
        return rid, model
    save_model(store.folder(rid), model, build_meta(model, CLASSES[demo], backbone, image_size=16, max_length=32,
                                                   extra={"run_id": rid}))
    store.finish(rid, "completed", metrics={"classes": CLASSES[demo],
                                            "target_test": {"n": 10, "accuracy": 0.5, "accuracy_ci": [0.3, 0.7],
                                                            "f1_macro": 0.4, "f1_macro_ci": [0.2, 0.6]},
                                            "source_val": {"n": 10, "accuracy": 0.9, "accuracy_ci": [0.8, 1.0]}})
    return rid, model
