"""DANN and CDAN: domain-adversarial training through a gradient reversal layer."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.losses.adversarial import (ConditionalDomainAdversarialLoss, DomainAdversarialLoss,
                                       DomainDiscriminator, MultilinearMap)
from tlcore.losses.grl import dann_schedule
from tlcore.strategies.alignment import AlignmentParams, AlignmentStrategy
from tlcore.strategies.base import param


@dataclass(frozen=True)
class DannParams(AlignmentParams):
    disc_hidden: int = param(256, "Width of the domain discriminator's two hidden layers.", min=8, max=4096)
    max_coeff: float = param(1.0, "Largest gradient-reversal coefficient; it ramps from 0 as "
                                  "2/(1+exp(-10 p))-1 over training progress p.", min=0.0, max=10.0)


class Dann(AlignmentStrategy):
    """DANN: a domain discriminator on the features, trained through a gradient reversal layer so the
    backbone learns features the discriminator cannot tell apart.

    Loss: ``CE(source) + trade_off x BCE_domain(R_lambda(f))``, with the reversal coefficient
    ``lambda_p = max_coeff (2 / (1 + exp(-10 p)) - 1)``. Logs the discriminator's ``domain_acc`` (0.5 =
    the domains are indistinguishable). Reference: Ganin et al., "Domain-Adversarial Training of Neural
    Networks", JMLR 2016.
    """

    name = "dann"
    title = "DANN (domain-adversarial, gradient reversal)"
    Params = DannParams

    def build(self, model, ctx):
        return [DomainAdversarialLoss(DomainDiscriminator(ctx.feature_dim or model.out_features,
                                                          self.params.disc_hidden))]

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        coeff = dann_schedule(state.progress, self.params.max_coeff)
        loss, acc = self.modules_[0](f_s, f_t, coeff=coeff)
        return loss, {"domain_acc": float(acc), "grl_coeff": float(coeff)}


@dataclass(frozen=True)
class CdanParams(DannParams):
    entropy_conditioning: bool = param(False, "CDAN+E: weight samples by 1 + exp(-entropy) so confident "
                                              "predictions count more.")
    max_map_dim: int = param(4096, "Use the randomized multilinear map when features x classes exceeds this.",
                             min=64, max=65536)


class Cdan(Dann):
    """CDAN: like DANN, but the discriminator sees the outer product of features and class predictions, so
    the class-conditional distributions are aligned, not only the marginals.

    Loss: ``CE(source) + trade_off x BCE_domain(R_lambda(f (x) softmax(logits)))``, optionally entropy
    weighted (CDAN+E). Reference: Long et al., "Conditional Adversarial Domain Adaptation", NeurIPS 2018.
    """

    name = "cdan"
    title = "CDAN (conditional adversarial)"
    Params = CdanParams

    def build(self, model, ctx):
        mm = MultilinearMap(ctx.feature_dim or model.out_features, ctx.num_classes, self.params.max_map_dim)
        return [ConditionalDomainAdversarialLoss(DomainDiscriminator(mm.out_features, self.params.disc_hidden),
                                                 mm, self.params.entropy_conditioning)]

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        coeff = dann_schedule(state.progress, self.params.max_coeff)
        loss, acc = self.modules_[0](f_s, f_t, logits_s, logits_t, coeff=coeff)
        return loss, {"domain_acc": float(acc), "grl_coeff": float(coeff)}
