"""Shared pieces of the domain-alignment strategies (DANN, CDAN, CORAL, MMD, self-training, instance
weighting, multitask): fine-tuning's parameter groups plus a transfer term weighted by ``trade_off``.

With ``trade_off = 0`` an alignment strategy runs exactly fine-tuning's step (no target forward, so batch
norm statistics and random streams are untouched), and the modules it owns are built from a private
random stream: the run is then identical to ``fine_tuning`` with the same seed.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn import functional as F

from tlcore.strategies.base import SetupContext, StepOutput, TrainState
from tlcore.strategies.fine_tuning import FineTuning


@contextlib.contextmanager
def private_rng(seed_offset: int = 1):
    """Build modules from a private random stream so the global one (dropout, batch order) is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((torch.initial_seed() + seed_offset) % (2 ** 63))
        yield


def forward_pair(model: nn.Module, x_s, x_t):
    """Source and target through the model: one pass over the concatenation for tensors of the same shape
    (images, features), two passes for text dicts (each padded to its own width).

    Returns:
        f_s (B_s, D), logits_s (B_s, C), f_t (B_t, D), logits_t (B_t, C).
    """
    if torch.is_tensor(x_s) and torch.is_tensor(x_t) and x_s.shape[1:] == x_t.shape[1:]:
        f, logits = model(torch.cat([x_s, x_t]))
        n = len(x_s)
        return f[:n], logits[:n], f[n:], logits[n:]
    f_s, logits_s = model(x_s)
    f_t, logits_t = model(x_t)
    return f_s, logits_s, f_t, logits_t


def classification(logits_s: torch.Tensor, y_s: torch.Tensor, w_s: torch.Tensor | None = None):
    """(Optionally sample-weighted) cross-entropy and accuracy on the source batch."""
    ce = F.cross_entropy(logits_s.float(), y_s, reduction="none")
    loss = (ce * w_s).sum() / w_s.sum().clamp(min=1e-12) if w_s is not None else ce.mean()
    acc = float((logits_s.argmax(1) == y_s).float().mean())
    return loss, acc


class AlignmentStrategy(FineTuning):
    """Fine-tuning plus a transfer term. Subclasses build their modules in :meth:`build` and compute the
    term in :meth:`transfer`; :meth:`training_step` adds ``trade_off x transfer`` to the source loss."""


    def __init__(self, params=None):
        super().__init__(params)
        self.modules_: nn.ModuleList = nn.ModuleList()

    def build(self, model: nn.Module, ctx: SetupContext) -> list[nn.Module]:
        """Modules the strategy owns (e.g. a discriminator); trained at ``lr``. Default: none."""
        return []

    def transfer(self, f_s, logits_s, f_t, logits_t, batch: dict, state: TrainState) -> tuple[torch.Tensor, dict]:
        """The transfer loss and its logs (plain floats). Every alignment strategy defines it."""
        raise TypeError(f"{type(self).__name__} defines no transfer loss")

    def configure(self, model, ctx: SetupContext):
        groups = super().configure(model, ctx)
        with private_rng():
            self.modules_ = nn.ModuleList(self.build(model, ctx))
        params = [p for m in self.modules_ for p in m.parameters()]
        if params:
            groups.append({"params": params, "lr": ctx.lr, "name": self.name + "_modules"})
        return groups

    def extra_modules(self):
        return list(self.modules_)

    def training_step(self, model, batch, state: TrainState) -> StepOutput:
        if self.params.trade_off == 0 or "x_t" not in batch:
            return super().training_step(model, batch, state)
        f_s, logits_s, f_t, logits_t = forward_pair(model, batch["x_s"], batch["x_t"])
        cls_loss, acc = classification(logits_s, batch["y_s"])
        t_loss, logs = self.transfer(f_s, logits_s, f_t, logits_t, batch, state)
        loss = cls_loss + self.params.trade_off * t_loss
        return StepOutput(loss, {"cls_loss": float(cls_loss.detach()), "transfer_loss": float(t_loss.detach()),
                                 "train_acc": acc, **logs})
