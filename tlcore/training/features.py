"""Encoding a split into model inputs, and caching frozen-backbone features (in memory for a run, and on
disk across runs: :class:`FeatureCache`)."""
from __future__ import annotations

import hashlib
import os
import time
import uuid
from pathlib import Path

import numpy as np
import torch
from torch import nn

from tlcore import settings
from tlcore import cache_budget
from tlcore.models.fuse import BATCH_NORMS
from tlcore.training.batches import AugmentedView, EncodedSet, FeatureSet, ImageSet, encode_for
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

    from tlcore.training.augment import resolve_policy

    policy = resolve_policy(cfg.augment, classes) if source.modality == "image" else None

    def encode(dom, idx, labels, augment):
        samples = [dom.samples[i] for i in idx]
        # lazy: sets whose frozen features are cached are never resized
        out = encode_for(backbone, samples, labels, image_size=cfg.image_size, max_length=cfg.max_length,
                         augment=policy if augment else None, lazy=True)
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


class FeatureCache:
    """Frozen-backbone features on disk, shared by every run of a store.

    One file per (backbone, pretrained weights, input size, device precision, domain content), under
    ``<TL_HOME>/cache/features/``; its rows are keyed by the sample's position in the domain. "Run all
    strategies" on one pair therefore runs the backbone once. Files are written atomically (temp + rename);
    deleting the folder is always safe. ``TL_FEATURE_CACHE=0`` turns it off.
    """

    def __init__(self, folder: Path, parts: dict):
        self.folder = Path(folder)
        self.parts = parts  # set name -> (file key, domain positions of its rows)

    @classmethod
    def for_run(cls, root, cfg, source, target, split, precision: str = "fp32") -> "FeatureCache | None":
        if not settings.get_bool("TL_FEATURE_CACHE") or not cfg.pretrained:
            return None
        from tlcore.models.registry import resolve_spec

        size = f"img{cfg.image_size}" if source.modality == "image" else f"len{cfg.max_length}"
        weights = f"seed{cfg.seed}" if resolve_spec(cfg.backbone).family in ("tiny", "reference") else "pretrained"
        if os.path.exists(cfg.backbone):  # a local model folder: its weights may change
            weights += f"@{os.stat(cfg.backbone).st_mtime_ns}"
        bn = "|adabn" if getattr(cfg, "domain_bn", False) else ""
        fold = "|bnfold" if source.modality == "image" and not bn and fold_enabled() else ""
        prep = f"v1|{cfg.backbone}|{weights}|{size}|{precision}{bn}{fold}|"

        def key(dom):
            return hashlib.sha256((prep + dom.fingerprint()).encode()).hexdigest()[:32]

        ks, kt = key(source), key(target)
        parts = {"source_train": (ks, split.source_train), "source_val": (ks, split.source_val),
                 "target_train": (kt, split.target_train), "target_test": (kt, split.target_test)}
        return cls(Path(root) / "cache" / "features", parts)

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def _read(self, key: str) -> dict:
        try:
            with np.load(self._file(key), allow_pickle=False) as z:
                return dict(zip(z["positions"].tolist(), z["features"]))
        except (OSError, ValueError, KeyError):
            return {}

    def lookup(self, name: str) -> np.ndarray | None:
        """The cached features of every row of set ``name`` (float32 ``(N, D)``), or None if any is missing."""
        if name not in self.parts:
            return None
        key, positions = self.parts[name]
        have = self._read(key)
        if not all(int(p) in have for p in positions):
            return None
        cache_budget.touch(self._file(key))
        return np.stack([have[int(p)] for p in positions]).astype(np.float32) if len(positions) else None

    def save(self, name: str, feats: np.ndarray) -> None:
        if name not in self.parts:
            return
        key, positions = self.parts[name]
        have = self._read(key)
        have.update({int(p): f for p, f in zip(positions, np.asarray(feats, np.float32))})
        self.folder.mkdir(parents=True, exist_ok=True)
        order = sorted(have)
        tmp = self.folder / f".{key}.{uuid.uuid4().hex}.npz"
        try:
            np.savez(tmp, positions=np.asarray(order, np.int64), features=np.stack([have[p] for p in order]))
            os.replace(tmp, self._file(key))
        except OSError:  # a full disk or a read-only store only costs the cache
            tmp.unlink(missing_ok=True)
            return
        cache_budget.enforce(self.folder.parent, keep=self._file(key))


def fold_enabled() -> bool:
    """``TL_FOLD_BN=0`` keeps batch norm unfolded in frozen feature extraction."""
    return settings.get_bool("TL_FOLD_BN")


