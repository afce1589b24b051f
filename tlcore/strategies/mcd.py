"""MCD: maximum classifier discrepancy, three updates per batch with two optimizers (spec: specs/adaptation.py)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from tlcore.strategies.alignment import classification, forward_pair, private_rng
from tlcore.strategies.base import SetupContext, StepOutput
from tlcore.strategies.fine_tuning import FineTuning
from tlcore.strategies.specs import adaptation

CLASSIFIERS, GENERATOR = "classifiers", "generator"


def discrepancy(logits_1: torch.Tensor, logits_2: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the two softmax outputs (Saito et al. 2018, eq. 1)."""
    return (F.softmax(logits_1.float(), 1) - F.softmax(logits_2.float(), 1)).abs().mean()


class Mcd(FineTuning):
    spec = adaptation.MCD

    def __init__(self, params=None):
        super().__init__(params)
        self.f2: nn.Module | None = None
        self.has_generator = False

    def configure(self, model, ctx: SetupContext):
        groups = super().configure(model, ctx)  # freezes what fine-tuning freezes; its backbone group is reused
        net = getattr(model, "module", model)
        with private_rng():  # F2 from a private stream: trade-off 0 stays bit for bit fine-tuning
            self.f2 = nn.Linear(net.head.in_features, net.head.out_features).to(ctx.device)
        neck = [p for p in net.neck.parameters() if p.requires_grad]
        out = [{"params": list(net.head.parameters()) + list(self.f2.parameters()), "lr": ctx.lr,
                "name": "classifiers (F1, F2)", "optimizer": CLASSIFIERS}]
        if neck:
            out.append({"params": neck, "lr": ctx.lr, "name": "bottleneck", "optimizer": GENERATOR})
        out += [{**g, "optimizer": GENERATOR} for g in groups if g["name"] == "backbone"]
        self.has_generator = any(g["optimizer"] == GENERATOR for g in out)
        return out

    def extra_modules(self):
        return [self.f2] if self.f2 is not None else []

    def training_steps(self, model, batch, state):
        if self.params.trade_off == 0 or "x_t" not in batch:
            yield self.training_step(model, batch, state)
            return
        net, k = getattr(model, "module", model), self.params.trade_off
        # (A) both classifiers and the features on the source
        f_s, logits_s = model(batch["x_s"])
        ce1, acc = classification(logits_s, batch["y_s"])
        ce2, _ = classification(self.f2(f_s), batch["y_s"])
        yield StepOutput(ce1 + ce2, {"cls_loss": float(ce1.detach()), "train_acc": acc})
        # (B) the classifiers disagree on the target, still fit the source; features fixed
        with torch.no_grad():
            f_s, _, f_t, _ = forward_pair(model, batch["x_s"], batch["x_t"])
        ce_b = classification(net.head(f_s), batch["y_s"])[0] + classification(self.f2(f_s), batch["y_s"])[0]
        d_b = discrepancy(net.head(f_t), self.f2(f_t))
        yield StepOutput(ce_b - k * d_b, {"discrepancy_b": float(d_b.detach())}, optimizers=(CLASSIFIERS,))
        # (C) the features make them agree on the target
        for _ in range(self.params.generator_steps if self.has_generator else 0):
            f_t, logits_t = model(batch["x_t"])
            d_c = discrepancy(logits_t, self.f2(f_t))
            yield StepOutput(k * d_c, {"discrepancy": float(d_c.detach())}, optimizers=(GENERATOR,))
