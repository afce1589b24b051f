"""The Domain dataclass (tlcore.data.domain)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tlcore.data import Domain, Skipped


def make_images():
    samples = [np.full((4, 6, 3), i, dtype=np.uint8) for i in range(4)]
    return Domain("imgs", "image", samples, ["a", "b", "a", "b"], [f"s{i}" for i in range(4)],
                  skipped=[Skipped("x.txt", "not an image")], original_sizes=[(40, 60)] * 4)


def test_summary_is_json_and_counts():
    summary = make_images().summary()
    json.dumps(summary)
    assert summary["n"] == 4 and summary["classes"] == ["a", "b"] and summary["counts"] == {"a": 2, "b": 2}
    assert summary["n_skipped"] == 1 and summary["skipped_reasons"] == {"not an image": 1}
    assert summary["sizes"] == {"height": [40] * 4, "width": [60] * 4}
    text = Domain("t", "text", ["one two", "three"], None, ["row 1", "row 2"])
    assert text.summary()["lengths"] == [2, 1] and text.summary()["counts"] == {} and text.classes == []


def test_subset_keeps_metadata():
    domain = make_images()
    sub = domain.subset([3, 0])
    assert sub.labels == ["b", "a"] and sub.sources == ["s3", "s0"] and sub.skipped == domain.skipped
    assert sub.original_sizes == [(40, 60), (40, 60)] and len(domain) == 4


def test_fingerprint_stable_and_sensitive():
    domain = make_images()
    assert domain.fingerprint() == make_images().fingerprint()
    changed = make_images()
    changed.labels[0] = "b"
    assert changed.fingerprint() != domain.fingerprint()
    pixel = make_images()
    pixel.samples[1][0, 0, 0] = 99
    assert pixel.fingerprint() != domain.fingerprint()


def test_inconsistent_lengths_rejected():
    with pytest.raises(ValueError, match="labels for"):
        Domain("x", "text", ["a", "b"], ["y"], ["row 1", "row 2"])
    with pytest.raises(ValueError, match="modality"):
        Domain("x", "audio", [], None, [])
