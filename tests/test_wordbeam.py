"""Word beam search on hand-made probability matrices with known right answers."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from htr.decode import gap_classes, greedy_decode, with_logit_offset
from htr.lexicon import Lexicon, PrefixTree, case_pattern, iam_corpus_lines, tokenize
from htr.text import Charset
from htr.wordbeam import align, word_beam_search, word_beam_search_many

CHARSET = Charset(" !\"'(),-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz£")
WORDS = ["the", "cat", "sat", "on", "mat", "he", "said", "it", "costs", "a", "lot", "of", "money",
         "there", "then", "tea", "be", "to", "in", "is", "and", "we", "met"]


def frames(*steps, charset: Charset = CHARSET, floor: float = 1e-4) -> np.ndarray:
    """A probability matrix: each step is a text (each character clearly written in turn, with a
    blank frame after each) or a dict {char: prob} for one frame of mixed belief ('' = blank)."""
    rows = []

    def row(dist: dict[str, float]) -> np.ndarray:
        r = np.full(charset.num_classes, floor)
        for ch, p in dist.items():
            r[0 if ch == "" else charset.encode(ch)[0]] = p
        return r / r.sum()

    for step in steps:
        if isinstance(step, dict):
            rows += [row(step), row({"": 0.95})]
        else:
            for ch in step:
                rows += [row({ch: 0.95}), row({ch: 0.6, "": 0.4}), row({"": 0.95})]
    return np.array(rows)


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    # Word counts give 'the' the lion's share, as in English.
    return Lexicon.from_words([f"{w}\t{100 if w == 'the' else 10}" for w in WORDS])


def test_clear_line_in_lexicon(lexicon):
    probs = frames("the cat sat on the mat")
    r = word_beam_search(probs, CHARSET, lexicon)
    assert r.text == "the cat sat on the mat"
    assert len(r.chars) == len(r.text) and r.confidence > 0.8
    assert all(c.start < c.end <= len(probs) for c in r.chars)
    assert [c.start for c in r.chars] == sorted(c.start for c in r.chars)


def test_ambiguous_character_pulled_to_lexicon_word(lexicon):
    probs = frames("t", {"b": 0.5, "h": 0.45, "": 0.05}, "e cat")
    assert greedy_decode(probs, CHARSET).text == "tbe cat"
    r = word_beam_search(probs, CHARSET, lexicon)
    assert r.text == "the cat"
    h = r.chars[1]
    assert h.char == "h" and h.confidence < 0.5  # the guessed letter reads as uncertain


def test_clear_out_of_lexicon_name_survives(lexicon):
    for name in ("Zbigniew", "Xqt"):
        probs = frames(f"{name} said")
        assert word_beam_search(probs, CHARSET, lexicon).text == f"{name} said"


def test_punctuation_digits_and_symbols_between_words(lexicon):
    text = 'it costs £5, he said. "Then tea?"'
    r = word_beam_search(frames(text), CHARSET, lexicon)
    assert r.text == text


def test_case_patterns(lexicon):
    for text in ("The cat", "THE CAT", "the Cat"):
        assert word_beam_search(frames(text), CHARSET, lexicon).text == text
    # Mixed case is no lexicon pattern but, clearly written, still comes out.
    assert word_beam_search(frames("tHe cat"), CHARSET, lexicon).text == "tHe cat"


def test_possessive_and_hyphen(lexicon):
    text = "the cat's mat-money"
    assert word_beam_search(frames(text), CHARSET, lexicon).text == text


def test_empty_and_blank(lexicon):
    empty = np.zeros((0, CHARSET.num_classes))
    assert word_beam_search(empty, CHARSET, lexicon).text == ""
    blank = frames({"": 0.99}, {"": 0.99})
    r = word_beam_search(blank, CHARSET, lexicon)
    assert r.text == "" and r.chars == () and r.confidence > 0.9


def test_beam_width_one(lexicon):
    assert word_beam_search(frames("the cat sat"), CHARSET, lexicon, beam_width=1).text == "the cat sat"
    probs = frames("t", {"b": 0.5, "h": 0.45, "": 0.05}, "e")
    assert word_beam_search(probs, CHARSET, lexicon, beam_width=1).text in ("the", "tbe")


def test_beams_far_below_the_best_are_dropped(lexicon):
    # "tbe" and "the" nearly tied: a margin of 0 keeps the best beam alone, as one beam does;
    # a wide margin lets the lexicon's word win as a wide beam does.
    probs = frames("t", {"b": 0.5, "h": 0.45, "": 0.05}, "e")
    alone = word_beam_search(probs, CHARSET, lexicon, beam_width=1)
    assert word_beam_search(probs, CHARSET, lexicon, beam_width=100, margin=0.0) == alone
    assert word_beam_search(probs, CHARSET, lexicon, beam_width=100, margin=8.0).text == "the"


def test_repeated_letters_need_a_blank(lexicon):
    lex = Lexicon.from_words(["all", "al", "see", "se"])
    assert word_beam_search(frames("all see"), CHARSET, lex).text == "all see"


def test_trusting_letters_more_than_gaps_keeps_a_faint_letter(lexicon):
    lex = Lexicon.from_words(["the", "then"])
    probs = frames("the", {"n": 0.3, "": 0.7})  # the last letter barely written
    assert word_beam_search(probs, CHARSET, lex).text == "the"
    lower = word_beam_search(probs, CHARSET, lex, gap_offset=-1.5)
    assert lower.text == "then"
    # The same as searching the frames with the blank's and the space's shares scaled down first.
    gaps = gap_classes(CHARSET)
    assert gaps == (0, CHARSET.encode(" ")[0])
    assert word_beam_search(with_logit_offset(probs, -1.5, gaps), CHARSET, lex) == lower
    assert np.allclose(with_logit_offset(probs, -1.5, gaps).sum(axis=1), 1.0)


def test_user_lexicon_from_file(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("Zbigniew\nKowalski\t3\n", encoding="utf-8")
    lex = Lexicon.from_words(path)
    assert len(lex) == 2 and "zbigniew" in lex and lex.word_id("KOWALSKI") is not None
    # An unclear 'g' ('q' a little ahead) is pulled to the user's word.
    probs = frames("Zbi", {"q": 0.5, "g": 0.4, "": 0.1}, "niew Kowalski")
    assert greedy_decode(probs, CHARSET).text == "Zbiqniew Kowalski"
    assert word_beam_search(probs, CHARSET, lex).text == "Zbigniew Kowalski"


def test_with_words_adds_to_a_lexicon(lexicon):
    bigger = lexicon.with_words(["Zbigniew"])
    assert len(bigger) == len(lexicon) + 1 and "zbigniew" in bigger and "the" in bigger
    probs = frames("the Zbi", {"q": 0.5, "g": 0.4, "": 0.1}, "niew")
    assert word_beam_search(probs, CHARSET, bigger).text == "the Zbigniew"


def test_bigram_model_prefers_seen_pairs():
    lex = Lexicon.build(iam_dir=None, iam_lines=["the cat sat on the mat.", "the cat sat on the mat."] * 5,
                        size=2000)
    i = np.array([lex.word_id("cat"), lex.word_id("dog")])
    seen, unseen = lex.bigram_logp(np.array([lex.word_id("the")] * 2), i)
    assert seen > lex.unigram[i[0]] and seen > unseen
    assert lex.score_text("the cat sat") > lex.score_text("the sat cat")


def test_save_load_roundtrip(tmp_path):
    lex = Lexicon.build(iam_dir=None, iam_lines=["Mr. Gaitskell said it's the cat's."], size=1000)
    lex = lex.with_words(["Zbigniew"])
    lex.save(tmp_path / "lex.npz")
    back = Lexicon.load(tmp_path / "lex.npz")
    assert back.words == lex.words and "gaitskell" in back and "zbigniew" in back
    np.testing.assert_allclose(back.unigram, lex.unigram)
    np.testing.assert_array_equal(back.bigram_keys, lex.bigram_keys)
    assert back.score_text("Mr. Gaitskell said") == pytest.approx(lex.score_text("Mr. Gaitskell said"))


def test_helpers():
    assert tokenize("Mr. Gaitskell's well-known cat!") == ["Mr", None, "Gaitskell's", "well", "known", "cat", None]
    assert [case_pattern(w) for w in ("the", "The", "THE", "I", "McDonald")] == [0, 1, 2, 1, None]
    tree = PrefixTree(["the", "then"], np.log([0.5, 0.5]))
    assert tree.find("the") > 0 and tree.word[tree.find("then")] == 1 and tree.find("x") == -1
    assert tree.word[tree.find("the's")] == 0
    spans = align(frames("ab"), CHARSET.encode("ab"))
    assert [(s, e) for s, e, _ in spans] == [(0, 2), (3, 5)]


def test_iam_corpus_leaves_out_test_lines(tmp_path):
    root = tmp_path / "iam"
    (root / "splits" / "x" / "lines").mkdir(parents=True)
    (root / "splits" / "x" / "lines" / "te.lst").write_text("b01-000-00\n")
    (root / "lines.txt").write_text(
        "# comment\n"
        "a01-000u-00 ok 1 1 1 1 1 1 A|MOVE|to|stop|Mr.|Gaitskell\n"
        "b01-000-00 ok 1 1 1 1 1 1 secret|test|line\n"
        "b01-000x-01 ok 1 1 1 1 1 1 same|text|copy\n"
        "c01-000-00 ok 1 1 1 1 1 1 other|line\n")
    assert iam_corpus_lines(root) == ["A MOVE to stop Mr. Gaitskell", "other line"]
    assert iam_corpus_lines(root, exclude_groups=["c01-000"]) == ["A MOVE to stop Mr. Gaitskell"]


def test_lines_searched_side_by_side_read_exactly_as_each_alone(lexicon):
    rng = np.random.default_rng(1)
    lines = [frames("the cat sat on the mat"), np.zeros((0, CHARSET.num_classes)),
             frames("t", {"b": 0.5, "h": 0.45, "": 0.05}, "e cat"), frames({"": 0.99}),
             frames('it costs £5, he said. "Then tea?"'), frames("the cat"),  # a text two lines share
             *(rng.dirichlet(np.full(CHARSET.num_classes, 0.05), size=n) for n in (40, 90, 7))]
    for width, margin in ((1, None), (25, None), (100, 8.0), (100, 0.5)):
        together = word_beam_search_many(lines, CHARSET, lexicon, beam_width=width, margin=margin)
        assert together == [word_beam_search(p, CHARSET, lexicon, beam_width=width, margin=margin)
                            for p in lines]
    assert [r.text for r in together[:3]] == ["the cat sat on the mat", "", "the cat"]


def test_a_forked_process_searches_on_threads_of_its_own(lexicon):
    """A worker forked after its parent has decoded (a prefork server) has none of the parent's
    search threads: it must start its own, not wait on them for ever."""
    lines = [frames("the cat sat on the mat"), frames("he said it costs a lot")]
    expected = [r.text for r in word_beam_search_many(lines, CHARSET, lexicon)]
    fork = multiprocessing.get_context("fork")
    answer = fork.Queue()
    child = fork.Process(target=lambda: answer.put(
        [r.text for r in word_beam_search_many(lines, CHARSET, lexicon)]))
    child.start()
    try:
        assert answer.get(timeout=60) == expected == ["the cat sat on the mat", "he said it costs a lot"]
    finally:
        child.join(5)
        child.kill()


def test_extra_corpus_lines_add_words_and_bigrams():
    lex = Lexicon.build(iam_dir=None, iam_lines=["the cat sat."], size=500,
                        extra_lines=["Simmonds tells me", "Simmonds tells all"])
    assert "simmonds" in lex and lex.meta["corpus_lines"] == 3
    assert lex.score_text("Simmonds tells") > lex.score_text("tells Simmonds")


def test_each_word_carries_its_share_of_the_final_beams(lexicon):
    # "cat" / "mat" is a toss-up in the frames; "the" and "sat" are clear. The word's posterior
    # among the final beams says so, apart from how sure each of its frames was.
    probs = frames("the ", {"c": 0.5, "m": 0.45, "": 0.05}, "at sat")
    r = word_beam_search(probs, CHARSET, lexicon)
    the, animal, sat = r.words()
    assert animal.text in ("cat", "mat")
    assert the.posterior > 0.9 and sat.posterior > 0.9
    assert 0.2 < animal.posterior < 0.8
    # The word's confidence is the smaller of its posterior and its frames' probabilities.
    assert animal.confidence <= animal.posterior
