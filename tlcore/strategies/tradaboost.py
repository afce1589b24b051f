"""TrAdaBoost on frozen features with a scikit-learn base learner."""
from __future__ import annotations

import math

import numpy as np
import torch

from tlcore.errors import ConfigError
from tlcore.strategies.base import SetupContext, Strategy, freeze
from tlcore.strategies.specs import fitted


class TrAdaBoost(Strategy):
    spec = fitted.TRADABOOST

    def configure(self, model, ctx: SetupContext):
        freeze(model.backbone, True)
        return [{"params": list(model.head.parameters()), "lr": 0.0, "name": "head (fitted by TrAdaBoost)"}]

    def on_fit_start(self, model, data) -> None:
        from tlcore.training.loop import predict

        device = next(model.head.parameters()).device
        _, f_s = predict(model, data.source_train, 256, device, return_features=True)
        _, f_t = predict(model, data.target_train, 256, device, return_features=True)
        mask = data.target_labeled_mask if data.target_labeled_mask is not None else np.zeros(len(f_t), bool)
        mask = mask & (data.target_train.labels >= 0)
        if not mask.any():
            raise ConfigError("target.labeled_fraction: TrAdaBoost needs some labeled target samples (> 0)")
        w, b = fit_tradaboost(f_s, data.source_train.labels, f_t[mask], data.target_train.labels[mask],
                              data.num_classes, self.params)
        with torch.no_grad():
            model.head.weight.copy_(torch.as_tensor(w, dtype=model.head.weight.dtype))
            model.head.bias.copy_(torch.as_tensor(b, dtype=model.head.bias.dtype))


def _learner(params):
    from sklearn.linear_model import LogisticRegression, RidgeClassifier

    if params.base_learner == "ridge":
        return RidgeClassifier(alpha=1.0 / params.C)
    return LogisticRegression(C=params.C, max_iter=300)


def _linear_map(clf, num_classes: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """The learner's decision function as a full ``(C, D)`` weight and ``(C,)`` bias; absent classes get a
    very low bias."""
    w, b = np.zeros((num_classes, dim)), np.full(num_classes, -30.0)
    coef, icpt, classes = np.atleast_2d(clf.coef_), np.atleast_1d(clf.intercept_), clf.classes_
    if len(classes) == 2 and coef.shape[0] == 1:
        coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
    for row, c in enumerate(classes):
        w[c], b[c] = coef[row], icpt[row]
    return w, b


def fit_tradaboost(f_s, y_s, f_t, y_t, num_classes: int, params) -> tuple[np.ndarray, np.ndarray]:
    """Run TrAdaBoost; returns the head's ``(C, D)`` weight and ``(C,)`` bias on the raw features.

    Shape: f_s (n_s, D), y_s (n_s,), f_t (n_t, D) labeled target, y_t (n_t,).
    """
    x = np.concatenate([f_s, f_t]).astype(np.float64)
    y = np.concatenate([y_s, y_t]).astype(np.int64)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    ns, n_rounds = len(f_s), params.rounds
    weights = np.ones(len(x))
    beta = 1.0 / (1.0 + math.sqrt(2.0 * math.log(max(ns, 2)) / n_rounds))
    start = math.ceil(n_rounds / 2) - 1  # 0-based first round of the final vote
    w_sum, b_sum, a_sum = np.zeros((num_classes, x.shape[1])), np.zeros(num_classes), 0.0
    for t in range(n_rounds):
        p = weights / weights.sum()
        clf = _learner(params).fit(z, y, sample_weight=p * len(p))
        err = (clf.predict(z) != y).astype(np.float64)
        eps = float((p[ns:] * err[ns:]).sum() / p[ns:].sum())
        eps = min(max(eps, 1e-3), 0.499)
        beta_t = eps / (1.0 - eps)
        weights[:ns] *= beta ** err[:ns]
        weights[ns:] *= beta_t ** (-err[ns:])
        if t >= start:
            alpha = math.log(1.0 / beta_t)
            w, b = _linear_map(clf, num_classes, x.shape[1])
            w_sum, b_sum, a_sum = w_sum + alpha * w, b_sum + alpha * b, a_sum + alpha
    w, b = w_sum / a_sum, b_sum / a_sum
    return w / sd, b - (w / sd) @ mu  # fold the standardisation into the head
