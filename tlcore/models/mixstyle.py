"""MixStyle: feature-statistics mixing between the samples of a batch, a layer for CNNs trained for shift.

Reference: Zhou, Yang, Qiao and Xiang, "Domain Generalization with MixStyle", ICLR 2021
(https://arxiv.org/abs/2104.02008). Instance-level channel means and standard deviations of early CNN feature maps
carry an image's style (colour, texture, contrast: what AdaIN swaps); content is in the normalised map. MixStyle
normalises each sample's map by its own statistics and re-styles it with a convex mix of its statistics and those of
another sample of the batch, ``lambda ~ Beta(alpha, alpha)``, with probability ``p`` per batch (the paper: alpha 0.1,
p 0.5, after the first two ResNet stages, the shuffled-batch variant). The statistics are detached (no gradient
through them), as in the paper. Training only: in eval mode the layer is the identity.

In a domain-adaptation batch (source and target concatenated, ``tlcore.strategies.alignment.forward_pair``) the
shuffle also mixes source samples with target styles, which is the point of it for shift.
"""
from __future__ import annotations

import torch
from torch import nn


class MixStyle(nn.Module):
    """Mix instance-level channel statistics between samples of a batch (Zhou et al., ICLR 2021).

    Args:
        p: probability of mixing a given batch (0.5 in the paper).
        alpha: Beta(alpha, alpha) concentration of the mixing weight (0.1 in the paper: mostly near 0 or 1).
        eps: added to the variance before the square root.
    """

    def __init__(self, p: float = 0.5, alpha: float = 0.1, eps: float = 1e-6):
        super().__init__()
        self.p, self.alpha, self.eps = float(p), float(alpha), float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.dim() != 4 or len(x) < 2:
            return x
        if float(torch.rand(())) > self.p:
            return x
        n = len(x)
        mu = x.mean(dim=(2, 3), keepdim=True)
        sig = (x.var(dim=(2, 3), keepdim=True) + self.eps).sqrt()
        mu, sig = mu.detach(), sig.detach()
        normed = (x - mu) / sig
        conc = torch.tensor(self.alpha, dtype=torch.float32)
        lam = torch.distributions.Beta(conc, conc).sample((n, 1, 1, 1)).to(x.device, x.dtype)
        perm = torch.randperm(n).to(x.device)
        mu_mix = mu * lam + mu[perm] * (1 - lam)
        sig_mix = sig * lam + sig[perm] * (1 - lam)
        return normed * sig_mix + mu_mix
