"""Project a run's features to 2-D or 3-D (PCA, t-SNE, UMAP when installed) and cache the result.

``PROJECTIONS`` is one explicit table ``name -> function(features, dim, seed, **params) -> dict``.
UMAP is registered only when the optional ``umap`` package (umap-learn) imports.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
from typing import Callable

import numpy as np

from tlcore.errors import TLError

DOMAINS = (("source", "source_val"), ("target", "target_test"))
FEATURES_FILE = "features_after.npz"
FEATURES_FILES = {"before": "features_before.npz", "after": FEATURES_FILE}


class FeaturesMissing(TLError):
    """The run has no stored features (it failed, was cancelled, or predates feature export)."""


def _pca(features: np.ndarray, dim: int, seed: int) -> dict:
    from sklearn.decomposition import PCA

    n_comp = min(dim, features.shape[0], features.shape[1])
    solver = "full" if features.shape[0] <= 4000 else "randomized"  # randomized: seeded, 5-10x faster at 20k
    pca = PCA(n_components=n_comp, random_state=seed, svd_solver=solver).fit(features)
    coords = _pad(pca.transform(features), dim)
    ev = [float(v) for v in pca.explained_variance_ratio_] + [0.0] * (dim - n_comp)
    return {"coords": coords, "explained_variance": ev}


def _tsne(features: np.ndarray, dim: int, seed: int, perplexity: float = 30.0, max_iter: int = 1000) -> dict:
    from sklearn.manifold import TSNE

    n = features.shape[0]
    perplexity = float(min(perplexity, max(1.0, (n - 1) / 3)))  # sklearn needs perplexity < n
    if n < 4:
        return {"coords": _pad(features[:, :dim], dim), "explained_variance": None}
    x = features
    if features.shape[1] > 50:  # standard practice: PCA to 50 dims first (faster, less noisy)
        x = _pca(features, 50, seed)["coords"]
    coords = TSNE(n_components=dim, perplexity=perplexity, init="pca", random_state=seed,
                  max_iter=max(250, int(max_iter))).fit_transform(x)
    return {"coords": coords, "explained_variance": None}


def _umap(features: np.ndarray, dim: int, seed: int, n_neighbors: int = 15, min_dist: float = 0.1) -> dict:
    import umap  # optional dependency

    n_neighbors = int(min(n_neighbors, max(2, features.shape[0] - 1)))
    coords = umap.UMAP(n_components=dim, n_neighbors=n_neighbors, min_dist=min_dist,
                       random_state=seed).fit_transform(features)
    return {"coords": coords, "explained_variance": None}


def _pad(coords: np.ndarray, dim: int) -> np.ndarray:
    if coords.shape[1] < dim:
        coords = np.hstack([coords, np.zeros((coords.shape[0], dim - coords.shape[1]), coords.dtype)])
    return coords


PROJECTIONS: dict[str, Callable[..., dict]] = {"pca": _pca, "tsne": _tsne}
if importlib.util.find_spec("umap") is not None:  # pragma: no cover - depends on the environment
    PROJECTIONS["umap"] = _umap  # imported lazily: umap-learn pulls numba (seconds to import)
DEFAULT_PARAMS = {"pca": {}, "tsne": {"perplexity": 30.0, "max_iter": 500},
                  "umap": {"n_neighbors": 15, "min_dist": 0.1}}


def projection_params(method: str, given: dict | None = None) -> dict:
    """The method's default parameters overridden by ``given`` (keys the method does not take are dropped)."""
    defaults = DEFAULT_PARAMS.get(method, {})
    return {**defaults, **{k: v for k, v in (given or {}).items() if k in defaults and v is not None}}


def project(features: np.ndarray, method: str = "pca", dim: int = 2, seed: int = 0, **params) -> dict:
    """Project ``features`` to ``dim`` dimensions.

    Args:
        features: ``(N, D)`` array; cast to float32.
        method: a key of ``PROJECTIONS``.
        dim: 2 or 3.
        seed: random state; the same seed gives the same coordinates.
        **params: method parameters (``perplexity``, ``max_iter`` for t-SNE; ``n_neighbors``, ``min_dist``
            for UMAP).

    Returns:
        ``{"coords": (N, dim) float32, "explained_variance": list of ratios (PCA) or None}``.
    """
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; available: {', '.join(PROJECTIONS)}")
    if dim not in (2, 3):
        raise ValueError("dim must be 2 or 3")
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"features must be a non-empty (N, D) array, got shape {x.shape}")
    out = PROJECTIONS[method](x, dim, seed, **params)
    return {"coords": np.asarray(out["coords"], dtype=np.float32), "explained_variance": out["explained_variance"]}


def has_features(store, run_id: str, which: str = "after") -> bool:
    return store.local(run_id, FEATURES_FILES[which]).is_file()


def load_features_npz(store, run_id: str, which: str = "after") -> dict | None:
    """The raw arrays of ``features_<which>.npz`` (features as float32), or None when the file is missing."""
    path = store.local(run_id, FEATURES_FILES[which])
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: (z[k].astype(np.float32) if k.endswith(".features") else z[k]) for k in z.files}


