"""A backbone plus a new linear head: the model every strategy trains."""
from __future__ import annotations

import torch
from torch import nn

from tlcore.models.backbones import Backbone


class Classifier(nn.Module):
    """``backbone`` -> features ``f`` (B, D) -> ``head`` -> logits (B, C).

    ``forward`` returns ``(f, logits)`` so feature-level losses (MMD, CORAL, DANN) and the
    classification loss share one pass. When features are cached (frozen backbone), the loop calls
    :meth:`from_features` instead.
    """

    def __init__(self, backbone: Backbone, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(backbone.out_features, num_classes)

    @property
    def out_features(self) -> int:
        return self.backbone.out_features

    def forward(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.backbone(x)
        return f, self.head(self.dropout(f.float()))

    def from_features(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return f, self.head(self.dropout(f))


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
