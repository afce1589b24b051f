"""Classical domain adaptation on frozen features, by skada (scikit-adaptation, Gnassounou et al. 2024).

Each strategy here fits one skada pipeline ``StandardScaler -> PCA -> adapter -> LogisticRegression`` once, on the
cached frozen backbone features of the source-train (labeled) and target-train (unlabeled) splits, before
the loop's first epoch (``on_fit_start``). The fitted pipeline is then written into the model's linear head:
for every method here the *target-domain* predictor is ``softmax(W f + b)`` (an affine map of the backbone
features: CORAL, OT mapping and reweighting leave target features as they are, subspace alignment and
linear-kernel TCA project them linearly, JDOT fits the classifier in the target space), so ``W`` and ``b``
are read off exactly by evaluating the pipeline at ``mean(f_t)`` and ``mean(f_t) + e_d`` for every
feature ``d``, and checked against the pipeline's own predictions on the target. The run is then an
ordinary run: same record, predictions, metrics, embeddings and model file as any other strategy. The
head's learning rate is 0; the loop's epochs only report its losses (early stopping ends them).

Source validation is scored with the same head, i.e. the target-domain predictor applied to source
samples.

skada switches scikit-learn's global ``enable_metadata_routing`` on when imported; here it is switched on
only inside :func:`fit_skada_head` (``sklearn.config_context``) and restored after the import.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
import torch

from tlcore.errors import TLError
from tlcore.strategies.base import SetupContext, Strategy, freeze, param

AGREEMENT = 0.995  # folded head vs pipeline: share of target samples with the same predicted class


def _skada():
    import sklearn

    prev = sklearn.get_config()["enable_metadata_routing"]
    import skada

    sklearn.set_config(enable_metadata_routing=prev)
    return skada


@dataclass(frozen=True)
class SkadaParams:
    """Fields every skada strategy has."""

    C: float = param(1.0, "Inverse regularisation strength C of the logistic-regression classifier.", min=1e-4,
                     max=1e4)
    pca_components: int = param(128, "Project the standardised features of both domains on this many principal "
                                     "components first (0 = keep all): classical DA methods scale with the "
                                     "feature width.", min=0, max=4096)


class SkadaStrategy(Strategy):
    """Base of the skada family; subclasses set ``name``, ``title``, ``Params`` and :meth:`estimator`."""

    frozen_backbone = True
    supports_bottleneck = False
    needs_target = True
    family = "classical DA (skada)"
    sample_weighted = False  # the adapter passes sample weights to the classifier

    @abc.abstractmethod
    def estimator(self, skada, classifier, dim: int):
        """The skada DA estimator (adapter + classifier) for these params."""

    def classifier(self):
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=self.params.C, max_iter=500)
        if self.sample_weighted:
            clf = clf.set_fit_request(sample_weight=True)
        return clf

    def configure(self, model, ctx: SetupContext):
        freeze(model.backbone, True)
        return [{"params": list(model.head.parameters()), "lr": 0.0, "name": f"head (fitted by skada: {self.name})"}]

    def training_step(self, model, batch, state):
        """The head is fixed; the loss is reported, plus how long the skada fit took (``fit_seconds``)."""
        out = super().training_step(model, batch, state)
        out.logs["fit_seconds"] = float(getattr(self, "fit_seconds_", 0.0))
        return out

    def on_fit_start(self, model, data) -> None:
        import time

        from tlcore.training.loop import predict

        device = next(model.head.parameters()).device
        _, f_s = predict(model, data.source_train, 256, device, return_features=True)
        _, f_t = predict(model, data.target_train, 256, device, return_features=True)
        t0 = time.perf_counter()
        w, b = fit_skada_head(self, f_s, data.source_train.labels, f_t, data.num_classes)
        self.fit_seconds_ = round(time.perf_counter() - t0, 3)
        with torch.no_grad():
            model.head.weight.copy_(torch.as_tensor(w, dtype=model.head.weight.dtype))
            model.head.bias.copy_(torch.as_tensor(b, dtype=model.head.bias.dtype))


def fit_skada_head(strategy: SkadaStrategy, f_s, y_s, f_t, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``strategy``'s skada pipeline and return the target predictor as a ``(C, D)`` weight and ``(C,)`` bias.

    Shape: f_s (n_s, D) with labels y_s (n_s,), f_t (n_t, D) unlabeled target.
    """
    import sklearn
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    skada = _skada()
    f_s, f_t = np.asarray(f_s, np.float64), np.asarray(f_t, np.float64)
    x = np.concatenate([f_s, f_t])
    y = np.concatenate([np.asarray(y_s, np.int64), -np.ones(len(f_t), np.int64)])
    domain = np.concatenate([np.ones(len(f_s), np.int64), -np.ones(len(f_t), np.int64)])
    with sklearn.config_context(enable_metadata_routing=True):
        steps = [StandardScaler()]
        dim = f_t.shape[1]
        if 0 < strategy.params.pca_components < min(dim, len(x)):
            dim = strategy.params.pca_components
            steps.append(PCA(n_components=dim, random_state=0))
        pipe = skada.make_da_pipeline(*steps, strategy.estimator(skada, strategy.classifier(), dim))
        try:
            pipe.fit(x, y, sample_domain=domain)
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. JDOT transporting no mass to some class
            raise TLError(f"{strategy.name}: the skada fit failed on these features: {exc}") from exc
        base = f_t.mean(0)
        probes = np.vstack([base, base + np.eye(f_t.shape[1])])
        z = _scores(pipe, probes)
        classes = _classes(pipe, y_s)
        pred_t = pipe.predict(f_t, sample_domain=-np.ones(len(f_t), np.int64))
    if z.shape[1] != len(classes):
        raise TLError(f"{strategy.name}: the pipeline scores {z.shape[1]} classes but knows {len(classes)}")
    w_c = (z[1:] - z[0]).T  # (C_fit, D)
    b_c = z[0] - w_c @ base
    w, b = np.zeros((num_classes, f_t.shape[1])), np.full(num_classes, -30.0)  # classes unseen: never predicted
    w[classes], b[classes] = w_c, b_c
    agree = float(((f_t @ w.T + b).argmax(1) == pred_t).mean())
    if agree < AGREEMENT:
        raise TLError(f"{strategy.name}: the fitted pipeline is not an affine map of the features "
                      f"(folded head agrees on {agree:.1%} of target samples)")
    return w, b


