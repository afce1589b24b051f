"""Cached partial fine-tuning: the frozen bottom of the backbone runs once, its output is cached, and only the
top layer groups (plus the bottleneck and head) train on the cached activations.

Between the linear probe (everything frozen, features cached) and full fine-tuning (every step runs the whole
backbone forward and backward) in cost and in what can adapt. The frozen prefix is in eval mode (batch-norm
statistics and dropout fixed), exactly as :class:`~tlcore.models.prefix_split.FrozenPrefixBackbone` runs it uncached,
and in the training precision, so a cached run reproduces the uncached one (tested). With augmentation the
inputs change every epoch, so the prefix is recomputed per batch instead (uncached, still no backward through
it). Activations are cached on disk per (backbone, weights, input size, precision, depth, domain content)
under ``<TL_HOME>/cache/prefix/`` beside the frozen-feature cache.
"""
from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import numpy as np
import torch

from tlcore import cache_budget
from tlcore.models.prefix_split import FrozenPrefixBackbone, split_backbone
from tlcore.training.batches import EncodedSet, batches
from tlcore.training.device import autocast

__all__ = ["ActivationSet", "HiddenStateSet", "PrefixCache", "partial_groups", "prepare_partial"]


def partial_groups(strategy) -> int:
    """The top N layer groups of cached partial fine-tuning (``train_last_groups``; 0 = off: the whole-backbone or
    cached-feature regimes), read through :func:`tlcore.strategies.specs.base.freezing`.

    Raises:
        ConfigError: several freezing knobs set, or cached activations for a strategy that feeds the raw inputs
            to another model (distillation's teacher).
    """
    from tlcore.errors import ConfigError
    from tlcore.strategies.specs.base import freezing

    params = getattr(strategy, "params", None)
    f = freezing(params)
    n = f.top if f.cached and f.top else 0
    if n and hasattr(params, "teacher_run_id"):
        raise ConfigError("params.train_last_groups: distillation feeds the raw inputs to the teacher, so the "
                          "student cannot train on cached activations; use trainable_groups")
    return n


def prepare_partial_run(model, sets: dict, top: int, cfg, root, source, target, split, device, emit=None):
    """The pipeline's step for cached partial fine-tuning: returns ``(sets, train_model, initial_state)``,
    ``initial_state`` being the trainable top's weights before training (for the "before" embeddings).
    Augmented runs recompute the frozen prefix per batch (their inputs change every epoch)."""
    from tlcore.training.device import inference_batch_size, precision_name

    cached = not (cfg.augment and source.modality == "image")
    cache = PrefixCache.for_run(root, cfg, source, target, split, precision_name(device), top) if cached else None
    if emit:
        emit({"type": "phase", "phase": "caching the frozen layers",
              "detail": f"the top {top} layer group(s) train" + ("" if cached else "; augmented, so not cached")})
    sets, train_model = prepare_partial(model, sets, top, device, inference_batch_size(device, cfg.batch_size), emit,
                                        cache=cache, cached=cached)
    initial = {k: v.detach().clone() for k, v in train_model.backbone.state_dict().items()}
    return sets, train_model, initial


