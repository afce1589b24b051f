"""Specs of the deep domain-adaptation strategies: DANN, CDAN, Deep CORAL, MMD, MCC, self-training, instance
weighting (torch-free; implementations in ``tlcore/strategies/``)."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.config import POLICIES
from tlcore.strategies.specs.base import Requirements, StrategySpec, param
from tlcore.strategies.specs.tuning import FineTuningParams

STRONG_POLICIES = tuple(p for p in POLICIES if p != "auto")  # FixMatch's strong view: any named policy


@dataclass(frozen=True)
class AlignmentParams(FineTuningParams):
    trade_off: float = param(1.0, "Weight of the transfer loss (0 = source-only fine-tuning).", min=0.0, max=100.0)


@dataclass(frozen=True)
class DannParams(AlignmentParams):
    disc_hidden: int = param(256, "Width of the domain discriminator's two hidden layers.", min=8, max=4096)
    max_coeff: float = param(1.0, "Largest gradient-reversal coefficient; it ramps from 0 as "
                                  "2/(1+exp(-10 p))-1 over training progress p.", min=0.0, max=10.0)


@dataclass(frozen=True)
class CdanParams(DannParams):
    entropy_conditioning: bool = param(False, "CDAN+E: weight samples by 1 + exp(-entropy) so confident "
                                              "predictions count more.")
    max_map_dim: int = param(4096, "Use the randomized multilinear map when features x classes exceeds this.",
                             min=64, max=65536)


@dataclass(frozen=True)
class MccParams(AlignmentParams):
    temperature: float = param(2.5, "Softmax temperature of the target predictions (the paper's 2.5; higher "
                                    "= softer, more classes count as confused).", min=0.1, max=100.0)
    warmup: float = param(0.0, "Fraction of training over which the MCC weight ramps linearly from 0 to "
                               "trade_off (0 = full weight from the first step).", min=0.0, max=1.0)


@dataclass(frozen=True)
class SelfTrainingParams(AlignmentParams):
    threshold: float = param(0.9, "Only target samples predicted with at least this confidence get a "
                                  "pseudo-label.", min=0.0, max=1.0)
    warmup: float = param(0.2, "Share of training on the source alone before pseudo-labels start (their weight "
                               "then ramps up linearly over the same share): an untrained head's confident "
                               "mistakes would otherwise teach themselves.", min=0.0, max=0.9)
    class_balanced: bool = param(True, "Average the pseudo-label loss per predicted class, so that one class "
                                       "cannot take over the target (the usual failure of self-training).")


@dataclass(frozen=True)
class InstanceWeightingParams(AlignmentParams):
    trade_off: float = param(1.0, "Blend between uniform weights (0 = source-only) and the estimated "
                                  "importance weights (1).", min=0.0, max=1.0)
    weighting: str = param("discriminator", "How the density ratio is estimated: a domain classifier, or "
                                            "kernel mean matching on the (detached) batch features.",
                           choices=["discriminator", "kmm"])
    clip: float = param(10.0, "Largest importance weight before normalising to mean 1.", min=1.0, max=1000.0)
    disc_hidden: int = param(256, "Width of the domain classifier's hidden layers.", min=8, max=4096)


@dataclass(frozen=True)
class McdParams(AlignmentParams):
    generator_steps: int = param(4, "Stage C repeats: updates of the feature extractor per batch that shrink the "
                                    "two classifiers' disagreement on the target (the paper's num_k = 4).",
                                 min=1, max=20)


@dataclass(frozen=True)
class FixMatchParams(AlignmentParams):
    threshold: float = param(0.95, "Only target samples whose weak view is predicted with at least this confidence "
                                   "get a pseudo-label (FixMatch's tau).", min=0.0, max=1.0)
    with_mcc: bool = param(False, "Add the MCC loss on the weak view's predictions (FixMatch + MCC).")
    temperature: float = param(2.5, "MCC's softmax temperature (only with with_mcc).", min=0.1, max=100.0)
    strong_augment: str = param("strong", "Augmentation policy of the strong view: strong (TrivialAugment-style), "
                                "or for colour/texture/style shift colour, randconv or style "
                                "(tlcore/training/augment.py).", choices=list(STRONG_POLICIES))


DANN = StrategySpec(
    name="dann", title='DANN (domain-adversarial, gradient reversal)',
    impl="tlcore.strategies.adversarial:Dann",
    Params=DannParams,
    requires=Requirements(target="unlabeled"),
    family='domain adaptation',
    doc="""DANN: a domain discriminator on the features, trained through a gradient reversal layer so the
    backbone learns features the discriminator cannot tell apart.

    Loss: ``CE(source) + trade_off x BCE_domain(R_lambda(f))``, with the reversal coefficient
    ``lambda_p = max_coeff (2 / (1 + exp(-10 p)) - 1)``. Logs the discriminator's ``domain_acc`` (0.5 =
    the domains are indistinguishable). Reference: Ganin et al., "Domain-Adversarial Training of Neural
    Networks", JMLR 2016.""")


