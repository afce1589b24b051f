"""A finished run's target training pool, seen through the run's model.

The pool is the unlabelled part of the run's ``target_train`` (``target_train`` minus ``target_labeled``): the
run's own split, rebuilt by the pipeline's data preparation (:func:`tlcore.data.prepare.prepare_data`) and checked
against the ``split.json`` the run recorded, so no ``target_test`` sample can be queried. Probabilities and
features come from the run's saved model (``model.safetensors`` + ``model.json``) with the preprocessing recorded
beside it, in the training code's own encode and predict functions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tlcore.errors import DataError

TEXT_PREVIEW = 500  # characters of a text shown as ``path_or_text``


@dataclass(frozen=True)
class Pool:
    """One run's query pool. Row ``r`` of the arrays is target position ``positions[r]`` with id ``ids[r]``.

    Attributes:
        probs: (N, C) softmax of the run's model. features: (N, D) the features its head reads.
        labeled_features: (M, D) features of the run's already labelled target training samples.
        truth: (N,) the target's own labels where it has them ("" where not): the oracle of label curves.
    """

    run_id: str
    classes: list
    modality: str
    positions: np.ndarray
    ids: list
    previews: list
    probs: np.ndarray
    features: np.ndarray
    labeled_features: np.ndarray
    truth: list
    target_spec: dict


def load_pool(store, run_id: str, batch_size: int = 64, device: str = "cpu") -> Pool:
    """Rebuild run ``run_id``'s target training pool and run its model over it.

    Raises:
        RunNotFound / ModelError: no such run, not completed, or no saved model.
        DataError: the data no longer gives the split the run recorded (the domain changed since).
    """
    import torch

    from tlcore.config import RunConfig
    from tlcore.data.prepare import prepare_data
    from tlcore.data.split import Split
    from tlcore.models.io import load_run_model
    from tlcore.runs import artifacts
    from tlcore.training.batches import encode_for
    from tlcore.training.loop import predict

    loaded = load_run_model(store, run_id, device=device)  # refuses runs that did not complete
    cfg = RunConfig.from_dict(store.get(run_id).config)
    _, target, classes, split = prepare_data(cfg)
    recorded = store.read_json(run_id, artifacts.SPLIT)
    if recorded is not None and Split.from_dict(recorded) != split:
        raise DataError(f"run {run_id!r}: its target data no longer gives the split it trained on (the domain "
                        "changed since); query a run trained on the current data")
    labeled = set(split.target_labeled)
    positions = np.array([i for i in split.target_train if i not in labeled], dtype=np.int64)
    if not len(positions):
        raise DataError(f"run {run_id!r}: every target training sample is labelled already; nothing to query")
    pre = loaded.meta["preprocessing"]
    model, dev = loaded.model, torch.device(device)

    def outputs(rows) -> tuple[np.ndarray, np.ndarray]:
        if not len(rows):
            return np.zeros((0, len(classes))), np.zeros((0, 0))
        samples = [target.samples[i] for i in rows]
        if target.modality == "image":
            enc = encode_for(model.backbone, samples, np.full(len(rows), -1), image_size=pre["image_size"],
                             mean=pre["mean"], std=pre["std"], lazy=True)
        else:
            enc = encode_for(model.backbone, samples, np.full(len(rows), -1), max_length=pre["max_length"])
        with torch.inference_mode():
            return predict(model, enc, batch_size, dev, return_features=True)

    probs, feats = outputs(positions)
    _, lab_feats = outputs(np.array(sorted(labeled), dtype=np.int64))
    truth = [target.labels[i] if target.labels is not None else "" for i in positions]
    previews = [target.sources[i] if target.modality == "image" else str(target.samples[i])[:TEXT_PREVIEW]
                for i in positions]
    return Pool(run_id=run_id, classes=list(loaded.classes), modality=target.modality, positions=positions,
                ids=[target.sources[i] for i in positions], previews=previews, probs=probs.astype(np.float64),
                features=feats.astype(np.float64), labeled_features=lab_feats.astype(np.float64), truth=truth,
                target_spec=cfg.target.to_dict())


def query_run(store, run_id: str, method: str, budget: int, seed: int = 0, pool: Pool | None = None) -> dict:
    """``{"run_id", "method", "modality", "samples": [{"id", "name", "path_or_text", "predicted", "score"}]}`` for
    the ``budget`` pool samples ``method`` (:data:`tlcore.active.query.METHODS`) picks, in the order picked.

    ``id`` is the sample's source (an image's archive path, which may name its class: for the engine only);
    ``name`` is its neutral name (:func:`tlcore.data.label_sets.sample_name`), what a labeller is shown."""
    from tlcore.active.query import METHODS, query
    from tlcore.data.label_sets import sample_name
    from tlcore.errors import ConfigError

    if method not in METHODS:  # before any model is loaded
        raise ConfigError(f"method: unknown query strategy {method!r}; known: {list(METHODS)}")
    pool = pool or load_pool(store, run_id)
    idx, scores = query(method, budget, pool.probs, pool.features, pool.labeled_features, seed=seed)
    pred = pool.probs.argmax(1)
    return {"run_id": run_id, "method": method, "target": pool.target_spec, "pool_size": len(pool.ids),
            "modality": pool.modality,
            "samples": [{"id": pool.ids[r], "name": sample_name(pool.ids[r]), "path_or_text": pool.previews[r],
                         "predicted": pool.classes[pred[r]], "score": round(float(s), 6)}
                        for r, s in zip(idx, scores)]}
