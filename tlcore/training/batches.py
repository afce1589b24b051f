"""Turning domain samples into model inputs, once, and serving index batches.

Images are resized once to ``image_size`` and kept as a uint8 tensor ``(N, 3, S, S)``; a batch is
normalised (and optionally augmented) on the fly. Texts are tokenised once without padding; a batch is
padded to its own longest sequence (dynamic padding), and evaluation orders by length so batches waste
little padding. Cached features (frozen backbone) are a third kind of set.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image


class EncodedSet:
    """Indexable model inputs plus integer labels (``-1`` where unknown)."""

    kind = "base"

    def __init__(self, labels: np.ndarray):
        self.labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, idx: np.ndarray, device: torch.device, train: bool = False):
        raise TypeError(f"{type(self).__name__} cannot build batches")

    def lengths(self) -> np.ndarray | None:
        return None


class ImageSet(EncodedSet):
    """uint8 images ``(N, 3, S, S)``; batches are float, normalised, channels_last."""

    kind = "image"

    def __init__(self, images: torch.Tensor, labels, mean, std, augment: bool = False):
        super().__init__(labels)
        self.images = images
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.augment = augment

    def batch(self, idx, device, train=False):
        x = self.images[torch.as_tensor(idx)].to(device, non_blocking=True).float().div_(255.0)
        if train and self.augment:
            x = _augment(x)
        x = (x - self.mean.to(device)) / self.std.to(device)
        return x.contiguous(memory_format=torch.channels_last)


class TextSet(EncodedSet):
    """Token id lists; batches are padded to the longest sequence in the batch."""

    kind = "text"

    def __init__(self, ids: list[list[int]], labels, pad_id: int):
        super().__init__(labels)
        self.ids = ids
        self.pad_id = pad_id
        self._lengths = np.array([len(s) for s in ids], dtype=np.int64)

    def lengths(self):
        return self._lengths

    def batch(self, idx, device, train=False):
        seqs = [self.ids[i] for i in idx]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.as_tensor(s)
            mask[r, : len(s)] = 1
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}


class FeatureSet(EncodedSet):
    """Cached backbone features ``(N, D)`` (float32)."""

    kind = "features"

    def __init__(self, features: torch.Tensor, labels):
        super().__init__(labels)
        self.features = features

    def batch(self, idx, device, train=False):
        return self.features[torch.as_tensor(idx)].to(device)


def encode_images(samples: list, labels, image_size: int, mean, std, augment: bool = False) -> ImageSet:
    """Resize each RGB uint8 array to ``image_size`` square (bilinear) into one uint8 tensor."""
    out = torch.empty((len(samples), 3, image_size, image_size), dtype=torch.uint8)
    for i, arr in enumerate(samples):
        im = Image.fromarray(arr)
        if im.size != (image_size, image_size):
            im = im.resize((image_size, image_size), Image.BILINEAR)
        out[i] = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)
    return ImageSet(out, labels, mean, std, augment)


def encode_texts(texts: list[str], labels, tokenizer, max_length: int) -> TextSet:
    """Tokenise without padding, truncated to ``max_length``."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TextSet(enc["input_ids"], labels, pad)


def _augment(x: torch.Tensor) -> torch.Tensor:
    """Random resized crop (scale 0.7-1), horizontal flip and mild colour jitter, per sample."""
    n, _, h, w = x.shape
    out = torch.empty_like(x)
    g = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,)).item()))
    for i in range(n):
        s = float(torch.empty(1).uniform_(0.7, 1.0, generator=g))
        ch, cw = max(1, int(h * s ** 0.5)), max(1, int(w * s ** 0.5))
        top = int(torch.randint(0, h - ch + 1, (1,), generator=g))
        left = int(torch.randint(0, w - cw + 1, (1,), generator=g))
        crop = x[i : i + 1, :, top : top + ch, left : left + cw]
        img = torch.nn.functional.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)[0]
        if torch.rand(1, generator=g) < 0.5:
            img = img.flip(-1)
        b = float(torch.empty(1).uniform_(0.8, 1.2, generator=g))
        c = float(torch.empty(1).uniform_(0.8, 1.2, generator=g))
        m = img.mean()
        out[i] = ((img - m) * c + m * b).clamp_(0, 1)
    return out


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None,
            lengths: np.ndarray | None = None, drop_last: bool = False) -> list[np.ndarray]:
    """Index batches. With ``rng``: shuffled (texts bucketed by length inside 50-batch chunks).
    Without: in order, or sorted by length for texts."""
    if rng is None:
        order = np.argsort(lengths, kind="stable") if lengths is not None else np.arange(n)
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    if lengths is not None:
        chunk = batch_size * 50
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")]
                                for c in np.array_split(order, max(1, int(np.ceil(n / chunk))))]) if n else order
    out = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and len(out) > 1 and len(out[-1]) < batch_size:
        out = out[:-1]
    if lengths is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out
