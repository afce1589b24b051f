"""MCC: minimum class confusion on the target predictions."""
from __future__ import annotations


from tlcore.losses.mcc import MinimumClassConfusionLoss
from tlcore.strategies.alignment import AlignmentStrategy
from tlcore.strategies.specs import adaptation


class Mcc(AlignmentStrategy):
    spec = adaptation.MCC

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        loss = MinimumClassConfusionLoss(self.params.temperature)(logits_t)
        w = self.params.warmup
        if w > 0:  # ramp: the source classifier takes shape before confusion is penalised on the target
            ramp = min(1.0, state.progress / w)
            return loss * ramp, {"mcc_ramp": ramp}
        return loss, {}
