"""CORAL and MMD: align feature statistics of the source and target batches."""
from __future__ import annotations

from tlcore.losses.coral import CoralLoss
from tlcore.losses.mmd import MultiKernelMMD
from tlcore.strategies.alignment import AlignmentStrategy


class Coral(AlignmentStrategy):
    """Deep CORAL: fine-tuning plus the distance between source and target feature covariances.

    Loss: ``CE(source) + trade_off x ||C_s - C_t||_F^2 / (4 d^2)``. Reference: Sun & Saenko, "Deep CORAL:
    Correlation Alignment for Deep Domain Adaptation", ECCV Workshops 2016.
    """

    name = "coral"
    title = "Deep CORAL (covariance alignment)"

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        return CoralLoss()(f_s, f_t), {}


class Mmd(AlignmentStrategy):
    """DAN: fine-tuning plus the multi-kernel MMD between source and target features.

    Loss: ``CE(source) + trade_off x MK-MMD^2(f_s, f_t)`` with Gaussian kernels at the median-heuristic
    bandwidth x {0.25, 0.5, 1, 2, 4}. Reference: Long et al., "Learning Transferable Features with Deep
    Adaptation Networks", ICML 2015.
    """

    name = "mmd"
    title = "MMD / DAN (multi-kernel MMD)"

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        return MultiKernelMMD()(f_s, f_t), {}
