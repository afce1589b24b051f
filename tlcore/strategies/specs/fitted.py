"""Specs of the strategies fitted once on cached frozen features: TrAdaBoost and the skada family
(torch-free; implementations in ``tlcore/strategies/tradaboost.py`` and ``skada_da.py``)."""
from __future__ import annotations

from dataclasses import dataclass

from tlcore.strategies.specs.base import Requirements, StrategySpec, param


@dataclass(frozen=True)
class TrAdaBoostParams:
    rounds: int = param(10, "Boosting rounds N; the final model combines rounds N/2..N.", min=2, max=200)
    base_learner: str = param("logistic", "scikit-learn base learner (linear, so the ensemble fits the head).",
                              choices=["logistic", "ridge"])
    C: float = param(1.0, "Inverse regularisation strength of the base learner (ridge: alpha = 1 / C).",
                     min=1e-4, max=1e4)


@dataclass(frozen=True)
class SkadaParams:
    """Fields every skada strategy has."""

    C: float = param(1.0, "Inverse regularisation strength C of the logistic-regression classifier.", min=1e-4,
                     max=1e4)
    pca_components: int = param(128, "Project the standardised features of both domains on this many principal "
                                     "components first (0 = keep all): classical DA methods scale with the "
                                     "feature width.", min=0, max=4096)


@dataclass(frozen=True)
class CoralParams(SkadaParams):
    reg: float = param(1.0, "Shrinkage added to both covariance matrices (skada's reg; 1 as in Sun et al.).",
                       min=0.0, max=100.0)


@dataclass(frozen=True)
class SubspaceParams(SkadaParams):
    n_components: int = param(32, "Dimension of the PCA subspaces that are aligned.", min=1, max=1024)


@dataclass(frozen=True)
class TcaParams(SkadaParams):
    n_components: int = param(32, "Number of transfer components.", min=1, max=1024)
    mu: float = param(0.1, "Trade-off of TCA's regulariser (larger: smaller components).", min=1e-4, max=100.0)


@dataclass(frozen=True)
class OtParams(SkadaParams):
    kind: str = param("exact", "Exact optimal transport (EMD) barycentric mapping or its linear (Gaussian) "
                               "Monge map.", choices=["exact", "linear"])


@dataclass(frozen=True)
class KmmParams(SkadaParams):
    B: float = param(1000.0, "Upper bound of each source weight.", min=1.0, max=1e6)


@dataclass(frozen=True)
class KliepParams(SkadaParams):
    n_centers: int = param(100, "Number of target kernel centres of the density-ratio model.", min=5, max=2000)


@dataclass(frozen=True)
class JdotParams(SkadaParams):
    alpha: float = param(0.5, "Weight of the feature distance against the label loss in the joint OT cost.",
                         min=0.0, max=100.0)


TRADABOOST = StrategySpec(
    name="tradaboost", title='TrAdaBoost (boosting on frozen features)',
    impl="tlcore.strategies.tradaboost:TrAdaBoost",
    Params=TrAdaBoostParams,
    requires=Requirements(target="labeled", backbone="frozen", bottleneck=False),
    family='instance-based',
    doc="""TrAdaBoost: boosting over source and labeled target samples that down-weights source samples the
    current learner gets wrong (they look unlike the target) and up-weights misclassified target samples.

    Per round t: fit the base learner on weighted samples; ``eps_t`` = its weighted error on the labeled
    target; ``beta_t = eps_t / (1 - eps_t)``; source weights ``*= beta^{err}`` with
    ``beta = 1 / (1 + sqrt(2 ln n_s / N))``, target weights ``*= beta_t^{-err}``. The final model is the
    ``ln(1/beta_t)``-weighted vote of rounds ceil(N/2)..N; here a soft vote of the base learners' decision
    functions, which for linear learners is itself a linear map and is written into the model's head.

    It runs once on the cached frozen features, before the loop's first epoch (``on_fit_start``); the head
    then stays fixed (its learning rate is 0) and the epochs only report its losses. Needs target labels
    (``target.labeled_fraction > 0``); multiclass errors are 0/1. Reference: Dai, Yang, Xue & Yu, "Boosting
    for Transfer Learning", ICML 2007.""")


