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
- ``colour``: colour and texture shift (digits on photos, night/day, sensors). Mild geometry (no flip), then
  per sample colour jitter with hue (any hue), random grayscale, a random permutation of the RGB channels and
  random inversion (:func:`colour_shift`).
- ``randconv``: mild geometry, then a random convolution mixed with the input (:func:`rand_conv`, RandConv:
  Xu et al., ICLR 2021): new local textures and colour mappings while shapes stay.
- ``style``: ``colour`` then RandConv on half of the samples: the policy for colour, texture and style shift (photos
  -> sketches, clip art). Feature-statistics mixing inside a CNN (MixStyle, Zhou et al., ICLR 2021) is a layer,
  not a pixel policy: :class:`tlcore.models.mixstyle.MixStyle`, backbone ``small_cnn_mixstyle``.
- ``auto``: ``shapes`` when every class name is a single character or a number (digits, letters),
  else ``natural``.

Every policy preserves shape and dtype, draws per sample (RandConv: one kernel size per batch, a filter per
sample) and is reproducible: from ``generator`` when one is given (feature views), else from torch's global seed.
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
    if policy in SHIFT_POLICIES:
        xf = _affine(xf, rot_deg=8.0, scale=(0.9, 1.1), shift=0.08, flip=False, generator=generator)
        if policy in ("colour", "style"):
            xf = colour_shift(xf, generator=generator)
        if policy in ("randconv", "style"):
            xf = rand_conv(xf, p=1.0 if policy == "randconv" else 0.5, generator=generator)
    elif policy == "natural":
        xf = _affine(xf, rot_deg=0.0, scale=(0.75, 1.0), shift=0.12, flip=flip, generator=generator)
        xf = _colour(xf, 0.3, 0.3, 0.3, gray_p=0.0, invert_p=0.0, generator=generator)
    else:
        xf = _affine(xf, rot_deg=12.0, scale=(0.85, 1.1), shift=0.1, flip=False, generator=generator)
        xf = _colour(xf, 0.4, 0.4, 0.5, gray_p=0.2, invert_p=0.2, generator=generator)
    out = xf.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    if policy == "strong":
        out = _trivial_augment(out)
    return out


SHIFT_POLICIES = ("colour", "randconv", "style")  # for colour, texture and style shift (issue 25)


def colour_shift(x: torch.Tensor, hue: float = 0.5, gray_p: float = 0.2, permute_p: float = 0.5,
                 invert_p: float = 0.2, generator=None) -> torch.Tensor:
    """Colour randomisation of a float batch in [0, 1], per sample: brightness, contrast and saturation jitter
    (ColorJitter's ranges 0.4/0.4/0.5), a hue rotation of up to ``hue`` turns (0.5: any hue; a rotation of the
    chroma plane in YIQ space, so vectorised), then random grayscale, a random permutation of the RGB channels and
    random inversion with the given probabilities. Colour augmentation of this kind is the standard remedy for
    colour shift (e.g. the digits-on-photos pairs of Ganin et al., JMLR 2016; SimCLR's colour distortion,
    Chen et al., ICML 2020)."""
    n = len(x)
    shape = (n, 1, 1, 1)
    x = _colour(x, 0.4, 0.4, 0.5, gray_p=0.0, invert_p=0.0, generator=generator)
    if hue > 0:
        ang = _rand(n, -hue, hue, x, generator) * (2 * math.pi)
        yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                           dtype=x.dtype, device=x.device)
        cos, sin = torch.cos(ang), torch.sin(ang)
        one, zero = torch.ones_like(cos), torch.zeros_like(cos)
        rot = torch.stack([torch.stack([one, zero, zero], 1), torch.stack([zero, cos, -sin], 1),
                           torch.stack([zero, sin, cos], 1)], 1)  # (n, 3, 3): rotate I/Q, keep luma
        m = torch.linalg.inv(yiq) @ rot @ yiq
        x = torch.einsum("nij,njhw->nihw", m, x).clamp(0, 1)
    if permute_p > 0:
        perm = torch.rand(n, 3, generator=generator).argsort(1).to(x.device) if generator is not None else \
            torch.rand(n, 3).argsort(1).to(x.device)
        permuted = x[torch.arange(n, device=x.device)[:, None], perm]
        x = torch.where((_rand(n, 0, 1, x, generator) < permute_p).view(shape), permuted, x)
    return _colour(x, 0.0, 0.0, 0.0, gray_p=gray_p, invert_p=invert_p, generator=generator)


def rand_conv(x: torch.Tensor, p: float = 1.0, sizes: tuple = (1, 3, 5, 7), generator=None) -> torch.Tensor:
    """RandConv (Xu, Liu, Yang, Raffel and Niethammer, "Robust and Generalizable Visual Representation Learning
    via Random Convolutions", ICLR 2021): a randomly initialised convolution, kernel size drawn from ``sizes``
    ({1, 3, 5, 7} as in the paper's multi-scale variant), weights ~ N(0, 1 / (3 k^2)) (the paper's
    sigma = 1 / sqrt(C_in k^2)), its output mixed with the input, ``alpha * x + (1 - alpha) * conv(x)`` with
    ``alpha ~ U(0, 1)`` (RC_mix). A float batch in [0, 1] is centred to [-1, 1] for the convolution (as the paper
    applies it to normalised images) and clamped back. One kernel size per batch; unlike the paper's one filter per
    mini-batch, each sample gets its own filter and alpha (one grouped convolution, same cost), so small batches
    still see many textures. ``p``: the share of samples transformed."""
    n, c, h, w = x.shape
    ki = torch.randint(len(sizes), (1,), generator=generator) if generator is not None else \
        torch.randint(len(sizes), (1,))
    k = int(sizes[int(ki)])
    weight = torch.randn(n * c, c, k, k, generator=generator) if generator is not None else \
        torch.randn(n * c, c, k, k)
    weight = (weight / math.sqrt(3 * k * k)).to(x.device, x.dtype)
    xc = x * 2 - 1
    padded = F.pad(xc.reshape(1, n * c, h, w), [k // 2] * 4, mode="replicate") if k > 1 else xc.reshape(1, n * c, h, w)
    y = F.conv2d(padded, weight, groups=n).view(n, c, h, w)
    alpha = _rand(n, 0, 1, x, generator).view(n, 1, 1, 1)
    out = ((alpha * xc + (1 - alpha) * y).clamp(-1, 1) + 1) / 2
    if p >= 1:
        return out
    return torch.where((_rand(n, 0, 1, x, generator) < p).view(n, 1, 1, 1), out, x)


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
