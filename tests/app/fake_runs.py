"""Write small, realistic run folders without training: config, metrics, history, predictions, features."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from tlcore.evaluation.metrics import classification_metrics

CLASSES = ["ant", "bee", "cat"]


def _split(rng, n, dim, shift, quality, y=None):
    y = rng.integers(0, len(CLASSES), n) if y is None else y
    centers = np.eye(len(CLASSES), dim) * 4
    feats = centers[y] + rng.normal(size=(n, dim)) + shift
    logits = np.eye(len(CLASSES))[y] * quality + rng.normal(size=(n, len(CLASSES)))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, feats, probs


def make_run(store, name="run", strategy="linear_probe", backbone="resnet18", source="photos", target="sketches",
             status="completed", seed=0, n=40, dim=16, text=False, error=None, truth_seed=None) -> str:
    """Create one run in ``store``; completed runs get every artifact the pages read.

    Runs made with the same ``target``, ``n`` and ``truth_seed`` share their target test set (same labels,
    split.json and target fingerprint), so they can be paired; without ``truth_seed`` the target test set
    is private to the run.
    """
    config = {"name": name, "strategy": strategy, "backbone": backbone, "seed": seed, "epochs": 3,
              "source": {"name": source}, "target": {"name": target}}
    rid = store.create(config, status="running")
    if status != "completed":
        store.finish(rid, status, error=error or "RuntimeError: boom", seconds=1.5)
        return rid
    rng = np.random.default_rng(seed)
    metrics = {"classes": CLASSES}
    arrays = {}
    for key, shift, quality in (("source_val", 0.0, 3.0), ("target_test", 1.5, 1.0 + seed)):
        truth = None
        if key == "target_test" and truth_seed is not None:
            truth = np.random.default_rng(truth_seed).integers(0, len(CLASSES), n)
        y, feats, probs = _split(rng, n, dim, shift, quality, truth)
        metrics[key] = classification_metrics(y, probs, CLASSES, n_resamples=200)
        src = [f"Sample text number {i} " * 12 if text else f"{key}/img_{i}.png" for i in range(n)]
        df = pd.DataFrame({"index": np.arange(n) * 2, "source": src, "true": [CLASSES[i] for i in y],
                           "pred": [CLASSES[i] for i in probs.argmax(1)], "confidence": probs.max(1).round(5)})
        for j, c in enumerate(CLASSES):
            df[f"p_{c}"] = probs[:, j]
        store.write_bytes(rid, f"predictions_{key}.csv", df.to_csv(index=False).encode())
        keep = np.arange(n)[::-1]  # npz rows in a different order than the CSV: the join must use "index"
        arrays.update({f"{key}.features": feats[keep].astype(np.float16), f"{key}.labels": y[keep],
                       f"{key}.index": keep})
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    store.write_bytes(rid, "features_after.npz", buf.getvalue())
    history = [{"epoch": e, "loss": 1.0 / e, "train_acc": 0.5 + 0.1 * e, "val_acc": 0.4 + 0.1 * e,
                "seconds": 0.1 * e} for e in (1, 2, 3)]
    store.write_json(rid, "history.json", history)
    shared = truth_seed is not None
    store.write_json(rid, "split.json", {"source_train": [], "source_val": list(range(0, 2 * n, 2)),
                                         "target_train": [], "target_labeled": [],
                                         "target_test": list(range(0, 2 * n, 2)), "seed": seed})
    store.write_json(rid, "domains.json", {
        "source": {"name": source, "modality": "text" if text else "image", "n": 2 * n,
                   "counts": {c: n // 3 for c in CLASSES}},
        "target": {"name": target, "modality": "text" if text else "image", "n": 2 * n},
        "source_fingerprint": f"fp-{source}",
        "target_fingerprint": f"fp-{target}-{truth_seed}" if shared else f"fp-{target}-{rid}"})
    for h in history:
        store.append_event(rid, {"type": "epoch", **h})
    store.finish(rid, "completed", metrics=metrics, seconds=12.0)
    return rid
