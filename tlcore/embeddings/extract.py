"""Features for the embedding inspector: the seeded stratified cap, before/after extraction, the queued job.

``features_before.npz`` (the backbone as it was before training: pretrained weights, or the random init of a
from-scratch run) and ``features_after.npz`` (the trained model, the layer the head reads) hold the same
samples: ``<split>.features`` (N, D) float16, ``<split>.labels`` (N,), ``<split>.index`` (N,) = row in
``predictions_<split>.csv`` = position in ``split.source_val`` / ``split.target_test``.

torch is imported inside the functions that need it, so ``tlcore.embeddings`` stays light for the dashboard.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from tlcore.job_context import current_job, report_progress
from tlcore.embeddings.project import FEATURES_FILES, load_features_npz

SPLITS = ("source_val", "target_test")
PROGRESS_FILE = "extract_progress.json"
LOG_FILE = "extract.log"
STALE_S = 600  # a "running" progress file without a pid, older than this, is failed


def stratified_cap(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``cap`` samples, seeded, in proportion to each class (unlabeled = -1 is
    one more group); every class keeps at least one sample when ``cap`` allows."""
    labels = np.asarray(labels)
    n = len(labels)
    if n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    quota = np.array([len(g) for g in groups], dtype=float) / n * cap
    take = np.maximum(1, np.floor(quota)).astype(int)
    rest = cap - int(take.sum())
    for j in np.argsort(-(quota - np.floor(quota)))[:max(rest, 0)]:  # largest remainders get the spare slots
        take[j] += 1
    keep = [rng.choice(g, min(t, len(g)), replace=False) for g, t in zip(groups, take)]
    return np.sort(np.concatenate(keep))[:cap]


def model_features(model, ds, rows: np.ndarray, batch_size: int, device) -> np.ndarray:
    """Features ``(len(rows), D)`` of ``model`` (a Classifier) on the rows ``rows`` of the encoded set ``ds``."""
    from tlcore.training.loop import predict

    _, feats = predict(model, _Rows(ds, rows), batch_size, device, return_features=True)
    return feats


def _Rows(ds, rows):  # noqa: N802 - a small factory that builds an EncodedSet view
    from tlcore.training.batches import EncodedSet

    class Rows(EncodedSet):
        kind = ds.kind

        def __init__(self):
            super().__init__(ds.labels[rows])

        def batch(self, idx, device, train=False):
            return ds.batch(np.asarray(rows)[idx], device, train)

        def lengths(self):
            lengths = ds.lengths()
            return None if lengths is None else np.asarray(lengths)[rows]

    return Rows()


# -- existing runs: compute the missing before-features ------------------------------------------------------

def write_progress(store, run_id: str, status: str, progress: float = 0.0, detail: str = "", **extra) -> None:
    """Progress of the extraction; inside an ``embeddings`` job it names the job (readers then ask the queue)."""
    job = {"job_id": current_job()} if current_job() else {}
    store.write_json(run_id, PROGRESS_FILE, {"status": status, "progress": round(progress, 3), "detail": detail,
                                            "time": time.time(), "pid": os.getpid(), **job, **extra})
    if job and status == "running":
        report_progress(progress, detail)


def extract_before(store, run_id: str, device: str | None = None, batch_size: int = 64) -> dict:
    """Recompute ``features_before.npz`` for a finished run on the same samples as ``features_after.npz``.

    Rebuilds the run's data and split from its config (deterministic), builds the backbone as it was before
    training (pretrained weights, or for a from-scratch strategy the seeded random init), and runs it on the
    stored sample positions. Progress goes to ``extract_progress.json`` in the run folder.
    """
    import torch

    from tlcore.config import RunConfig
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier
    from tlcore.data.prepare import prepare_data
    from tlcore.strategies import build_strategy
    from tlcore.training.batches import encode_for
    from tlcore.training.device import resolve_device, seed_everything
    from tlcore.errors import TLError
    from tlcore.runs.recorder import Recorder

    after = load_features_npz(store, run_id, "after")
    if after is None:
        raise TLError(f"run {run_id!r} has no {FEATURES_FILES['after']}: nothing to match the samples to")
    write_progress(store, run_id, "running", 0.05, "loading data")
    cfg = RunConfig.from_dict(store.get(run_id).config)
    strategy = build_strategy(cfg.strategy, cfg.params)
    dev = resolve_device(device or cfg.device)
    seed_everything(cfg.seed)
    source, target, classes, split = prepare_data(cfg)
    write_progress(store, run_id, "running", 0.2, "building the backbone")
    backbone = create_backbone(cfg.backbone, pretrained=cfg.pretrained and strategy.requires.pretrained)
    model = Classifier(backbone, len(classes)).to(dev)
    out = {}
    for i, (key, dom, positions) in enumerate((("source_val", source, split.source_val),
                                                ("target_test", target, split.target_test))):
        if f"{key}.index" not in after:
            continue
        index = np.asarray(after[f"{key}.index"], dtype=np.int64)
        samples = [dom.samples[positions[j]] for j in index]
        labels = np.asarray(after[f"{key}.labels"], dtype=np.int64)
        write_progress(store, run_id, "running", 0.3 + 0.3 * i, f"{key}: encoding {len(samples)} samples")
        ds = encode_for(backbone, samples, labels, image_size=cfg.image_size, max_length=cfg.max_length)
        write_progress(store, run_id, "running", 0.45 + 0.3 * i, f"{key}: features of {len(samples)} samples")
        with torch.no_grad():
            feats = model_features(model, ds, np.arange(len(ds)), batch_size, dev)
        out[key] = {"features": feats, "labels": labels, "index": index}
    Recorder(store, run_id).features(out, "before")  # FEATURES_FILES["before"]
    return {"n": {k: len(v["index"]) for k, v in out.items()}, "dim": int(next(iter(out.values()))["features"].shape[1])}


def extraction_command(run_id: str, method: str = "pca", dim: int = 2, params: dict | None = None) -> list[str]:
    """The command line that does what ``launch_extraction``'s job does (``python -m tlcore embeddings RUN_ID
    ...``, shown on the page): one ``--name value`` option per projection parameter, spelled as the CLI spells
    them."""
    args = [sys.executable, "-m", "tlcore", "embeddings", run_id, "--method", method, "--dim", str(dim)]
    for k, v in (params or {}).items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args


def json_line(obj) -> str:
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))
