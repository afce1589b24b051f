"""Compression of a completed run into a new, linked run: magnitude pruning (optionally followed by a short
fine-tune) and dynamic int8 quantization, with a parent-vs-compressed table of accuracy (bootstrap intervals),
file size and CPU latency per sample at batch 1 and batch 32.

- Pruning: ``torch.nn.utils.prune.global_unstructured`` with L1 magnitude over every Linear/Conv weight (the
  smallest ``prune`` fraction of all those weights become zero), made permanent with ``prune.remove``.
- Quantization: ``torch.ao.quantization.quantize_dynamic`` on every ``nn.Linear`` (int8 weights, activations
  quantized per batch); convolutions stay fp32. The artifact keeps the (pruned) fp32 weights in safetensors and
  records ``"quantization": "dynamic_int8"`` in model.json: loading re-applies the same deterministic transform,
  so the artifact stays code-free. The size column measures the int8 state dict as PyTorch serialises it.
"""
from __future__ import annotations

import copy
import io
import time
import zlib

import numpy as np

from tlcore.errors import ConfigError, TLError
from tlcore.models.io import WEIGHTS_FILE, load_run_model, quantize_int8

BOOTSTRAP = 1000


def compress_run(store, run_id: str, prune: float = 0.0, quantize: str | None = None, finetune_epochs: int = 0,
                 latency_samples: int = 64, progress=None) -> dict:
    """Compress run ``run_id``; returns ``{"run_id": new id, "parent_run_id", "table": [...]}``."""
    from tlcore.config import RunConfig
    from tlcore.data.prepare import prepare_data
    from tlcore.training.features import encode_split

    say = progress or (lambda msg: None)
    if not 0.0 <= prune <= 0.95:
        raise ConfigError(f"--prune {prune}: choose a fraction between 0 and 0.95")
    if quantize not in (None, "int8"):
        raise ConfigError(f"--quantize {quantize!r}: choose int8 or none")
    if prune == 0 and quantize is None:
        raise ConfigError("nothing to do: give --prune FRACTION and/or --quantize int8")
    if finetune_epochs < 0 or finetune_epochs > 50:
        raise ConfigError(f"--finetune-epochs {finetune_epochs}: choose 0-50")
    t0 = time.time()
    parent = load_run_model(store, run_id)
    if parent.meta.get("quantization"):
        raise TLError(f"run {run_id!r} is already quantized; compress its parent "
                      f"{parent.meta.get('parent_run_id', '')!r} instead")
    rec = store.get(run_id)
    cfg = RunConfig.from_dict(rec.config)
    say("loading data")
    source, target, classes, split = prepare_data(cfg)
    if list(classes) != parent.classes:
        raise TLError(f"run {run_id!r}: its data now gives classes {classes}, the model has {parent.classes}; "
                      "the domain changed since training")
    sets = encode_split(source, target, classes, split, parent.model.backbone, cfg)
    model = copy.deepcopy(parent.model).float().eval()
    sparsity = 0.0
    if prune > 0:
        say(f"pruning {prune:.0%} of the weights (global L1 magnitude)")
        sparsity = _prune(model, prune, finetune_epochs, sets, cfg, say)
    deployed = quantize_int8(copy.deepcopy(model)) if quantize else model
    say("evaluating parent and compressed models")
    rows, evals = [], {}
    say("timing parent and compressed models (alternately)")
    lats = latency_pair([parent.model, deployed], sets["target_test"], latency_samples)
    for label, m, size, lat in (("parent", parent.model, _fp32_size(store, run_id), lats[0]),
                                ("compressed", deployed, _size(deployed, quantize), lats[1])):
        ev = {key: _evaluate(m, sets[key], classes, cfg.seed) for key in ("source_val", "target_test")}
        evals[label] = ev
        tt = ev["target_test"][1]
        rows.append({"model": label, "target_accuracy": tt.get("accuracy"), "target_accuracy_ci": tt.get("accuracy_ci"),
                     "size_mb": round(size[0] / 2**20, 3), "size_zipped_mb": round(size[1] / 2**20, 3),
                     "latency_ms_batch1": lat[0], "latency_ms_batch32": lat[1],
                     "sparsity": round(_sparsity(m), 4) if label == "parent" else round(sparsity, 4)})
    spec = {"prune": prune, "quantize": quantize, "finetune_epochs": finetune_epochs, "method":
            "global L1 unstructured pruning (Linear/Conv weights)" + ("; dynamic int8 (nn.Linear)" if quantize else "")}
    label = _label(prune, quantize, finetune_epochs)
    config = {**rec.config, "name": f"{rec.name or run_id} ({label})", "parent_run_id": run_id, "compression": spec}
    metrics = {"classes": classes, "source_val": evals["compressed"]["source_val"][1],
               "target_test": evals["compressed"]["target_test"][1], "parent_run_id": run_id,
               "compression": {**spec, "table": rows, "machine": _machine()}}
    new = _write_run(store, config, metrics, model, cfg, classes, quantize, run_id, sets, source, target, split,
                     evals["compressed"], round(time.time() - t0, 2))
    return {"run_id": new, "parent_run_id": run_id, "compression": spec, "table": rows}


