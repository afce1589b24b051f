"""Uncertainty and significance for classification results: numpy in, plain floats out.

* :func:`bootstrap_ci`: seeded percentile bootstrap of accuracy, macro F1 or ROC AUC. Resamples are drawn
  as index matrices in chunks; accuracy and macro F1 come from gathered correctness and ``np.bincount``
  confusion counts, AUC from per-resample sample weights and one sort of the scores (Mann-Whitney form),
  so 1,000 resamples of 5,000 samples take well under a second for accuracy and F1.
* :func:`paired_bootstrap_diff`: the same resamples applied to two runs' predictions on the same samples.
* :func:`mcnemar_exact`: McNemar's exact test on paired correctness (two-sided binomial test).
* :func:`expected_calibration_error` / :func:`reliability_bins`: calibration of the top-class confidence.
* :func:`fold_indices` / :func:`cross_validate_features`: stratified k-fold and leave-one-out.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

METRICS = ("accuracy", "f1_macro", "roc_auc")
CHUNK_ELEMENTS = 500_000   # resamples x samples drawn at once (a few MB: stays in cache)


# -- weighted metrics: one row of ``w`` per resample -----------------------------------------------
def _weights(idx: np.ndarray, n: int) -> np.ndarray:
    """``(m, n)`` counts: how often each sample is drawn in each resample of ``idx`` (``(m, n)`` indices)."""
    m = len(idx)
    flat = (idx + (np.arange(m) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float32)


def _w_accuracy(idx: np.ndarray, y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    correct = probs.argmax(1) == y
    return correct[idx].mean(1)


def _w_f1_macro(idx: np.ndarray, y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Macro F1 over all ``C`` classes (absent classes count as 0, like sklearn with ``labels=``)."""
    c = probs.shape[1]
    m = len(idx)
    code = y * c + probs.argmax(1)
    flat = (code[idx] + (np.arange(m) * c * c)[:, None]).ravel()
    cm = np.bincount(flat, minlength=m * c * c).reshape(m, c, c).astype(np.float64)   # confusion per resample
    tp = np.diagonal(cm, axis1=1, axis2=2)
    denom = cm.sum(2) + cm.sum(1)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return f1.mean(1)


def _w_binary_auc(w: np.ndarray, pos: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC with ties counted half; NaN where a resample lacks one class."""
    order = np.argsort(score, kind="mergesort")
    s, p = score[order], pos[order]
    new_group = np.r_[True, s[1:] != s[:-1]]
    ws = w[:, order]
    w_neg = ws * ~p
    cum = np.cumsum(w_neg, axis=1)
    if new_group.all():                      # no ties: negatives strictly below = exclusive cumsum
        below = cum - w_neg
    else:                                    # ties: half of the tied negatives count
        starts = np.flatnonzero(new_group)
        ends = np.r_[starts[1:], len(s)] - 1
        gid = np.cumsum(new_group) - 1
        lt = np.where(starts[gid] > 0, cum[:, np.maximum(starts[gid] - 1, 0)], 0.0)
        below = 0.5 * (lt + cum[:, ends[gid]])
    num = (ws[:, p] * below[:, p]).sum(1, dtype=np.float64)
    den = ws[:, p].sum(1, dtype=np.float64) * cum[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _w_roc_auc(idx: np.ndarray, y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Binary AUC, or the one-vs-rest mean over the classes present in the full sample."""
    w = _weights(idx, len(y))
    if probs.shape[1] == 2:
        return _w_binary_auc(w, y == 1, probs[:, 1])
    aucs = np.stack([_w_binary_auc(w, y == c, probs[:, c]) for c in np.unique(y)], axis=1)
    valid = ~np.isnan(aucs)
    n_valid = valid.sum(1)
    total = np.where(valid, aucs, 0.0).sum(1)
    return np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)


WEIGHTED_METRICS: dict[str, Callable] = {"accuracy": _w_accuracy, "f1_macro": _w_f1_macro,
                                         "roc_auc": _w_roc_auc}


def metric_value(metric: str, y_true, probs) -> float | None:
    """The metric on the full sample (weights all one), ``None`` when undefined."""
    y, p = _check(y_true, probs)
    v = float(WEIGHTED_METRICS[metric](np.arange(len(y))[None, :], y, p)[0])
    return None if np.isnan(v) else v


def resample_indices(n: int, n_resamples: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield ``(chunk, n)`` index matrices: row r holds the samples drawn (with replacement) in resample r."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, CHUNK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_resamples:
        m = min(chunk, n_resamples - done)
        yield rng.integers(0, n, size=(m, n))
        done += m


def _check(y_true, probs):
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"probs must be (N, C) with N = len(y_true) = {len(y)}, got {p.shape}")
    return y, p


def _percentile_ci(stats: np.ndarray, alpha: float) -> list[float] | None:
    stats = stats[~np.isnan(stats)]
    if not len(stats):
        return None
    lo, hi = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(lo), float(hi)]