def _extractor(backbone: nn.Module, ds: EncodedSet, device, fold: bool) -> nn.Module:
    """The frozen backbone as a feature extractor. Image backbones with batch norm get a BN-folded copy (about
    1.5x faster on a CPU, tlcore/models/fuse.py) when it encodes a probe batch of ``ds`` like the original; on a
    CPU without native bf16 that copy then runs in ONNX Runtime (2-3x faster again, tlcore/models/ort.py), again
    only when it encodes the probe batch like PyTorch. ``fold=False`` (AdaBN, whose statistics change between the
    domains) keeps the live module."""
    from tlcore.models.classifier import BackboneOnly
    from tlcore.models.fuse import folded_copy
    from tlcore.models.ort import ort_copy, ort_wanted

    if not (fold and getattr(backbone, "modality", None) == "image" and len(ds)):
        return BackboneOnly(backbone)
    probe = ds.batch(np.arange(min(8, len(ds))), device)
    module = backbone
    if fold_enabled():
        # checked in fp32, where folding is exact (bf16 alone moves features by cosine ~0.998)
        module = folded_copy(backbone, probe) or backbone
    if ort_wanted(device):
        ort = ort_copy(module, probe)
        if ort is not None:
            return BackboneOnly(ort)
    return BackboneOnly(module)


def _view_features(extractor, ds, name: str, views: int, policy: str, seed: int, device, batch_size: int, emit,
                   cache: FeatureCache | None) -> torch.Tensor:
    """Features ``(views, N, D)`` of ``views`` augmented copies of ``ds`` (each view its own seeded draw),
    extracted like the clean features (:func:`predict`) and cached per view."""
    out = []
    for v in range(views):
        vcache = None
        if cache is not None and name in cache.parts:
            key, pos = cache.parts[name]
            vkey = hashlib.sha256(f"{key}|view{v}|{policy}|seed{seed}".encode()).hexdigest()[:32]
            vcache = FeatureCache(cache.folder, {name: (vkey, pos)})
            got = vcache.lookup(name)
            if got is not None:
                out.append(torch.from_numpy(got))
                continue
        if emit:
            emit({"type": "phase", "phase": "caching frozen features",
                  "detail": f"{name}: augmented view {v + 1}/{views} ({policy})"})
        view = AugmentedView(ds, policy, torch.Generator().manual_seed(int(seed) * 1009 + v + 1))
        _, feats = predict(extractor, view, batch_size, device, return_features=True)
        arr = np.ascontiguousarray(feats, dtype=np.float32)
        if vcache is not None:
            vcache.save(name, arr)
        out.append(torch.from_numpy(arr))
    return torch.stack(out)


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, BATCH_NORMS) for m in module.modules())


