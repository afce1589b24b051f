"""Instance weighting: re-weight source samples by an estimate of the target/source density ratio."""
from __future__ import annotations


import torch
from torch.nn import functional as F

from tlcore.losses.adversarial import DomainDiscriminator
from tlcore.losses.mmd import median_bandwidth
from tlcore.strategies.alignment import AlignmentStrategy, classification, forward_pair
from tlcore.strategies.base import StepOutput
from tlcore.strategies.specs import adaptation


def kmm_weights(f_s: torch.Tensor, f_t: torch.Tensor, bound: float, iters: int = 100) -> torch.Tensor:
    """Kernel mean matching (Huang et al., NIPS 2006): ``min_b 1/2 b^T K b - kappa^T b`` with
    ``0 <= b <= bound`` and mean(b) = 1, solved by projected gradient descent. Gaussian kernel at the median
    bandwidth; ``kappa_i = (n_s / n_t) sum_j k(s_i, t_j)``.

    Shape: f_s (B_s, d), f_t (B_t, d) -> (B_s,).
    """
    z = torch.cat([f_s, f_t]).float()
    sq = torch.cdist(z, z).pow(2)
    k = torch.exp(-sq / median_bandwidth(sq))
    ns = len(f_s)
    kss, kst = k[:ns, :ns], k[:ns, ns:]
    kappa = kst.sum(1) * ns / max(1, len(f_t))
    step = 1.0 / float(torch.linalg.eigvalsh(kss).max().clamp(min=1e-6))
    b = torch.ones(ns, device=f_s.device)
    for _ in range(iters):
        b = (b - step * (kss @ b - kappa)).clamp(0.0, bound)
        b = (b / b.mean().clamp(min=1e-12)).clamp(0.0, bound)
    return b


class InstanceWeighting(AlignmentStrategy):
    spec = adaptation.INSTANCE_WEIGHTING

    def build(self, model, ctx):
        return [DomainDiscriminator(ctx.feature_dim or model.out_features, self.params.disc_hidden)]

    def training_step(self, model, batch, state):
        p = self.params
        if p.trade_off == 0 or "x_t" not in batch:
            return super().training_step(model, batch, state)
        f_s, logits_s, f_t, _ = forward_pair(model, batch["x_s"], batch["x_t"])
        fs, ft = f_s.detach().float(), f_t.detach().float()
        logs = {}
        disc_loss = logits_s.sum() * 0.0
        if p.weighting == "kmm":
            w = kmm_weights(fs, ft, p.clip)
        else:
            disc = self.modules_[0]
            d_s, d_t = disc(fs), disc(ft)
            disc_loss = 0.5 * (F.binary_cross_entropy_with_logits(d_s, torch.ones_like(d_s))
                               + F.binary_cross_entropy_with_logits(d_t, torch.zeros_like(d_t)))
            logs["domain_acc"] = float(torch.cat([(d_s > 0).float(), (d_t <= 0).float()]).mean())
            w = torch.exp(-d_s.detach().squeeze(1)).clamp(max=p.clip)  # P(t|f)/P(s|f) for logit = log P(s)/P(t)
            w = (w / w.mean().clamp(min=1e-12)).clamp(max=p.clip)
        w = (1.0 - p.trade_off) + p.trade_off * w
        cls_loss, acc = classification(logits_s, batch["y_s"], w)
        logs.update({"cls_loss": float(cls_loss.detach()), "train_acc": acc, "transfer_loss": float(disc_loss.detach()),
                     "weight_max": float(w.max()), "weight_std": float(w.std()) if len(w) > 1 else 0.0})
        return StepOutput(cls_loss + disc_loss, logs)
