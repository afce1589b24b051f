"""FixMatch consistency training on the target (spec: specs/adaptation.py)."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from tlcore.losses.mcc import MinimumClassConfusionLoss
from tlcore.strategies.alignment import AlignmentStrategy, classification, forward_pair
from tlcore.strategies.base import StepOutput
from tlcore.strategies.specs import adaptation


class FixMatch(AlignmentStrategy):
    spec = adaptation.FIXMATCH

    def training_step(self, model, batch, state):
        if self.params.trade_off == 0 or "x_t" not in batch:
            return super().training_step(model, batch, state)  # exactly fine-tuning's step
        f_s, logits_s, f_t, logits_t = forward_pair(model, batch["x_s"], batch["x_t"])
        _, logits_strong = model(batch["x_t_strong"])
        cls_loss, acc = classification(logits_s, batch["y_s"])
        t_loss, logs = self.consistency(logits_t, logits_strong, batch)
        loss = cls_loss + self.params.trade_off * t_loss
        return StepOutput(loss, {"cls_loss": float(cls_loss.detach()), "transfer_loss": float(t_loss.detach()),
                                 "train_acc": acc, **logs})

    def consistency(self, logits_weak, logits_strong, batch) -> tuple[torch.Tensor, dict]:
        """Masked cross-entropy of the strong view against the weak view's confident predictions (+ MCC)."""
        with torch.no_grad():
            conf, pseudo = torch.softmax(logits_weak.float(), 1).max(1)
            use = conf >= self.params.threshold
            m_t = batch.get("m_t")
            if m_t is not None and bool(m_t.any()):  # a usable target label beats a pseudo-label
                pseudo, use = torch.where(m_t, batch["y_t"], pseudo), use | m_t
        loss = (F.cross_entropy(logits_strong.float(), pseudo, reduction="none") * use.float()).mean()
        logs = {"pseudo_ratio": float(use.float().mean())}
        if self.params.with_mcc:
            mcc = MinimumClassConfusionLoss(self.params.temperature)(logits_weak)
            loss = loss + mcc
            logs["mcc_loss"] = float(mcc.detach())
        return loss, logs
