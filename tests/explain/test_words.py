"""Merging WordPiece tokens into words."""

from __future__ import annotations

import numpy as np

from pgfnet.backbones import load_tokenizer
from pgfnet.explain.words import merge_word_pieces, word_scores


def test_merge_continuation_pieces():
    words, token_word = merge_word_pieces(["[CLS]", "un", "##believ", "##able", "film", "[SEP]"])
    assert words == ["unbelievable", "film"]
    assert token_word == [-1, 0, 0, 0, 1, -1]


def test_merge_empty_transcript():
    words, token_word = merge_word_pieces(["[CLS]", "[SEP]"])
    assert words == []
    assert token_word == [-1, -1]


def test_merge_leading_continuation_kept():
    # A truncated sequence may start mid-word; the piece still becomes a word.
    words, token_word = merge_word_pieces(["[CLS]", "##ly", "good", "[SEP]"])
    assert words == ["##ly", "good"]
    assert token_word == [-1, 0, 1, -1]


def test_merge_matches_tokenizer_words():
    tokenizer = load_tokenizer("all-MiniLM-L6-v2")
    text = "i didn't like it, unbelievably bad!!"
    encoding = tokenizer(text)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"])
    words, token_word = merge_word_pieces(tokens)
    expected = [-1 if w is None else w for w in encoding.word_ids()]
    assert token_word == expected
    assert "unbelievably" in words


def test_word_scores_sum_pieces():
    scores = word_scores(np.array([9.0, 1.0, 2.0, 3.0, 9.0]), [-1, 0, 0, 1, -1], 2)
    np.testing.assert_allclose(scores, [3.0, 3.0])