def _scores(pipe, x) -> np.ndarray:
    """Class scores whose softmax is the pipeline's target prediction, centred per row; ``(N, C_fit)``."""
    sd = -np.ones(len(x), np.int64)
    try:
        z = np.asarray(pipe.decision_function(x, sample_domain=sd), np.float64)
    except AttributeError:  # e.g. JDOT: no decision_function; log-probabilities of a softmax model
        z = np.log(np.clip(pipe.predict_proba(x, sample_domain=sd), 1e-300, 1.0))
    if z.ndim == 1:  # binary: one margin
        z = np.stack([-z / 2, z / 2], 1)
    return z - z.mean(1, keepdims=True)


def _classes(pipe, y_s) -> np.ndarray:
    """The class indices the fitted classifier knows, in the order of its score columns."""
    est = pipe[-1]
    for _ in range(3):  # Shared(...) -> JDOTClassifier / LogisticRegression
        if hasattr(est, "classes_"):
            return np.asarray(est.classes_, np.int64)
        est = getattr(est, "base_estimator_", None) or getattr(est, "estimator_", None)
        if est is None:
            break
    return np.unique(np.asarray(y_s, np.int64))


@dataclass(frozen=True)
class CoralParams(SkadaParams):
    reg: float = param(1.0, "Shrinkage added to both covariance matrices (skada's reg; 1 as in Sun et al.).",
                       min=0.0, max=100.0)


class SkadaCoral(SkadaStrategy):
    """CORAL on frozen features (skada): whiten the source features and re-colour them with the target
    covariance, then fit a logistic regression; target features are used as they are. Reference: Sun, Feng &
    Saenko, "Return of Frustratingly Easy Domain Adaptation", AAAI 2016."""

    name = "skada_coral"
    title = "CORAL, classical (skada, frozen features)"
    Params = CoralParams
    family = "feature-based (skada)"

    def estimator(self, skada, classifier, dim: int):
        return skada.CORAL(classifier, reg=self.params.reg)


@dataclass(frozen=True)
class SubspaceParams(SkadaParams):
    n_components: int = param(32, "Dimension of the PCA subspaces that are aligned.", min=1, max=1024)


class SkadaSubspaceAlignment(SkadaStrategy):
    """Subspace alignment (skada): PCA subspaces of each domain; the source basis is mapped onto the target
    basis (``M = P_s^T P_t``) and the classifier trains on aligned source projections. Reference: Fernando et
    al., "Unsupervised Visual Domain Adaptation Using Subspace Alignment", ICCV 2013."""

    name = "skada_subspace_alignment"
    title = "Subspace alignment (skada, frozen features)"
    Params = SubspaceParams
    family = "feature-based (skada)"

    def estimator(self, skada, classifier, dim: int):
        return skada.SubspaceAlignment(classifier, n_components=min(self.params.n_components, dim),
                                       random_state=0)


