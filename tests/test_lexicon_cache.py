"""A lexicon file's prefix tree and spelling model, kept on disk so that a command starts fast."""

from __future__ import annotations

import numpy as np
import pytest

from htr.charlm import SpellingModel
from htr.lexicon import Lexicon, PrefixTree
from htr.lexicon_cache import cache_dir, prepare
from htr.wordbeam import word_beam_search

from test_wordbeam import CHARSET, frames

WORDS = ["the", "then", "there", "tom", "tomkins", "atkins", "house", "letter", "of", "and"]


@pytest.fixture
def lexicon_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HTR_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "words.npz"
    Lexicon.from_words(WORDS).save(path)
    return path


def test_a_second_start_reads_what_the_first_built(lexicon_file):
    first = Lexicon.load(lexicon_file)
    prepare(first, lexicon_file, 5)
    assert len(list(cache_dir().glob("*.npz"))) == 1
    second = Lexicon.load(lexicon_file)
    prepare(second, lexicon_file, 5)
    for name in PrefixTree.ARRAYS:
        np.testing.assert_array_equal(getattr(second.trie, name), getattr(first.trie, name))
    assert second.trie.alphabet == first.trie.alphabet
    spelling = SpellingModel.kept(second, 5)
    assert spelling is not None and spelling.score("tomkins") == SpellingModel.of(first).score("tomkins")
    # And they decode alike.
    probs = frames("tomkins of the house")
    assert word_beam_search(probs, CHARSET, second).text == word_beam_search(probs, CHARSET, first).text


def test_a_damaged_cache_file_is_built_again(lexicon_file):
    prepare(Lexicon.load(lexicon_file), lexicon_file, 5)
    (stored,) = cache_dir().glob("*.npz")
    stored.write_bytes(b"not a zip file")
    lexicon = Lexicon.load(lexicon_file)
    prepare(lexicon, lexicon_file, 5)
    assert lexicon.has_trie and lexicon.trie.find("tomkins") > 0
    assert SpellingModel.kept(lexicon, 5) is not None
    assert np.load(stored)["tree_parent"].shape == (len(lexicon.trie),)  # written again, whole


def test_another_lexicon_file_gets_its_own_entry(lexicon_file, tmp_path):
    prepare(Lexicon.load(lexicon_file), lexicon_file, 5)
    other = tmp_path / "other.npz"
    Lexicon.from_words(WORDS + ["tomlinson"]).save(other)
    lexicon = Lexicon.load(other)
    prepare(lexicon, other, 5)
    assert lexicon.trie.find("tomlinson") > 0 and len(list(cache_dir().glob("*.npz"))) == 2
