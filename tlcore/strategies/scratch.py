"""From-scratch baseline: the same architecture with random weights, everything trains."""
from __future__ import annotations

from tlcore.strategies.base import SetupContext, Strategy, freeze


class Scratch(Strategy):
    """No transfer: the backbone architecture is randomly initialised and trained on the source only.

    It is the baseline that shows what pretraining buys; compare its target accuracy with the
    pretrained strategies on the Compare page.
    """

    name = "scratch"
    title = "From scratch (random init baseline)"
    pretrained = False
    family = "baseline"

    def configure(self, model, ctx: SetupContext):
        freeze(model, False)
        return [{"params": [p for p in model.parameters()], "lr": ctx.lr, "name": "all"}]