@torch.no_grad()
def adapt_batchnorm(backbone: nn.Module, data: EncodedSet, device, batch_size: int) -> None:
    """AdaBN (Li et al., "Revisiting Batch Normalization for Practical Domain Adaptation", 2016): replace
    every batch-norm layer's running statistics by the exact mean/variance over ``data`` (cumulative average;
    no weight changes). Leaves the backbone in eval mode."""
    from tlcore.training.batches import batches as index_batches

    bns = [m for m in backbone.modules() if isinstance(m, BATCH_NORMS)]
    if not bns or len(data) == 0:
        return
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: the exact statistics over all batches
    backbone.eval()
    for m in bns:
        m.train()
    for idx in index_batches(len(data), batch_size, None, data.lengths()):
        backbone(data.batch(idx, device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    backbone.eval()


DOMAIN_OF = {"source_train": "source", "source_val": "source", "target_train": "target", "target_test": "target"}


def extract_features(model, sets: dict, device, batch_size: int, emit=None, cache: FeatureCache | None = None,
                     domain_bn: bool = False, views: int = 0, policy: str | None = None, seed: int = 0):
    """Run the frozen backbone once over every set; returns feature sets and a head-only model.

    The returned model shares ``model.neck`` and ``model.head``, so training it trains the real model's.
    With a ``cache``, sets whose features are stored are not recomputed, and new ones are stored.
    With ``domain_bn`` (AdaBN), source sets are encoded with the batch-norm statistics of the source training
    set and target sets with those of the target training set; the model keeps the target statistics, so
    the saved (and exported) model is the target model.
    With ``views`` (images), the source training set is also encoded ``views`` times under the augmentation
    ``policy`` (seeded by ``seed``; cached like the clean features), and its FeatureSet draws among them in
    training: augmentation at the cost of ``views`` extra passes, not one per epoch.
    """
    run = _Extraction(model, sets, device, batch_size, emit, cache, domain_bn, views, policy, seed)
    out = {name: run.features(name) for name in run.names}
    out["target_labeled_mask"] = sets["target_labeled_mask"]
    return out, _head_model(model, device)


class _Extraction:
    """One :func:`extract_features` call: the order of the sets, AdaBN between the domains, the extractor (built
    at the first set the cache does not hold, BN folded where it checks out), the views and the progress."""

    def __init__(self, model, sets, device, batch_size, emit, cache, domain_bn, views, policy, seed):
        self.model, self.sets, self.device, self.batch_size = model, sets, device, batch_size
        self.emit, self.cache, self.views, self.policy, self.seed = emit, cache, views, policy, seed
        names = [k for k, v in sets.items() if isinstance(v, EncodedSet)]
        self.domain_bn = bool(domain_bn and has_batchnorm(model.backbone))
        if self.domain_bn:  # target last: the model ends with the target statistics
            names = sorted(names, key=lambda n: DOMAIN_OF.get(n) == "target")
        self.names = names
        self.adapted = None  # the domain whose batch-norm statistics the backbone holds
        self.extractor = None
        self.total = max(1, sum(len(sets[k]) for k in names))
        self.before = 0  # samples of the sets already done
        self.last = 0.0  # when progress within a set was last emitted

    def phase(self, **fields) -> None:
        if self.emit:
            self.emit({"type": "phase", "phase": "caching frozen features", **fields})

    def on_batch(self, done: int, n: int, name: str) -> None:
        """Progress within a set, at most once a second."""
        if self.emit and time.monotonic() - self.last >= 1.0 and done < n:
            self.last = time.monotonic()
            self.phase(progress=round((self.before + done) / self.total, 3), detail=f"{name}: {done}/{n} samples")

    def features(self, name: str) -> FeatureSet:
        ds = self.sets[name]
        feats = self.cache.lookup(name) if self.cache else None
        hit = feats is not None
        self.adapt_for(name, ds, hit)
        if not hit:
            feats = self.clean(name, ds)
        fs = FeatureSet(torch.from_numpy(feats), ds.labels, views=self.view_features(name, ds))
        fs.sources = getattr(ds, "sources", None)
        self.before += len(ds)
        self.phase(progress=round(self.before / self.total, 3),
                   detail=f"{name}: {len(ds)} samples" + (" (from the feature cache)" if hit else ""))
        return fs

    def adapt_for(self, name: str, ds, hit: bool) -> None:
        """AdaBN: the batch-norm statistics of the set's domain, when they are needed and not held yet (a cached
        source set needs none; the target always does, so the model ends with them)."""
        dom = DOMAIN_OF.get(name)
        if not self.domain_bn or dom == self.adapted or (hit and dom != "target"):
            return
        fit_on = self.sets.get(f"{dom}_train", ds)
        self.phase(detail=f"AdaBN: batch-norm statistics of the {dom} ({len(fit_on)} samples)")
        adapt_batchnorm(self.model.backbone, fit_on, self.device, self.batch_size)
        self.adapted = dom

    def get_extractor(self, ds) -> nn.Module:
        if self.extractor is None:
            self.extractor = _extractor(self.model.backbone, ds, self.device, fold=not self.domain_bn)
        return self.extractor

    def clean(self, name: str, ds) -> np.ndarray:
        _, feats = predict(self.get_extractor(ds), ds, self.batch_size, self.device, return_features=True,
                           on_batch=lambda d, n: self.on_batch(d, n, name))
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        if self.cache and len(ds):
            self.cache.save(name, feats)
        return feats

    def view_features(self, name: str, ds) -> torch.Tensor | None:
        if not (self.views and self.policy and name == "source_train" and isinstance(ds, ImageSet) and len(ds)):
            return None
        return _view_features(self.get_extractor(ds), ds, name, self.views, self.policy, self.seed, self.device,
                              self.batch_size, self.emit, self.cache)


def _head_model(model, device):
    """A head-only model sharing ``model.neck`` and ``model.head`` (training it trains the real model's)."""
    from tlcore.models.classifier import Classifier

    head_model = Classifier(_Identity(model.backbone.out_features), model.head.out_features,
                            bottleneck=getattr(model, "bottleneck", 0))
    head_model.neck = model.neck
    head_model.head = model.head
    return head_model.to(device)
