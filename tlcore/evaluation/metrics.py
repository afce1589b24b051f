"""Classification metrics: numpy in, plain floats and lists out (JSON-able)."""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from tlcore.evaluation.statistics import METRICS, bootstrap_ci, expected_calibration_error, reliability_bins


CURVE_POINTS = 200   # each ROC / PR curve is downsampled to at most this many points
MAX_CURVE_CLASSES = 20


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list[str], n_resamples: int = 1000,
                           seed: int = 0, alpha: float = 0.05) -> dict:
    """Accuracy, balanced accuracy, macro and weighted precision/recall/F1, per-class scores, confusion
    matrix, ROC AUC, ROC and PR curves, log loss, calibration (ECE + reliability bins), and percentile
    bootstrap intervals ``accuracy_ci``, ``f1_macro_ci`` and ``roc_auc_ci``.

    Args:
        y_true: ``(N,)`` integer labels in ``range(len(classes))``.
        probs: ``(N, C)`` predicted probabilities.
        classes: class names, index-aligned with ``probs`` columns.
        n_resamples: bootstrap resamples for the intervals (0 leaves the ``*_ci`` fields ``None``).
        seed: bootstrap seed.
        alpha: 0.05 gives 95 % intervals.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    n = int(len(y_true))
    if n == 0:
        return {"n": 0}
    y_pred = probs.argmax(1)
    labels = list(range(len(classes)))
    p, r, f, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {
        "n": n,
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)) if len(set(y_true)) > 1 else None,
        "precision_macro": float(np.mean(p)),
        "recall_macro": float(np.mean(r)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(support[i])} for i, c in enumerate(classes)},
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": list(classes),
        "roc_auc": roc_auc(y_true, probs),
    }
    pw, rw, fw, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted",
                                                        zero_division=0)
    out.update(precision_weighted=float(pw), recall_weighted=float(rw), f1_weighted=float(fw))
    out["log_loss"] = _log_loss(y_true, probs, labels)
    out["ece"] = expected_calibration_error(y_true, probs)
    out["reliability"] = reliability_bins(y_true, probs)
    out["roc_curve"], out["pr_curve"] = curves(y_true, probs, classes)
    for m in METRICS:
        out[f"{m}_ci"] = bootstrap_ci(y_true, probs, m, n_resamples, seed, alpha) if out[m] is not None else None
    out["ci"] = {"method": "percentile bootstrap", "n_resamples": int(n_resamples), "seed": int(seed),
                 "level": 1 - alpha}
    return out


def _log_loss(y_true, probs, labels) -> float | None:
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-15, 1.0)
    p = p / p.sum(1, keepdims=True)
    try:
        return float(skm.log_loss(y_true, p, labels=labels))
    except ValueError:
        return None


def _downsample(*arrays):
    n = len(arrays[0])
    if n <= CURVE_POINTS:
        return [np.round(a, 5).tolist() for a in arrays]
    keep = np.unique(np.linspace(0, n - 1, CURVE_POINTS).round().astype(int))
    return [np.round(a[keep], 5).tolist() for a in arrays]


def curves(y_true, probs, classes) -> tuple[dict, dict]:
    """One-vs-rest ROC and precision-recall curves per class (binary: the positive class only).

    Returns:
        ``({class: {"fpr", "tpr"}}, {class: {"recall", "precision"}})``, each curve at most
        ``CURVE_POINTS`` points; classes absent from ``y_true`` (or beyond ``MAX_CURVE_CLASSES``) are left out.
    """
    roc, pr = {}, {}
    cols = [1] if probs.shape[1] == 2 else range(min(probs.shape[1], MAX_CURVE_CLASSES))
    for c in cols:
        pos = (y_true == c).astype(int)
        if pos.min() == pos.max():
            continue
        fpr, tpr, _ = skm.roc_curve(pos, probs[:, c])
        prec, rec, _ = skm.precision_recall_curve(pos, probs[:, c])
        f, t = _downsample(fpr, tpr)
        r, p = _downsample(rec[::-1], prec[::-1])
        roc[str(classes[c])] = {"fpr": f, "tpr": t}
        pr[str(classes[c])] = {"recall": r, "precision": p}
    return roc, pr


def roc_auc(y_true: np.ndarray, probs: np.ndarray) -> float | None:
    """Binary AUC, or one-vs-rest macro AUC over the classes present; ``None`` when undefined."""
    present = np.unique(y_true)
    if len(present) < 2:
        return None
    try:
        if probs.shape[1] == 2:
            return float(skm.roc_auc_score(y_true, probs[:, 1]))
        scores = []
        for c in present:
            scores.append(skm.roc_auc_score((y_true == c).astype(int), probs[:, c]))
        return float(np.mean(scores))
    except ValueError:
        return None
