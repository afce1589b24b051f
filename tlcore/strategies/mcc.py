"""MCC: minimum class confusion on the target predictions."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.losses.mcc import MinimumClassConfusionLoss
from tlcore.strategies.alignment import AlignmentParams, AlignmentStrategy
from tlcore.strategies.base import param


@dataclass(frozen=True)
class MccParams(AlignmentParams):
    temperature: float = param(2.5, "Softmax temperature of the target predictions (the paper's 2.5; higher "
                                    "= softer, more classes count as confused).", min=0.1, max=100.0)


class Mcc(AlignmentStrategy):
    """Fine-tuning plus the Minimum Class Confusion loss on unlabeled target batches.

    Loss: ``CE(source) + trade_off x MCC(logits_t / T)``: the off-diagonal mass of the row-normalised,
    certainty-weighted class-correlation matrix of the target predictions. Unlike entropy minimisation it
    penalises confusing *pairs of classes* over a batch, so it does not push every sample to the majority
    class; unlike DANN and CDAN it trains no discriminator, so it is stable with few epochs, and it acts
    on predictions, so it also works where feature alignment does not (e.g. fine-tuned text encoders).
    Reference: Jin et al., "Minimum Class Confusion for Versatile Domain Adaptation", ECCV 2020.
    """

    name = "mcc"
    title = "MCC (minimum class confusion)"
    Params = MccParams

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        return MinimumClassConfusionLoss(self.params.temperature)(logits_t), {}
