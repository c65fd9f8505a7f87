"""The spelling model of out-of-vocabulary words (htr.charlm) and its use in word beam search."""

from __future__ import annotations

import numpy as np
import pytest

from htr.charlm import SpellingModel
from htr.lexicon import Lexicon
from htr.wordbeam import word_beam_search

from test_wordbeam import CHARSET, frames

SURNAMES = ["atkins", "jenkins", "hopkins", "perkins", "watkins", "simkins", "tom", "tomb", "tome",
            "token", "told", "top", "town", "the", "said", "to", "of", "and"]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.from_words(SURNAMES)


def test_each_state_is_a_distribution_over_letters_and_the_end(lexicon):
    for order in (1, 3, 5):
        model = SpellingModel.train(lexicon.words, lexicon.trie.alphabet, order)
        np.testing.assert_allclose(np.exp(model.logp.astype(np.float64)).sum(1), 1.0, atol=1e-5)
        assert model.next_state.shape == (len(model), len(lexicon.trie.alphabet) + 1)


def test_plausible_spellings_score_above_garbled_ones(lexicon):
    model = SpellingModel.of(lexicon)
    assert model is SpellingModel.of(lexicon)  # built once per lexicon
    assert model.score("tomkins") > model.score("tcmkins") + 3
    assert model.score("Tomkins") == model.score("tomkins")  # case-folded
    # A letter none of the words uses is possible, only unlikely.
    assert np.isfinite(model.score("tøm")) and model.score("tøm") < model.score("tom")


def test_the_order_sets_how_far_back_it_looks():
    words = ["abcd", "xbcy"]
    alphabet = "abcdxy"
    short = SpellingModel.train(words, alphabet, order=2)  # P(next | last letter)
    long = SpellingModel.train(words, alphabet, order=4)
    # After "abc" only "d" was ever seen; after "c" alone, "d" and "y" equally.
    assert short.score("abcd") == pytest.approx(short.score("abcy"))
    assert long.score("abcd") > long.score("abcy") + 0.5
    assert long.score("abcd") > short.score("abcd")


def test_word_beam_search_spells_an_unknown_name_like_the_words_it_knows(lexicon):
    # "Tomkins" is not in the lexicon; its second letter is written so that "c" is a little
    # likelier than "o". Priced flat per letter the decoder keeps "Tcmkins"; with the spelling
    # model "Tomkins" (like "tom", "atkins", "simkins") wins.
    # No score margin: with it, "Tc" (out of the tree at once, priced at an unknown word's
    # -14 x 0.65) falls more than the margin below "To" (a prefix of "tom") and is dropped
    # before either is done, whatever the spelling.
    probs = frames("T", {"c": 0.5, "o": 0.45, "": 0.05}, "mkins said")
    flat = word_beam_search(probs, CHARSET, lexicon, spelling_weight=0.0, oov_char_logp=-1.0,
                            margin=None)
    assert flat.text == "Tcmkins said"
    assert word_beam_search(probs, CHARSET, lexicon, margin=None).text == "Tomkins said"


def test_clearly_written_unknown_words_survive_the_spelling_model(lexicon):
    for text in ("Zbigniew said", "Xqt said", "tomb said"):
        assert word_beam_search(frames(text), CHARSET, lexicon).text == text
