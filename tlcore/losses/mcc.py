"""Minimum Class Confusion loss (Jin, Wang, Long, Wang, "Minimum Class Confusion for Versatile Domain
Adaptation", ECCV 2020)."""
from __future__ import annotations

import torch
from torch import nn


class MinimumClassConfusionLoss(nn.Module):
    """Between-class confusion of the model's own target predictions.

    ``p = softmax(logits / T)``; each sample is weighted by ``1 + exp(-H(p))`` (confident samples count
    more, weights normalised to sum to B); the class confusion matrix ``C = (w p)^T p`` is row-normalised
    and the loss is its off-diagonal mass divided by the number of classes. It is 0 when every prediction
    is one-hot (no two classes confused) and needs no target label and no extra network.

    Shape:
        logits: (B, C) -> scalar in [0, (C - 1) / C].
    """

    def __init__(self, temperature: float = 2.5):
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        b, c = logits.shape
        p = torch.softmax(logits.float() / self.temperature, dim=1)
        h = -(p * torch.log(p.clamp(min=1e-12))).sum(1).detach()
        w = 1.0 + torch.exp(-h)
        w = (b * w / w.sum()).unsqueeze(1)
        confusion = (p * w).T @ p
        confusion = confusion / confusion.sum(dim=1, keepdim=True).clamp(min=1e-12)
        return (confusion.sum() - torch.trace(confusion)) / c
