"""Data preparation for a run: load both domains, align labels, subsample and split (seeded)."""
from __future__ import annotations

import numpy as np

from tlcore.config import RunConfig
from tlcore.errors import ConfigError


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
    if cfg.target.label_set:  # a person's labels for some target training samples; the test split is untouched
        from tlcore.data.label_sets import LabelSets, apply_label_set

        target, split, _ = apply_label_set(LabelSets().get(cfg.target.label_set), cfg.target.to_dict(), target,
                                           split, classes)
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
