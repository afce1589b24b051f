"""Transfer losses: small ``nn.Module``s with no loop, composed by the strategies.

Every feature-level loss takes ``(f_s, f_t, w_s=None, w_t=None)``: source and target features ``(B, D)``
and optional per-sample weights ``(B,)``.
"""
from tlcore.losses.adversarial import (ConditionalDomainAdversarialLoss, DomainAdversarialLoss,
                                       DomainDiscriminator, entropy)
from tlcore.losses.coral import CoralLoss
from tlcore.losses.distillation import DistillationLoss
from tlcore.losses.grl import GradientReverseLayer, dann_schedule, grad_reverse
from tlcore.losses.mcc import MinimumClassConfusionLoss
from tlcore.losses.mmd import MultiKernelMMD

__all__ = ["ConditionalDomainAdversarialLoss", "CoralLoss", "DistillationLoss", "DomainAdversarialLoss",
           "DomainDiscriminator", "GradientReverseLayer", "MinimumClassConfusionLoss", "MultiKernelMMD",
           "dann_schedule", "entropy", "grad_reverse"]
