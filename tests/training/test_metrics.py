"""MMSA's MOSI metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pgfnet.training.metrics import METRIC_NAMES, mosi_regression_metrics, weighted_f1


def test_metric_names_match_mmsa():
    assert set(METRIC_NAMES) == {
        "MAE", "Corr", "Mult_acc_7", "Mult_acc_5",
        "Has0_acc_2", "Has0_F1_score", "Non0_acc_2", "Non0_F1_score",
    }


def test_perfect_predictions():
    labels = np.array([-2.6, -1.0, 0.0, 0.4, 1.8, 3.0])
    metrics = mosi_regression_metrics(labels, labels)

    assert metrics["MAE"] == 0.0
    assert metrics["Corr"] == pytest.approx(1.0)
    for name in METRIC_NAMES[2:]:
        assert metrics[name] == 1.0, name


def test_has0_counts_zero_as_positive():
    labels = np.array([0.0, 0.0, -1.0, 1.0])
    predictions = np.array([0.0, -0.1, -1.0, 1.0])
    metrics = mosi_regression_metrics(predictions, labels)

    assert metrics["Has0_acc_2"] == pytest.approx(0.75)
    # Zero labels are excluded from Non0, so every remaining sign is right.
    assert metrics["Non0_acc_2"] == 1.0


def test_non0_treats_zero_prediction_as_negative():
    labels = np.array([1.0, 2.0, -1.0, -2.0])
    predictions = np.array([0.0, 2.0, -1.0, -2.0])
    metrics = mosi_regression_metrics(predictions, labels)

    assert metrics["Non0_acc_2"] == pytest.approx(0.75)
    assert metrics["Has0_acc_2"] == 1.0


def test_mult_acc_clips_then_rounds():
    labels = np.array([3.0, -2.4, 2.6, 0.5])
    predictions = np.array([5.0, -2.6, 2.0, 0.4])
    metrics = mosi_regression_metrics(predictions, labels)

    # 7-class: 3|3, -2|-3, 3|2, 0|0 (half to even) -> 2 of 4.
    assert metrics["Mult_acc_7"] == pytest.approx(0.5)
    # 5-class after clipping to [-2, 2]: 2|2, -2|-2, 2|2, 0|0 -> 4 of 4.
    assert metrics["Mult_acc_5"] == 1.0


def test_weighted_f1_hand_computed():
    truth = np.array([True, True, True, False])
    predicted = np.array([True, True, False, False])
    # Positive: P 1, R 2/3, F1 0.8 (support 3). Negative: P 1/2, R 1, F1 2/3 (support 1).
    expected = (3 * 0.8 + 1 * (2 / 3)) / 4

    assert weighted_f1(truth, predicted) == pytest.approx(expected)


def test_weighted_f1_class_never_predicted():
    truth = np.array([True, False, False])
    predicted = np.array([False, False, False])
    # Positive F1 0 (support 1); negative P 2/3, R 1, F1 0.8 (support 2).
    assert weighted_f1(truth, predicted) == pytest.approx(2 * 0.8 / 3)


def test_mae_and_corr_values():
    labels = np.array([1.0, 2.0, 3.0, 4.0])
    predictions = np.array([1.5, 2.0, 2.0, 5.0])
    metrics = mosi_regression_metrics(predictions, labels)

    assert metrics["MAE"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert metrics["Corr"] == pytest.approx(np.corrcoef(predictions, labels)[0, 1])


def test_constant_predictions_give_nan_corr():
    metrics = mosi_regression_metrics(np.zeros(3), np.array([1.0, -1.0, 2.0]))

    assert math.isnan(metrics["Corr"])


def test_length_mismatch_rejected():
    with pytest.raises(ValueError, match="labels have 3"):
        mosi_regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])
