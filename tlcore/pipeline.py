"""The composition root: ``run_experiment(config, store, callbacks)`` -> RunRecord.

config -> data (tlcore/data/prepare.py) -> model (tlcore/models) -> strategy (tlcore/strategies) -> the one loop
(tlcore/training/loop.py, OOM retry in tlcore/training/oom.py) -> evaluation (tlcore/evaluation/run_eval.py)
-> record (every run file through tlcore/runs/recorder.py). Nothing here is a utility for other modules.
"""
from __future__ import annotations

import time
import traceback
from typing import Callable

from tlcore.config import RunConfig
from tlcore.data.prepare import prepare_data, subsample  # noqa: F401  (re-exported for older imports)
from tlcore.device_probe import run_uses_gpu
from tlcore.errors import Cancelled, ConfigError, TLError
from tlcore.recommend import resolve
from tlcore.models.counting import trainable_parameters  # noqa: F401  (re-exported)
from tlcore.runs.recorder import Recorder
from tlcore.runs.files import disk_full_message, is_disk_full
from tlcore.runs.store import RunRecord, RunStore, StorageFull
from tlcore.training.oom import fit_with_oom_retry, is_out_of_memory  # noqa: F401  (re-exported)
from tlcore.validation import validate

__all__ = ["run_experiment", "validate", "prepare_data", "subsample", "trainable_parameters", "fit_with_oom_retry",
           "is_out_of_memory"]


def run_experiment(cfg: RunConfig, store: RunStore, callbacks: list[Callable[[dict], None]] | None = None,
                   cancel_check: Callable[[], bool] | None = None, run_id: str | None = None) -> RunRecord:
    """Run one experiment end to end and record it. Errors are recorded on the run and re-raised.

    ``strategy: auto`` is resolved here, with the device probe's answer for this run's process
    (:mod:`tlcore.device_probe`); the run records the resolved settings with ``resolved_from: "auto"`` and a
    ``resolved`` event holding what was asked and whether a GPU was found."""
    requested = cfg.to_dict() if cfg.is_auto else None
    gpu = run_uses_gpu(cfg.device)
    if requested is not None:
        from tlcore.portfolio import budget_s
        from tlcore.recommend import portfolio_candidates

        cands = portfolio_candidates(requested, gpu=gpu)
        if len(cands) > 1 and budget_s() > 0:  # several recipes, one picked without target labels
            return _run_portfolio(cfg, cands, store, callbacks, cancel_check, run_id, gpu)
    cfg = resolve(cfg, gpu=gpu)
    spec = validate(cfg, store).backbone
    from tlcore.models.hf_cache import preflight
    from tlcore.strategies.registry import build_strategy

    preflight(cfg.backbone, spec.family)  # an unreachable Hugging Face model: one line, before any run row/folder

    strategy = build_strategy(cfg.strategy, cfg.params, store)
    callbacks = list(callbacks or [])
    rid = store.create(cfg.to_dict(), status="running", run_id=run_id)
    rec = Recorder(store, rid)
    t0 = time.time()
    emit = _emitter(store, rid, callbacks, t0)

    def fail(status: str, error: str, **extra):
        try:
            emit({"type": "status", "status": status, **({"error": error} if status == "failed" else {}), **extra})
            rec.finish(status, error=error, seconds=round(time.time() - t0, 2))
        except StorageFull:  # nothing can be recorded: readers mark the run failed once this process is gone
            pass

    if requested is not None:
        emit({"type": "resolved", "resolved_from": "auto", "requested": requested, "gpu": gpu,
              "strategy": cfg.strategy})
    try:
        metrics = _run(cfg, strategy, spec, rec, emit, cancel_check)
    except Cancelled as exc:
        fail("cancelled", str(exc))
        raise
    except TLError as exc:
        fail("failed", str(exc))
        raise
    except Exception as exc:
        if is_disk_full(exc):  # one clear line, not a traceback from whichever writer hit it
            full = StorageFull(disk_full_message(store.root))
            fail("failed", str(full))
            raise full from None
        fail("failed", f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-4000:])
        raise
    rec.finish("completed", metrics=metrics, seconds=round(time.time() - t0, 2))
    from tlcore.evaluation.sanity import store_flags  # recorded data flags + below the small-CNN reference/probe

    flags = store_flags(store, rid)
    if flags != metrics.get("flags", []):
        rec.metrics({**metrics, "flags": flags})
    emit({"type": "status", "status": "completed"})
    return store.get(rid)


