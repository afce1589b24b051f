"""DANN and CDAN: domain-adversarial training through a gradient reversal layer."""
from __future__ import annotations


from tlcore.losses.adversarial import (ConditionalDomainAdversarialLoss, DomainAdversarialLoss,
                                       DomainDiscriminator, MultilinearMap)
from tlcore.losses.grl import dann_schedule
from tlcore.strategies.alignment import AlignmentStrategy
from tlcore.strategies.specs import adaptation


class Dann(AlignmentStrategy):
    spec = adaptation.DANN

    def build(self, model, ctx):
        return [DomainAdversarialLoss(DomainDiscriminator(ctx.feature_dim or model.out_features,
                                                          self.params.disc_hidden))]

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        coeff = dann_schedule(state.progress, self.params.max_coeff)
        loss, acc = self.modules_[0](f_s, f_t, coeff=coeff)
        return loss, {"domain_acc": float(acc), "grl_coeff": float(coeff)}


class Cdan(Dann):
    spec = adaptation.CDAN

    def build(self, model, ctx):
        mm = MultilinearMap(ctx.feature_dim or model.out_features, ctx.num_classes, self.params.max_map_dim)
        return [ConditionalDomainAdversarialLoss(DomainDiscriminator(mm.out_features, self.params.disc_hidden),
                                                 mm, self.params.entropy_conditioning)]

    def transfer(self, f_s, logits_s, f_t, logits_t, batch, state):
        coeff = dann_schedule(state.progress, self.params.max_coeff)
        loss, acc = self.modules_[0](f_s, f_t, logits_s, logits_t, coeff=coeff)
        return loss, {"domain_acc": float(acc), "grl_coeff": float(coeff)}
