"""Encoding a split into model inputs, and caching frozen-backbone features."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tlcore.training.batches import EncodedSet, FeatureSet, encode_images, encode_texts
from tlcore.training.loop import predict


def encode_split(source, target, classes: list[str], split, backbone, cfg) -> dict:
    """Encode the four parts of a split. Target-train labels are kept only where ``target_labeled``;
    target-test labels are used for evaluation only."""
    index = {c: i for i, c in enumerate(classes)}

    def labels_of(dom, idx, keep=None):
        if dom.labels is None:
            return np.full(len(idx), -1, dtype=np.int64)
        return np.array([index.get(dom.labels[i], -1) if keep is None or i in keep else -1 for i in idx],
                        dtype=np.int64)

    def encode(dom, idx, labels, augment):
        samples = [dom.samples[i] for i in idx]
        if dom.modality == "image":
            out = encode_images(samples, labels, cfg.image_size, backbone.mean, backbone.std, augment=augment)
        else:
            out = encode_texts(samples, labels, backbone.tokenizer, cfg.max_length)
        out.sources = [dom.sources[i] for i in idx]
        return out

    labeled = set(split.target_labeled)
    tt_labels = labels_of(target, split.target_train, keep=labeled)
    sets = {
        "source_train": encode(source, split.source_train, labels_of(source, split.source_train), cfg.augment),
        "source_val": encode(source, split.source_val, labels_of(source, split.source_val), False),
        "target_train": encode(target, split.target_train, tt_labels, cfg.augment),
        "target_test": encode(target, split.target_test, labels_of(target, split.target_test), False),
    }
    sets["target_labeled_mask"] = tt_labels >= 0
    return sets


class _Identity(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.out_features = dim

    def forward(self, x):
        return x

    def layer_groups(self):
        return []


def extract_features(model, sets: dict, device, batch_size: int, emit=None):
    """Run the frozen backbone once over every set; returns feature sets and a head-only model.

    The returned model shares ``model.head``, so training it trains the real model's head.
    """
    from tlcore.models.classifier import Classifier

    out = {}
    names = [k for k, v in sets.items() if isinstance(v, EncodedSet)]
    for i, name in enumerate(names):
        ds = sets[name]
        _, feats = predict(model, ds, batch_size, device, return_features=True)
        fs = FeatureSet(torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)), ds.labels)
        fs.sources = getattr(ds, "sources", None)
        out[name] = fs
        if emit:
            emit({"type": "phase", "phase": "caching frozen features", "progress": round((i + 1) / len(names), 3),
                  "detail": f"{name}: {len(ds)} samples"})
    out["target_labeled_mask"] = sets["target_labeled_mask"]
    head_model = Classifier(_Identity(model.out_features), model.head.out_features)
    head_model.head = model.head
    return out, head_model.to(device)
