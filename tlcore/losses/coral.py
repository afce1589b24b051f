"""Deep CORAL loss (Sun & Saenko, "Deep CORAL: Correlation Alignment for Deep Domain Adaptation",
ECCV Workshops 2016)."""
from __future__ import annotations

import torch
from torch import nn


def _weighted_cov(f: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    if w is None:
        w = torch.ones(len(f), device=f.device, dtype=f.dtype)
    w = w / w.sum().clamp(min=1e-12)
    mean = (w[:, None] * f).sum(0, keepdim=True)
    c = f - mean
    denom = (1.0 - (w ** 2).sum()).clamp(min=1e-12)  # unbiased: n / (n - 1) for uniform weights
    return (w[:, None] * c).T @ c / denom


class CoralLoss(nn.Module):
    """Distance between the second-order statistics of source and target features.

    ``L = || C_s - C_t ||_F^2 / (4 d^2)`` where ``C`` is the (unbiased, optionally sample-weighted)
    feature covariance. It is 0 when the covariances match.

    Shape:
        f_s: (B_s, d), f_t: (B_t, d), w_s: (B_s,) or None, w_t: (B_t,) or None -> scalar.
    """

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor, w_s: torch.Tensor | None = None,
                w_t: torch.Tensor | None = None) -> torch.Tensor:
        f_s, f_t = f_s.float(), f_t.float()
        d = f_s.shape[1]
        diff = _weighted_cov(f_s, w_s) - _weighted_cov(f_t, w_t)
        return (diff ** 2).sum() / (4.0 * d * d)
