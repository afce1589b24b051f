"""Cross-validation for small target sets, on a run's stored target features.

For ``linear_probe`` and the other frozen-feature methods the stored features are those of the frozen
backbone, so k-fold (stratified) or leave-one-out of a logistic-regression head on them is the
cross-validated linear probe on the labelled target samples. For fine-tuned runs the features are the
adapted ones, and the estimate says how separable the target classes are in the learned space.
"""
from __future__ import annotations

import io

import numpy as np

from tlcore.errors import TLError
from tlcore.evaluation.statistics import cross_validate_features


def target_features(store, run_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Labelled target test features and labels from ``features_after.npz``."""
    p = store.local(run_id, "features_after.npz")
    if not p.is_file():
        raise TLError(f"run {run_id} has no stored features (features_after.npz)")
    with np.load(io.BytesIO(p.read_bytes())) as z:
        x, y = z["target_test.features"].astype(np.float32), z["target_test.labels"]
    keep = y >= 0
    if keep.sum() < 4:
        raise TLError(f"run {run_id}: only {int(keep.sum())} labelled target samples; cross-validation needs 4+")
    return x[keep], y[keep]


def cross_validate_run(store, run_id: str, k: int | str = 5, seed: int = 0) -> dict:
    """k-fold or ``"loo"`` cross-validation of a logistic-regression head on the run's target features."""
    x, y = target_features(store, run_id)
    try:
        out = cross_validate_features(x, y, k, seed)
    except ValueError as exc:
        raise TLError(f"run {run_id}: {exc}") from None
    return {"run_id": run_id, "model": "logistic regression on the run's target features", **out}
