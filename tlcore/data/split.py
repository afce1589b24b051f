"""Label alignment and deterministic, stratified train/val/test splits of a domain pair.

Index sets refer to positions in the (aligned) source and target domains:

* ``source_train`` / ``source_val``: disjoint, stratified by class.
* ``target_train``: target samples used in training without their labels.
* ``target_labeled``: a stratified subset of ``target_train`` whose labels may be used.
* ``target_test``: disjoint from ``target_train``; evaluation only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from tlcore.data.domain import Domain
from tlcore.errors import DataError

_FIELDS = ("source_train", "source_val", "target_train", "target_labeled", "target_test")


@dataclass(frozen=True)
class Split:
    """Index sets of one experiment's split (sorted tuples of positions)."""

    source_train: tuple[int, ...]
    source_val: tuple[int, ...]
    target_train: tuple[int, ...]
    target_labeled: tuple[int, ...]
    target_test: tuple[int, ...]
    seed: int

    def to_dict(self) -> dict:
        """Return a JSON-able dict (lists of ints and the seed)."""
        out: dict = {f: list(getattr(self, f)) for f in _FIELDS}
        out["seed"] = self.seed
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        """Rebuild a Split from :meth:`to_dict` output.

        Raises:
            DataError: A field is missing or not a list of integers.
        """
        missing = [f for f in (*_FIELDS, "seed") if f not in d]
        if missing:
            raise DataError(f"split: missing field(s) {missing}")
        try:
            values = {f: tuple(int(i) for i in d[f]) for f in _FIELDS}
            return cls(**values, seed=int(d["seed"]))
        except (TypeError, ValueError) as exc:
            raise DataError(f"split: fields must be lists of integers ({exc})") from exc


def align_labels(source: Domain, target: Domain, intersection: bool = False) -> tuple[Domain, Domain, list[str]]:
    """Check that source and target share one label set.

    Args:
        source: Labeled source domain.
        target: Target domain, labeled or not.
        intersection: Keep only the classes both domains have instead of failing.

    Returns:
        ``(source, target, classes)``: the (possibly filtered) domains and the sorted class list.

    Raises:
        DataError: Unlabeled source, fewer than 2 classes, or differing label sets.
    """
    if source.labels is None:
        raise DataError(f"source domain {source.name!r} is unlabeled; the source needs class labels"
                        + (f" ({source.description})" if getattr(source, "description", "") else ""))
    src, tgt = set(source.classes), set(target.classes)
    if target.labels is not None and src != tgt:
        if not intersection:
            raise DataError(
                f"label sets differ: source {source.name!r} has {sorted(src)}, target {target.name!r} has "
                f"{sorted(tgt)}; only in source: {sorted(src - tgt)}; only in target: {sorted(tgt - src)}"
            )
        shared = src & tgt
        if len(shared) < 2:
            raise DataError(
                f"source {source.name!r} and target {target.name!r} share {len(shared)} class(es) "
                f"{sorted(shared)}; need at least 2"
            )
        source = source.subset(i for i, y in enumerate(source.labels) if y in shared)
        target = target.subset(i for i, y in enumerate(target.labels) if y in shared)
    classes = source.classes
    if len(classes) < 2:
        raise DataError(
            f"source domain {source.name!r} has a single class {classes[0]!r}; need at least 2 classes"
        )
    return source, target, classes


