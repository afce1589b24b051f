"""Classification metrics: numpy in, plain floats and lists out (JSON-able)."""
from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict:
    """Accuracy, macro precision/recall/F1, per-class F1, confusion matrix and ROC AUC.

    Args:
        y_true: ``(N,)`` integer labels in ``range(len(classes))``.
        probs: ``(N, C)`` predicted probabilities.
        classes: class names, index-aligned with ``probs`` columns.
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
    return out


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
