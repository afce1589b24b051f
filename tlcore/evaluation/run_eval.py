"""Evaluation of a trained run: metrics with bootstrap intervals on source validation and target test, the
target-train metrics (labeled part), the label-free validators, and the capped features for the embeddings.

Predictions go through the run's :class:`~tlcore.runs.recorder.Recorder`.
"""
from __future__ import annotations

import numpy as np

EMBED_CAP = 2000  # features kept per domain for the embeddings page
BOOTSTRAP = 1000  # bootstrap resamples behind every metric's confidence interval


def evaluate_run(model, sets, source, target, split, classes, cfg, device, recorder) -> tuple[dict, dict]:
    """Returns ``(metrics, features)``: ``features`` = ``{split: {features, labels, index}}`` capped per domain."""
    from tlcore.evaluation.metrics import classification_metrics
    from tlcore.training.device import inference_batch_size
    from tlcore.training.loop import predict

    batch = inference_batch_size(device, cfg.batch_size)
    metrics, features, outputs = {}, {}, {}
    for key, dom, idx in (("source_val", source, split.source_val), ("target_test", target, split.target_test)):
        ds = sets[key]
        probs, feats = predict(model, ds, batch, device, return_features=True)
        labeled = ds.labels >= 0
        metrics[key] = classification_metrics(ds.labels[labeled], probs[labeled], classes, n_resamples=BOOTSTRAP,
                                              seed=cfg.seed) if labeled.any() \
            else {"n": int(len(ds)), "unlabeled": True}
        recorder.predictions(key, dom, idx, ds.labels, probs, classes)
        features[key] = cap_features(feats, ds.labels, cfg.seed)
        outputs[key] = (probs, feats, ds.labels)
    tt_mask = sets["target_labeled_mask"]
    probs, tt_feats = predict(model, sets["target_train"], batch, device, return_features=True)
    if tt_mask.any():  # target train, on its labeled part only (these labels were used in training)
        metrics["target_train"] = classification_metrics(sets["target_train"].labels[tt_mask], probs[tt_mask],
                                                         classes, n_resamples=BOOTSTRAP, seed=cfg.seed)
    if len(probs):  # the unlabeled target's predictions (labels only where the user gave them): what the
        # portfolio compares candidates on without target labels (tlcore/portfolio.py)
        shown = np.where(tt_mask, sets["target_train"].labels, -1)  # never the labels training did not use
        recorder.predictions("target_train", target, split.target_train, shown, probs, classes)
    if len(probs):  # label-free validators on the target-train outputs (tlcore/evaluation/validators.py)
        from tlcore.evaluation.validators import score_run

        metrics["target_unsupervised"] = score_run(probs, tt_feats, *outputs["source_val"], seed=cfg.seed)
    return metrics, features


def cap_features(feats, labels, seed: int) -> dict:
    """A seeded, class-stratified subset of at most :data:`EMBED_CAP` rows, features as float16."""
    from tlcore.embeddings.extract import stratified_cap

    idx = stratified_cap(labels, EMBED_CAP, seed)
    return {"features": feats[idx].astype(np.float16), "labels": labels[idx], "index": idx}