SKADA_CORAL = StrategySpec(
    name="skada_coral", title='CORAL, classical (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaCoral",
    Params=CoralParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='feature-based (skada)',
    doc="""CORAL on frozen features (skada): whiten the source features and re-colour them with the target
    covariance, then fit a logistic regression; target features are used as they are. Reference: Sun, Feng &
    Saenko, "Return of Frustratingly Easy Domain Adaptation", AAAI 2016.""")


SKADA_SUBSPACE_ALIGNMENT = StrategySpec(
    name="skada_subspace_alignment", title='Subspace alignment (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaSubspaceAlignment",
    Params=SubspaceParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='feature-based (skada)',
    doc="""Subspace alignment (skada): PCA subspaces of each domain; the source basis is mapped onto the target
    basis (``M = P_s^T P_t``) and the classifier trains on aligned source projections. Reference: Fernando et
    al., "Unsupervised Visual Domain Adaptation Using Subspace Alignment", ICCV 2013.""")


SKADA_TCA = StrategySpec(
    name="skada_tca", title='Transfer component analysis (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaTca",
    Params=TcaParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='feature-based (skada)',
    doc="""Transfer component analysis (skada), linear kernel: components that minimise the MMD between the
    domains while keeping the data's variance; the classifier trains on the source components. Reference: Pan
    et al., "Domain Adaptation via Transfer Component Analysis", IEEE TNN 2011. (A linear kernel keeps the
    target map affine, so it fits in the model's linear head.)""")


SKADA_OT_MAPPING = StrategySpec(
    name="skada_ot_mapping", title='Optimal-transport mapping (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaOtMapping",
    Params=OtParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='feature-based (skada)',
    doc="""Optimal-transport mapping (skada): source features are moved to the target by the barycentric map of
    the optimal transport plan (exact EMD) or by the closed-form linear Monge map between Gaussians; the
    classifier trains on the moved source. References: Courty et al., "Optimal Transport for Domain
    Adaptation", TPAMI 2017; Flamary et al., "Concentration bounds for linear Monge mapping estimation", 2019.""")


SKADA_KMM = StrategySpec(
    name="skada_kmm", title='Kernel mean matching reweighting (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaKmm",
    Params=KmmParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='instance-based (skada)',
    doc="""Kernel mean matching (skada): source sample weights that make the weighted source mean embedding (RBF
    kernel) match the target's; the classifier trains on the weighted source. Reference: Huang et al.,
    "Correcting Sample Selection Bias by Unlabeled Data", NeurIPS 2006.""")


SKADA_KLIEP = StrategySpec(
    name="skada_kliep", title='KLIEP reweighting (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaKliep",
    Params=KliepParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='instance-based (skada)',
    doc="""KLIEP (skada): the density ratio target/source as a sum of Gaussian kernels on target centres, fitted by
    minimising KL(target || weighted source); bandwidth chosen by 5-fold likelihood cross-validation over
    (0.1, 1, 10) / D. Reference: Sugiyama et al., "Direct Importance Estimation with Model Selection",
    NeurIPS 2008.""")


SKADA_JDOT = StrategySpec(
    name="skada_jdot", title='JDOT (skada, frozen features)',
    impl="tlcore.strategies.skada_da:SkadaJdot",
    Params=JdotParams,
    requires=Requirements(target="unlabeled", backbone="frozen", bottleneck=False),
    family='feature-based (skada)',
    doc="""Joint distribution optimal transport (skada): alternates an OT plan between (source features, labels)
    and (target features, predictions) with refitting the classifier on target features and transported
    labels. Reference: Courty et al., "Joint distribution optimal transportation for domain adaptation",
    NeurIPS 2017.""")
