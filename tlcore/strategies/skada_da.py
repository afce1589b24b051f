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

import numpy as np
import torch

from tlcore.errors import TLError
from tlcore.strategies.base import SetupContext, Strategy, freeze
from tlcore.strategies.specs import fitted

AGREEMENT = 0.995  # folded head vs pipeline: share of target samples with the same predicted class


def _skada():
    import sklearn

    prev = sklearn.get_config()["enable_metadata_routing"]
    import skada

    sklearn.set_config(enable_metadata_routing=prev)
    return skada


class SkadaStrategy(Strategy):
    """Base of the skada family; subclasses set ``name``, ``title``, ``Params`` and :meth:`estimator`."""

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


class SkadaCoral(SkadaStrategy):
    spec = fitted.SKADA_CORAL

    def estimator(self, skada, classifier, dim: int):
        return skada.CORAL(classifier, reg=self.params.reg)


class SkadaSubspaceAlignment(SkadaStrategy):
    spec = fitted.SKADA_SUBSPACE_ALIGNMENT

    def estimator(self, skada, classifier, dim: int):
        return skada.SubspaceAlignment(classifier, n_components=min(self.params.n_components, dim),
                                       random_state=0)


class SkadaTca(SkadaStrategy):
    spec = fitted.SKADA_TCA

    def estimator(self, skada, classifier, dim: int):
        return skada.TransferComponentAnalysis(classifier, kernel="linear", n_components=self.params.n_components,
                                               mu=self.params.mu)


class SkadaOtMapping(SkadaStrategy):
    spec = fitted.SKADA_OT_MAPPING

    def estimator(self, skada, classifier, dim: int):
        if self.params.kind == "linear":
            return skada.LinearOTMapping(classifier)
        return skada.OTMapping(classifier)


class SkadaKmm(SkadaStrategy):
    spec = fitted.SKADA_KMM
    sample_weighted = True

    def estimator(self, skada, classifier, dim: int):
        return skada.KMMReweight(classifier, B=self.params.B)


class SkadaKliep(SkadaStrategy):
    spec = fitted.SKADA_KLIEP
    sample_weighted = True

    def estimator(self, skada, classifier, dim: int):
        return skada.KLIEPReweight(classifier, gamma=[g / dim for g in (0.1, 1.0, 10.0)],
                                   n_centers=self.params.n_centers, random_state=0)


class SkadaJdot(SkadaStrategy):
    spec = fitted.SKADA_JDOT

    def estimator(self, skada, classifier, dim: int):
        return skada.JDOTClassifier(classifier, alpha=self.params.alpha, metric="multinomial", n_iter_max=20)


SKADA_STRATEGIES = (SkadaCoral, SkadaSubspaceAlignment, SkadaTca, SkadaOtMapping, SkadaKmm, SkadaKliep, SkadaJdot)
