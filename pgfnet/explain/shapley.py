"""Exact Shapley values of the three modalities and the interaction label.

The players are the modalities text, acoustic and visual. A coalition S is the input with
the modalities outside S made absent (see :mod:`pgfnet.explain.baselines`), and its value
v(S) is the model's prediction for that input. With three players all 2**3 = 8
coalitions are evaluated, so the values are exact, not sampled:

    phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))

They satisfy efficiency: phi_text + phi_acoustic + phi_visual = v(all) - v(none).

Interaction labels use the names of M2Lens (Wang et al., 2021: dominance, complement,
conflict); the thresholds are this project's and are defined in
:class:`InteractionThresholds`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MODALITIES: tuple[str, ...] = ("text", "acoustic", "visual")

INTERACTION_LABELS: tuple[str, ...] = ("dominance", "complement", "conflict")


def coalitions() -> list[tuple[str, ...]]:
    """Return the 8 coalitions in a fixed order: all first, none last.

    Each coalition is the tuple of present modalities in :data:`MODALITIES` order, so
    ``coalitions()[0] == ("text", "acoustic", "visual")`` and ``coalitions()[-1] == ()``.
    """
    out = []
    for size in range(len(MODALITIES), -1, -1):
        out.extend(itertools.combinations(MODALITIES, size))
    return out


def coalition_name(coalition: Iterable[str]) -> str:
    """Return the name of a coalition: "text+visual", or "none" for the empty one."""
    present = [m for m in MODALITIES if m in set(coalition)]
    return "+".join(present) if present else "none"


def required_coalitions(null_players: Iterable[str] = ()) -> list[tuple[str, ...]]:
    """Return the coalitions that must be evaluated when ``null_players`` add nothing.

    These are the coalitions that contain every null player, in :func:`coalitions` order
    (so the full coalition comes first). :func:`make_null_players` fills in the rest.
    With no null player all 8 are returned; each null player halves the count.
    """
    null = set(null_players)
    return [c for c in coalitions() if null <= set(c)]


def make_null_players(
    values: Mapping[tuple[str, ...], float], null_players: Iterable[str]
) -> dict[tuple[str, ...], float]:
    """Return all 8 coalition values, with each of ``null_players`` adding exactly nothing.

    A modality without data (no visual frames, an empty transcript, a modality dropped
    from the model) cannot change the prediction. The value of a coalition without it is
    copied from the same coalition with it present. Its Shapley value is then exactly 0,
    even where two forward passes would differ in the last float bits, and the full
    coalition keeps the value of the real input.

    Args:
        values: v(S) for at least the coalitions of :func:`required_coalitions`.
        null_players: modalities that add nothing.
    """
    null = [m for m in MODALITIES if m in set(null_players)]
    fixed = {}
    for coalition in coalitions():
        completed = tuple(m for m in MODALITIES if m in coalition or m in null)
        fixed[coalition] = float(values[completed])
    return fixed


def shapley_values(values: Mapping[tuple[str, ...], float]) -> dict[str, float]:
    """Return the exact Shapley value of each modality.

    Args:
        values: v(S) for all 8 coalitions of :func:`coalitions`, keyed by the tuple of
            present modalities in :data:`MODALITIES` order.

    Returns:
        modality -> Shapley value, in the units of the prediction. The values sum to
        ``values[all] - values[()]`` up to float64 rounding.
    """
    missing = [coalition_name(c) for c in coalitions() if c not in values]
    if missing:
        raise ValueError(f"coalition values missing for {missing}; all 8 coalitions are needed")

    n = len(MODALITIES)
    phi = {}
    for player in MODALITIES:
        others = [m for m in MODALITIES if m != player]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                with_player = tuple(m for m in MODALITIES if m in subset or m == player)
                without = tuple(m for m in MODALITIES if m in subset)
                total += weight * (float(values[with_player]) - float(values[without]))
        phi[player] = total
    return phi


@dataclass(frozen=True)
class InteractionThresholds:
    """The thresholds that turn three Shapley values into an interaction label.

    A modality is *substantial* when ``|phi| >= min_abs`` and
    ``|phi| >= min_share * sum_m |phi_m|``. Then, in this order:

    - dominance: at most one modality is substantial. This includes the case where no
      modality moves the prediction by ``min_abs``; the dominant modality is still the
      one with the largest ``|phi|``.
    - complement: two or three modalities are substantial and all of them push the
      prediction the same way (same sign).
    - conflict: two or three modalities are substantial and their signs differ.

    Attributes:
        min_abs: smallest |Shapley value| that counts, in sentiment units of the [-3, 3]
            scale (default 0.05).
        min_share: smallest share of the total |Shapley| mass that counts (default 0.2).
            When both other modalities fall below this share, the dominant one has more
            than 0.6 of the mass.
    """

    min_abs: float = 0.05
    min_share: float = 0.2


DEFAULT_THRESHOLDS = InteractionThresholds()


def substantial_modalities(
    shapley: Mapping[str, float], thresholds: InteractionThresholds = DEFAULT_THRESHOLDS
) -> list[str]:
    """Return the modalities whose Shapley value is substantial (see InteractionThresholds)."""
    mass = sum(abs(float(shapley[m])) for m in MODALITIES)
    return [
        m
        for m in MODALITIES
        if abs(shapley[m]) >= thresholds.min_abs and abs(shapley[m]) >= thresholds.min_share * mass
    ]


def dominant_modality(shapley: Mapping[str, float]) -> str:
    """Return the modality with the largest |Shapley value| (ties go to the earlier one)."""
    return max(MODALITIES, key=lambda m: (abs(float(shapley[m])), -MODALITIES.index(m)))


def interaction_label(
    shapley: Mapping[str, float], thresholds: InteractionThresholds = DEFAULT_THRESHOLDS
) -> str:
    """Return "dominance", "complement" or "conflict" for one utterance's Shapley values."""
    substantial = substantial_modalities(shapley, thresholds)
    if len(substantial) <= 1:
        return "dominance"
    signs = {shapley[m] > 0 for m in substantial}
    return "complement" if len(signs) == 1 else "conflict"
