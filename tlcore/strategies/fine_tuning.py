"""Fine-tuning: the whole backbone, or its top N layer groups, with a lower learning rate than the head."""
from __future__ import annotations

from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import SetupContext, Strategy, freeze
from tlcore.strategies.specs import tuning
from tlcore.strategies.specs.base import freezing


class FineTuning(Strategy):
    spec = tuning.FINE_TUNING

    def configure(self, model, ctx: SetupContext):
        groups = model.backbone.layer_groups()
        top = freezing(self.params).top
        train_groups = groups if top is None else groups[-top:] if top else []
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
