"""Self-training with confident pseudo-labels on the target."""
from __future__ import annotations


import torch
from torch.nn import functional as F

from tlcore.strategies.alignment import AlignmentStrategy
from tlcore.strategies.specs import adaptation


class SelfTraining(AlignmentStrategy):
    spec = adaptation.SELF_TRAINING

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        w = self.params.warmup
        ramp = 1.0 if w <= 0 else min(1.0, max(0.0, (state.progress - w) / w))
        with torch.no_grad():
            conf, pseudo = torch.softmax(logits_t.float(), 1).max(1)
            use = conf >= self.params.threshold
            m_t = batch.get("m_t")
            if m_t is not None and bool(m_t.any()):
                pseudo = torch.where(m_t, batch["y_t"], pseudo)
                use = use | m_t
        ce = F.cross_entropy(logits_t.float(), pseudo, reduction="none") * use.float()
        if self.params.class_balanced and bool(use.any()):
            classes = pseudo[use].unique()
            loss = torch.stack([ce[use & (pseudo == c)].mean() for c in classes]).mean() * use.float().mean()
        else:
            loss = ce.sum() / max(1, len(ce))
        return ramp * loss, {"pseudo_ratio": float(use.float().mean()) if ramp > 0 else 0.0}
