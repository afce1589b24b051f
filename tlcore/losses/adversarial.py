"""Domain-adversarial losses: DANN (Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016)
and CDAN (Long et al., "Conditional Adversarial Domain Adaptation", NeurIPS 2018)."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from tlcore.losses.grl import grad_reverse


class DomainDiscriminator(nn.Sequential):
    """Two-layer MLP ``in_features -> hidden -> hidden -> 1`` giving the logit of "this sample is source".

    Shape: (B, in_features) -> (B, 1).
    """

    def __init__(self, in_features: int, hidden: int = 256):
        super().__init__(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, 1))


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Prediction entropy ``H(p) = -sum_c p_c log p_c`` per sample. Shape: (B, C) -> (B,)."""
    logp = torch.log_softmax(logits.float(), 1)
    return -(logp.exp() * logp).sum(1)


def _domain_bce(d_s: torch.Tensor, d_t: torch.Tensor, w_s, w_t) -> tuple[torch.Tensor, torch.Tensor]:
    """BCE with source = 1, target = 0, and the discriminator's accuracy (detached)."""
    ones, zeros = torch.ones_like(d_s), torch.zeros_like(d_t)
    ls = F.binary_cross_entropy_with_logits(d_s, ones, reduction="none").squeeze(1)
    lt = F.binary_cross_entropy_with_logits(d_t, zeros, reduction="none").squeeze(1)
    ls = (ls * w_s).sum() / w_s.sum().clamp(min=1e-12) if w_s is not None else ls.mean()
    lt = (lt * w_t).sum() / w_t.sum().clamp(min=1e-12) if w_t is not None else lt.mean()
    with torch.no_grad():
        acc = torch.cat([(d_s > 0).float(), (d_t <= 0).float()]).mean()
    return 0.5 * (ls + lt), acc


class DomainAdversarialLoss(nn.Module):
    """DANN's transfer loss: the discriminator's BCE on gradient-reversed features.

    ``L = 1/2 [ BCE(D(R(f_s)), 1) + BCE(D(R(f_t)), 0) ]`` where ``R`` is the gradient reversal layer with
    coefficient ``coeff``: minimising ``L`` trains ``D`` to tell the domains apart and, through ``R``, the
    feature extractor to make them indistinguishable.

    Shape:
        f_s: (B_s, d), f_t: (B_t, d), w_s: (B_s,) or None, w_t: (B_t,) or None
        -> (loss scalar, domain accuracy scalar detached).
    """

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.discriminator = discriminator

    def forward(self, f_s, f_t, w_s=None, w_t=None, coeff: float = 1.0):
        f = grad_reverse(torch.cat([f_s, f_t]).float(), coeff)
        d = self.discriminator(f)
        return _domain_bce(d[: len(f_s)], d[len(f_s):], w_s, w_t)


class MultilinearMap(nn.Module):
    """CDAN's conditioning ``T(f, g)``: the flattened outer product ``f (x) g`` (d * C values), or, when that
    exceeds ``max_dim``, the randomized multilinear map ``(R_f f) * (R_g g) / sqrt(max_dim)`` with fixed
    Gaussian ``R_f`` (d x max_dim) and ``R_g`` (C x max_dim).

    Shape: f (B, d), g (B, C) -> (B, out_features).
    """

    def __init__(self, feature_dim: int, num_classes: int, max_dim: int = 4096):
        super().__init__()
        self.randomized = feature_dim * num_classes > max_dim
        self.out_features = max_dim if self.randomized else feature_dim * num_classes
        if self.randomized:
            self.register_buffer("r_f", torch.randn(feature_dim, max_dim))
            self.register_buffer("r_g", torch.randn(num_classes, max_dim))

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        if self.randomized:
            return (f @ self.r_f) * (g @ self.r_g) / math.sqrt(self.out_features)
        return torch.bmm(g.unsqueeze(2), f.unsqueeze(1)).flatten(1)


class ConditionalDomainAdversarialLoss(nn.Module):
    """CDAN's transfer loss: the discriminator sees ``T(f, g)`` with ``g = softmax(logits)`` (detached).

    ``L = 1/2 [ sum_s w_s BCE(D(R(T(f_s, g_s))), 1) + sum_t w_t BCE(D(R(T(f_t, g_t))), 0) ]``; with entropy
    conditioning (CDAN+E) ``w = 1 + exp(-H(g))`` normalised per domain, so confident (transferable) samples
    count more.

    Shape:
        f_s: (B_s, d), f_t: (B_t, d), logits_s: (B_s, C), logits_t: (B_t, C), w_s/w_t: (B,) or None
        -> (loss scalar, domain accuracy scalar detached).
    """

    def __init__(self, discriminator: nn.Module, multilinear: MultilinearMap, entropy_conditioning: bool = False):
        super().__init__()
        self.discriminator = discriminator
        self.multilinear = multilinear
        self.entropy_conditioning = entropy_conditioning

    def forward(self, f_s, f_t, logits_s, logits_t, w_s=None, w_t=None, coeff: float = 1.0):
        f = torch.cat([f_s, f_t]).float()
        logits = torch.cat([logits_s, logits_t]).float().detach()
        g = torch.softmax(logits, 1)
        h = grad_reverse(self.multilinear(f, g), coeff)
        d = self.discriminator(h)
        n = len(f_s)
        if self.entropy_conditioning:
            e = 1.0 + torch.exp(-entropy(logits))
            w_s = e[:n] if w_s is None else e[:n] * w_s
            w_t = e[n:] if w_t is None else e[n:] * w_t
        return _domain_bce(d[:n], d[n:], w_s, w_t)
