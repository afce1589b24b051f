"""Smoke tests on the shared real data (skipped when the folder is absent)."""

from __future__ import annotations

import numpy as np

from tlcore.data import read_images, read_text


def test_usps_zip(shared_data):
    domain = read_images(shared_data / "digits_mnist_usps" / "usps.zip")  # its time: bench/refusal_timings.py
    assert len(domain) == 9298
    assert domain.classes == [str(d) for d in range(10)]
    assert [(s.file, s.reason) for s in domain.skipped] == [("usps/labels.csv", "not an image")]
    assert domain.samples[0].shape == (16, 16, 3) and domain.samples[0].dtype == np.uint8


def test_books_csv(shared_data):
    domain = read_text(shared_data / "amazon_reviews" / "books.csv")
    assert len(domain) == 2000
    assert domain.classes == ["0", "1"]
    assert any("\n" in text for text in domain.samples)
