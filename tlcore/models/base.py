"""The backbone base class: every backbone maps an input batch to a feature matrix ``(B, out_features)``.

``layer_groups()`` lists parameter groups from the bottom (input) to the top; it is the primitive for partial
fine-tuning, gradual unfreezing and discriminative learning rates.
"""
from __future__ import annotations

from torch import nn

from tlcore.models.registry import BackboneSpec

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Backbone(nn.Module):
    """Base class. Subclasses set ``modality``, ``out_features``, and implement ``forward``/``layer_groups``."""

    modality: str = "image"
    out_features: int = 0
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    tokenizer = None
    spec: BackboneSpec

    def layer_groups(self) -> list[list[nn.Parameter]]:
        return children_groups(self)

    def group_names(self) -> list[str]:
        return [f"group {i}" for i in range(len(self.layer_groups()))]


def children_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    groups = [list(c.parameters()) for c in model.children()]
    return [g for g in groups if g]
