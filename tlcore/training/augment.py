"""Batched image augmentation policies, on the batch's own device (the GPU when there is one).

A policy maps a uint8 batch ``(B, 3, H, W)`` to an augmented uint8 batch of the same shape, with its own
random draw for every sample (not one draw per batch, which is what a plain ``transforms.v2`` call on a
batch would do). Geometry is one batched ``affine_grid``/``grid_sample``; colour ops are vectorised.

Policies (``RunConfig.augment``: ``false``, ``true`` = ``auto``, or a name):

- ``natural``: photos. Random resized crop (scale 0.6-1), horizontal flip, colour jitter.
- ``shapes``: digits, characters, text in images, anything whose mirror image is another thing.
  Small rotation (+-12 degrees), scale and shift, colour jitter, random grayscale and random invert
  (colour/texture shift: the target may be light-on-dark where the source is dark-on-light). **Never flips.**
- ``strong``: ``shapes``' geometry plus one TrivialAugment-style photometric op per sample
  (``torchvision.transforms.v2``), for the strong view of consistency training; never flips.
- ``auto``: ``shapes`` when every class name is a single character or a number (digits, letters),
  else ``natural``.
"""
from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from tlcore.config import POLICIES  # noqa: F401 - the names live with the (torch-free) config


def choose_policy(classes: list[str] | None) -> str:
    """``shapes`` for digit/character classes (mirroring changes their meaning), else ``natural``."""
    names = [str(c).strip() for c in (classes or [])]
    if names and all(len(n) == 1 or n.lstrip("-").isdigit() for n in names):
        return "shapes"
    return "natural"


def resolve_policy(augment, classes: list[str] | None = None) -> str | None:
    """``False``/``None``/``"none"`` -> None; ``True``/``"auto"`` -> :func:`choose_policy`; else the name."""
    if augment in (False, None, "none", "", 0):
        return None
    if augment is True or augment == "auto":
        return choose_policy(classes)
    if augment not in POLICIES:
        raise ValueError(f"augment: unknown policy {augment!r}; known: {list(POLICIES)}")
    return augment


def apply_policy(x: torch.Tensor, policy, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a uint8 batch ``(B, 3, H, W)`` with ``policy``; returns uint8 of the same shape."""
    policy = resolve_policy(policy) if policy in (True, "auto") else policy
    if not policy or len(x) == 0:
        return x
    xf = x.float().div(255.0)
    flip = policy == "natural"
    if policy == "natural":
        xf = _affine(xf, rot_deg=0.0, scale=(0.75, 1.0), shift=0.12, flip=flip, generator=generator)
        xf = _colour(xf, 0.3, 0.3, 0.3, gray_p=0.0, invert_p=0.0, generator=generator)
    else:
        xf = _affine(xf, rot_deg=12.0, scale=(0.85, 1.1), shift=0.1, flip=False, generator=generator)
        xf = _colour(xf, 0.4, 0.4, 0.5, gray_p=0.2, invert_p=0.2, generator=generator)
    out = xf.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    if policy == "strong":
        out = _trivial_augment(out)
    return out


def _rand(n: int, lo: float, hi: float, like: torch.Tensor, generator=None) -> torch.Tensor:
    r = torch.rand(n, generator=generator) if generator is not None else torch.rand(n)
    return (lo + (hi - lo) * r).to(like.device, like.dtype)


def _affine(x: torch.Tensor, rot_deg: float, scale: tuple, shift: float, flip: bool, generator=None):
    """One random rotation / zoom / shift (/ horizontal flip) per sample, as one batched grid sample."""
    n = len(x)
    ang = _rand(n, -rot_deg, rot_deg, x, generator) * (math.pi / 180.0)
    s = _rand(n, scale[0], scale[1], x, generator)
    tx, ty = _rand(n, -shift, shift, x, generator), _rand(n, -shift, shift, x, generator)
    sx = torch.ones(n, device=x.device, dtype=x.dtype)
    if flip:
        sx = torch.where(_rand(n, 0, 1, x, generator) < 0.5, -sx, sx)
    cos, sin = torch.cos(ang) / s, torch.sin(ang) / s
    theta = torch.stack([torch.stack([cos * sx, -sin, tx], 1), torch.stack([sin * sx, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # border padding: a shifted digit keeps its background colour instead of gaining black bars
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _colour(x: torch.Tensor, b: float, c: float, sat: float, gray_p: float, invert_p: float, generator=None):
    n = len(x)
    shape = (n, 1, 1, 1)
    bright = _rand(n, 1 - b, 1 + b, x, generator).view(shape)
    contrast = _rand(n, 1 - c, 1 + c, x, generator).view(shape)
    satur = _rand(n, 1 - sat, 1 + sat, x, generator).view(shape)
    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = (gray + (x - gray) * satur).clamp(0, 1)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean).clamp(0, 1) * bright
    x = x.clamp(0, 1)
    if gray_p > 0:
        g = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
        x = torch.where((_rand(n, 0, 1, x, generator) < gray_p).view(shape), g, x)
    if invert_p > 0:
        x = torch.where((_rand(n, 0, 1, x, generator) < invert_p).view(shape), 1.0 - x, x)
    return x


def _trivial_augment(x: torch.Tensor) -> torch.Tensor:
    """One TrivialAugment-style op per sample, drawn from ``torchvision.transforms.v2``'s photometric ops
    at a random strength (Mueller & Hutter, ICCV 2021). Geometry stays the policy's own: TrivialAugmentWide's
    rotations up to 135 degrees would turn a 6 into a 9."""
    from torchvision.transforms.v2 import functional as TF

    def op(img: torch.Tensor, k: int, m: float) -> torch.Tensor:
        if k == 0:
            return TF.autocontrast(img)
        if k == 1:
            return TF.equalize(img)
        if k == 2:
            return TF.posterize(img, bits=int(8 - 4 * m))
        if k == 3:
            return TF.solarize(img, threshold=int(255 * (1 - m)))
        if k == 4:
            return TF.adjust_sharpness(img, 0.05 + 1.9 * m)  # 0.05 (blur) .. 1.95 (sharpen)
        if k == 5:
            return TF.adjust_hue(img, 0.5 * (m - 0.5))
        return img  # identity, as in TrivialAugment

    ks = torch.randint(0, 7, (len(x),)).tolist()
    ms = torch.rand(len(x)).tolist()
    return torch.stack([op(img, k, m) for img, k, m in zip(x, ks, ms)])
