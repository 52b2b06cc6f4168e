"""Exact modality Shapley values and interaction labels."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgfnet.explain.shapley import (
    MODALITIES,
    InteractionThresholds,
    coalition_name,
    coalitions,
    dominant_modality,
    interaction_label,
    make_null_players,
    required_coalitions,
    shapley_values,
)

finite = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)


def test_coalitions_all_first_none_last():
    all_coalitions = coalitions()
    assert len(all_coalitions) == 8
    assert len(set(all_coalitions)) == 8
    assert all_coalitions[0] == MODALITIES
    assert all_coalitions[-1] == ()


def test_coalition_names():
    assert coalition_name(()) == "none"
    assert coalition_name(("visual", "text")) == "text+visual"
    assert coalition_name(MODALITIES) == "text+acoustic+visual"


@given(st.lists(finite, min_size=8, max_size=8))
def test_shapley_efficiency(raw):
    values = dict(zip(coalitions(), raw))
    phi = shapley_values(values)
    assert sum(phi.values()) == pytest.approx(values[MODALITIES] - values[()], abs=1e-9)


def test_shapley_additive_game():
    # v(S) = sum of per-player worths: each player's Shapley value is its own worth.
    worth = {"text": 1.5, "acoustic": -0.25, "visual": 0.125}
    values = {c: sum(worth[m] for m in c) for c in coalitions()}
    phi = shapley_values(values)
    for m in MODALITIES:
        assert phi[m] == pytest.approx(worth[m], abs=1e-12)


def test_shapley_pure_interaction_split_evenly():
    # Only the grand coalition has value: the three players share it equally.
    values = {c: (3.0 if len(c) == 3 else 0.0) for c in coalitions()}
    phi = shapley_values(values)
    for m in MODALITIES:
        assert phi[m] == pytest.approx(1.0, abs=1e-12)


@given(st.lists(finite, min_size=8, max_size=8), st.sampled_from(MODALITIES))
def test_null_player_gets_exactly_zero(raw, player):
    values = make_null_players(dict(zip(coalitions(), raw)), [player])
    phi = shapley_values(values)
    assert phi[player] == 0.0
    assert sum(phi.values()) == pytest.approx(values[MODALITIES] - values[()], abs=1e-9)


def test_shapley_missing_coalition_rejected():
    values = {c: 0.0 for c in coalitions()[:-1]}
    with pytest.raises(ValueError, match="none"):
        shapley_values(values)


@pytest.mark.parametrize(
    ("phi", "label"),
    [
        ({"text": 1.0, "acoustic": 0.01, "visual": -0.02}, "dominance"),
        ({"text": -0.9, "acoustic": 0.1, "visual": 0.1}, "dominance"),
        ({"text": 0.01, "acoustic": 0.02, "visual": -0.01}, "dominance"),
        ({"text": 0.0, "acoustic": 0.0, "visual": 0.0}, "dominance"),
        ({"text": 0.6, "acoustic": 0.4, "visual": 0.0}, "complement"),
        ({"text": -0.5, "acoustic": -0.3, "visual": -0.3}, "complement"),
        ({"text": 0.6, "acoustic": -0.4, "visual": 0.0}, "conflict"),
        ({"text": 0.5, "acoustic": 0.3, "visual": -0.3}, "conflict"),
        # Large share but below the absolute minimum: not substantial.
        ({"text": 0.06, "acoustic": 0.04, "visual": 0.0}, "dominance"),
    ],
)
def test_interaction_label_cases(phi, label):
    assert interaction_label(phi) == label


def test_interaction_thresholds_change_label():
    phi = {"text": 0.7, "acoustic": 0.25, "visual": 0.05}
    assert interaction_label(phi) == "complement"
    assert interaction_label(phi, InteractionThresholds(min_abs=0.05, min_share=0.3)) == "dominance"


@given(st.lists(finite, min_size=3, max_size=3))
def test_interaction_label_is_one_of_three(raw):
    phi = dict(zip(MODALITIES, raw))
    assert interaction_label(phi) in ("dominance", "complement", "conflict")


def test_dominant_modality_largest_magnitude():
    assert dominant_modality({"text": 0.2, "acoustic": -0.5, "visual": 0.1}) == "acoustic"
    assert dominant_modality({"text": 0.0, "acoustic": 0.0, "visual": 0.0}) == "text"


def test_null_players_copy_values():
    raw = {c: float(i) for i, c in enumerate(coalitions())}
    values = make_null_players(raw, ["visual"])
    for size in range(3):
        for subset in itertools.combinations(("text", "acoustic"), size):
            with_visual = tuple(m for m in MODALITIES if m in subset or m == "visual")
            assert values[subset] == raw[with_visual]
            assert values[with_visual] == raw[with_visual]


def test_required_coalitions():
    assert required_coalitions() == coalitions()
    assert required_coalitions(["visual"]) == [MODALITIES, ("text", "visual"), ("acoustic", "visual"), ("visual",)]
    assert required_coalitions(["text", "acoustic", "visual"]) == [MODALITIES]


def test_null_players_need_only_required():
    required = required_coalitions(["text", "visual"])
    values = make_null_players({c: 1.0 + len(c) for c in required}, ["text", "visual"])
    assert len(values) == 8
    assert values[()] == values[("text", "visual")]
