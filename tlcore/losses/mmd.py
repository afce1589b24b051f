"""Multi-kernel MMD (Long et al., "Learning Transferable Features with Deep Adaptation Networks", ICML 2015;
Gretton et al., "A Kernel Two-Sample Test", JMLR 2012)."""
from __future__ import annotations

import torch
from torch import nn


def median_bandwidth(sq_dists: torch.Tensor) -> torch.Tensor:
    """Median heuristic: the median of the off-diagonal squared distances (detached, > 0)."""
    n = sq_dists.shape[0]
    off = sq_dists.detach()[~torch.eye(n, dtype=torch.bool, device=sq_dists.device)]
    return off.median().clamp(min=1e-6) if off.numel() else torch.ones((), device=sq_dists.device)


class MultiKernelMMD(nn.Module):
    """Squared MMD between source and target features with a sum of Gaussian kernels.

    ``MMD^2 = E[k(s, s')] + E[k(t, t')] - 2 E[k(s, t)]`` with ``k = sum_i exp(-||a - b||^2 / (m_i sigma^2))``,
    ``sigma^2`` the median squared distance over the joint batch and ``m_i`` in ``multipliers``. This is the
    biased (V-statistic) estimate with optional sample weights: it is always >= 0 and 0 for equal batches.

    Shape:
        f_s: (B_s, d), f_t: (B_t, d), w_s: (B_s,) or None, w_t: (B_t,) or None -> scalar.
    """

    def __init__(self, multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)):
        super().__init__()
        self.multipliers = tuple(float(m) for m in multipliers)

    def forward(self, f_s: torch.Tensor, f_t: torch.Tensor, w_s: torch.Tensor | None = None,
                w_t: torch.Tensor | None = None) -> torch.Tensor:
        f_s, f_t = f_s.float(), f_t.float()
        z = torch.cat([f_s, f_t])
        sq = torch.cdist(z, z).pow(2)
        sigma2 = median_bandwidth(sq)
        k = sum(torch.exp(-sq / (m * sigma2)) for m in self.multipliers)
        ns = len(f_s)
        a = _normalised(w_s, ns, z)
        b = _normalised(w_t, len(f_t), z)
        v = torch.cat([a, -b])  # MMD^2 = v^T K v with v = (a, -b)
        return (v @ k @ v).clamp(min=0.0)


def _normalised(w, n, like):
    if w is None:
        return torch.full((n,), 1.0 / n, device=like.device, dtype=like.dtype)
    w = w.to(like.dtype)
    return w / w.sum().clamp(min=1e-12)
