"""The "before" embeddings of a run just trained, on the same samples as the "after" ones, and the domain-gap
figures of both (``metrics["embeddings"]``)."""
from __future__ import annotations

import numpy as np


def features_before(model, sets, features, initial_state, cfg, device) -> dict:
    """``{split: {features, labels, index}}`` of the backbone as it was before training.

    Call after the model is saved: the initial backbone weights are loaded back into ``model`` in place.
    """
    import torch

    from tlcore.embeddings.extract import model_features
    from tlcore.models.classifier import BackboneOnly
    from tlcore.training.device import inference_batch_size

    if initial_state is None and not cfg.bottleneck:  # frozen backbone: the features the head reads never changed
        return features
    if initial_state is None:  # frozen backbone + trained bottleneck: before = the cached backbone features
        return {k: {**d, "features": sets[k].features[torch.as_tensor(d["index"])].numpy().astype(np.float16)}
                for k, d in features.items()}
    # the pretrained (or initial) backbone's features, without the trained bottleneck
    model.backbone.load_state_dict(initial_state)
    with torch.no_grad():
        return {k: {**d, "features": model_features(BackboneOnly(model.backbone), sets[k], d["index"],
                                                      inference_batch_size(device, cfg.batch_size), device)}
                for k, d in features.items()}


def gap_summary(before, after, classes, cfg, frozen: bool) -> dict:
    """``{"gap": {"before", "after"}, "frozen_backbone"}`` (tlcore/embeddings/gap.py)."""
    from tlcore.embeddings.gap import gap_figures

    gap = {}
    for name, feats in (("before", before), ("after", after)):
        if name == "after" and feats is before:  # frozen backbone, no bottleneck: the same features
            gap["after"] = gap["before"]
            continue
        sv, tt = feats["source_val"], feats["target_test"]
        gap[name] = gap_figures(np.asarray(sv["features"], np.float32), np.asarray(tt["features"], np.float32),
                                sv["labels"], tt["labels"], classes, seed=cfg.seed)
    return {"gap": gap, "frozen_backbone": frozen}
