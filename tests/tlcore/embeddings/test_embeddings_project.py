"""Projections: registry, determinism, shapes, and the per-run cache in the run folder."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from tlcore.embeddings import PROJECTIONS, load_run_features, project, run_projection
from tlcore.runs.store import RunStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))
from fake_runs import CLASSES, make_run  # noqa: E402


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "home")


def blobs(n=60, d=12, seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 5])


def test_registry_has_pca_and_tsne():
    assert {"pca", "tsne"} <= set(PROJECTIONS)


@pytest.mark.parametrize("method,params", [("pca", {}), ("tsne", {"perplexity": 10, "max_iter": 250})])
def test_projection_is_deterministic_for_a_seed(method, params):
    x = blobs()
    a = project(x, method=method, dim=2, seed=3, **params)
    b = project(x, method=method, dim=2, seed=3, **params)
    assert a["coords"].shape == (len(x), 2)
    np.testing.assert_allclose(a["coords"], b["coords"])


def test_pca_explained_variance_and_separation():
    x = blobs()
    out = project(x, "pca", dim=3)
    ev = out["explained_variance"]
    assert len(ev) == 3 and ev[0] > ev[1] >= ev[2] > 0 and sum(ev) <= 1 + 1e-6
    pc1 = out["coords"][:, 0]
    assert abs(pc1[:60].mean() - pc1[60:].mean()) > 10  # the two blobs split along PC1


def test_project_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown projection"):
        project(blobs(), method="nope")
    with pytest.raises(ValueError):
        project(np.zeros((0, 3)))


def test_load_run_features_joins_predictions_by_index(store):
    rid = make_run(store, n=20)
    d = load_run_features(store, rid)
    assert d["features"].shape == (40, 16) and d["features"].dtype == np.float32
    assert list(d["domain"][:20]) == ["source"] * 20 and list(d["domain"][20:]) == ["target"] * 20
    assert set(d["label"]) <= set(CLASSES) and d["classes"] == CLASSES
    import pandas as pd

    csv = pd.read_csv(store.path(rid, "predictions_target_test.csv"))
    i = d["index"][25]
    assert d["pred"][25] == csv.loc[i, "pred"] and d["label"][25] == csv.loc[i, "true"]
    assert d["sample"][25] == csv.loc[i, "source"]
    assert d["confidence"][25] == pytest.approx(csv.loc[i, "confidence"])


def test_run_projection_caches_in_run_folder(store, monkeypatch):
    rid = make_run(store)
    first = run_projection(store, rid, "pca", 2, seed=0)
    assert first["cached"] is False
    files = list(store.folder(rid).glob("projection_pca_2d_*.npz"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("recomputed instead of reading the cache")

    monkeypatch.setattr(importlib.import_module("tlcore.embeddings.project"), "project", boom)
    second = run_projection(store, rid, "pca", 2, seed=0)
    assert second["cached"] is True
    np.testing.assert_array_equal(first["coords"], second["coords"])
    assert second["explained_variance"] == pytest.approx(first["explained_variance"])
    assert files[0].stat().st_mtime_ns == mtime


def test_cache_key_depends_on_params(store):
    rid = make_run(store)
    run_projection(store, rid, "tsne", 2, seed=0, perplexity=5, max_iter=250)
    run_projection(store, rid, "tsne", 2, seed=0, perplexity=8, max_iter=250)
    assert len(list(store.folder(rid).glob("projection_tsne_2d_*.npz"))) == 2
