"""The composition root: ``run_experiment(config, store, callbacks)`` -> RunRecord.

Loads and splits the domains, builds the backbone and strategy, runs the one training loop, evaluates on
source validation and target test, and records everything in the run store.
"""
from __future__ import annotations

import io
import time
import traceback
from typing import Callable

import numpy as np

from tlcore.config import RunConfig
from tlcore.errors import Cancelled, ConfigError, TLError
from tlcore.runs.store import RunRecord, RunStore

EMBED_CAP = 2000  # features kept per domain for the embeddings page
BOOTSTRAP = 1000  # bootstrap resamples behind every metric's confidence interval


def prepare_data(cfg: RunConfig):
    """Load both domains, align labels, subsample and split. Returns (source, target, classes, split)."""
    from tlcore.data import align_labels, load_domain, make_split

    source = load_domain(cfg.source.to_dict(), "source", cfg.seed)
    target = load_domain(cfg.target.to_dict(), "target", cfg.seed)
    if source.modality != target.modality:
        raise ConfigError(f"target: the source holds {source.modality}s but the target holds {target.modality}s")
    source, target, classes = align_labels(source, target, intersection=cfg.label_intersection)
    if cfg.max_samples_per_domain:
        source = subsample(source, cfg.max_samples_per_domain, cfg.seed)
        target = subsample(target, cfg.max_samples_per_domain, cfg.seed + 1)
    split = make_split(source, target, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
                       labeled_fraction=cfg.target.labeled_fraction, seed=cfg.seed)
    return source, target, classes, split


def subsample(domain, n: int, seed: int):
    """Seeded subsample of at most ``n`` samples, stratified by label when labeled."""
    if len(domain) <= n:
        return domain
    rng = np.random.default_rng(seed)
    if domain.labels is None:
        return domain.subset(np.sort(rng.choice(len(domain), n, replace=False)))
    labels = np.asarray(domain.labels)
    keep = []
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.maximum(2, np.floor(counts / len(labels) * n)).astype(int)
    for c, q in zip(classes, quota):
        idx = np.flatnonzero(labels == c)
        keep.extend(rng.choice(idx, min(q, len(idx)), replace=False))
    return domain.subset(np.sort(np.array(keep)))


def validate(cfg: RunConfig, store: RunStore | None = None):
    """Cheap checks before any data or model is loaded (unknown strategy/backbone, bad params). With ``store``,
    strategies that read other runs (distillation's teacher) are bound to it and check those runs too."""
    from tlcore.models.registry import resolve_spec
    from tlcore.strategies import build_strategy

    strategy = build_strategy(cfg.strategy, cfg.params)
    if store is not None:
        strategy.bind_store(store)
    spec = resolve_spec(cfg.backbone)
    strategy.precheck()
    if cfg.bottleneck and not strategy.supports_bottleneck:
        raise ConfigError(f"bottleneck: strategy {cfg.strategy!r} fits a linear head on the raw backbone features; "
                          "set bottleneck to 0")
    if strategy.uses_target_labels and cfg.target.labeled_fraction <= 0:
        raise ConfigError(f"target.labeled_fraction: strategy {cfg.strategy!r} needs some target labels (> 0)")
    return strategy, spec


def run_experiment(cfg: RunConfig, store: RunStore, callbacks: list[Callable[[dict], None]] | None = None,
                   cancel_check: Callable[[], bool] | None = None, run_id: str | None = None) -> RunRecord:
    """Run one experiment end to end and record it. Errors are recorded on the run and re-raised."""
    strategy, spec = validate(cfg, store)
    callbacks = list(callbacks or [])
    rid = store.create(cfg.to_dict(), status="running", run_id=run_id)
    t0 = time.time()

    def emit(event: dict):
        event = {"t": round(time.time() - t0, 3), **event}
        store.append_event(rid, event)
        for cb in callbacks:
            cb(event)

    try:
        metrics = _run(cfg, strategy, spec, store, rid, emit, cancel_check)
    except Cancelled as exc:
        emit({"type": "status", "status": "cancelled"})
        store.finish(rid, "cancelled", error=str(exc), seconds=round(time.time() - t0, 2))
        raise
    except TLError as exc:
        emit({"type": "status", "status": "failed", "error": str(exc)})
        store.finish(rid, "failed", error=str(exc), seconds=round(time.time() - t0, 2))
        raise
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}"
        emit({"type": "status", "status": "failed", "error": msg, "traceback": traceback.format_exc()[-4000:]})
        store.finish(rid, "failed", error=msg, seconds=round(time.time() - t0, 2))
        raise
    store.finish(rid, "completed", metrics=metrics, seconds=round(time.time() - t0, 2))
    _record_reference_flags(store, rid, metrics)
    emit({"type": "status", "status": "completed"})
    return store.get(rid)


