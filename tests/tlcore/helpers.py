"""Tiny synthetic data and models for fast engine tests."""
from __future__ import annotations

import numpy as np
import torch

from tlcore.models.backbones import TinyCNN
from tlcore.models.classifier import Classifier
from tlcore.training.batches import ImageSet
from tlcore.training.loop import TrainData


def tiny_image_data(n=64, classes=3, size=16, seed=0, shift=0.0, labeled_fraction=0.0):
    """Class-dependent bright squares; the target is shifted by ``shift`` in brightness."""
    g = np.random.default_rng(seed)

    def make(n, offset):
        y = g.integers(0, classes, n)
        x = g.integers(0, 60, (n, 3, size, size)).astype(np.float32)
        for i, c in enumerate(y):
            x[i, :, 2 + 4 * c: 5 + 4 * c, 2:6] = 230
        x = np.clip(x + offset, 0, 255).astype(np.uint8)
        return ImageSet(torch.from_numpy(x), y, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))

    src, val, tgt = make(n, 0), make(n // 2, 0), make(n, shift)
    mask = np.zeros(len(tgt), bool)
    mask[: int(labeled_fraction * len(tgt))] = True
    return TrainData(source_train=src, source_val=val, target_train=tgt, num_classes=classes,
                     target_labeled_mask=mask)


def tiny_model(classes=3, seed=0):
    torch.manual_seed(seed)
    return Classifier(TinyCNN(width=8), classes)


def make_teacher_run(store, classes=3, backbone="tiny_cnn", seed=0) -> str:
    """A completed run in ``store`` holding a randomly initialised ``backbone`` classifier (a teacher for
    distillation tests), saved as a model artifact (model.json + model.safetensors)."""
    from tlcore.models.backbones import create_backbone
    from tlcore.models.io import build_meta, save_model

    torch.manual_seed(seed)
    teacher = Classifier(create_backbone(backbone, pretrained=False), classes)
    rid = store.create({"backbone": backbone, "strategy": "scratch", "source": {"demo": "digits"},
                        "target": {"demo": "digits"}}, status="running")
    names = [f"c{i}" for i in range(classes)]
    store.write_json(rid, "labels.json", {"classes": names})
    save_model(store.folder(rid), teacher, build_meta(teacher, names, backbone, image_size=32, max_length=64))
    store.finish(rid, "completed", metrics={})
    return rid
