"""Gradient reversal layer (Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation",
ICML 2015) and DANN's ramp for its coefficient."""
from __future__ import annotations

import math

import torch
from torch import nn


class _GradientReverse(torch.autograd.Function):
    """Identity forward; multiplies the incoming gradient by ``-coeff`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """``R(x) = x`` forward, ``dR/dx = -coeff * I`` backward. Shape: any -> same."""
    return _GradientReverse.apply(x, float(coeff))


def dann_schedule(progress: float, max_coeff: float = 1.0, gamma: float = 10.0) -> float:
    """DANN's ramp ``lambda_p = max_coeff * (2 / (1 + exp(-gamma p)) - 1)`` for progress ``p`` in [0, 1].

    Starts at 0 (the discriminator is random early on, its gradients are noise) and approaches
    ``max_coeff`` as training ends.
    """
    p = min(1.0, max(0.0, float(progress)))
    return max_coeff * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0)


class GradientReverseLayer(nn.Module):
    """Module form of :func:`grad_reverse` with a fixed coefficient."""

    def __init__(self, coeff: float = 1.0):
        super().__init__()
        self.coeff = coeff

    def forward(self, x: torch.Tensor, coeff: float | None = None) -> torch.Tensor:
        return grad_reverse(x, self.coeff if coeff is None else coeff)