def _label(prune, quantize, epochs) -> str:
    parts = []
    if prune:
        parts.append(f"pruned {prune:.0%}" + (f" + {epochs} ep fine-tune" if epochs else ""))
    if quantize:
        parts.append("int8")
    return ", ".join(parts)


def _prunable(model):
    from torch import nn

    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def _prune(model, amount, epochs, sets, cfg, say) -> float:
    import torch
    from torch.nn.utils import prune

    params = _prunable(model)
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=amount)
    if epochs:
        say(f"fine-tuning {epochs} epoch(s) with the masks in place")
        from tlcore.strategies import build_strategy
        from tlcore.training.loop import TrainData, fit

        data = TrainData(source_train=sets["source_train"], source_val=sets["source_val"],
                         target_train=sets["target_train"], num_classes=model.head.out_features,
                         target_labeled_mask=sets["target_labeled_mask"])
        fit(model, build_strategy("fine_tuning", {}), data, epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            weight_decay=cfg.weight_decay, device=torch.device("cpu"), seed=cfg.seed)
    for m, name in params:
        prune.remove(m, name)
    model.eval()
    return _sparsity(model)


def _sparsity(model) -> float:
    total = zeros = 0
    for m, name in _prunable(model):
        w = getattr(m, name, None)
        if w is None or not hasattr(w, "numel") or callable(w):
            continue
        total += w.numel()
        zeros += int((w == 0).sum())
    return zeros / total if total else 0.0


def _evaluate(model, ds, classes, seed):
    from tlcore.evaluation.metrics import classification_metrics

    probs = _probs(model, ds)
    labeled = ds.labels >= 0
    if not labeled.any():
        return probs, {"n": int(len(ds)), "unlabeled": True}
    return probs, classification_metrics(ds.labels[labeled], probs[labeled], classes, n_resamples=BOOTSTRAP,
                                         seed=seed)


def _probs(model, ds, batch_size: int = 32) -> np.ndarray:
    """Softmax probabilities in set order (texts batched by length)."""
    import torch

    n = len(ds)
    out = np.zeros((n, model.head.out_features if hasattr(model.head, "out_features") else 0), np.float32)
    lengths = ds.lengths()
    order = np.argsort(lengths, kind="stable") if lengths is not None else np.arange(n)
    model.eval()
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            x = ds.batch(idx, torch.device("cpu"))
            out[idx] = torch.softmax(model(x)[1].float(), 1).numpy()
    return out


def latency_pair(models: list, ds, samples: int, rounds: int = 3) -> list[tuple[float, float]]:
    """Median CPU milliseconds per sample at batch 1 and batch 32 for each model, inputs from ``ds``. The models
    are timed alternately on the same inputs, so a change in machine load hits them alike."""
    import torch

    n = min(len(ds), max(samples, 1))
    if n == 0:
        return [(float("nan"), float("nan")) for _ in models]
    dev = torch.device("cpu")
    times = {(k, bs): [] for k in range(len(models)) for bs in (1, 32)}
    with torch.inference_mode():
        for bs in (1, 32):
            idx = [np.arange(i, i + bs) % len(ds) for i in range(0, max(n, bs), bs)]
            xs = [ds.batch(i, dev) for i in idx]
            for m in models:
                m(xs[0])  # warm-up
            for _ in range(rounds if bs == 32 else 1):
                for x in xs:
                    for k, m in enumerate(models):
                        t = time.perf_counter()
                        m(x)
                        times[(k, bs)].append((time.perf_counter() - t) / bs)
    return [tuple(round(float(np.median(times[(k, bs)])) * 1000, 3) for bs in (1, 32)) for k in range(len(models))]


def _fp32_size(store, run_id) -> tuple[int, int]:
    data = store.local(run_id, WEIGHTS_FILE).read_bytes()
    return len(data), len(zlib.compress(data, 6))


def _size(model, quantize) -> tuple[int, int]:
    """Bytes of the deployed weights (safetensors fp32, or the int8 state dict as torch.save writes it), and the
    same bytes deflated (pruned zeros compress)."""
    if quantize:
        import torch

        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        data = buf.getvalue()
    else:
        from tlcore.models.io import state_bytes

        data = state_bytes(model)
    return len(data), len(zlib.compress(data, 6))


def _machine() -> dict:
    import platform

    import torch

    return {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__}


def _write_run(store, config, metrics, model, cfg, classes, quantize, parent_id, sets, source, target, split,
               evals, seconds) -> str:
    """Create the new run only once everything is computed; a failure while writing removes it."""
    from tlcore.runs.recorder import Recorder

    rid = store.create(config, status="running")
    rec = Recorder(store, rid)
    try:
        store.update(rid, modality=source.modality)
        rec.copy_inputs(parent_id)
        for key, dom, idx in (("source_val", source, split.source_val), ("target_test", target, split.target_test)):
            rec.predictions(key, dom, idx, sets[key].labels, evals[key][0], classes)
        rec.model(model, cfg, classes, extra={"parent_run_id": parent_id,
                                              "quantization": "dynamic_int8" if quantize else None,
                                              "compression": config["compression"]})
        rec.finish("completed", metrics=metrics, seconds=seconds)
    except BaseException:
        store.delete(rid)
        raise
    return rid
