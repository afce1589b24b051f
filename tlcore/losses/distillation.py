"""Knowledge distillation loss (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network",
NIPS Deep Learning Workshop 2015)."""
from __future__ import annotations

import torch
from torch import nn


class DistillationLoss(nn.Module):
    """``L = T^2 * KL( softmax(z_teacher / T) || softmax(z_student / T) )``, averaged over samples.

    The ``T^2`` factor keeps the gradient scale independent of the temperature ``T``.

    Shape:
        student_logits: (B, C), teacher_logits: (B, C), w: (B,) or None -> scalar.
    """

    def __init__(self, temperature: float = 4.0):
        super().__init__()
        self.temperature = float(temperature)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                w: torch.Tensor | None = None) -> torch.Tensor:
        t = self.temperature
        log_p_s = torch.log_softmax(student_logits.float() / t, 1)
        log_p_t = torch.log_softmax(teacher_logits.float().detach() / t, 1)
        kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(1)
        if w is not None:
            return (kl * w).sum() / w.sum().clamp(min=1e-12) * t * t
        return kl.mean() * t * t
