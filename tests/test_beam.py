"""CTC prefix beam search (pyctcdecode with the lexicon's language model), the decoders behind one
interface, and the confidence calibration, on hand-made probability matrices with known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from test_wordbeam import CHARSET, WORDS, frames  # noqa: E402

from htr.beam import BeamDecoder, LexiconLM, _split  # noqa: E402
from htr.decode import (CALIBRATION_FILE, DECODERS, DEFAULT_DECODER, Calibration,  # noqa: E402
                        FIRST_WORD_FEATURES, WORD_FEATURES, WordConfidence, greedy_decode,
                        model_fingerprint)
from htr.lexicon import Lexicon  # noqa: E402
from htr.results import CharSpan, Recognition  # noqa: E402
from htr.wordbeam import word_beam_search  # noqa: E402


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.from_words([f"{w}\t{100 if w == 'the' else 10}" for w in WORDS])


try:
    import pyctcdecode  # noqa: F401  (installed with --no-deps: it declares numpy<2)
except ImportError:
    pyctcdecode = None
needs_pyctcdecode = pytest.mark.skipif(pyctcdecode is None, reason="pyctcdecode is not installed")


@pytest.fixture(scope="module")
def beam(lexicon) -> BeamDecoder:
    if pyctcdecode is None:
        pytest.skip("pyctcdecode is not installed")
    return BeamDecoder(CHARSET, lexicon, beam_width=25)


def test_clear_line_with_alignment(beam):
    probs = frames("the cat sat on the mat")
    r = beam.decode(probs)
    assert r.text == "the cat sat on the mat"
    assert len(r.chars) == len(r.text) and r.confidence > 0.8
    assert all(c.start < c.end <= len(probs) for c in r.chars)
    assert [c.start for c in r.chars] == sorted(c.start for c in r.chars)
    words = r.words()
    assert [w.text for w in words] == r.text.split() and all(w.confidence > 0.8 for w in words)


def test_ambiguous_character_pulled_to_lexicon_word(beam):
    probs = frames("t", {"b": 0.5, "h": 0.45, "": 0.05}, "e cat")
    assert greedy_decode(probs, CHARSET).text == "tbe cat"
    r = beam.decode(probs)
    assert r.text == "the cat"
    assert r.words()[0].confidence < 0.6  # the guessed letter reads as uncertain


def test_clear_out_of_lexicon_words_survive(beam):
    for text in ("Zbigniew said", "Xqt said", "it costs 1962 then"):
        assert beam.decode(frames(text)).text == text


def test_punctuation_digits_and_case(beam):
    for text in ('it costs £5, he said. "Then tea?"', "The cat", "THE CAT", "tHe cat",
                 "the cat's mat-money"):
        assert beam.decode(frames(text)).text == text


def test_empty_and_blank(beam):
    assert beam.decode(np.zeros((0, CHARSET.num_classes))).text == ""
    r = beam.decode(frames({"": 0.99}, {"": 0.99}))
    assert r.text == "" and r.chars == ()


@needs_pyctcdecode
def test_without_lexicon_is_plain_prefix_beam_search():
    d = BeamDecoder(CHARSET, None)
    probs = frames("t", {"b": 0.5, "h": 0.45, "": 0.05}, "e cat")
    assert d.decode(probs).text == "tbe cat"  # no language model: the network's best reading


@needs_pyctcdecode
def test_prefix_search_sums_paths_that_best_path_splits():
    # Each frame's best class alternates, but 'a' over the frames together is likelier than blank:
    # best path reads "", prefix search reads "a".
    charset = CHARSET
    a = charset.encode("a")[0]
    probs = np.full((2, charset.num_classes), 1e-6)
    probs[:, 0] = 0.55
    probs[:, a] = 0.45
    probs /= probs.sum(1, keepdims=True)
    assert greedy_decode(probs, charset).text == ""
    assert BeamDecoder(charset, None).decode(probs).text == "a"


@needs_pyctcdecode
def test_user_word_list_pulls_unclear_name(tmp_path):
    path = tmp_path / "names.txt"
    path.write_text("Zbigniew\nKowalski\t3\n", encoding="utf-8")
    probs = frames("Zbi", {"q": 0.5, "g": 0.4, "": 0.1}, "niew Kowalski")
    assert BeamDecoder(CHARSET, Lexicon.from_words(path)).decode(probs).text == "Zbigniew Kowalski"


def test_language_model_adapter(lexicon):
    lm = LexiconLM(lexicon)
    assert lm.order == 2 and lm.get_start_state() == lexicon.bos
    known, state = lm.score(lexicon.bos, "the")
    unknown, state2 = lm.score(lexicon.bos, "tbe")
    assert known > unknown and state == lexicon.word_id("the") and state2 == lexicon.unk
    # Punctuation around a word costs, a sentence end resets the context.
    s, st = lm.score(lexicon.bos, '"cat.')
    assert st == lexicon.bos and s < lm.score(lexicon.bos, "cat")[0]
    # Prefixes of lexicon words look better than prefixes of none.
    assert lm.score_partial_token("th") > lm.score_partial_token("tb")
    assert list(_split('"Hello,')) == [("p", '"'), ("w", "Hello"), ("p", ",")]


def test_every_decoder_gives_characters_with_spans(lexicon, beam):
    probs = frames("the cat sat")
    for r in (greedy_decode(probs, CHARSET), beam.decode(probs),
              word_beam_search(probs, CHARSET, lexicon)):
        assert r.text == "the cat sat" and "".join(c.char for c in r.chars) == r.text
        assert [w.text for w in r.words()] == ["the", "cat", "sat"]
    assert set(DECODERS) == {"greedy", "beam", "wordbeam"} and DEFAULT_DECODER in DECODERS


def test_calibration_maps_word_confidence_monotonically():
    cal = Calibration([0.0, 0.5, 0.9, 1.0], [0.1, 0.3, 0.2, 0.95])  # a dip is evened out
    assert cal(0.0) == pytest.approx(0.1) and cal(1.0) == pytest.approx(0.95)
    assert cal(0.9) == pytest.approx(0.3)
    rec = Recognition("ab c", 0.8, (CharSpan("a", 0, 1, 1.0), CharSpan("b", 1, 2, 0.5),
                                    CharSpan(" ", 2, 3, 1.0), CharSpan("c", 3, 4, 0.0)))
    out = cal.apply(rec)
    assert out.text == rec.text
    # A word's calibrated confidence is the map of its raw one (the map is monotone).
    assert [w.confidence for w in out.words()] == pytest.approx([cal(0.5), cal(0.0)])
    with pytest.raises(ValueError):
        Calibration([0.5], [0.5])


def test_word_model_doubts_a_word_the_network_read_otherwise_and_the_lexicon_lacks():
    # Word beam search read "the cat"; the network alone (best path) read "the cot", and
    # "cat" is not in this lexicon: the second word is the doubtful one.
    wordbeam = Recognition("the cat", 0.9, tuple(CharSpan(c, 2 * i, 2 * i + 1, 0.9)
                                                  for i, c in enumerate("the cat")))
    greedy = Recognition("the cot", 0.8, tuple(CharSpan(c, 2 * i, 2 * i + 1, p) for i, (c, p)
                                               in enumerate(zip("the cot", [0.95] * 4 + [0.6] * 3))))
    weights = dict.fromkeys(WORD_FEATURES, 0.0)
    weights.update(greedy_agrees=1.5, in_lexicon=1.5, log_odds_greedy_mean=0.5, bias=-1.0)
    model = WordConfidence([weights[f] for f in WORD_FEATURES])
    out = model.apply(wordbeam, greedy, Lexicon.from_words(["the", "cot"]))
    the, cat = out.words()
    assert the.confidence > 0.5 > cat.confidence
    # Every character of a word carries its word's probability; the space the smaller one.
    assert {c.confidence for c in out.chars if c.char != " "} == {the.confidence, cat.confidence}
    assert out.chars[3].confidence == cat.confidence and out.text == wordbeam.text
    with pytest.raises(ValueError, match="weights"):
        WordConfidence([1.0, 2.0])


def test_word_model_with_a_hidden_layer_learns_how_features_combine(tmp_path):
    # Words read alike by the network alone are right when the lexicon has them and wrong when
    # it does not, and the other way round: no weighted sum of the two features tells them
    # apart; a hidden layer does.
    rng = np.random.default_rng(0)
    x = np.zeros((400, len(WORD_FEATURES)))
    x[:, WORD_FEATURES.index("bias")] = 1.0
    agrees, known = rng.integers(0, 2, (2, 400))
    x[:, WORD_FEATURES.index("greedy_agrees")] = agrees
    x[:, WORD_FEATURES.index("in_lexicon")] = known
    x[:, WORD_FEATURES.index("log_length")] = rng.normal(1.0, 0.5, 400)  # noise
    right = (agrees == known).astype(float)
    logistic = WordConfidence.fit(x, right)
    network = WordConfidence.fit(x, right, hidden=8)
    assert np.mean((logistic.predict(x) > 0.5) == right) < 0.7
    assert np.mean((network.predict(x) > 0.5) == right) > 0.95
    # Saved as a calibration table and loaded back, it predicts the same (to the table's digits).
    (tmp_path / "model.keras").write_bytes(b"weights")
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({
        "model": model_fingerprint(tmp_path / "model.keras"), "decoders": {"wordbeam": network.table()}}))
    loaded = Calibration.load(tmp_path, "wordbeam")
    assert loaded.hidden is not None
    assert np.allclose(loaded.predict(x), network.predict(x), atol=1e-3)
    with pytest.raises(ValueError, match="weights"):
        WordConfidence(network.weights[:-1], [WORD_FEATURES[c] for c in network.columns], network.hidden)


def test_word_model_fitted_from_several_seeds_is_the_mean_of_their_log_odds():
    rng = np.random.default_rng(1)
    x = np.zeros((300, len(WORD_FEATURES)))
    x[:, WORD_FEATURES.index("bias")] = 1.0
    x[:, WORD_FEATURES.index("log_odds_word")] = rng.normal(0.0, 2.0, 300)
    right = (x[:, WORD_FEATURES.index("log_odds_word")] + rng.normal(0.0, 1.0, 300) > 0).astype(float)
    fits = [WordConfidence.fit(x, right, hidden=4, seed=s) for s in (5, 6, 7)]
    merged = WordConfidence.fit(x, right, hidden=4, seed=5, seeds=3)
    log_odds = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert merged.hidden["bias"].shape == (12,)  # one network: the three fits' units side by side
    assert np.allclose(log_odds(merged.predict(x)), np.mean([log_odds(f.predict(x)) for f in fits], 0))
    assert not np.allclose(fits[0].hidden["weights"], fits[1].hidden["weights"])  # seeds differ


def test_calibration_file_is_for_its_weights_only(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"weights")
    table = {"x": [0.0, 1.0], "y": [0.2, 0.9]}
    path = tmp_path / CALIBRATION_FILE
    path.write_text(json.dumps({"model": model_fingerprint(tmp_path / "model.keras"),
                                "decoders": {"wordbeam": table}}))
    assert Calibration.load(tmp_path, "wordbeam")(1.0) == pytest.approx(0.9)
    assert Calibration.load(tmp_path, "beam") is None
    table = {"weights": [0.0] * len(WORD_FEATURES), "features": list(WORD_FEATURES)}
    path.write_text(json.dumps({"model": model_fingerprint(tmp_path / "model.keras"),
                                "decoders": {"wordbeam": table}}))
    assert isinstance(Calibration.load(tmp_path, "wordbeam"), WordConfidence)
    # A table fitted before a feature was added names the features its weights are for.
    old = {"weights": [0.0] * len(FIRST_WORD_FEATURES)}
    path.write_text(json.dumps({"model": model_fingerprint(tmp_path / "model.keras"),
                                "decoders": {"wordbeam": old}}))
    assert Calibration.load(tmp_path, "wordbeam").columns == list(range(len(FIRST_WORD_FEATURES)))
    (tmp_path / "model.keras").write_bytes(b"retrained weights")
    with pytest.warns(UserWarning):
        assert Calibration.load(tmp_path, "wordbeam") is None


def test_recognizer_loads_each_decoder(tiny_model_dir, tmp_path):
    import shutil

    from htr.recognizer import Recognizer

    folder = tmp_path / "m"
    shutil.copytree(tiny_model_dir, folder)
    Lexicon.from_words(WORDS).save(folder / "lexicon.npz")
    for name in DECODERS:
        if name == "beam" and pyctcdecode is None:
            continue
        rec = Recognizer.load(folder, name)
        assert rec.decoder == name
        probs = np.full((6, rec.charset.num_classes), 1.0 / rec.charset.num_classes)
        assert isinstance(rec.decode(probs), Recognition)
    with pytest.raises(ValueError):
        Recognizer.load(folder, "nonsense")
    # A folder without a lexicon: the default decoder borrows the shipped English lexicon, an
    # explicitly named lexicon decoder says how to build one.
    assert Recognizer.load(tiny_model_dir).decoder == DEFAULT_DECODER
    if DEFAULT_DECODER != "greedy":
        from htr.errors import ModelError

        with pytest.raises(ModelError):
            Recognizer.load(tiny_model_dir, DEFAULT_DECODER)
