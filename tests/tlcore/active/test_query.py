"""Query strategies on synthetic pools (tlcore/active/query.py)."""
from __future__ import annotations

import numpy as np
import pytest

from tlcore.active.query import (METHODS, badge_embedding, badge_query, coreset_query, entropy_query, margin_query,
                                 query, random_query)
from tlcore.errors import ConfigError


def _probs(rows):
    p = np.asarray(rows, dtype=float)
    return p / p.sum(1, keepdims=True)


def test_random_is_seeded_distinct_and_capped():
    a, _ = random_query(100, 10, seed=3)
    b, _ = random_query(100, 10, seed=3)
    c, _ = random_query(100, 10, seed=4)
    assert a.tolist() == b.tolist() and a.tolist() != c.tolist()
    assert len(set(a.tolist())) == 10 and a.min() >= 0 and a.max() < 100
    assert len(random_query(5, 10)[0]) == 5  # budget above the pool: the whole pool
    with pytest.raises(ConfigError, match="budget"):
        random_query(5, 0)


def test_entropy_picks_the_most_uncertain():
    p = _probs([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1], [0.5, 0.5, 0.0]])
    idx, scores = entropy_query(p, 2)
    assert idx.tolist() == [1, 2]  # uniform first, then the most spread of the rest
    assert scores[0] == pytest.approx(np.log(3))
    assert scores[0] >= scores[1]


def test_margin_picks_the_smallest_top_two_gap():
    p = _probs([[0.9, 0.05, 0.05], [0.45, 0.44, 0.11], [0.34, 0.33, 0.33], [0.7, 0.2, 0.1]])
    idx, scores = margin_query(p, 2)
    # margins: 0.85, 0.01, 0.01 (ties break on the lower position), 0.5
    assert idx.tolist() == [1, 2]
    assert scores[0] == pytest.approx(0.99)


def test_margin_and_entropy_differ_where_the_tail_differs():
    p = _probs([[0.5, 0.5, 0.0, 0.0], [0.4, 0.2, 0.2, 0.2]])
    assert margin_query(p, 1)[0].tolist() == [0]  # equal top two
    assert entropy_query(p, 1)[0].tolist() == [1]  # more mass spread out


def _clusters(seed=0):
    g = np.random.default_rng(seed)
    near = g.normal(0, 0.1, (50, 2))  # a big dense cluster at the origin
    far = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]]) + g.normal(0, 0.1, (3, 2))
    return np.vstack([near, far])


def test_coreset_covers_the_far_clusters():
    f = _clusters()
    labeled = np.zeros((1, 2))  # one labelled sample at the origin
    idx, scores = coreset_query(f, 3, labeled)
    assert sorted(idx.tolist()) == [50, 51, 52]  # the three far points, not the dense cluster
    assert np.all(np.diff(scores) <= 1e-9) and scores[-1] > 5  # k-center greedy: distances never grow


def test_coreset_without_labels_starts_at_a_seeded_point_and_is_deterministic():
    f = _clusters()
    a = coreset_query(f, 4, None, seed=1)[0]
    assert a.tolist() == coreset_query(f, 4, None, seed=1)[0].tolist()
    assert set(a[1:].tolist()) >= {50, 51, 52} - {a[0]}  # after the start, the far points


def test_badge_embedding_is_the_last_layer_gradient():
    import torch

    g = np.random.default_rng(0)
    f = g.normal(size=(4, 5))
    w = g.normal(size=(3, 5))
    logits = f @ w.T
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    a, ff = badge_embedding(p, f)
    for i in range(4):  # d CE(softmax(W f), argmax) / dW = (p - onehot) f^T: the embedding is its negative
        wt = torch.tensor(w, requires_grad=True)
        out = torch.tensor(f[i]) @ wt.T
        torch.nn.functional.cross_entropy(out[None], torch.tensor([int(p[i].argmax())])).backward()
        assert np.allclose(-wt.grad.numpy(), np.outer(a[i], ff[i]), atol=1e-6)


def _three_clusters(seed=0):
    """3 feature clusters of 30: 10 uncertain samples (cluster 0's the most uncertain) and 20 confident ones."""
    g = np.random.default_rng(seed)
    centres = np.eye(3) * 5.0
    feats, probs, uncertain = [], [], []
    for c in range(3):
        for k in range(30):
            feats.append(centres[c] + g.normal(0, 0.05, 3))
            if k < 10:
                uncertain.append(len(probs))
                p = np.full(3, 1 / 3) + g.uniform(0, 0.02 if c == 0 else 0.2, 3)
            else:
                p = np.eye(3)[c] * 0.97 + 0.01
            probs.append(p)
    return np.array(feats), _probs(probs), set(uncertain)


def test_badge_picks_diverse_uncertain_points():
    feats, probs, uncertain = _three_clusters()
    ent = entropy_query(probs, 3)[0]
    assert {int(i) // 30 for i in ent} == {0}  # entropy alone: three near-duplicates from cluster 0
    covered, share = [], []
    for seed in range(20):
        idx, _ = badge_query(probs, feats, 3, seed=seed)
        assert idx.tolist() == badge_query(probs, feats, 3, seed=seed)[0].tolist()  # seeded
        covered.append(len({int(i) // 30 for i in idx}))
        share.append(np.mean([int(i) in uncertain for i in idx]))
    assert np.mean(covered) >= 2.2  # diverse: entropy covers 1 cluster (measured: 2.4 of 3 over 20 seeds)
    assert np.mean(share) >= 0.6  # uncertain: a third of the pool, most of the picks (measured: 0.7)


def test_badge_fills_the_budget_when_embeddings_coincide():
    p = np.tile([[0.5, 0.5]], (6, 1))
    f = np.ones((6, 2))
    idx, _ = badge_query(p, f, 4, seed=0)
    assert len(set(idx.tolist())) == 4


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_distinct_positions_and_is_deterministic(method):
    g = np.random.default_rng(1)
    probs = _probs(g.random((40, 4)) + 0.01)
    feats = g.normal(size=(40, 6))
    a, sa = query(method, 7, probs, feats, feats[:2], seed=5)
    b, sb = query(method, 7, probs, feats, feats[:2], seed=5)
    assert a.tolist() == b.tolist() and np.allclose(sa, sb)
    assert len(a) == len(set(a.tolist())) == 7 and a.dtype == np.int64


def test_unknown_method_is_named():
    with pytest.raises(ConfigError, match="unknown query strategy 'nope'"):
        query("nope", 1, np.ones((2, 2)) / 2, np.zeros((2, 2)))


def test_the_label_page_opens_on_the_strategy_measured_for_the_modality():
    from tlcore.active.query import METHODS, default_method

    assert default_method("image") == "badge" and default_method("text") == "random"
    assert default_method(None) in METHODS  # a run without a recorded modality still opens on a real method