def make_split(
    source: Domain,
    target: Domain,
    val_fraction: float = 0.2,
    test_fraction: float = 0.5,
    labeled_fraction: float = 0.0,
    seed: int = 0,
) -> Split:
    """Split a domain pair deterministically.

    Args:
        source: Labeled source domain (align it first with :func:`align_labels`).
        target: Target domain; if unlabeled, its split is random and ``labeled_fraction`` must be 0.
        val_fraction: Share of each source class held out for validation, in (0, 1).
        test_fraction: Share of the target held out for testing, in (0, 1).
        labeled_fraction: Share of ``target_train`` whose labels may be used, in [0, 1].
        seed: Random seed; the same inputs and seed give the same split.

    Returns:
        The Split.

    Raises:
        DataError: A fraction is out of range (naming the field), the source is
            unlabeled, or a class has too few samples for a stratified split.
    """
    _check_fraction("val_fraction", val_fraction, low_open=True, high_open=True)
    _check_fraction("test_fraction", test_fraction, low_open=True, high_open=True)
    _check_fraction("labeled_fraction", labeled_fraction, low_open=False, high_open=False)
    if source.labels is None:
        raise DataError(f"source domain {source.name!r} is unlabeled; the source needs class labels"
                        + (f" ({source.description})" if getattr(source, "description", "") else ""))
    rng = np.random.RandomState(seed)
    source_train, source_val = _stratified(source.labels, val_fraction, rng, f"source {source.name!r}")
    if target.labels is None:
        if labeled_fraction > 0:
            raise DataError(f"labeled_fraction: target domain {target.name!r} is unlabeled, so it must be 0")
        if len(target) < 2:
            raise DataError(f"target domain {target.name!r} has {len(target)} sample(s); need at least 2")
        order = rng.permutation(len(target))
        n_test = min(max(int(round(test_fraction * len(target))), 1), len(target) - 1)
        target_test, target_train = order[:n_test].tolist(), order[n_test:].tolist()
        target_labeled: list[int] = []
    else:
        target_train, target_test = _stratified(target.labels, test_fraction, rng, f"target {target.name!r}")
        target_labeled = _labeled_subset(target.labels, target_train, labeled_fraction, rng)
    return Split(
        source_train=tuple(sorted(source_train)),
        source_val=tuple(sorted(source_val)),
        target_train=tuple(sorted(target_train)),
        target_labeled=tuple(sorted(target_labeled)),
        target_test=tuple(sorted(target_test)),
        seed=seed,
    )


def _check_fraction(field: str, value: float, low_open: bool, high_open: bool) -> None:
    """Validate a fraction; the message names the field and the allowed range."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{field}: must be a number, got {value!r}") from exc
    too_low = v <= 0 if low_open else v < 0
    too_high = v >= 1 if high_open else v > 1
    if too_low or too_high or v != v:
        bounds = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise DataError(f"{field}: must be in {bounds}, got {value!r}")


def _stratified(labels: list[str], fraction: float, rng, what: str) -> tuple[list[int], list[int]]:
    """Split all positions per class into (kept, held_out), at least one of each per class."""
    indices = list(range(len(labels)))
    counts = Counter(labels[i] for i in indices)
    for cls, n in sorted(counts.items()):
        if n < 2:
            raise DataError(
                f"{what}: class {cls!r} has only {n} sample; need at least 2 per class for a stratified split"
            )
    low = {c: 1 for c in counts}
    high = {c: n - 1 for c, n in counts.items()}
    quotas = _allocate(counts, int(round(fraction * len(indices))), low, high)
    return _take(labels, indices, quotas, rng)


def _labeled_subset(labels: list[str], indices: list[int], fraction: float, rng) -> list[int]:
    """Pick ``round(fraction * len(indices))`` indices stratified by class, one per class when possible."""
    k = int(round(fraction * len(indices)))
    if k == 0:
        return []
    counts = Counter(labels[i] for i in indices)
    low = 1 if k >= len(counts) else 0
    _, picked = _take(labels, indices, _allocate(counts, k, {c: low for c in counts}, dict(counts)), rng)
    return picked


def _allocate(counts: Counter, k: int, low: dict, high: dict) -> dict[str, int]:
    """Share ``k`` among classes proportionally (largest remainder), within per-class bounds."""
    total = sum(counts.values())
    classes = sorted(counts)
    exact = {c: k * counts[c] / total for c in classes}
    quota = {c: int(exact[c]) for c in classes}
    by_remainder = sorted(classes, key=lambda c: (-(exact[c] - quota[c]), c))
    for c in by_remainder[: k - sum(quota.values())]:
        quota[c] += 1
    quota = {c: min(max(quota[c], low[c]), high[c]) for c in classes}
    while sum(quota.values()) > k and any(quota[c] > low[c] for c in classes):
        c = max((c for c in classes if quota[c] > low[c]), key=lambda c: (quota[c], c))
        quota[c] -= 1
    while sum(quota.values()) < k and any(quota[c] < high[c] for c in classes):
        c = max((c for c in classes if quota[c] < high[c]), key=lambda c: (high[c] - quota[c], c))
        quota[c] += 1
    return quota


def _take(labels: list[str], indices: list[int], quotas: dict[str, int], rng) -> tuple[list[int], list[int]]:
    """Shuffle each class and move its quota into the second list."""
    groups: dict[str, list[int]] = {cls: [] for cls in quotas}
    for i in indices:
        groups[labels[i]].append(i)
    rest: list[int] = []
    picked: list[int] = []
    for cls in sorted(quotas):
        members = np.array(groups[cls], dtype=np.int64)
        members = members[rng.permutation(len(members))]
        picked.extend(members[: quotas[cls]].tolist())
        rest.extend(members[quotas[cls]:].tolist())
    return rest, picked
