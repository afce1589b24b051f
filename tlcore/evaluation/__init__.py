"""Metrics and evaluation."""
from tlcore.evaluation.metrics import classification_metrics, roc_auc

__all__ = ["classification_metrics", "roc_auc"]
