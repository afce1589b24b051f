"""A backbone plus a new linear head: the model every strategy trains."""
from __future__ import annotations

import torch
from torch import nn

from tlcore.models.backbones import Backbone


class Classifier(nn.Module):
    """``backbone`` -> [``neck``] -> features ``f`` (B, D) -> ``head`` -> logits (B, C).

    ``forward`` returns ``(f, logits)`` so feature-level losses (MMD, CORAL, DANN) and the
    classification loss share one pass. With ``bottleneck = k > 0`` a trainable ``Linear(D, k) +
    BatchNorm + ReLU`` neck sits between the backbone and the head (as in TLlib's classifiers): ``f`` is then
    the neck's output, the layer alignment losses act on, and it can adapt even when the backbone is frozen.
    """

    def __init__(self, backbone: Backbone, num_classes: int, dropout: float = 0.0, bottleneck: int = 0):
        super().__init__()
        self.backbone = backbone
        self.bottleneck = int(bottleneck or 0)
        self.neck = (nn.Sequential(nn.Linear(backbone.out_features, self.bottleneck),
                                   nn.BatchNorm1d(self.bottleneck), nn.ReLU())
                     if self.bottleneck > 0 else nn.Identity())
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(self.bottleneck or backbone.out_features, num_classes)

    @property
    def out_features(self) -> int:
        """Width of ``f``, the features the head reads."""
        return self.bottleneck or self.backbone.out_features

    def forward(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.neck(self.backbone(x).float())
        return f, self.head(self.dropout(f))

    def head_parameters(self) -> list:
        """Parameters of the new layers (neck and head): they always train."""
        return list(self.neck.parameters()) + list(self.head.parameters())


class BackboneOnly(nn.Module):
    """A backbone dressed as a Classifier for :func:`tlcore.training.loop.predict`: ``(f, dummy logits)``."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.out_features = backbone.out_features

    def forward(self, x):
        f = self.backbone(x).float()
        return f, f[:, :1]


def bottleneck_of(state: dict) -> int:
    """The bottleneck width a saved Classifier state dict was built with (0 = none)."""
    w = state.get("neck.0.weight")
    return int(w.shape[0]) if w is not None else 0


def head_parameters(model: nn.Module) -> list:
    """Neck + head parameters of a Classifier (or just ``head`` for other models)."""
    if hasattr(model, "head_parameters"):
        return model.head_parameters()
    return list(model.head.parameters())


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
