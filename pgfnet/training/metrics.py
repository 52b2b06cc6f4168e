"""MOSI regression metrics with MMSA's names and definitions.

Given predictions p and labels y (both sentiment scores):

- ``MAE``: mean |p - y|.
- ``Corr``: Pearson correlation of p and y.
- ``Mult_acc_7``: accuracy of round(clip(p, -3, 3)) against round(clip(y, -3, 3)).
- ``Mult_acc_5``: the same after clipping to [-2, 2].
- ``Has0_acc_2`` / ``Has0_F1_score``: p >= 0 against y >= 0 on every utterance.
- ``Non0_acc_2`` / ``Non0_F1_score``: p > 0 against y > 0 on the utterances with y != 0.

F1 scores are support-weighted over the two classes (scikit-learn's
``average="weighted"``). Rounding is NumPy's ``np.round`` (half to even), as in MMSA.
Values are fractions in [0, 1] (MMSA's convention); MMSA rounds them to 4 decimals
when it reports, while this module returns them unrounded.
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES = (
    "MAE", "Corr", "Mult_acc_7", "Mult_acc_5",
    "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
)


def multiclass_accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Return the fraction of equal ``np.round`` classes."""
    return float(np.mean(np.round(predictions) == np.round(labels)))


def weighted_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Return the support-weighted F1 over the classes present in ``truth``.

    A class never predicted has precision 0 and so F1 0, as in scikit-learn with
    ``zero_division=0``.
    """
    truth = np.asarray(truth)
    predicted = np.asarray(predicted)
    total = 0.0
    for value in np.unique(truth):
        true_positive = np.sum((predicted == value) & (truth == value))
        predicted_count = np.sum(predicted == value)
        support = np.sum(truth == value)
        precision = true_positive / predicted_count if predicted_count else 0.0
        recall = true_positive / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        total += support * f1
    return float(total / len(truth))


def mosi_regression_metrics(predictions, labels) -> dict[str, float]:
    """Compute MMSA's MOSI regression metrics (see the module docstring).

    Args:
        predictions: (N,) predicted scores (any array-like).
        labels: (N,) true scores in [-3, 3].

    Returns:
        {name: value} for every name in :data:`METRIC_NAMES`. ``Corr`` is NaN when
        either input is constant; ``Non0_*`` are NaN when every label is 0.
    """
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    if predictions.shape != labels.shape:
        raise ValueError(
            f"predictions have {predictions.size} values but labels have {labels.size}"
        )
    if predictions.size == 0:
        raise ValueError("cannot compute metrics on an empty split")

    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(predictions, labels)[0, 1]) if predictions.size > 1 else float("nan")

    has0_truth = labels >= 0
    has0_predicted = predictions >= 0
    non_zero = labels != 0
    if non_zero.any():
        non0_truth = labels[non_zero] > 0
        non0_predicted = predictions[non_zero] > 0
        non0_acc = float(np.mean(non0_truth == non0_predicted))
        non0_f1 = weighted_f1(non0_truth, non0_predicted)
    else:
        non0_acc = non0_f1 = float("nan")

    return {
        "MAE": float(np.mean(np.abs(predictions - labels))),
        "Corr": corr,
        "Mult_acc_7": multiclass_accuracy(np.clip(predictions, -3, 3), np.clip(labels, -3, 3)),
        "Mult_acc_5": multiclass_accuracy(np.clip(predictions, -2, 2), np.clip(labels, -2, 2)),
        "Has0_acc_2": float(np.mean(has0_truth == has0_predicted)),
        "Has0_F1_score": weighted_f1(has0_truth, has0_predicted),
        "Non0_acc_2": non0_acc,
        "Non0_F1_score": non0_f1,
    }
