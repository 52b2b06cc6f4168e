"""Merge WordPiece tokens back into the words they came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

CONTINUATION_PREFIX = "##"


def merge_word_pieces(
    tokens: Sequence[str], special_tokens: Iterable[str] = ("[CLS]", "[SEP]", "[PAD]")
) -> tuple[list[str], list[int]]:
    """Merge WordPiece tokens into words.

    A piece that starts with "##" continues the previous word. Special tokens belong to no
    word. A continuation piece that follows a special token (or starts the sequence)
    starts a new word, so that no piece is lost.

    Args:
        tokens: the T word pieces, e.g. ["[CLS]", "un", "##believ", "##able", "[SEP]"].
        special_tokens: pieces that belong to no word.

    Returns:
        ``(words, token_word)``: the merged words (["unbelievable"]) and, for each piece,
        the index of its word in ``words`` or -1 for a special token ([-1, 0, 0, 0, -1]).
    """
    special = set(special_tokens)
    words: list[str] = []
    token_word: list[int] = []
    previous_was_word = False
    for token in tokens:
        if token in special:
            token_word.append(-1)
            previous_was_word = False
            continue
        if token.startswith(CONTINUATION_PREFIX) and previous_was_word:
            words[-1] += token[len(CONTINUATION_PREFIX):]
        else:
            words.append(token)
        token_word.append(len(words) - 1)
        previous_was_word = True
    return words, token_word


def word_scores(token_scores: np.ndarray, token_word: Sequence[int], n_words: int) -> np.ndarray:
    """Sum per-piece scores (e.g. attributions) into per-word scores.

    Args:
        token_scores: (T,) one score per word piece.
        token_word: (T,) word index per piece, -1 for pieces outside any word.
        n_words: number of words.

    Returns:
        (n_words,) float64 sums; pieces with index -1 are left out.
    """
    scores = np.zeros(n_words, dtype=np.float64)
    for score, word in zip(np.asarray(token_scores, dtype=np.float64), token_word):
        if word >= 0:
            scores[word] += score
    return scores
