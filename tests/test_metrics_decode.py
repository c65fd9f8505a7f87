import numpy as np
import pytest

from htr.decode import greedy_decode, one_word, softmax
from htr.metrics import cer, in_reference_order, wer
from htr.text import Charset


def test_cer_and_wer_count_edits_over_reference_length():
    assert cer(["hello"], ["hallo"]) == pytest.approx(1 / 5)
    assert wer(["the cat sat", "on"], ["the bat sat", "on"]) == pytest.approx(1 / 4)
    assert cer(["abc", "de"], ["abc", "de"]) == 0.0


def test_metrics_need_one_hypothesis_per_reference():
    with pytest.raises(ValueError):
        cer(["a", "b"], ["a"])


def test_a_page_read_in_another_line_order_is_scored_in_the_references_order():
    reference = "My dear Dyer\nto day with Holmes I have\nCunliffe Owen about him, but"
    # Read top to bottom where the annotation put two lines the other way round, one misread.
    read = "My dear Dyer\nCunliffe Owen about him, bat\nto day with Holmes I have"
    ordered = in_reference_order(reference, read)
    assert ordered == "My dear Dyer\nto day with Holmes I have\nCunliffe Owen about him, bat"
    assert cer([reference], [ordered]) == pytest.approx(1 / len(reference))
    assert cer([reference], [read]) > 20 / len(reference)


def test_reordering_keeps_every_line_read_and_an_unmatched_one_after_its_neighbour():
    reference = "the first line\nthe second line"
    read = "the second line\nxq\nthe first lime"
    ordered = in_reference_order(reference, read)
    # "xq" matches no line: it stays after the line it followed; nothing is dropped.
    assert ordered == "the first lime\nthe second line\nxq"
    assert sorted(ordered.split("\n")) == sorted(read.split("\n"))
    assert in_reference_order(reference, "") == ""


def frames(charset: Charset, path: str, p: float = 0.9) -> np.ndarray:
    """A probability matrix whose best path spells ``path`` ('-' is the blank)."""
    out = np.full((len(path), charset.num_classes), (1 - p) / (charset.num_classes - 1))
    for t, c in enumerate(path):
        out[t, Charset.BLANK if c == "-" else charset.encode(c)[0]] = p
    return out


def test_greedy_merges_repeats_and_drops_blanks():
    charset = Charset("abdeglo ")
    result = greedy_decode(frames(charset, "--gg-oo-o-dd--"), charset)
    assert result.text == "good"
    assert result.confidence == pytest.approx(0.9)
    assert [(c.char, c.start, c.end) for c in result.chars] == [
        ("g", 2, 4), ("o", 5, 7), ("o", 8, 9), ("d", 10, 12)]


def test_greedy_confidence_follows_the_weakest_characters():
    charset = Charset("ab")
    probs = frames(charset, "a-b")
    probs[2] = [0.3, 0.25, 0.45]  # 'b' barely wins
    result = greedy_decode(probs, charset)
    assert result.text == "ab"
    assert result.confidence == pytest.approx(np.sqrt(0.9 * 0.45))


def test_an_image_known_to_hold_one_word_is_read_without_a_space():
    charset = Charset("dgo ")
    probs = frames(charset, "-go- -od-")
    probs[4, Charset.BLANK] = 0.08  # the space wins that frame, the blank comes second
    assert greedy_decode(probs, charset).text == "go od"
    word = one_word(probs, charset)
    assert greedy_decode(word, charset).text == "good"
    assert np.allclose(word.sum(axis=1), 1.0)


def test_greedy_reads_nothing_from_blank_frames():
    charset = Charset("ab")
    result = greedy_decode(frames(charset, "-----"), charset)
    assert result.text == "" and result.confidence == pytest.approx(0.9)


def test_softmax_rows_sum_to_one():
    p = softmax(np.array([[1000.0, 0.0], [1.0, 1.0]]))
    assert np.allclose(p.sum(axis=1), 1) and p[0, 0] == pytest.approx(1.0)