CDAN = StrategySpec(
    name="cdan", title='CDAN (conditional adversarial)',
    impl="tlcore.strategies.adversarial:Cdan",
    Params=CdanParams,
    requires=Requirements(target="unlabeled"),
    family='domain adaptation',
    doc="""CDAN: like DANN, but the discriminator sees the outer product of features and class predictions, so
    the class-conditional distributions are aligned, not only the marginals.

    Loss: ``CE(source) + trade_off x BCE_domain(R_lambda(f (x) softmax(logits)))``, optionally entropy
    weighted (CDAN+E). Reference: Long et al., "Conditional Adversarial Domain Adaptation", NeurIPS 2018.""")


CORAL = StrategySpec(
    name="coral", title='Deep CORAL (covariance alignment)',
    impl="tlcore.strategies.statistic_alignment:Coral",
    Params=AlignmentParams,
    requires=Requirements(target="unlabeled"),
    family='domain adaptation',
    doc="""Deep CORAL: fine-tuning plus the distance between source and target feature covariances.

    Loss: ``CE(source) + trade_off x ||C_s - C_t||_F^2 / (4 d^2)``. Reference: Sun & Saenko, "Deep CORAL:
    Correlation Alignment for Deep Domain Adaptation", ECCV Workshops 2016.""")


MMD = StrategySpec(
    name="mmd", title='MMD / DAN (multi-kernel MMD)',
    impl="tlcore.strategies.statistic_alignment:Mmd",
    Params=AlignmentParams,
    requires=Requirements(target="unlabeled"),
    family='domain adaptation',
    doc="""DAN: fine-tuning plus the multi-kernel MMD between source and target features.

    Loss: ``CE(source) + trade_off x MK-MMD^2(f_s, f_t)`` with Gaussian kernels at the median-heuristic
    bandwidth x {0.25, 0.5, 1, 2, 4}. Reference: Long et al., "Learning Transferable Features with Deep
    Adaptation Networks", ICML 2015.""")


MCC = StrategySpec(
    name="mcc", title='MCC (minimum class confusion)',
    impl="tlcore.strategies.mcc:Mcc",
    Params=MccParams,
    requires=Requirements(target="unlabeled"),
    family='domain adaptation',
    doc="""Fine-tuning plus the Minimum Class Confusion loss on unlabeled target batches.

    Loss: ``CE(source) + trade_off x MCC(logits_t / T)``: the off-diagonal mass of the row-normalised,
    certainty-weighted class-correlation matrix of the target predictions. Unlike entropy minimisation it
    penalises confusing *pairs of classes* over a batch, so it does not push every sample to the majority
    class; unlike DANN and CDAN it trains no discriminator, so it is stable with few epochs, and it acts
    on predictions, so it also works where feature alignment does not (e.g. fine-tuned text encoders).
    Reference: Jin et al., "Minimum Class Confusion for Versatile Domain Adaptation", ECCV 2020.""")


