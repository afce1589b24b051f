"""Linear probe: frozen pretrained backbone, new linear head."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import SetupContext, Strategy, freeze, param


@dataclass(frozen=True)
class LinearProbeParams:
    head_lr_scale: float = param(10.0, "Head learning rate = lr x this. The frozen features are cached, so a "
                                       "larger step is safe and epochs cost almost nothing.", min=0.01, max=1000.0)


class LinearProbe(Strategy):
    """Feature extraction: the backbone stays frozen and only a new linear head trains.

    The frozen features are computed once and cached by the loop, so every epoch after the first costs
    almost nothing. Reference: Yosinski et al., "How transferable are features in deep neural
    networks?", NeurIPS 2014; Kornblith et al., "Do Better ImageNet Models Transfer Better?", CVPR 2019.
    """

    name = "linear_probe"
    title = "Linear probe (frozen features + new head)"
    Params = LinearProbeParams
    frozen_backbone = True

    def configure(self, model, ctx: SetupContext):
        freeze(model.backbone, True)
        return [{"params": head_parameters(model), "lr": ctx.lr * self.params.head_lr_scale,
                 "name": "head"}]
