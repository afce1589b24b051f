"""Gradual unfreezing with discriminative learning rates (ULMFiT)."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.errors import ConfigError
from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import SetupContext, Strategy, TrainState, freeze, param


@dataclass(frozen=True)
class GradualUnfreezingParams:
    unfreeze_every: int = param(1, "Unfreeze the next layer group from the top every this many epochs "
                                   "(epoch 1 trains the head only).", min=1, max=1000)
    unfreeze_epochs: str = param("", "Optional explicit schedule: comma-separated 1-based epochs at which the "
                                     "next group unfreezes, e.g. '2,3,5'. Overrides unfreeze_every.")
    lr_decay: float = param(2.6, "Discriminative learning rates: each lower layer group trains at the lr of "
                                 "the group above divided by this (ULMFiT uses 2.6).", min=1.0, max=100.0)


def parse_epochs(text: str) -> list[int]:
    """'2, 3,5' -> [2, 3, 5]; errors name ``params.unfreeze_epochs``."""
    try:
        out = sorted(int(t) for t in text.replace(";", ",").split(",") if t.strip())
    except ValueError:
        raise ConfigError(f"params.unfreeze_epochs: expected comma-separated epochs, got {text!r}") from None
    if any(e < 1 for e in out):
        raise ConfigError(f"params.unfreeze_epochs: epochs count from 1, got {text!r}")
    return out


class GradualUnfreezing(Strategy):
    """Fine-tuning that unfreezes the backbone's layer groups one at a time, from the top.

    The first epoch trains the new head only; then every ``unfreeze_every`` epochs (or at the epochs listed
    in ``unfreeze_epochs``) the next group down joins. Group ``d`` counted from the top (d = 1, 2, ...)
    trains at ``lr / lr_decay^d``, the head at ``lr``. Reference: Howard & Ruder, "Universal Language Model
    Fine-tuning for Text Classification", ACL 2018.
    """

    name = "gradual_unfreezing"
    title = "Gradual unfreezing (ULMFiT, discriminative lrs)"
    Params = GradualUnfreezingParams

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