SELF_TRAINING = StrategySpec(
    name="self_training", title='Self-training (confident pseudo-labels)',
    impl="tlcore.strategies.self_training:SelfTraining",
    Params=SelfTrainingParams,
    requires=Requirements(target="unlabeled"),
    family='semi-supervised',
    doc="""Pseudo-labelling: the model's own confident target predictions become training labels.

    Loss: ``CE(source) + trade_off x ramp x mean_t[ 1(max p_t >= threshold) CE(p_t, argmax p_t) ]``, with no
    pseudo-labels during the first ``warmup`` share of training and a linear ramp after it; with
    ``class_balanced`` the mean is taken per pseudo-class, then over classes (class-balanced self-training,
    Zou et al., ECCV 2018). Target samples with a usable label (``labeled_fraction > 0``) use it instead of a
    pseudo-label. Logs the share of the target batch that got a label. Reference: Lee, "Pseudo-Label: The
    Simple and Efficient Semi-Supervised Learning Method for Deep Neural Networks", ICML Workshops 2013.""")


INSTANCE_WEIGHTING = StrategySpec(
    name="instance_weighting", title='Instance weighting (density-ratio / KMM)',
    impl="tlcore.strategies.instance_weighting:InstanceWeighting",
    Params=InstanceWeightingParams,
    requires=Requirements(target="unlabeled"),
    family='instance-based',
    doc="""Importance weighting of the source classification loss by ``w(x) ~ p_target(x) / p_source(x)``.

    With ``weighting = discriminator``, a domain classifier trained on detached features gives
    ``w = P(target | f) / P(source | f)`` (equal batch sizes); with ``kmm``, kernel mean matching on the batch
    features. Weights are clipped at ``clip``, normalised to mean 1, and blended with 1 by ``trade_off``:
    ``L = sum_s w_s CE_s / sum_s w_s (+ the domain classifier's BCE, which only trains the classifier)``.
    References: Shimodaira, J. Stat. Planning & Inference 2000; Bickel et al., "Discriminative Learning
    Under Covariate Shift", JMLR 2009; Huang et al., "Correcting Sample Selection Bias by Unlabeled Data",
    NIPS 2006 (KMM).""")


MCD = StrategySpec(
    name="mcd", title="MCD (maximum classifier discrepancy)",
    impl="tlcore.strategies.mcd:Mcd",
    Params=McdParams,
    requires=Requirements(target="unlabeled"),
    family="domain adaptation",
    doc="""MCD: two classifiers on the same features; they are trained to disagree on the target while agreeing
    on the source, and the feature extractor is trained to make them agree, which moves target features away
    from the decision boundaries.

    Three updates per batch, each with its own optimizer: (A) everything on ``CE(F1, source) + CE(F2,
    source)``; (B) the classifiers only, on ``CE(F1, source) + CE(F2, source) - trade_off x d(F1, F2; target)``;
    (C) the feature extractor only (backbone and bottleneck), ``generator_steps`` times, on ``trade_off x
    d(F1, F2; target)``, where ``d`` is the mean absolute difference of the two softmax outputs. F1 is the
    model's head; F2 is dropped after training. With a frozen backbone and no bottleneck there is no feature
    extractor to train and stage C is skipped. Reference: Saito et al., "Maximum Classifier Discrepancy for
    Unsupervised Domain Adaptation", CVPR 2018.""")



FIXMATCH = StrategySpec(
    name="fixmatch", title="FixMatch consistency (weak/strong target views)",
    impl="tlcore.strategies.fixmatch:FixMatch",
    Params=FixMatchParams,
    requires=Requirements(target="unlabeled", target_views=2),
    family="semi-supervised",
    doc="""FixMatch on the target: the prediction on a weakly augmented view (the run's own augmentation, or
    none) becomes the label of a strongly augmented view of the same image when it is confident enough.

    Loss: ``CE(source) + trade_off x mean_t[ 1(max p_weak >= threshold) CE(logits_strong, argmax p_weak) ]``,
    optionally ``+ trade_off x MCC(logits_weak / T)`` (``with_mcc``). The strong view is TrivialAugment-style
    photometric ops on top of small affine and colour changes, never a flip (digits stay readable); for colour,
    texture or style shift ``strong_augment`` picks another policy (``style``: colour randomisation + RandConv;
    tlcore/training/augment.py). It needs the images every step, so the backbone (or its top layer groups, with
    augment on) trains; not for texts.
    Logs the share of the target batch above the threshold. References: Sohn et al., "FixMatch: Simplifying
    Semi-Supervised Learning with Consistency and Confidence", NeurIPS 2020; for UDA, e.g. Berthelot et al.,
    "AdaMatch", ICLR 2022.""")
