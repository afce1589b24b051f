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


def coral_distance(f_s: np.ndarray, f_t: np.ndarray, seed: int = 0, max_per_side: int = MAX_PER_SIDE) -> float:
    """CORAL distance (Sun & Saenko, "Deep CORAL", ECCV-W 2016): ``|C_s - C_t|_F^2 / (4 d^2)``.

    ``C_s``/``C_t`` are the ``(D, D)`` feature covariances; 0 when the second-order statistics match.
    """
    rng = np.random.default_rng(seed)
    a, b = _subsample(f_s, max_per_side, rng), _subsample(f_t, max_per_side, rng)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    d = a.shape[1]
    diff = np.cov(a, rowvar=False) - np.cov(b, rowvar=False)
    return float((diff * diff).sum() / (4.0 * d * d))


def centroid_distances(f_s: np.ndarray, y_s: np.ndarray, f_t: np.ndarray, y_t: np.ndarray,
                       classes: list | None = None) -> dict:
    """Per-class distance between the source and target class centroids, relative to the feature scale.

    ``|mu_s(c) - mu_t(c)| / s`` with ``s`` the RMS distance of all points to the overall mean, so the figure
    does not depend on the feature scale (0 = the class sits at the same place in both domains).

    Returns:
        ``{"mean": float, "per_class": {class name or id: float}}`` over classes present on both sides.
    """
    f_s, f_t = np.asarray(f_s, np.float64), np.asarray(f_t, np.float64)
    y_s, y_t = np.asarray(y_s), np.asarray(y_t)
    both = np.vstack([f_s, f_t])
    scale = float(np.sqrt(((both - both.mean(0)) ** 2).sum(1).mean())) or 1.0
    per = {}
    for c in sorted(set(y_s[y_s >= 0].tolist()) & set(y_t[y_t >= 0].tolist())):
        dist = np.linalg.norm(f_s[y_s == c].mean(0) - f_t[y_t == c].mean(0)) / scale
        name = classes[c] if classes is not None and 0 <= c < len(classes) else str(c)
        per[str(name)] = _sig(dist)
    return {"mean": float(np.mean(list(per.values()))) if per else float("nan"), "per_class": per}


def gap_figures(f_s: np.ndarray, f_t: np.ndarray, y_s=None, y_t=None, classes: list | None = None,
                seed: int = 0) -> dict:
    """All gap figures for one feature space: ``mmd``, ``a_distance``, ``coral``, ``centroid`` (mean per-class
    centroid distance), ``centroid_per_class``, ``n_source``, ``n_target``. Floats keep 5 significant digits."""
    out = {"mmd": mmd_rbf(f_s, f_t, seed=seed), "a_distance": proxy_a_distance(f_s, f_t, seed=seed),
           "coral": coral_distance(f_s, f_t, seed=seed)}
    out = {k: _sig(v) for k, v in out.items()}
    if y_s is not None and y_t is not None:
        cd = centroid_distances(f_s, y_s, f_t, y_t, classes)
        out["centroid"] = _sig(cd["mean"])
        out["centroid_per_class"] = cd["per_class"]
    out.update(n_source=int(len(f_s)), n_target=int(len(f_t)))
    return out


def _sig(v) -> float | None:
    """5 significant digits (CORAL distances of normalised features are ~1e-6), None for NaN."""
    v = float(v)
    return float(f"{v:.5g}") if np.isfinite(v) else None


GAP_FILE = "embedding_gap.json"


def run_gap(store, run_id: str, seed: int = 0, refresh: bool = False) -> dict:
    """Gap figures of a run before and after training: ``{"before": {...} or None, "after": {...}}``.

    Read from the run's metrics (``embeddings.gap``, written by the pipeline) or computed from the stored
    features and cached as ``embedding_gap.json``. ``before`` is None when the run has no before-features.
    """
    from tlcore.embeddings.project import load_features_npz

    if not refresh:
        m = (store.metrics(run_id) or {}).get("embeddings", {}).get("gap")
        if isinstance(m, dict) and m.get("after") and m.get("before"):
            return m
        cached = store.read_json(run_id, GAP_FILE)
        if isinstance(cached, dict) and cached.get("after") and cached.get("before"):
            return cached
    classes = list((store.metrics(run_id) or {}).get("classes") or [])
    out = {}
    for which in ("before", "after"):
        z = load_features_npz(store, run_id, which)
        if z is None:
            out[which] = None
            continue
        out[which] = gap_figures(z["source_val.features"], z["target_test.features"], z.get("source_val.labels"),
                                 z.get("target_test.labels"), classes, seed=seed)
    store.write_json(run_id, GAP_FILE, out)
    return out