def _record_reference_flags(store, rid, metrics) -> None:
    """``metrics["flags"]``: a pretrained image run below the small-CNN reference or the frozen linear probe
    on the same target test samples (tlcore/evaluation/sanity.py)."""
    from tlcore.evaluation.sanity import store_flags

    flags = store_flags(store, rid)
    if flags:
        store.write_json(rid, "metrics.json", {**metrics, "flags": flags})


def _run(cfg, strategy, spec, store, rid, emit, cancel_check) -> dict:
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier, count_parameters
    from tlcore.training.device import (describe_device, inference_batch_size, precision_name, resolve_device,
                                        seed_everything)
    from tlcore.training.loop import Control, TrainData, predict
    from tlcore.training.features import FeatureCache, encode_split, extract_features

    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    emit({"type": "phase", "phase": "loading data"})
    source, target, classes, split = prepare_data(cfg)
    if spec.modality != source.modality:
        raise ConfigError(f"backbone: {cfg.backbone!r} is a {spec.modality} model but the domains hold "
                          f"{source.modality}s")
    store.update(rid, modality=source.modality)
    store.write_json(rid, "split.json", split.to_dict())
    store.write_json(rid, "labels.json", {"classes": classes})
    store.write_json(rid, "domains.json", {"source": source.summary(), "target": target.summary(),
                                           "source_fingerprint": source.fingerprint(),
                                           "target_fingerprint": target.fingerprint()})
    from tlcore.reports.repro import repro_card

    store.write_json(rid, "repro.json", repro_card(cfg.to_dict(), store.read_json(rid, "domains.json", {}),
                                                   split.to_dict(), describe_device(device)))
    emit({"type": "phase", "phase": "building model"})
    backbone = create_backbone(cfg.backbone, pretrained=cfg.pretrained and strategy.pretrained)
    # the backbone as it was before training, for the "before" embeddings (frozen backbones do not change)
    frozen = strategy.caches_features
    initial_state = None if frozen else {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    model = Classifier(backbone, len(classes), bottleneck=cfg.bottleneck).to(device)
    if source.modality == "image":
        model = model.to(memory_format=torch.channels_last)
    emit({"type": "phase", "phase": "encoding inputs"})
    sets = encode_split(source, target, classes, split, backbone, cfg)
    train_model = model
    if frozen:
        emit({"type": "phase", "phase": "caching frozen features"})
        cache = FeatureCache.for_run(store.root, cfg, source, target, split, precision_name(device))
        sets, train_model = extract_features(model, sets, device, inference_batch_size(device, cfg.batch_size), emit,
                                             cache=cache, domain_bn=cfg.domain_bn)
    data = TrainData(source_train=sets["source_train"], source_val=sets["source_val"],
                     target_train=sets["target_train"], num_classes=len(classes),
                     target_labeled_mask=sets["target_labeled_mask"])
    strategy_setup = {"trainable_params": None}

    def record_trainable(event):
        if strategy_setup["trainable_params"] is None:
            strategy_setup["trainable_params"] = count_parameters(train_model) + sum(
                count_parameters(m) for m in strategy.extra_modules())
            emit({"type": "setup", "trainable_params": strategy_setup["trainable_params"],
                  "total_params": count_parameters(model, trainable_only=False),
                  "device": describe_device(device), "precision": precision_name(device)})

    emit({"type": "phase", "phase": "training"})
    result, batch_used = fit_with_oom_retry(
        train_model, strategy, data, cfg, device, emit,
        callbacks=[record_trainable, emit], control=Control(cancel_check=cancel_check))
    store.write_json(rid, "history.json", result.history)
    emit({"type": "phase", "phase": "evaluating"})
    from tlcore.evaluation.metrics import classification_metrics

    metrics = {"classes": classes, "batch_size_used": batch_used, "best_epoch": result.best_epoch,
               "stopped_early": result.stopped_early, "steps": result.steps, "trainable_params": strategy_setup["trainable_params"],
               "device": describe_device(device), "precision": precision_name(device)}
    features, outputs = {}, {}
    for key, dom, idx in (("source_val", source, split.source_val), ("target_test", target, split.target_test)):
        ds = sets[key]
        probs, feats = predict(train_model, ds, inference_batch_size(device, cfg.batch_size), device,
                               return_features=True)
        labeled = ds.labels >= 0
        metrics[key] = classification_metrics(ds.labels[labeled], probs[labeled], classes, n_resamples=BOOTSTRAP,
                                              seed=cfg.seed) if labeled.any() \
            else {"n": int(len(ds)), "unlabeled": True}
        _write_predictions(store, rid, key, dom, idx, ds.labels, probs, classes)
        features[key] = _cap(feats, ds.labels, cfg.seed)
        outputs[key] = (probs, feats, ds.labels)
    tt_mask = sets["target_labeled_mask"]
    probs, tt_feats = predict(train_model, sets["target_train"], inference_batch_size(device, cfg.batch_size), device,
                              return_features=True)
    if tt_mask.any():  # target train, on its labeled part only (these labels were used in training)
        metrics["target_train"] = classification_metrics(sets["target_train"].labels[tt_mask], probs[tt_mask],
                                                         classes, n_resamples=BOOTSTRAP, seed=cfg.seed)
    if len(probs):  # label-free validators on the target-train outputs (tlcore/evaluation/validators.py)
        from tlcore.evaluation.validators import score_run

        metrics["target_unsupervised"] = score_run(probs, tt_feats, *outputs["source_val"], seed=cfg.seed)
    metrics["seconds_train"] = result.history[-1]["seconds"] if result.history else 0.0
    _write_features(store, rid, features)
    from tlcore.models.io import save_run_model

    save_run_model(store, rid, model, cfg, classes)  # model.safetensors + model.json (tlcore/models/io.py)
    emit({"type": "phase", "phase": "embeddings"})
    metrics["embeddings"] = _embeddings_before(store, rid, model, sets, features, initial_state, classes,
                                               cfg, device)
    return metrics


MIN_OOM_BATCH = 1


def is_out_of_memory(exc: BaseException) -> bool:
    """A GPU (or allocator) out-of-memory error, whatever wrapper raised it."""
    import torch

    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def fit_with_oom_retry(model, strategy, data, cfg, device, emit, callbacks, control):
    """``fit`` that halves the batch size and starts over (from the same initial weights) when the GPU runs
    out of memory, down to 1. Returns ``(FitResult, batch size used)``; the reduction is reported as a phase
    event ("Batch size reduced 64 -> 32 due to GPU memory") and recorded in the metrics."""
    import copy
    import gc

    import torch

    from tlcore.training.loop import fit

    initial = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
    batch = cfg.batch_size
    tried = []
    while True:
        tried.append(batch)
        try:
            return fit(model, strategy, data, epochs=cfg.epochs, batch_size=batch, lr=cfg.lr,
                       weight_decay=cfg.weight_decay, device=device, seed=cfg.seed,
                       patience=cfg.early_stopping_patience, checkpoint=cfg.checkpoint, callbacks=callbacks,
                       control=control), batch
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
        # out of memory; cleaned up outside the except block, so the failed step's frames can be freed
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        if batch <= MIN_OOM_BATCH:
            raise TLError(f"No batch size fits in GPU memory (tried {', '.join(map(str, tried))}); use a "
                          "smaller image size / max length, a smaller backbone, or a freer GPU")
        new = max(MIN_OOM_BATCH, batch // 2)
        emit({"type": "phase", "phase": f"Batch size reduced {batch} -> {new} due to GPU memory"})
        batch = new
        model.load_state_dict(initial)


def _write_predictions(store, rid, key, dom, idx, labels, probs, classes):
    import pandas as pd

    df = pd.DataFrame({"index": list(idx), "source": [dom.sources[i] for i in idx],
                       "true": [classes[y] if y >= 0 else "" for y in labels],
                       "pred": [classes[p] for p in probs.argmax(1)], "confidence": probs.max(1).round(5)})
    if dom.modality == "text":
        df.insert(2, "text", [dom.samples[i][:300] for i in idx])
    for j, c in enumerate(classes):
        df[f"p_{c}"] = probs[:, j].round(5)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    store.write_bytes(rid, f"predictions_{key}.csv", buf.getvalue().encode("utf-8"))


def _cap(feats, labels, seed):
    from tlcore.embeddings.extract import stratified_cap

    idx = stratified_cap(labels, EMBED_CAP, seed)  # seeded, stratified by class
    return {"features": feats[idx].astype(np.float16), "labels": labels[idx], "index": idx}


def _embeddings_before(store, rid, model, sets, features, initial_state, classes, cfg, device) -> dict:
    """Write ``features_before.npz`` (same samples as after) and return ``{"gap": {"before", "after"}}``.

    Called after the model is saved: the initial backbone weights are loaded back into the model in place.
    """
    import torch

    from tlcore.embeddings.extract import model_features, pack
    from tlcore.embeddings.gap import gap_figures

    from tlcore.models.classifier import BackboneOnly
    from tlcore.training.device import inference_batch_size

    if initial_state is None and not cfg.bottleneck:  # frozen backbone: the features the head reads never changed
        before = features
    elif initial_state is None:  # frozen backbone + trained bottleneck: before = the cached backbone features
        before = {k: {**d, "features": sets[k].features[torch.as_tensor(d["index"])].numpy().astype(np.float16)}
                  for k, d in features.items()}
    else:  # the pretrained (or initial) backbone's features, without the trained bottleneck
        model.backbone.load_state_dict(initial_state)
        with torch.no_grad():
            before = {k: {**d, "features": model_features(BackboneOnly(model.backbone), sets[k], d["index"],
                                                          inference_batch_size(device, cfg.batch_size), device)}
                      for k, d in features.items()}
    store.write_bytes(rid, "features_before.npz", pack(before))
    gap = {}
    for name, feats in (("before", before), ("after", features)):
        if name == "after" and feats is before:  # frozen backbone, no bottleneck: the same features
            gap["after"] = gap["before"]
            continue
        sv, tt = feats["source_val"], feats["target_test"]
        gap[name] = gap_figures(np.asarray(sv["features"], np.float32), np.asarray(tt["features"], np.float32),
                                sv["labels"], tt["labels"], classes, seed=cfg.seed)
    return {"gap": gap, "frozen_backbone": initial_state is None and not cfg.bottleneck}


def _write_features(store, rid, features):
    buf = io.BytesIO()
    arrays = {}
    for key, d in features.items():
        for k, v in d.items():
            arrays[f"{key}.{k}"] = v
    np.savez_compressed(buf, **arrays)
    store.write_bytes(rid, "features_after.npz", buf.getvalue())


def trainable_parameters(backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
                         bottleneck: int = 0) -> dict:
    """Trainable and total parameter counts for a backbone x strategy choice (random init, no data)."""
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier, count_parameters
    from tlcore.strategies import build_strategy
    from tlcore.strategies.base import SetupContext

    strat = build_strategy(strategy, params)
    model = Classifier(create_backbone(backbone, pretrained=False), num_classes, bottleneck=bottleneck)
    strat.configure(model, SetupContext(lr=1e-3, weight_decay=0.0, num_classes=num_classes,
                                        feature_dim=model.out_features, device=torch.device("cpu")))
    extra = sum(count_parameters(m) for m in strat.extra_modules())
    return {"trainable": count_parameters(model) + extra, "total": count_parameters(model, trainable_only=False) + extra}
