"""Statistics against scikit-learn and SciPy on fixed inputs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

from tlcore.evaluation.metrics import classification_metrics
from tlcore.evaluation.statistics import (bootstrap_ci, bootstrap_distribution, cross_validate_features,
                                          expected_calibration_error, fold_indices, mcnemar_exact, metric_value,
                                          paired_bootstrap_diff, reliability_bins, resample_indices)


def data(n=300, c=3, quality=1.5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = np.eye(c)[y] * quality + rng.normal(size=(n, c))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, p


@pytest.mark.parametrize("c", [2, 4])
def test_point_metrics_match_sklearn(c):
    y, p = data(c=c)
    assert metric_value("accuracy", y, p) == pytest.approx(skm.accuracy_score(y, p.argmax(1)))
    assert metric_value("f1_macro", y, p) == pytest.approx(skm.f1_score(y, p.argmax(1), average="macro"))
    want = skm.roc_auc_score(y, p[:, 1]) if c == 2 else skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert metric_value("roc_auc", y, p) == pytest.approx(want)


def test_weighted_metrics_equal_sklearn_on_one_resample():
    y, p = data(n=120, c=3)
    idx = next(resample_indices(len(y), 1, seed=5))[0]
    from tlcore.evaluation import statistics as st

    yr, pr = y[idx], p[idx]
    assert st._w_f1_macro(idx[None], y, p)[0] == pytest.approx(
        skm.f1_score(yr, pr.argmax(1), labels=[0, 1, 2], average="macro", zero_division=0))
    ovr = np.mean([skm.roc_auc_score(yr == k, pr[:, k]) for k in range(3)])
    assert st._w_roc_auc(idx[None], y, p)[0] == pytest.approx(ovr)


def test_auc_counts_ties_like_sklearn():
    y = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    s = np.array([0.1, 0.5, 0.5, 0.9, 0.5, 0.2, 0.9, 0.2])
    p = np.c_[1 - s, s]
    assert metric_value("roc_auc", y, p) == pytest.approx(skm.roc_auc_score(y, s))


@pytest.mark.parametrize("metric", ["accuracy", "f1_macro", "roc_auc"])
def test_bootstrap_ci_contains_estimate_and_shrinks_with_n(metric):
    widths = []
    for n in (100, 1600):
        y, p = data(n=n, seed=1)
        lo, hi = bootstrap_ci(y, p, metric, n_resamples=500, seed=0)
        assert lo <= metric_value(metric, y, p) <= hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2     # ~1/sqrt(n): 4x the samples, half the width


def test_bootstrap_is_seeded_and_matches_a_naive_loop():
    y, p = data(n=80)
    assert bootstrap_ci(y, p, "accuracy", 200, seed=3) == bootstrap_ci(y, p, "accuracy", 200, seed=3)
    dist = bootstrap_distribution("f1_macro", y, p, 50, seed=3)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(y), size=(50, len(y)))
    naive = [skm.f1_score(y[i], p[i].argmax(1), labels=[0, 1, 2], average="macro", zero_division=0) for i in idx]
    np.testing.assert_allclose(dist, naive)


def test_bootstrap_is_fast_enough():
    y, p = data(n=5000, c=5)
    dist = bootstrap_distribution("accuracy", y, p, 1000)   # no timing assert (shared CI machines)
    assert dist.shape == (1000,) and np.isfinite(dist).all()


def test_mcnemar_hand_computed_case():
    a = np.array([1] * 10 + [1] * 5 + [0] * 1 + [0] * 4, bool)   # b = 5 (A right, B wrong), c = 1
    b = np.array([1] * 10 + [0] * 5 + [1] * 1 + [0] * 4, bool)
    out = mcnemar_exact(a, b)
    assert (out["b"], out["c"], out["n"]) == (5, 1, 20)
    assert out["p_value"] == pytest.approx(14 / 64)       # 2 * P(X <= 1), X ~ Bin(6, 1/2) = 2 * 7/64
    assert out["p_value"] == pytest.approx(binomtest(5, 6, 0.5).pvalue)
    assert mcnemar_exact(a, a)["p_value"] == 1.0


def test_paired_bootstrap_diff():
    y, pa = data(n=400, quality=0.5, seed=2)
    _, pb = data(n=400, quality=3.0, seed=2)
    out = paired_bootstrap_diff(y, pa, pb, "accuracy", 500)
    assert out["diff"] == pytest.approx(out["b"] - out["a"]) and out["diff"] > 0
    assert out["ci"][0] <= out["diff"] <= out["ci"][1] and out["ci"][0] > 0 and out["p_value"] < 0.01
    same = paired_bootstrap_diff(y, pa, pa, "accuracy", 100)
    assert same["diff"] == 0 and same["ci"] == [0.0, 0.0]


def test_calibration():
    y, p = data(n=500)
    bins = reliability_bins(y, p)
    assert sum(b["n"] for b in bins) == 500
    conf, correct = p.max(1), p.argmax(1) == y
    edges = np.linspace(0, 1, 11)
    want = sum(abs(correct[m].mean() - conf[m].mean()) * m.mean()
               for lo, hi in zip(edges[:-1], edges[1:]) if (m := (conf >= lo) & (conf < hi)).any())
    assert expected_calibration_error(y, p) == pytest.approx(want)
    perfect = np.eye(3)[y]
    assert expected_calibration_error(y, perfect) == 0


def test_kfold_partitions_are_disjoint_and_cover():
    y = np.array([0] * 12 + [1] * 8 + [2] * 5)
    folds = fold_indices(y, 5, seed=0)
    tests = np.concatenate([te for _, te in folds])
    assert sorted(tests) == list(range(len(y)))
    for tr, te in folds:
        assert not set(tr) & set(te) and len(tr) + len(te) == len(y)
        assert set(y[te]) == {0, 1, 2}          # stratified: each class in each fold
    loo = fold_indices(y, "loo")
    assert len(loo) == len(y) and all(len(te) == 1 for _, te in loo)
    with pytest.raises(ValueError, match="smallest class"):
        fold_indices(y, 6)


def test_cross_validate_features():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    x = rng.normal(size=(40, 4)) + y[:, None] * 3
    out = cross_validate_features(x, y, 5)
    assert out["accuracy_mean"] > 0.9 and out["accuracy_std"] >= 0 and len(out["folds"]) == 5
    assert cross_validate_features(x, y, "loo")["accuracy_mean"] > 0.9


def test_classification_metrics_keys_and_intervals():
    y, p = data(n=200, c=3)
    m = classification_metrics(y, p, ["a", "b", "c"], n_resamples=200)
    for k in ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
              "recall_weighted", "f1_weighted", "per_class", "confusion_matrix", "roc_auc", "log_loss", "ece",
              "reliability", "roc_curve", "pr_curve", "accuracy_ci", "f1_macro_ci", "roc_auc_ci"):
        assert k in m, k
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p / p.sum(1, keepdims=True)), rel=1e-6)
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, p.argmax(1), average="weighted"))
    for k in ("accuracy", "f1_macro", "roc_auc"):
        lo, hi = m[f"{k}_ci"]
        assert lo <= m[k] <= hi
    assert set(m["roc_curve"]) == {"a", "b", "c"} and len(m["roc_curve"]["a"]["fpr"]) <= 200
    big_y, big_p = data(n=3000, c=2)
    mb = classification_metrics(big_y, big_p, ["neg", "pos"], n_resamples=10)
    assert list(mb["roc_curve"]) == ["pos"] and len(mb["roc_curve"]["pos"]["fpr"]) <= 200
    assert len(mb["pr_curve"]["pos"]["recall"]) <= 200
    one = classification_metrics(np.zeros(5, int), np.tile([0.9, 0.1], (5, 1)), ["x", "y"], n_resamples=50)
    assert one["roc_auc"] is None and one["roc_auc_ci"] is None and one["accuracy_ci"] == [1.0, 1.0]
