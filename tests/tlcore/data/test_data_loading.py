"""Spec dispatch and caching (tlcore.data.loading)."""

from __future__ import annotations

import os

import pytest

from tlcore.data import load_domain
from tlcore.errors import DataError


def test_demo_dispatch_and_cache():
    first = load_domain({"demo": "reviews"}, "source", seed=0)
    assert first is load_domain({"demo": "reviews", "label_column": "ignored"}, "source", seed=0)
    assert first is not load_domain({"demo": "reviews"}, "target", seed=0)


def test_path_dispatch_and_cache_invalidation(tmp_path, write_zip, image_bytes):
    table = tmp_path / "t.csv"
    table.write_text("review,label\ngood,pos\nbad,neg\n")
    domain = load_domain({"path": str(table), "name": "books"}, "source")
    assert domain.name == "books" and domain.modality == "text"
    assert load_domain({"path": str(table), "name": "books"}, "source") is domain
    table.write_text("review,label\ngood,pos\nbad,neg\nmeh,neg\n")
    os.utime(table, ns=(1, 1))
    assert len(load_domain({"path": str(table), "name": "books"}, "source")) == 3
    archive = write_zip(tmp_path / "i.zip", {"cat/a.png": image_bytes(), "dog/b.png": image_bytes()})
    assert load_domain({"path": str(archive)}, "target").modality == "image"
    for cls in ("cat", "dog"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        (tmp_path / "imgs" / cls / "a.png").write_bytes(image_bytes())
    assert load_domain({"path": str(tmp_path / "imgs")}, "target").labels == ["cat", "dog"]


def test_bad_specs(tmp_path):
    with pytest.raises(DataError, match="exactly one of 'path' or 'demo'"):
        load_domain({"path": "x.csv", "demo": "digits"}, "source")
    with pytest.raises(DataError, match="exactly one of 'path' or 'demo'"):
        load_domain({"name": "x"}, "source")
    with pytest.raises(DataError, match=r"missing\.csv: file not found"):
        load_domain({"path": str(tmp_path / "missing.csv")}, "source")
    (tmp_path / "model.pt").write_bytes(b"x")
    with pytest.raises(DataError, match=r"model\.pt: unsupported file type '\.pt'; supported: a folder, \.zip, \.csv"):
        load_domain({"path": str(tmp_path / "model.pt")}, "source")
    with pytest.raises(DataError, match="unknown demo"):
        load_domain({"demo": "nope"}, "source")
