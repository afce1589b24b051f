"""Linear probe: frozen pretrained backbone, new linear head."""
from __future__ import annotations


from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import SetupContext, Strategy, freeze
from tlcore.strategies.specs import tuning


class LinearProbe(Strategy):
    spec = tuning.LINEAR_PROBE

    def configure(self, model, ctx: SetupContext):
        freeze(model.backbone, True)
        return [{"params": head_parameters(model), "lr": ctx.lr * self.params.head_lr_scale,
                 "name": "head"}]
