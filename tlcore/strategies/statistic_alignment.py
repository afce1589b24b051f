"""CORAL and MMD: align feature statistics of the source and target batches."""
from __future__ import annotations

from tlcore.losses.coral import CoralLoss
from tlcore.losses.mmd import MultiKernelMMD
from tlcore.strategies.alignment import AlignmentStrategy
from tlcore.strategies.specs import adaptation


class Coral(AlignmentStrategy):
    spec = adaptation.CORAL

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        return CoralLoss()(f_s, f_t), {}


class Mmd(AlignmentStrategy):
    spec = adaptation.MMD

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        return MultiKernelMMD()(f_s, f_t), {}
