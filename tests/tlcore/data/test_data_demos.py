"""Generated demo pairs (tlcore.data.demos)."""

from __future__ import annotations

import numpy as np
import pytest

from tlcore.data import DEMOS, load_demo
from tlcore.errors import DataError


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_demo_deterministic_and_seed_sensitive(name):
    a, b = load_demo(name, "source", seed=0), load_demo(name, "source", seed=0)
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != load_demo(name, "source", seed=1).fingerprint()
    assert load_demo(name, "target", seed=0).fingerprint() != load_demo(name, "target", seed=1).fingerprint()
    assert a.generated and a.description


def test_digits_halves_disjoint_and_shifted():
    source, target = load_demo("digits", "source"), load_demo("digits", "target")
    assert set(source.sources).isdisjoint(target.sources)
    assert len(source) + len(target) == 1797
    assert source.classes == target.classes == [str(d) for d in range(10)]
    assert all(s.shape == (32, 32, 3) and s.dtype == np.uint8 for s in source.samples + target.samples)
    source_mean = np.mean([s.mean() for s in source.samples])
    target_mean = np.mean([s.mean() for s in target.samples])
    assert target_mean - source_mean > 40
    assert np.allclose(source.samples[0][..., 0], source.samples[0][..., 1])
    assert not np.allclose(target.samples[0][..., 0], target.samples[0][..., 1], atol=3)
    assert "scikit-learn" in source.description


def test_reviews_balanced_with_distinct_vocabularies():
    source, target = load_demo("reviews", "source"), load_demo("reviews", "target")
    for domain in (source, target):
        assert domain.summary()["counts"] == {"negative": 300, "positive": 300}
        assert domain.modality == "text"
    source_words = {w.strip(".,!;").lower() for t in source.samples for w in t.split()}
    target_words = {w.strip(".,!;").lower() for t in target.samples for w in t.split()}
    assert {"gripping", "boring", "novel"} <= source_words - target_words
    assert {"sturdy", "leaks", "blender"} <= target_words - source_words
    assert {"great", "terrible"} <= source_words & target_words


def test_reviews_have_label_noise():
    domain = load_demo("reviews", "target", seed=3)
    positive_words = {"sturdy", "reliable", "durable", "great", "excellent"}
    negative_words = {"flimsy", "leaky", "rusty", "terrible", "awful"}

    def guess(text):
        words = set(text.lower().replace(".", " ").replace(",", " ").split())
        return "positive" if len(words & positive_words) >= len(words & negative_words) else "negative"

    disagreements = sum(guess(t) != y for t, y in zip(domain.samples, domain.labels))
    assert 0 < disagreements < len(domain) * 0.3


def test_unknown_demo_and_role():
    with pytest.raises(DataError, match=r"unknown demo 'mnist'; known demos: \['digits', 'reviews'\]"):
        load_demo("mnist", "source")
    with pytest.raises(DataError, match=r"demo role must be one of"):
        load_demo("digits", "train")
