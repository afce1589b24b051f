"""Query strategies: which samples of an unlabelled pool to label next. Numpy in, pool positions out.

Every strategy returns ``(indices, scores)``: ``indices`` (K,) int64 positions into the pool arrays, in the
order they were chosen, and ``scores`` (K,) float64, the strategy's value for each pick at the moment it was
picked (higher = wanted more). All are deterministic for a given ``seed``; ties break on the lower position.

Shapes: ``probs`` (N, C) class probabilities of the current model on the pool; ``features`` (N, D) the
penultimate-layer features the head reads; ``labeled_features`` (M, D) the features of samples already labelled
(core-set starts its cover from them).
"""
from __future__ import annotations

import numpy as np

from tlcore.errors import ConfigError

METHODS = ("random", "entropy", "margin", "coreset", "badge")


def default_method(modality: str | None) -> str:
    """The query strategy the Label page opens on for a run of this modality (bench/results/active_labels.md,
    the few-labels default recipe, 3 seeds): on the image pairs BADGE is level with random or ahead (+2.8 points
    at 50 labels on MNIST -> USPS, within +-1.6 elsewhere); on books -> kitchen it lost to random by 4-5 points at
    20 and 50 labels, so texts open on random."""
    return "random" if modality == "text" else "badge"


def _budget(budget: int, n: int) -> int:
    if int(budget) < 1:
        raise ConfigError(f"budget: must be at least 1, got {budget}")
    return min(int(budget), n)


def _top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, kind="stable")[:k]  # stable: equal scores keep the lower position first
    return order.astype(np.int64), scores[order].astype(np.float64)


