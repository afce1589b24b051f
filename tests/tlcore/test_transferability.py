"""Backbone ranking before training: LogME / LEEP / N-LEEP order features whose quality is known."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tlcore.transferability.scores import leep, logme, nleep

from tests.conftest import ROOT


def features(quality: float, n=300, d=32, c=4, seed=0):
    """Class means scaled by ``quality`` plus unit noise: 0 = pure noise, larger = more separable."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % c
    means = rng.normal(size=(c, d))
    return means[y] * quality + rng.normal(size=(n, d)), y


def test_scores_rank_separable_above_noise_in_order():
    qualities = [0.0, 0.5, 1.5, 4.0]
    sets = [features(q) for q in qualities]
    lm = [logme(f, y) for f, y in sets]
    nl = [nleep(f, y) for f, y in sets]
    assert lm == sorted(lm), lm  # strictly better features, strictly higher LogME
    assert nl[-1] > nl[1] > nl[0] and nl[2] > nl[0], nl
    assert nl[0] == pytest.approx(np.log(0.25), abs=0.1)  # noise: LEEP of a useless source = log(1/C)


def test_leep_of_a_perfect_and_a_useless_source_model():
    y = np.arange(200) % 4
    perfect = np.eye(4)[y]
    useless = np.full((200, 4), 0.25)
    assert leep(perfect, y) == pytest.approx(0.0, abs=1e-6)
    assert leep(useless, y) == pytest.approx(np.log(0.25))


def test_logme_is_the_maximised_bayesian_evidence():
    """The fixed point reaches the maximum over (alpha, beta) of the closed-form evidence
    log N(t; 0, F F^T / alpha + I / beta), found here by brute force on a grid."""
    from tlcore.transferability.scores import log_evidence

    f, y = features(1.0, n=60, d=5)
    t = (y == 0).astype(float)
    best = -np.inf
    for a in np.logspace(-3, 3, 49):
        for b in np.logspace(-3, 3, 49):
            cov = np.eye(60) / b + f @ f.T / a
            _, logdet = np.linalg.slogdet(cov)
            best = max(best, -0.5 * (logdet + t @ np.linalg.solve(cov, t) + 60 * np.log(2 * np.pi)) / 60)
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    ours = log_evidence(u, s ** 2, f.shape[1], t)
    assert best - 1e-6 <= ours <= best + 0.01  # at least the grid's best, and not beyond it by more than its step


def test_rank_backbones_cli_on_tiny_backbones(tl_home):
    env = {"TL_HOME": str(tl_home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "tlcore", "rank-backbones", "--source", '{"demo": "digits"}',
                          "--backbones", "tiny_cnn", "tiny_text", "--max", "120", "--image-size", "16"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["backbone"] for r in res["rows"]] == ["tiny_cnn"]
    assert np.isfinite(res["rows"][0]["logme"]) and res["rows"][0]["rank"] == 1
    assert res["skipped"][0]["backbone"] == "tiny_text" and "text" in res["skipped"][0]["reason"]
    from tlcore.jobs.light import ranking_status

    stored = ranking_status(tl_home, {"demo": "digits"}, ["tiny_cnn", "tiny_text"], 120, 0, 16)
    assert stored["status"] == "done" and stored["rows"][0]["backbone"] == "tiny_cnn"