def load_run_features(store, run_id: str, which: str = "after") -> dict:
    """Read ``features_<which>.npz`` ("after" training or "before" it) and join the prediction CSVs, source
    points first then target.

    Returns:
        dict of equal-length arrays: ``features`` (N, D) float32, ``domain`` ("source"/"target"),
        ``label`` (true class name or ""), ``index`` (row in the domain's predictions CSV),
        ``sample`` (the predictions CSV's ``text`` column when present, i.e. the text of a text run,
        else its ``source``: file name, archive member or ``row N``), ``pred``, ``confidence``;
        plus ``classes`` (list).
    """
    import pandas as pd

    fname = FEATURES_FILES[which]
    path = store.local(run_id, fname)
    if not path.is_file():
        raise FeaturesMissing(f"run {run_id!r} has no {fname}")
    classes = list(store.metrics(run_id).get("classes") or
                   (store.read_json(run_id, "labels.json", {}) or {}).get("classes") or [])
    parts = {k: [] for k in ("features", "domain", "label", "index", "sample", "pred", "confidence")}
    with np.load(path) as z:
        for domain, key in DOMAINS:
            if f"{key}.features" not in z.files:
                continue
            feats = z[f"{key}.features"].astype(np.float32)
            n = len(feats)
            labels = z[f"{key}.labels"] if f"{key}.labels" in z.files else np.full(n, -1)
            index = z[f"{key}.index"] if f"{key}.index" in z.files else np.arange(n)
            parts["features"].append(feats)
            parts["domain"].append(np.full(n, domain, dtype=object))
            parts["label"].append(np.array([classes[y] if 0 <= y < len(classes) else "" for y in labels],
                                           dtype=object))
            parts["index"].append(np.asarray(index, dtype=np.int64))
            sample, pred, conf = np.full(n, "", dtype=object), np.full(n, "", dtype=object), np.full(n, np.nan)
            csv = store.local(run_id, f"predictions_{key}.csv")
            if csv.is_file():
                df = pd.read_csv(csv, dtype={"source": str, "text": str, "true": str, "pred": str},
                                 keep_default_na=False)
                ok = (index >= 0) & (index < len(df))
                rows = df.iloc[index[ok]]
                col = "text" if "text" in df.columns else "source"
                sample[ok] = rows[col].astype(str).to_numpy()
                pred[ok] = rows["pred"].astype(str).to_numpy()
                conf[ok] = pd.to_numeric(rows["confidence"], errors="coerce").to_numpy()
            parts["sample"].append(sample)
            parts["pred"].append(pred)
            parts["confidence"].append(conf)
    if not parts["features"]:
        raise FeaturesMissing(f"run {run_id!r}: {fname} holds no source_val/target_test features")
    out = {k: np.concatenate(v) for k, v in parts.items()}
    out["classes"] = classes
    return out


def cache_name(method: str, dim: int, params: dict) -> str:
    digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"projection_{method}_{dim}d_{digest}.npz"


def run_projection(store, run_id: str, method: str = "pca", dim: int = 2, seed: int = 0, which: str = "after",
                   **params) -> dict:
    """Project a run's features, caching ``projection_<method>_<dim>d_<hash>.npz`` in its folder.

    The hash covers the seed, the method parameters and ``which`` features ("after" training or "before").
    Returns the ``project`` dict plus ``cached`` (True when read from the folder).
    """
    key = {"seed": seed, **params} if which == "after" else {"seed": seed, "which": which, **params}
    name = cache_name(method, dim, key)
    path = store.path(run_id, name)
    if path.is_file():
        try:
            with np.load(path) as z:
                ev = z["explained_variance"].tolist() if "explained_variance" in z.files else None
                return {"coords": z["coords"], "explained_variance": ev, "cached": True}
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: recompute and overwrite
    feats = load_run_features(store, run_id, which)["features"]
    out = project(feats, method=method, dim=dim, seed=seed, **params)
    arrays = {"coords": out["coords"]}
    if out["explained_variance"] is not None:
        arrays["explained_variance"] = np.asarray(out["explained_variance"], dtype=np.float64)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    store.write_bytes(run_id, name, buf.getvalue())
    return {**out, "cached": False}


def projection_cached(store, run_id: str, method: str, dim: int = 2, seed: int = 0, which: str = "after",
                      **params) -> bool:
    """Whether ``run_projection`` with these arguments would read its result from the run folder."""
    key = {"seed": seed, **params} if which == "after" else {"seed": seed, "which": which, **params}
    return store.path(run_id, cache_name(method, dim, key)).is_file()


def nearest(features: np.ndarray, query: int, pool: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``pool`` (row numbers into ``features``) most cosine-similar to row ``query``.

    Returns ``(rows, similarities)``, most similar first.
    """
    f = np.asarray(features, dtype=np.float32)
    pool = np.asarray(pool, dtype=np.int64)
    if len(pool) == 0:
        return pool, np.zeros(0, np.float32)
    q = f[query] / (np.linalg.norm(f[query]) + 1e-12)
    p = f[pool] / (np.linalg.norm(f[pool], axis=1, keepdims=True) + 1e-12)
    sim = p @ q
    order = np.argsort(-sim, kind="stable")[:k]
    return pool[order], sim[order]
