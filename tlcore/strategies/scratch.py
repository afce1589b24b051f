"""From-scratch baseline: the same architecture with random weights, everything trains."""
from __future__ import annotations

from tlcore.strategies.base import SetupContext, Strategy, freeze
from tlcore.strategies.specs import tuning


class Scratch(Strategy):
    spec = tuning.SCRATCH

    def configure(self, model, ctx: SetupContext):
        freeze(model, False)
        return [{"params": [p for p in model.parameters()], "lr": ctx.lr, "name": "all"}]
