"""Evaluation: classification metrics (:mod:`eegsnn.evaluate.metrics`)."""

from eegsnn.evaluate.metrics import (
    accuracy,
    balanced_accuracy,
    classification_report,
    cohen_kappa,
    confusion_matrix,
    f1_macro,
    mean_firing_rates,
    per_class_scores,
    precision_recall_f1,
    roc_auc,
    roc_curve,
)

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "classification_report",
    "cohen_kappa",
    "confusion_matrix",
    "f1_macro",
    "mean_firing_rates",
    "per_class_scores",
    "precision_recall_f1",
    "roc_auc",
    "roc_curve",
]