def _emitter(store: RunStore, rid: str, callbacks: list, t0: float):
    """The run's progress writer: each event, stamped with seconds since ``t0``, to events.jsonl and the callbacks."""
    def emit(event: dict):
        event = {"t": round(time.time() - t0, 3), **event}
        store.append_event(rid, event)
        for cb in callbacks:
            cb(event)
    return emit


def _run_portfolio(cfg: RunConfig, cands: list[dict], store: RunStore, callbacks, cancel_check, run_id, gpu: bool):
    """``auto`` as a portfolio (:mod:`tlcore.portfolio`): each candidate is a run of its own; this run (the one
    asked for) records them all and becomes a copy of the one picked without target labels."""
    import json

    from tlcore.portfolio import run_portfolio

    requested = cfg.to_dict()
    first = RunConfig.from_dict(cands[0]["config"])
    spec = validate(first, store).backbone  # a bad pair or setting fails here, before any row or folder
    from tlcore.models.hf_cache import preflight

    preflight(first.backbone, spec.family)
    callbacks = list(callbacks or [])
    rid = store.create({**requested, "strategy": "auto"}, status="running", run_id=run_id)
    rec = Recorder(store, rid)
    t0 = time.time()
    emit = _emitter(store, rid, callbacks, t0)

    def run_one(config: dict, on_event):
        return run_experiment(RunConfig.from_dict(config), store, callbacks=[on_event], cancel_check=cancel_check)

    emit({"type": "resolved", "resolved_from": "auto", "requested": requested, "gpu": gpu, "strategy": "portfolio",
          "candidates": [c["key"] for c in cands]})
    try:
        out = run_portfolio(rid, cands, store, run_one, emit, name=cfg.name)
    except BaseException as exc:
        status = "cancelled" if isinstance(exc, Cancelled) else "failed"
        error = str(exc) if isinstance(exc, TLError) else f"{type(exc).__name__}: {exc}"
        try:
            emit({"type": "status", "status": status, **({"error": error} if status == "failed" else {})})
            rec.finish(status, error=error, seconds=round(time.time() - t0, 2))
        except StorageFull:
            pass
        raise
    rec.adopt(out["pick_run"])
    final = {**out["config"], "name": cfg.name, "resolved_from": "auto"}
    store.write_json(rid, "config.json", final)
    store.update(rid, strategy=final.get("strategy"), backbone=final.get("backbone"), config=json.dumps(final))
    metrics = {k: v for k, v in out["metrics"].items() if k != "tracking"}
    metrics["portfolio"] = out["portfolio"]
    emit({"type": "portfolio", "status": "picked", "pick": out["pick"], "run_id": out["pick_run"],
          "why": out["portfolio"]["why"]})
    rec.finish("completed", metrics=metrics, seconds=round(time.time() - t0, 2))
    emit({"type": "status", "status": "completed"})
    return store.get(rid)


