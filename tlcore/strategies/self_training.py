"""Self-training with confident pseudo-labels on the target."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from tlcore.strategies.alignment import AlignmentParams, AlignmentStrategy
from tlcore.strategies.base import param


@dataclass(frozen=True)
class SelfTrainingParams(AlignmentParams):
    threshold: float = param(0.9, "Only target samples predicted with at least this confidence get a "
                                  "pseudo-label.", min=0.0, max=1.0)
    warmup: float = param(0.2, "Share of training on the source alone before pseudo-labels start (their weight "
                               "then ramps up linearly over the same share): an untrained head's confident "
                               "mistakes would otherwise teach themselves.", min=0.0, max=0.9)
    class_balanced: bool = param(True, "Average the pseudo-label loss per predicted class, so that one class "
                                       "cannot take over the target (the usual failure of self-training).")


class SelfTraining(AlignmentStrategy):
    """Pseudo-labelling: the model's own confident target predictions become training labels.

    Loss: ``CE(source) + trade_off x ramp x mean_t[ 1(max p_t >= threshold) CE(p_t, argmax p_t) ]``, with no
    pseudo-labels during the first ``warmup`` share of training and a linear ramp after it; with
    ``class_balanced`` the mean is taken per pseudo-class, then over classes (class-balanced self-training,
    Zou et al., ECCV 2018). Target samples with a usable label (``labeled_fraction > 0``) use it instead of a
    pseudo-label. Logs the share of the target batch that got a label. Reference: Lee, "Pseudo-Label: The
    Simple and Efficient Semi-Supervised Learning Method for Deep Neural Networks", ICML Workshops 2013.
    """

    name = "self_training"
    title = "Self-training (confident pseudo-labels)"
    Params = SelfTrainingParams
    family = "semi-supervised"

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
