"""Gradual unfreezing with discriminative learning rates (ULMFiT)."""
from __future__ import annotations

from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import SetupContext, Strategy, TrainState, freeze
from tlcore.strategies.specs import tuning
from tlcore.strategies.specs.tuning import parse_epochs


class GradualUnfreezing(Strategy):
    spec = tuning.GRADUAL_UNFREEZING

    def __init__(self, params=None):
        super().__init__(params)
        parse_epochs(self.params.unfreeze_epochs)

    def unfrozen_groups(self, epoch: int) -> int:
        """Number of backbone groups (from the top) that train in 0-based ``epoch``."""
        explicit = parse_epochs(self.params.unfreeze_epochs)
        if explicit:
            return sum(1 for e in explicit if e <= epoch + 1)
        return epoch // self.params.unfreeze_every

    def configure(self, model, ctx: SetupContext):
        freeze(model.backbone, True)
        out = [{"params": head_parameters(model), "lr": ctx.lr, "name": "head"}]
        groups = model.backbone.layer_groups()
        for depth, g in enumerate(reversed(groups), start=1):  # every group is in the optimizer from the start
            out.append({"params": list(g), "lr": ctx.lr / self.params.lr_decay ** depth, "name": f"group-{depth}"})
        return out

    def on_epoch_start(self, model, optimizer, state: TrainState) -> None:
        groups = model.backbone.layer_groups()
        n = min(len(groups), self.unfrozen_groups(state.epoch))
        for i, g in enumerate(groups):
            for p in g:
                p.requires_grad = i >= len(groups) - n
