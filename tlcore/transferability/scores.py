"""Transferability estimators on frozen features: higher means the features suit the labels better.

* LogME (You, Liu, Wang & Long, "LogME: Practical Assessment of Pre-trained Models for Transfer Learning",
  ICML 2021): the log marginal evidence of a Bayesian linear regression from the features to each one-hot
  label column, with its prior precision ``alpha`` and noise precision ``beta`` set by evidence maximisation
  (MacKay's fixed-point updates), averaged over classes and divided by the number of samples.
* LEEP (Nguyen, Hassner, Seeger & Archambeau, "LEEP: A New Measure to Evaluate Transferability of Learned
  Representations", ICML 2020): the mean log-likelihood of the "expected empirical predictor" built from a
  source model's soft outputs ``theta (N, Z)`` and the target labels.
* N-LEEP (Li et al., "Ranking Neural Checkpoints", CVPR 2021): LEEP where ``theta`` is the posterior of a
  Gaussian mixture fitted on the PCA-reduced features; needs no source classifier head, so it applies to
  every backbone, including text encoders.

Shapes: ``f (N, D)`` features, ``y (N,)`` integer labels ``0..C-1``.
"""
from __future__ import annotations

import numpy as np


def logme(f: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-4) -> float:
    """LogME score (per-sample log evidence, averaged over the one-hot label columns)."""
    f = np.asarray(f, np.float64)
    y = np.asarray(y)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    return float(np.mean([log_evidence(u, s ** 2, f.shape[1], (y == c).astype(np.float64), max_iter, tol)
                          for c in np.unique(y)]))


def log_evidence(u: np.ndarray, sigma: np.ndarray, d: int, t: np.ndarray, max_iter: int = 50,
                 tol: float = 1e-4) -> float:
    """Per-sample maximised log evidence of ``t = F w + e``, ``w ~ N(0, I / alpha)``, ``e ~ N(0, I / beta)``,
    given the thin SVD of ``F`` (``u``, ``sigma`` = squared singular values, ``d`` = feature width)."""
    n = len(t)
    z2 = (u.T @ t) ** 2
    res_perp = max(float(t @ t - z2.sum()), 0.0)  # part of the label outside the features' span
    alpha, beta = 1.0, 1.0
    for _ in range(max_iter):
        den = alpha + beta * sigma
        gamma = float((beta * sigma / den).sum())
        m2 = float((beta ** 2 * sigma * z2 / den ** 2).sum())
        res2 = float((alpha ** 2 * z2 / den ** 2).sum()) + res_perp
        new_alpha, new_beta = gamma / (m2 + 1e-10), (n - gamma) / (res2 + 1e-10)
        done = abs(new_alpha - alpha) / alpha < tol and abs(new_beta - beta) / beta < tol
        alpha, beta = new_alpha, new_beta
        if done:
            break
    den = alpha + beta * sigma
    m2 = float((beta ** 2 * sigma * z2 / den ** 2).sum())
    res2 = float((alpha ** 2 * z2 / den ** 2).sum()) + res_perp
    log_det = float(np.log(den).sum()) + (d - len(sigma)) * np.log(alpha)
    ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - alpha / 2 * m2 - beta / 2 * res2 - log_det / 2
          - n / 2 * np.log(2 * np.pi))
    return float(ev / n)


def leep(theta: np.ndarray, y: np.ndarray) -> float:
    """LEEP from soft source outputs ``theta (N, Z)`` (rows sum to 1) and target labels ``y``."""
    theta = np.asarray(theta, np.float64)
    y = np.asarray(y)
    n = len(y)
    classes = np.unique(y)
    onehot = (y[:, None] == classes[None, :]).astype(np.float64)  # (N, C)
    joint = theta.T @ onehot / n  # P(z, y): (Z, C)
    cond = joint / np.maximum(joint.sum(1, keepdims=True), 1e-12)  # P(y | z)
    eep = theta @ cond  # (N, C): the expected empirical predictor
    return float(np.mean(np.log(np.clip(eep[np.arange(n), np.searchsorted(classes, y)], 1e-12, 1.0))))


def nleep(f: np.ndarray, y: np.ndarray, seed: int = 0, components_per_class: int = 2,
          max_dim: int = 64) -> float:
    """N-LEEP: LEEP over the posterior of a diagonal Gaussian mixture on the PCA-reduced, standardised features
    (``components_per_class x C`` components, at most ``max_dim`` PCA dimensions)."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    f = np.asarray(f, np.float64)
    f = (f - f.mean(0)) / (f.std(0) + 1e-6)
    dim = max(1, min(max_dim, f.shape[1], len(f) - 1))
    z = PCA(n_components=dim, random_state=seed).fit_transform(f)
    k = max(2, min(components_per_class * len(np.unique(y)), len(f) // 5))
    gmm = GaussianMixture(n_components=k, covariance_type="diag", random_state=seed, reg_covar=1e-4,
                          max_iter=200).fit(z)
    return leep(gmm.predict_proba(z), y)