def bootstrap_distribution(metric: str, y_true, probs, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The metric on each of ``n_resamples`` seeded resamples (NaN where undefined)."""
    y, p = _check(y_true, probs)
    fn = WEIGHTED_METRICS[metric]
    return np.concatenate([fn(w, y, p) for w in resample_indices(len(y), n_resamples, seed)])


def bootstrap_ci(y_true, probs, metric: str = "accuracy", n_resamples: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> list[float] | None:
    """Percentile bootstrap interval ``[low, high]`` of ``metric`` (``None`` when it is undefined).

    Args:
        y_true: ``(N,)`` integer labels.
        probs: ``(N, C)`` predicted probabilities (the prediction is their argmax).
        metric: ``"accuracy"``, ``"f1_macro"`` or ``"roc_auc"``.
        n_resamples: bootstrap resamples (1,000 by default).
        seed: seed of the resampling; the same inputs and seed give the same interval.
        alpha: 0.05 gives a 95 % interval.
    """
    if len(y_true) == 0 or n_resamples <= 0:
        return None
    if metric == "roc_auc" and len(np.unique(np.asarray(y_true))) < 2:
        return None
    return _percentile_ci(bootstrap_distribution(metric, y_true, probs, n_resamples, seed), alpha)


def paired_bootstrap_diff(y_true, probs_a, probs_b, metric: str = "accuracy", n_resamples: int = 1000,
                          seed: int = 0, alpha: float = 0.05) -> dict:
    """Bootstrap of ``metric(b) - metric(a)`` on the same samples, resampled jointly.

    Returns:
        ``{"metric", "a", "b", "diff", "ci": [low, high], "p_value", "n_resamples"}`` where ``p_value`` is the
        two-sided bootstrap p-value ``min(1, 2 * min(P(d <= 0), P(d >= 0)))`` over the resampled differences.
    """
    y, pa = _check(y_true, probs_a)
    _, pb = _check(y_true, probs_b)
    fn = WEIGHTED_METRICS[metric]
    diffs = np.concatenate([fn(w, y, pb) - fn(w, y, pa) for w in resample_indices(len(y), n_resamples, seed)])
    va, vb = metric_value(metric, y, pa), metric_value(metric, y, pb)
    d = diffs[~np.isnan(diffs)]
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()))) if len(d) else None
    return {"metric": metric, "a": va, "b": vb, "diff": None if va is None or vb is None else vb - va,
            "ci": _percentile_ci(diffs, alpha), "p_value": p, "n_resamples": int(n_resamples)}


def mcnemar_exact(correct_a, correct_b) -> dict:
    """McNemar's exact test: do two classifiers err on the same samples at different rates?

    ``b`` counts samples A gets right and B wrong, ``c`` the reverse; under the null both are
    Binomial(b + c, 1/2), and the p-value is the two-sided exact binomial test (1.0 when ``b + c == 0``).
    """
    from scipy.stats import binomtest

    a = np.asarray(correct_a, dtype=bool)
    bb = np.asarray(correct_b, dtype=bool)
    if a.shape != bb.shape:
        raise ValueError(f"correct_a and correct_b differ in length: {a.shape} vs {bb.shape}")
    b = int((a & ~bb).sum())
    c = int((~a & bb).sum())
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return {"b": b, "c": c, "n": int(a.size), "p_value": p}


# -- calibration -----------------------------------------------------------------------------------
def reliability_bins(y_true, probs, n_bins: int = 10) -> list[dict]:
    """Equal-width bins of top-class confidence: ``{lo, hi, n, confidence, accuracy}`` per non-empty bin."""
    y, p = _check(y_true, probs)
    conf = p.max(1)
    correct = p.argmax(1) == y
    which = np.clip(np.floor(conf * n_bins).astype(int), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        m = which == b
        if m.any():
            out.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "n": int(m.sum()),
                        "confidence": float(conf[m].mean()), "accuracy": float(correct[m].mean())})
    return out


def expected_calibration_error(y_true, probs, n_bins: int = 10) -> float:
    """ECE = sum over bins of (bin share) x |accuracy - mean confidence| (Guo et al., 2017)."""
    bins = reliability_bins(y_true, probs, n_bins)
    n = sum(b["n"] for b in bins)
    return float(sum(b["n"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins)) if n else 0.0


# -- cross-validation ------------------------------------------------------------------------------
def fold_indices(labels, k: int | str = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index pairs: stratified k-fold (shuffled, seeded) or ``k="loo"`` leave-one-out."""
    from sklearn.model_selection import LeaveOneOut, StratifiedKFold

    y = np.asarray(labels)
    if k == "loo":
        return [(tr, te) for tr, te in LeaveOneOut().split(y)]
    k = int(k)
    smallest = np.unique(y, return_counts=True)[1].min()
    if k < 2 or smallest < k:
        raise ValueError(f"k-fold needs 2 <= k <= the smallest class size ({smallest}), got k={k}; "
                         f"use fewer folds or leave-one-out")
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def cross_validate_features(features, labels, k: int | str = 5, seed: int = 0, C: float = 1.0) -> dict:
    """Logistic regression on fixed features, evaluated by stratified k-fold or leave-one-out.

    Returns:
        ``{"k", "n", "accuracy_mean", "accuracy_std", "f1_macro_mean", "f1_macro_std", "folds": [...]}``;
        for leave-one-out the F1 is computed once over the pooled held-out predictions.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    folds = fold_indices(y, k, seed)
    pred = np.empty_like(y)
    rows = []
    for tr, te in folds:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500))
        if len(np.unique(y[tr])) < 2:
            pred[te] = y[tr][0]
        else:
            pred[te] = clf.fit(x[tr], y[tr]).predict(x[te])
        rows.append({"n_test": int(len(te)), "accuracy": float((pred[te] == y[te]).mean()),
                     "f1_macro": float(f1_score(y[te], pred[te], average="macro", zero_division=0))})
    acc = np.array([r["accuracy"] for r in rows])
    out = {"k": k if k == "loo" else int(k), "n": int(len(y)), "accuracy_mean": float(acc.mean()),
           "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0}
    if k == "loo":
        out.update(f1_macro_mean=float(f1_score(y, pred, average="macro", zero_division=0)), f1_macro_std=None)
    else:
        f1 = np.array([r["f1_macro"] for r in rows])
        out.update(f1_macro_mean=float(f1.mean()), f1_macro_std=float(f1.std(ddof=1)))
    out["folds"] = rows if k != "loo" else []
    return out
