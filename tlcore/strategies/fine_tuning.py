"""Fine-tuning: the whole backbone, or its top N layer groups, with a lower learning rate than the head."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import SetupContext, Strategy, freeze, param


@dataclass(frozen=True)
class FineTuningParams:
    trainable_groups: int = param(0, "Layer groups to train, counted from the top (0 = the whole backbone).",
                                  min=0, max=100)
    backbone_lr_factor: float = param(0.1, "Backbone learning rate = lr x this (the head uses lr).",
                                      min=0.0, max=10.0)
    freeze_backbone: bool = param(False, "Keep the whole backbone frozen: its features are computed once and "
                                         "cached, and only the bottleneck (run setting `bottleneck`) and the head "
                                         "train. Fast on CPU; alignment losses then act on the bottleneck.")
    train_last_groups: int = param(0, "Train only the last N layer groups and cache the output of the frozen "
                                      "layers below them once (0 = off). Much faster than fine-tuning the "
                                      "whole backbone on a CPU.", min=0, max=100)


class FineTuning(Strategy):
    """Full or partial fine-tuning of a pretrained backbone with a new head.

    Lower layers hold generic features and move less: the backbone trains at ``lr x backbone_lr_factor``.
    With ``trainable_groups = N`` only the top N layer groups train (partial fine-tuning). Reference:
    Yosinski et al., NeurIPS 2014; Howard & Ruder, "Universal Language Model Fine-tuning", ACL 2018.
    """

    name = "fine_tuning"
    title = "Fine-tuning (full or top-N layer groups)"
    Params = FineTuningParams

    def configure(self, model, ctx: SetupContext):
        groups = model.backbone.layer_groups()
        n = self.params.trainable_groups or self.params.train_last_groups
        train_groups = [] if self.params.freeze_backbone else groups if n == 0 else groups[-n:]
        freeze(model.backbone, True)
        params = [p for g in train_groups for p in g]
        for p in params:
            p.requires_grad = True
        out = [{"params": head_parameters(model), "lr": ctx.lr, "name": "head"}]
        if params and self.params.backbone_lr_factor > 0:
            out.append({"params": params, "lr": ctx.lr * self.params.backbone_lr_factor, "name": "backbone"})
        elif params:
            for p in params:
                p.requires_grad = False
        return out
