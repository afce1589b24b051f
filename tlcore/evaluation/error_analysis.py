"""Error analysis: the misclassified target test samples of one confusion-matrix cell, and their previews.

The ``index`` column of ``predictions_target_test.csv`` is a position in the target domain as the run loaded
it (seed, label alignment, ``max_samples_per_domain``), so :func:`sample_preview` rebuilds that domain with
:func:`tlcore.data.prepare.prepare_data` from the run's config and reads the samples back.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from tlcore.evaluation.compare import predictions


def cell_samples(store, run_id: str, true: str, pred: str, limit: int | None = 50) -> pd.DataFrame:
    """Target test rows with this true and predicted class, most confident first."""
    df = predictions(store, run_id)
    if df.empty:
        return df
    sel = df[(df["true"].astype(str) == str(true)) & (df["pred"].astype(str) == str(pred))]
    sel = sel.sort_values("confidence", ascending=False, kind="mergesort")
    return sel.head(limit) if limit else sel


def confident_mistakes(store, run_id: str, limit: int = 50) -> pd.DataFrame:
    """All misclassified labelled target test rows, most confident first."""
    df = predictions(store, run_id)
    if df.empty:
        return df
    wrong = df[(df["true"].astype(str) != "") & (df["true"].astype(str) != df["pred"].astype(str))]
    return wrong.sort_values("confidence", ascending=False, kind="mergesort").head(limit)


def sample_preview(store, run_id: str, indices, size: int = 96) -> list:
    """The target samples at ``indices``: ``(size, size, 3)`` uint8 thumbnails for images, strings for text."""
    from PIL import Image

    from tlcore.config import RunConfig
    from tlcore.data.prepare import prepare_data

    cfg = RunConfig.from_dict(store.read_json(run_id, "config.json"))
    _, target, _, _ = prepare_data(cfg)
    out = []
    for i in indices:
        s = target.samples[int(i)]
        if target.modality == "text":
            out.append(str(s))
        else:
            img = Image.fromarray(np.asarray(s, dtype=np.uint8)).convert("RGB")
            img.thumbnail((size, size))
            out.append(np.asarray(img, dtype=np.uint8))
    return out
