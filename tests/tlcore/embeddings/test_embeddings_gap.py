"""Domain-gap measures: ~0 for one distribution, large for a shifted one."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tlcore.embeddings import mmd_rbf, proxy_a_distance
from tlcore.embeddings.gap import run_domain_gap
from tlcore.runs.store import RunStore

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "app"))
from fake_runs import make_run  # noqa: E402


def gaussians(shift, n=300, d=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + shift


def test_mmd_near_zero_for_one_distribution_and_large_when_shifted():
    same = mmd_rbf(*gaussians(0.0))
    shifted = mmd_rbf(*gaussians(2.0))
    assert same < 0.02
    assert shifted > 0.3
    assert shifted > 20 * same


def test_mmd_subsamples_large_inputs_deterministically():
    a, b = gaussians(1.0, n=1500)
    assert mmd_rbf(a, b, seed=1) == mmd_rbf(a, b, seed=1)


def test_proxy_a_distance_near_zero_for_one_distribution_and_near_two_when_separable():
    assert abs(proxy_a_distance(*gaussians(0.0), seed=0)) < 0.35
    assert proxy_a_distance(*gaussians(3.0), seed=0) > 1.8


def test_run_domain_gap_is_cached(tmp_path):
    store = RunStore(tmp_path / "home")
    rid = make_run(store)
    first = run_domain_gap(store, rid)
    second = run_domain_gap(store, rid)
    assert first["cached"] is False and second["cached"] is True
    assert second["mmd"] == pytest.approx(first["mmd"]) and first["n_source"] == 40