class ActivationSet(EncodedSet):
    """Cached image activations ``(N, C, H, W)`` of the frozen prefix."""

    kind = "activations"

    def __init__(self, acts: torch.Tensor, labels):
        super().__init__(labels)
        self.acts = acts

    def batch(self, idx, device, train=False):
        x = self.acts[torch.as_tensor(idx)].to(device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


class HiddenStateSet(EncodedSet):
    """Cached text hidden states of the frozen prefix, one ``(L_i, H)`` tensor per text (no padding); a batch
    is padded to its longest text, with the attention mask, as :class:`~tlcore.training.batches.TextSet` pads
    the token ids (same lengths, so the same batches)."""

    kind = "hidden"

    def __init__(self, rows: list[torch.Tensor], labels):
        super().__init__(labels)
        self.rows = rows
        self._lengths = np.array([len(r) for r in rows], dtype=np.int64)

    def lengths(self):
        return self._lengths

    def batch(self, idx, device, train=False):
        rows = [self.rows[i] for i in idx]
        width = max(len(r) for r in rows)
        h = torch.zeros((len(rows), width, rows[0].shape[-1]), dtype=rows[0].dtype)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, t in enumerate(rows):
            h[r, : len(t)] = t
            mask[r, : len(t)] = 1
        return {"hidden": h.to(device), "attention_mask": mask.to(device)}


class PrefixCache:
    """Prefix activations on disk, one file per (feature-cache key, depth, precision) and domain; rows keyed by
    the sample's position in the domain. Ragged rows (texts) are stored flat with offsets. Atomic writes;
    deleting the folder is always safe; ``TL_FEATURE_CACHE=0`` turns it off."""

    def __init__(self, folder: Path, parts: dict):
        self.folder, self.parts = Path(folder), parts

    @classmethod
    def for_run(cls, root, cfg, source, target, split, precision: str, top: int) -> "PrefixCache | None":
        from tlcore.training.features import FeatureCache

        base = FeatureCache.for_run(root, cfg, source, target, split, precision)
        if base is None:
            return None
        parts = {name: (hashlib.sha256(f"{key}|prefix-top{top}|{precision}".encode()).hexdigest()[:32], pos)
                 for name, (key, pos) in base.parts.items()}
        return cls(Path(root) / "cache" / "prefix", parts)

    def _read(self, key: str) -> dict:
        try:
            with np.load(self.folder / f"{key}.npz", allow_pickle=False) as z:
                data, off, shapes = z["data"], z["offsets"], z["shapes"]
                return {int(p): data[off[i]:off[i + 1]].reshape(shapes[i])
                        for i, p in enumerate(z["positions"].tolist())}
        except (OSError, ValueError, KeyError):
            return {}

    def lookup(self, name: str) -> list[np.ndarray] | None:
        key, positions = self.parts[name]
        have = self._read(key)
        if not len(positions) or not all(int(p) in have for p in positions):
            return None
        cache_budget.touch(self.folder / f"{key}.npz")
        return [have[int(p)] for p in positions]

    def save(self, name: str, rows: list[np.ndarray]) -> None:
        key, positions = self.parts[name]
        have = self._read(key)
        have.update({int(p): np.asarray(r) for p, r in zip(positions, rows)})
        order = sorted(have)
        flat = [have[p].reshape(-1) for p in order]
        off = np.concatenate([[0], np.cumsum([len(f) for f in flat])]).astype(np.int64)
        shapes = np.array([have[p].shape for p in order], dtype=np.int64)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{uuid.uuid4().hex}.npz"
        try:
            np.savez(tmp, positions=np.asarray(order, np.int64), offsets=off, shapes=shapes,
                     data=np.concatenate(flat))
            os.replace(tmp, self.folder / f"{key}.npz")
        except OSError:  # a full disk or a read-only store only costs the cache
            tmp.unlink(missing_ok=True)
            return
        cache_budget.enforce(self.folder.parent, keep=self.folder / f"{key}.npz")


@torch.no_grad()
def _run_prefix(prefix, ds: EncodedSet, device, batch_size: int, on_batch=None) -> list[torch.Tensor]:
    """The prefix output per sample, in the set's order (texts: each row cut to its own length)."""
    prefix.eval()
    out: list = [None] * len(ds)
    done = 0
    for idx in batches(len(ds), batch_size, None, ds.lengths()):
        with autocast(device, training=True):  # the training precision: the cached run equals the uncached one
            y = prefix(ds.batch(idx, device))
        if isinstance(y, dict):
            n_tok = y["attention_mask"].sum(1).tolist()
            for r, i in enumerate(idx):
                out[i] = y["hidden"][r, : int(n_tok[r])].cpu().clone()
        else:
            y = y.cpu().contiguous()
            for r, i in enumerate(idx):
                out[i] = y[r].clone()
        done += len(idx)
        if on_batch:
            on_batch(done, len(ds))
    return out


def _as_set(rows: list[torch.Tensor], labels, text: bool) -> EncodedSet:
    if text:
        return HiddenStateSet(rows, labels)
    acts = torch.stack(rows) if rows else torch.zeros((0,))
    return ActivationSet(acts, labels)


def prepare_partial(model, sets: dict, top: int, device, batch_size: int, emit=None, cache: PrefixCache | None = None,
                    cached: bool = True):
    """Split ``model.backbone`` at its top ``top`` layer groups; returns ``(sets, train_model)``.

    ``cached``: encode every set through the frozen prefix once (sets become :class:`ActivationSet` /
    :class:`HiddenStateSet`) and train on those; otherwise the sets stay raw inputs and the prefix runs every
    step (augmentation). ``train_model`` is a Classifier sharing ``model``'s neck, head and top layer groups, so
    training it trains the real model (whose other layers stay exactly as they were).
    """
    from tlcore.models.classifier import Classifier

    prefix, suffix = split_backbone(model.backbone, top)
    _check_split(model.backbone, prefix, suffix, sets["source_train"], device)
    if cached:
        sets = _encode_sets(prefix, sets, device, batch_size, emit, cache, model.backbone.modality == "text")
        backbone = suffix
    else:
        backbone = FrozenPrefixBackbone(prefix, suffix)
    train_model = Classifier(backbone, model.head.out_features, bottleneck=getattr(model, "bottleneck", 0))
    train_model.neck, train_model.head, train_model.dropout = model.neck, model.head, model.dropout
    return sets, train_model.to(device)


def _encode_sets(prefix, sets, device, batch_size, emit, cache, text: bool) -> dict:
    names = [k for k, v in sets.items() if isinstance(v, EncodedSet)]
    total = max(1, sum(len(sets[k]) for k in names))
    out, before, last = dict(sets), 0, [0.0]
    for name in names:
        ds = sets[name]
        rows = cache.lookup(name) if cache and name in cache.parts else None
        hit = rows is not None
        if hit:
            rows = [torch.from_numpy(np.ascontiguousarray(r)) for r in rows]
        else:
            def on_batch(done, n, name=name, base=before):
                if emit and time.monotonic() - last[0] >= 1.0 and done < n:
                    last[0] = time.monotonic()
                    emit({"type": "phase", "phase": "caching the frozen layers", "detail": f"{name}: {done}/{n}",
                          "progress": round((base + done) / total, 3)})

            rows = _run_prefix(prefix, ds, device, batch_size, on_batch)
            if cache and len(ds):
                cache.save(name, [r.numpy() for r in rows])
        enc = _as_set(rows, ds.labels, text)
        enc.sources = getattr(ds, "sources", None)
        out[name] = enc
        before += len(ds)
        if emit:
            emit({"type": "phase", "phase": "caching the frozen layers", "progress": round(before / total, 3),
                  "detail": f"{name}: {len(ds)} samples" + (" (from the cache)" if hit else "")})
    return out


@torch.no_grad()
def _check_split(backbone, prefix, suffix, ds: EncodedSet, device, n: int = 4) -> None:
    """One small batch through both paths in eval mode: the split must reproduce the backbone (a safety net
    for models whose forward does more than their blocks)."""
    from tlcore.errors import ModelError

    if len(ds) == 0:
        return
    was = backbone.training
    backbone.eval()
    suffix.eval()
    try:
        x = ds.batch(np.arange(min(n, len(ds))), device)
        full, split = backbone(x).float(), suffix(prefix(x)).float()
    finally:
        backbone.train(was)
    err = float((full - split).abs().max())
    scale = float(full.abs().max()) or 1.0
    if not err <= 1e-3 * scale + 1e-5:
        raise ModelError(f"cached partial fine-tuning: the split backbone does not reproduce {type(backbone).__name__}"
                         f" (max difference {err:.3g}); use trainable_groups instead")
