"""A tiny generated image pair for the labelling tests: a labelled source (one folder per class) and an unlabelled
target (a flat folder of images, the way a team's new camera data arrives)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("circle", "square")


def _image(kind: str, rng, shift: float) -> np.ndarray:
    img = np.full((24, 24, 3), 40 + shift, np.float64) + rng.normal(0, 12, (24, 24, 3))
    yy, xx = np.mgrid[:24, :24]
    cy, cx = rng.integers(9, 15, 2)
    mask = ((yy - cy) ** 2 + (xx - cx) ** 2 < 36) if kind == "circle" else (
        (abs(yy - cy) < 5) & (abs(xx - cx) < 5) & ~((abs(yy - cy) < 3) & (abs(xx - cx) < 3)))
    img[mask] = 220 - shift
    return np.clip(img, 0, 255).astype(np.uint8)


def make_image_pair(root: Path, n_source: int = 20, n_target: int = 30, seed: int = 0) -> tuple[Path, Path, dict]:
    """``(source_dir, target_dir, truth)``: ``truth`` maps a target file name (its sample id) to its class, which
    the target folder itself does not say."""
    rng = np.random.default_rng(seed)
    src, tgt = Path(root) / "source", Path(root) / "target"
    truth = {}
    for c in CLASSES:
        (src / c).mkdir(parents=True, exist_ok=True)
        for i in range(n_source):
            Image.fromarray(_image(c, rng, 0.0)).save(src / c / f"{c}_{i:03d}.png")
    tgt.mkdir(parents=True, exist_ok=True)
    for i in range(n_target):
        c = CLASSES[i % 2]
        name = f"cam_{i:03d}.png"
        Image.fromarray(_image(c, rng, 60.0)).save(tgt / name)  # brighter background: a shifted domain
        truth[name] = c
    return src, tgt, truth