@dataclass(frozen=True)
class TcaParams(SkadaParams):
    n_components: int = param(32, "Number of transfer components.", min=1, max=1024)
    mu: float = param(0.1, "Trade-off of TCA's regulariser (larger: smaller components).", min=1e-4, max=100.0)


class SkadaTca(SkadaStrategy):
    """Transfer component analysis (skada), linear kernel: components that minimise the MMD between the
    domains while keeping the data's variance; the classifier trains on the source components. Reference: Pan
    et al., "Domain Adaptation via Transfer Component Analysis", IEEE TNN 2011. (A linear kernel keeps the
    target map affine, so it fits in the model's linear head.)"""

    name = "skada_tca"
    title = "Transfer component analysis (skada, frozen features)"
    Params = TcaParams
    family = "feature-based (skada)"

    def estimator(self, skada, classifier, dim: int):
        return skada.TransferComponentAnalysis(classifier, kernel="linear", n_components=self.params.n_components,
                                               mu=self.params.mu)


@dataclass(frozen=True)
class OtParams(SkadaParams):
    kind: str = param("exact", "Exact optimal transport (EMD) barycentric mapping or its linear (Gaussian) "
                               "Monge map.", choices=["exact", "linear"])


class SkadaOtMapping(SkadaStrategy):
    """Optimal-transport mapping (skada): source features are moved to the target by the barycentric map of
    the optimal transport plan (exact EMD) or by the closed-form linear Monge map between Gaussians; the
    classifier trains on the moved source. References: Courty et al., "Optimal Transport for Domain
    Adaptation", TPAMI 2017; Flamary et al., "Concentration bounds for linear Monge mapping estimation", 2019."""

    name = "skada_ot_mapping"
    title = "Optimal-transport mapping (skada, frozen features)"
    Params = OtParams
    family = "feature-based (skada)"

    def estimator(self, skada, classifier, dim: int):
        if self.params.kind == "linear":
            return skada.LinearOTMapping(classifier)
        return skada.OTMapping(classifier)


@dataclass(frozen=True)
class KmmParams(SkadaParams):
    B: float = param(1000.0, "Upper bound of each source weight.", min=1.0, max=1e6)


class SkadaKmm(SkadaStrategy):
    """Kernel mean matching (skada): source sample weights that make the weighted source mean embedding (RBF
    kernel) match the target's; the classifier trains on the weighted source. Reference: Huang et al.,
    "Correcting Sample Selection Bias by Unlabeled Data", NeurIPS 2006."""

    name = "skada_kmm"
    title = "Kernel mean matching reweighting (skada, frozen features)"
    Params = KmmParams
    family = "instance-based (skada)"
    sample_weighted = True

    def estimator(self, skada, classifier, dim: int):
        return skada.KMMReweight(classifier, B=self.params.B)


@dataclass(frozen=True)
class KliepParams(SkadaParams):
    n_centers: int = param(100, "Number of target kernel centres of the density-ratio model.", min=5, max=2000)


class SkadaKliep(SkadaStrategy):
    """KLIEP (skada): the density ratio target/source as a sum of Gaussian kernels on target centres, fitted by
    minimising KL(target || weighted source); bandwidth chosen by 5-fold likelihood cross-validation over
    (0.1, 1, 10) / D. Reference: Sugiyama et al., "Direct Importance Estimation with Model Selection",
    NeurIPS 2008."""

    name = "skada_kliep"
    title = "KLIEP reweighting (skada, frozen features)"
    Params = KliepParams
    family = "instance-based (skada)"
    sample_weighted = True

    def estimator(self, skada, classifier, dim: int):
        return skada.KLIEPReweight(classifier, gamma=[g / dim for g in (0.1, 1.0, 10.0)],
                                   n_centers=self.params.n_centers, random_state=0)


@dataclass(frozen=True)
class JdotParams(SkadaParams):
    alpha: float = param(0.5, "Weight of the feature distance against the label loss in the joint OT cost.",
                         min=0.0, max=100.0)


class SkadaJdot(SkadaStrategy):
    """Joint distribution optimal transport (skada): alternates an OT plan between (source features, labels)
    and (target features, predictions) with refitting the classifier on target features and transported
    labels. Reference: Courty et al., "Joint distribution optimal transportation for domain adaptation",
    NeurIPS 2017."""

    name = "skada_jdot"
    title = "JDOT (skada, frozen features)"
    Params = JdotParams
    family = "feature-based (skada)"

    def estimator(self, skada, classifier, dim: int):
        return skada.JDOTClassifier(classifier, alpha=self.params.alpha, metric="multinomial", n_iter_max=20)


SKADA_STRATEGIES = (SkadaCoral, SkadaSubspaceAlignment, SkadaTca, SkadaOtMapping, SkadaKmm, SkadaKliep, SkadaJdot)