def random_query(n: int, budget: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Uniform sampling without replacement: the baseline every active strategy must beat.

    Args:
        n: Pool size.
        budget: Samples to pick (capped at ``n``).
        seed: Random seed.

    Returns:
        ``(indices, scores)``; scores are all 0.
    """
    k = _budget(budget, n)
    idx = np.random.default_rng(seed).choice(n, k, replace=False).astype(np.int64)
    return idx, np.zeros(k)


def entropy_query(probs: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Maximum predictive entropy ``H(p) = -sum_c p_c log p_c``: the samples the model is least sure of.

    Reference: Shannon, "A Mathematical Theory of Communication", 1948; as an acquisition function, Settles,
    "Active Learning Literature Survey", 2009, section 3.1.

    Shape: probs (N, C). Returns ``(indices, scores)`` with scores the entropies (nats).
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return _top(-(p * np.log(p)).sum(1), _budget(budget, len(p)))


def margin_query(probs: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest margin between the two most probable classes (Scheffer, Decomain & Wrobel, "Active Hidden Markov
    Models for Information Extraction", IDA 2001).

    Shape: probs (N, C), C >= 2. Returns ``(indices, scores)`` with scores ``1 - (p_top1 - p_top2)``.
    """
    p = np.asarray(probs, dtype=np.float64)
    top2 = -np.sort(-p, axis=1)[:, :2]
    return _top(1.0 - (top2[:, 0] - top2[:, 1]), _budget(budget, len(p)))


def coreset_query(features: np.ndarray, budget: int, labeled_features: np.ndarray | None = None,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Core-set by k-center greedy: repeatedly pick the pool point farthest (Euclidean) from every point chosen
    or labelled so far, so the labelled set covers the feature space.

    Reference: Sener & Savarese, "Active Learning for Convolutional Neural Networks: A Core-Set Approach",
    ICLR 2018 (Algorithm 1, k-Center-Greedy).

    Args:
        features: (N, D) pool features.
        budget: Samples to pick (capped at N).
        labeled_features: (M, D) features of samples already labelled; without any, the first centre is a seeded
            random pool point.
        seed: Seed for that first centre.

    Returns:
        ``(indices, scores)`` with scores the distance to the nearest centre when picked (0 for a seeded start).
    """
    f = np.asarray(features, dtype=np.float64)
    k = _budget(budget, len(f))
    dist = np.full(len(f), np.inf)
    if labeled_features is not None and len(labeled_features):
        lab = np.asarray(labeled_features, dtype=np.float64)
        for start in range(0, len(lab), 512):  # bounded memory: N x 512 distances at a time
            dist = np.minimum(dist, _sq_dist(f, lab[start:start + 512]).min(1))
    chosen, scores = [], []
    for _ in range(k):
        if np.isinf(dist).all():
            j, score = int(np.random.default_rng(seed).integers(len(f))), 0.0
        else:
            j = int(np.argmax(dist))
            score = float(np.sqrt(max(dist[j], 0.0)))
        chosen.append(j)
        scores.append(score)
        dist = np.minimum(dist, _sq_dist(f, f[j:j + 1])[:, 0])
        dist[j] = -1.0  # never again
    return np.asarray(chosen, dtype=np.int64), np.asarray(scores)


def badge_embedding(probs: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two factors of BADGE's gradient embedding: ``g_i = (onehot(argmax p_i) - p_i) outer f_i``, the gradient
    of the cross-entropy at the model's own prediction with respect to the last layer's weights.

    Returns ``(a, f)`` with ``a`` (N, C) = onehot - probs and ``f`` (N, D); ``g_i = a_i f_i^T`` is never built:
    ``<g_i, g_j> = <a_i, a_j> <f_i, f_j>``.
    """
    p = np.asarray(probs, dtype=np.float64)
    a = -p.copy()
    a[np.arange(len(p)), p.argmax(1)] += 1.0
    return a, np.asarray(features, dtype=np.float64)


def badge_query(probs: np.ndarray, features: np.ndarray, budget: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """BADGE: k-means++ seeding on gradient embeddings, so the picks are both uncertain (large gradient) and
    diverse (spread in gradient space).

    Reference: Ash, Zhang, Krishnamurthy, Langford & Agarwal, "Deep Batch Active Learning by Diverse, Uncertain
    Gradient Lower Bounds", ICLR 2020 (Algorithm 1; the first centre is the largest-norm embedding, as in the
    authors' code, the others are drawn with probability proportional to the squared distance to the nearest
    centre: Arthur & Vassilvitskii, "k-means++", SODA 2007).

    Shape: probs (N, C), features (N, D). Returns ``(indices, scores)`` with scores the squared distance to the
    nearest earlier centre when picked (the squared norm for the first).
    """
    a, f = badge_embedding(probs, features)
    k = _budget(budget, len(a))
    sq_norm = (a * a).sum(1) * (f * f).sum(1)  # ||a f^T||_F^2 = ||a||^2 ||f||^2
    rng = np.random.default_rng(seed)
    j = int(np.argmax(sq_norm))
    chosen, scores = [j], [float(sq_norm[j])]
    dist = np.maximum(sq_norm + sq_norm[j] - 2.0 * (a @ a[j]) * (f @ f[j]), 0.0)
    dist[j] = 0.0
    while len(chosen) < k:
        total = dist.sum()
        if total <= 0:  # every remaining embedding coincides with a centre: fill with the seeded order
            rest = [i for i in rng.permutation(len(a)) if i not in set(chosen)]
            chosen.extend(int(i) for i in rest[:k - len(chosen)])
            scores.extend([0.0] * (k - len(scores)))
            break
        j = int(rng.choice(len(a), p=dist / total))
        chosen.append(j)
        scores.append(float(dist[j]))
        dist = np.minimum(dist, np.maximum(sq_norm + sq_norm[j] - 2.0 * (a @ a[j]) * (f @ f[j]), 0.0))
        dist[j] = 0.0
    return np.asarray(chosen, dtype=np.int64), np.asarray(scores)


def query(method: str, budget: int, probs: np.ndarray, features: np.ndarray,
          labeled_features: np.ndarray | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Dispatch to one strategy by name (one of :data:`METHODS`)."""
    if method == "random":
        return random_query(len(probs), budget, seed)
    if method == "entropy":
        return entropy_query(probs, budget)
    if method == "margin":
        return margin_query(probs, budget)
    if method == "coreset":
        return coreset_query(features, budget, labeled_features, seed)
    if method == "badge":
        return badge_query(probs, features, budget, seed)
    raise ConfigError(f"method: unknown query strategy {method!r}; known: {list(METHODS)}")


def _sq_dist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(x), len(y)), clipped at 0."""
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * x @ y.T
    return np.maximum(d, 0.0)