def _run(cfg, strategy, spec, rec: Recorder, emit, cancel_check) -> dict:
    import torch

    from tlcore.embeddings.before import features_before, gap_summary
    from tlcore.evaluation.run_eval import evaluate_run
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier, count_parameters
    from tlcore.training.device import (describe_device, head_threads, inference_batch_size, precision_name,
                                        resolve_device, seed_everything)
    from tlcore.training.features import FeatureCache, encode_split, extract_features
    from tlcore.training.prefix import partial_groups, prepare_partial_run
    from tlcore.training.callbacks import Control, SetupReport
    from tlcore.training.loop import TrainData

    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    emit({"type": "phase", "phase": "loading data"})
    source, target, classes, split = prepare_data(cfg)
    if spec.modality != source.modality:
        raise ConfigError(f"backbone: {cfg.backbone!r} is a {spec.modality} model but the domains hold "
                          f"{source.modality}s")
    rec.inputs(cfg.to_dict(), source, target, classes, split, describe_device(device))
    from tlcore.data.duplicates import leakage_flag

    leak = leakage_flag(source, target, split)  # same content in source and target (or train and test): flagged,
    if leak:  # the split and the results are left as they are
        emit({"type": "warning", "message": leak["message"]})
    emit({"type": "phase", "phase": "building model"})
    backbone = create_backbone(cfg.backbone, pretrained=cfg.pretrained and strategy.requires.pretrained)
    # the backbone as it was before training, for the "before" embeddings (frozen backbones do not change)
    frozen = strategy.caches_features
    partial = partial_groups(strategy)  # cached partial fine-tuning: the top N layer groups train
    initial_state = None if frozen else {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    model = Classifier(backbone, len(classes), bottleneck=cfg.bottleneck).to(device)
    if source.modality == "image":
        model = model.to(memory_format=torch.channels_last)
    emit({"type": "phase", "phase": "encoding inputs"})
    sets = encode_split(source, target, classes, split, backbone, cfg)
    train_model = model
    if frozen:
        emit({"type": "phase", "phase": "caching frozen features"})
        cache = FeatureCache.for_run(rec.store.root, cfg, source, target, split, precision_name(device))
        views, policy = cfg.feature_views, None  # validation keeps them to frozen image backbones
        if views:
            from tlcore.training.augment import resolve_policy

            policy = resolve_policy(cfg.augment or "auto", classes)
        sets, train_model = extract_features(model, sets, device, inference_batch_size(device, cfg.batch_size), emit,
                                             cache=cache, domain_bn=cfg.domain_bn, views=views, policy=policy,
                                             seed=cfg.seed)
    elif partial:  # the frozen layers below run once; train_model holds the top groups (tlcore/training/prefix.py)
        sets, train_model, initial_state = prepare_partial_run(model, sets, partial, cfg, rec.store.root, source,
                                                               target, split, device, emit)
    data = TrainData(source_train=sets["source_train"], source_val=sets["source_val"],
                     target_train=sets["target_train"], num_classes=len(classes),
                     target_labeled_mask=sets["target_labeled_mask"])
    setup = SetupReport(emit, lambda: count_parameters(train_model) + sum(
        count_parameters(m) for m in strategy.extra_modules()), lambda: count_parameters(model, trainable_only=False),
        {"device": describe_device(device), "precision": precision_name(device)})
    with head_threads(frozen and device.type == "cpu"):  # tiny matmuls: threads only wait on each other
        emit({"type": "phase", "phase": "training"})
        result, batch_used = fit_with_oom_retry(train_model, strategy, data, cfg, device, emit,
                                                callbacks=[setup, emit], control=Control(cancel_check=cancel_check))
        rec.history(result.history)
        emit({"type": "phase", "phase": "evaluating"})
        metrics = {"classes": classes, "batch_size_used": batch_used, "best_epoch": result.best_epoch,
                   "stopped_early": result.stopped_early, "steps": result.steps,
                   "trainable_params": setup.trainable_params, "device": describe_device(device),
                   "precision": precision_name(device)}
        evals, features = evaluate_run(train_model, sets, source, target, split, classes, cfg, device, rec)
        metrics.update(evals)
        metrics["seconds_train"] = result.history[-1]["seconds"] if result.history else 0.0
        if leak:
            metrics["flags"] = [leak]
        rec.features(features, "after")
        rec.model(model, cfg, classes)  # model.safetensors + model.json, before the initial weights are loaded back
        emit({"type": "phase", "phase": "embeddings"})
        before = features_before(train_model if partial else model, sets, features, initial_state, cfg, device)
        rec.features(before, "before")
        metrics["embeddings"] = gap_summary(before, features, classes, cfg, initial_state is None and not cfg.bottleneck)
    return metrics
