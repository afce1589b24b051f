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

from tlcore.errors import TLError


class SampleError(TLError):
    """A sample could not be turned into a model input (resize, augmentation): names the sample and its file.

    Training prepares samples in the job's own process (no DataLoader worker processes), so such an error fails
    the run at once with this message instead of a bare traceback, and cannot leave a hung worker behind."""


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
    """uint8 images ``(N, 3, S, S)``; batches are float, normalised, channels_last.

    Built from the decoded samples, the set resizes lazily: a forward-only pass (``train=False``, e.g.
    feature extraction or evaluation) resizes just the batch it serves, so a set whose frozen features are
    already cached is never resized at all, and a 224 px extraction never holds every resized image in
    memory. The first training batch resizes the whole set once into one uint8 tensor (``images``).
    """

    kind = "image"

    def __init__(self, images: torch.Tensor | None, labels, mean, std, augment=False, samples=None,
                 image_size: int | None = None):
        super().__init__(labels)
        self._images = images
        self._samples = samples
        self._served = 0  # samples served lazily (forward-only) so far
        self.image_size = int(images.shape[-1]) if images is not None else int(image_size or 0)
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        self.augment = augment  # False, True (the "default" policy) or a policy name (tlcore.training.augment)

    @property
    def images(self) -> torch.Tensor:
        if self._images is None:
            self._images = _resize_all(self._samples, self.image_size, getattr(self, "sources", None))
            self._samples = None
        return self._images

    def _uint8(self, idx) -> torch.Tensor:
        if self._images is None and self._samples is not None and self._served < len(self):
            self._served += len(idx)  # the first pass resizes per batch; a second pass (e.g. validation
            idx = np.asarray(idx)     # every epoch) resizes the whole set once
            return _resize_all([self._samples[i] for i in idx], self.image_size, getattr(self, "sources", None), idx)
        return self.images[torch.as_tensor(idx)]  # resizes the whole set once

    def batch(self, idx, device, train=False, policy=None):
        """Normalised float batch; in training the set's augmentation policy (or ``policy`` instead)."""
        x = (self.images[torch.as_tensor(idx)] if train else self._uint8(idx)).to(device, non_blocking=True)
        policy = policy or (self.augment if train else None)
        if train and policy:
            from tlcore.training.augment import apply_policy

            try:
                x = apply_policy(x, policy)
            except Exception as exc:
                if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
                    raise  # the OOM retry handles it (tlcore/training/oom.py)
                raise SampleError(f"augmentation {policy!r} failed on a batch of {len(idx)} samples "
                                  f"({_names(idx, getattr(self, 'sources', None))}): {type(exc).__name__}: {exc}; "
                                  "try another augmentation policy or none") from exc
        return self.normalise(x, device)

    def normalise(self, x: torch.Tensor, device) -> torch.Tensor:
        """uint8 batch on ``device`` -> float, normalised with the set's mean/std, channels_last."""
        x = x.float().div_(255.0)
        x = (x - self.mean.to(device)) / self.std.to(device)
        return x.contiguous(memory_format=torch.channels_last)


class AugmentedView(EncodedSet):
    """One augmented copy of an :class:`ImageSet` under ``policy``, drawn from ``generator`` in batch order and
    served forward-only (the set's lazy resize path): what ``RunConfig.feature_views`` encodes once per view."""

    kind = "image"

    def __init__(self, base: ImageSet, policy: str, generator: torch.Generator):
        super().__init__(base.labels)
        self.base, self.policy, self.generator = base, policy, generator

    def batch(self, idx, device, train=False):
        from tlcore.training.augment import apply_policy

        x = apply_policy(self.base._uint8(idx), self.policy, generator=self.generator).to(device)
        return self.base.normalise(x, device)


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
    """Cached backbone features ``(N, D)`` (float32). With ``views`` ``(V, N, D)`` (features of V augmented
    copies of every sample, ``RunConfig.feature_views``), a training batch draws, per sample, the clean features
    or one of the views, uniformly (torch's seeded generator); evaluation always sees the clean features."""

    kind = "features"

    def __init__(self, features: torch.Tensor, labels, views: torch.Tensor | None = None):
        super().__init__(labels)
        self.features = features
        self.views = views if views is not None and len(views) else None

    def batch(self, idx, device, train=False):
        idx = torch.as_tensor(idx)
        if not train or self.views is None:
            return self.features[idx].to(device)
        pick = torch.randint(0, len(self.views) + 1, (len(idx),))  # 0: clean, v: view v
        out = self.features[idx].clone()
        rows = pick > 0
        out[rows] = self.views[pick[rows] - 1, idx[rows]]
        return out.to(device)


def encode_for(backbone, samples: list, labels, *, image_size: int | None = None, max_length: int = 128,
               augment=None, lazy: bool = False, mean=None, std=None) -> EncodedSet:
    """The one encode path: raw samples in ``backbone``'s own preprocessing. Images: resized to ``image_size``
    (the caller's config value) with the backbone's mean/std (``mean``/``std`` override them, e.g. those stored
    with an exported model), ``augment`` a policy or None, ``lazy`` see :class:`ImageSet`; texts: the backbone's
    tokenizer, truncated to ``max_length``, no padding."""
    if backbone.modality == "image":
        if not image_size:
            raise ValueError("encode_for: an image backbone needs image_size")
        return encode_images(samples, labels, int(image_size), tuple(mean or backbone.mean),
                             tuple(std or backbone.std), augment=augment, lazy=lazy)
    return encode_texts(samples, labels, backbone.tokenizer, int(max_length))


def encode_images(samples: list, labels, image_size: int, mean, std, augment=False,
                  lazy: bool = False) -> ImageSet:
    """Resize each RGB uint8 array to ``image_size`` square (bilinear) into one uint8 tensor; with
    ``lazy`` the resizing waits until a batch needs it (see :class:`ImageSet`)."""
    if lazy:
        return ImageSet(None, labels, mean, std, augment, samples=list(samples), image_size=image_size)
    return ImageSet(_resize_all(samples, image_size), labels, mean, std, augment)


def _resize_all(samples: list, image_size: int, sources: list | None = None, idx=None) -> torch.Tensor:
    """Resize to ``(N, 3, S, S)`` uint8. A sample that fails raises :class:`SampleError` with its position in
    the set (``idx[i]`` when ``samples`` is a subset) and its file (``sources``)."""
    out = torch.empty((len(samples), 3, image_size, image_size), dtype=torch.uint8)
    for i, arr in enumerate(samples):
        try:
            im = Image.fromarray(arr)
            if im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.BILINEAR)
            out[i] = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1)
        except Exception as exc:  # noqa: BLE001 - any failure of one sample's transform names that sample
            k = int(idx[i]) if idx is not None else i
            raise SampleError(f"could not prepare {_names([k], sources)} for the model (resize to "
                              f"{image_size} px): {type(exc).__name__}: {exc}") from exc
    return out


def _names(idx, sources: list | None, limit: int = 3) -> str:
    """``sample 17 (cats/x.png)`` for the first ``limit`` positions of ``idx``."""
    idx = [int(i) for i in np.asarray(idx).reshape(-1)]
    parts = [f"sample {i}" + (f" ({sources[i]})" if sources is not None and 0 <= i < len(sources) else "")
             for i in idx[:limit]]
    return ", ".join(parts) + (f" and {len(idx) - limit} more" if len(idx) > limit else "")



def encode_texts(texts: list[str], labels, tokenizer, max_length: int) -> TextSet:
    """Tokenise without padding, truncated to ``max_length``."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=False)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return TextSet(enc["input_ids"], labels, pad)


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
