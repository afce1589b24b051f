"""Domain-gap measures on feature matrices ``f_s`` (source) and ``f_t`` (target), each ``(N, D)``.

* MMD with an RBF kernel (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012), biased V-statistic
  ``MMD^2 = mean k(s,s') + mean k(t,t') - 2 mean k(s,t)`` with ``k(x,y) = exp(-|x-y|^2 / (2 sigma^2))``
  and ``sigma^2`` = median pairwise squared distance / 2 (the median heuristic).
* Proxy A-distance (Ben-David et al., "Analysis of Representations for Domain Adaptation", NIPS 2006):
  train a domain classifier, take its held-out error ``e``, ``PAD = 2 (1 - 2 e)``; 0 = indistinguishable,
  2 = perfectly separable.
"""
from __future__ import annotations

import numpy as np

MAX_PER_SIDE = 1000


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if len(x) > n:
        x = x[np.sort(rng.choice(len(x), n, replace=False))]
    return x


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def mmd_rbf(f_s: np.ndarray, f_t: np.ndarray, seed: int = 0, max_per_side: int = MAX_PER_SIDE) -> float:
    """Squared MMD with an RBF kernel and median-heuristic bandwidth; ~0 for one distribution.

    Args:
        f_s: ``(N_s, D)`` source features. f_t: ``(N_t, D)`` target features.
        seed: seeds the subsample of at most ``max_per_side`` rows per side.
    """
    rng = np.random.default_rng(seed)
    a, b = _subsample(f_s, max_per_side, rng), _subsample(f_t, max_per_side, rng)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    both = np.vstack([a, b])
    d_all = _sq_dists(both, both)
    off = d_all[np.triu_indices(len(both), k=1)]
    med = float(np.median(off[off > 0])) if (off > 0).any() else 1.0
    gamma = 1.0 / med  # = 1 / (2 sigma^2) with sigma^2 = med / 2
    k = np.exp(-gamma * d_all)
    na = len(a)
    kss, ktt, kst = k[:na, :na], k[na:, na:], k[:na, na:]
    return float(max(kss.mean() + ktt.mean() - 2.0 * kst.mean(), 0.0))


def proxy_a_distance(f_s: np.ndarray, f_t: np.ndarray, seed: int = 0, folds: int = 5,
                     max_per_side: int = MAX_PER_SIDE) -> float:
    """Proxy A-distance ``2 (1 - 2 e)`` from a logistic-regression domain classifier's k-fold CV error."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    a, b = _subsample(f_s, max_per_side, rng), _subsample(f_t, max_per_side, rng)
    folds = min(folds, len(a), len(b))
    if folds < 2:
        return float("nan")
    x = np.vstack([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    err = 1.0 - float(np.mean(cross_val_score(clf, x, y, cv=cv, scoring="accuracy")))
    return float(2.0 * (1.0 - 2.0 * err))


def domain_gap(f_s: np.ndarray, f_t: np.ndarray, seed: int = 0) -> dict:
    """Both measures in one dict: ``{"mmd": float, "proxy_a_distance": float, "n_source", "n_target"}``."""
    return {"mmd": mmd_rbf(f_s, f_t, seed=seed), "proxy_a_distance": proxy_a_distance(f_s, f_t, seed=seed),
            "n_source": int(len(f_s)), "n_target": int(len(f_t))}


def run_domain_gap(store, run_id: str, seed: int = 0) -> dict:
    """``domain_gap`` of a run's stored source-val vs target-test features, cached as ``domain_gap_<seed>.json``."""
    from tlcore.embeddings.project import load_run_features

    name = f"domain_gap_{seed}.json"
    cached = store.read_json(run_id, name)
    if isinstance(cached, dict) and "mmd" in cached:
        return {**cached, "cached": True}
    data = load_run_features(store, run_id)
    src = data["domain"] == "source"
    out = domain_gap(data["features"][src], data["features"][~src], seed=seed)
    store.write_json(run_id, name, out)
    return {**out, "cached": False}
