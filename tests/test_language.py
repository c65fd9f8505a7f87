"""Reading in English or French: a lexicon per language, and ``auto`` picking the one a reading
fits best."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from htr.errors import ModelError
from htr.lexicon import Lexicon, best_language
from htr.recognizer import Recognizer
from htr.text import Charset

ENGLISH = ["the", "cat", "sat", "on", "mat", "and", "a", "letter", "of", "his", "house"]
FRENCH = ["le", "chat", "est", "sur", "la", "table", "et", "une", "lettre", "de", "sa", "maison"]


def written(text: str, charset: Charset) -> np.ndarray:
    """Per-frame probabilities of ``text`` written clearly, a blank frame after each character."""
    rows = []
    for ch in text:
        for cls in (charset.encode(ch)[0], Charset.BLANK):
            row = np.full(charset.num_classes, 1e-4)
            row[cls] = 1.0
            rows.append(row / row.sum())
    return np.array(rows)


@pytest.fixture(scope="module")
def bilingual(tiny_model_dir, tmp_path_factory):
    """The tiny model's folder with an English and a French lexicon beside it."""
    folder = tmp_path_factory.mktemp("bilingual")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    Lexicon.from_words(ENGLISH).save(folder / "lexicon.npz")
    Lexicon.from_words(FRENCH).save(folder / "lexicon-fr.npz")
    return folder


def test_auto_picks_the_language_the_reading_fits(bilingual):
    recognizer = Recognizer.load(bilingual, "wordbeam", language="auto")
    assert recognizer.language == "auto" and sorted(recognizer.by_language) == ["en", "fr"]
    english = [written("the cat sat on the mat", recognizer.charset)]
    french = [written("le chat est sur la table", recognizer.charset),
              written("et une lettre de sa maison", recognizer.charset)]
    assert recognizer.choose_language(english) == "en"
    assert recognizer.choose_language(french) == "fr"
    readings, language = recognizer.decode_text(french)
    assert language == "fr" and [r.text for r in readings] == ["le chat est sur la table",
                                                                "et une lettre de sa maison"]
    # One line alone picks its own language too.
    assert recognizer.decode(english[0]).text == "the cat sat on the mat"


def test_several_texts_decoded_at_once_each_keep_their_own_language(bilingual):
    """A folder of line images is decoded in one go: each image still picks its language."""
    recognizer = Recognizer.load(bilingual, "wordbeam", language="auto")
    texts = [[written("the cat sat on the mat", recognizer.charset)],
             [written("le chat est sur la table", recognizer.charset),
              written("et une lettre de sa maison", recognizer.charset)],
             [written("a letter of his house", recognizer.charset)]]
    together = recognizer.decode_texts(texts)
    assert [language for _, language in together] == ["en", "fr", "en"]
    for (recs, language), text in zip(together, texts):
        alone, alone_language = recognizer.decode_text(text)
        assert language == alone_language
        assert [(r.text, r.confidence) for r in recs] == [(r.text, r.confidence) for r in alone]


def test_texts_marked_as_words_are_decoded_with_the_words_gap_shift_beside_the_lines(bilingual):
    """Word images and lines decoded in one go: each word image as ``reading_words`` reads it,
    each line as a line in its own language."""
    # A blank that wins every frame of a line reads nothing; words read with no shift.
    recognizer = Recognizer.load(bilingual, "wordbeam", language="auto",
                                 wordbeam_gap_offset=30.0, wordbeam_word_gap_offset=0.0)
    texts = [[written("maison", recognizer.charset)], [written("the cat sat on the mat", recognizer.charset)]]
    together = recognizer.decode_texts(texts, as_words=[True, False])
    assert [(recs[0].text, language) for recs, language in together] == [("maison", "fr"), ("", "en")]
    assert recognizer.decode_text(texts[0], as_word=True)[0][0].text == "maison"
    assert recognizer.decode_text(texts[0])[0][0].text == ""


def test_word_images_read_together_share_the_language_that_fits_them_all(bilingual):
    """One word says little of its language; the word images of one call are read in the
    language of them all, while a word alone and each line keep their own."""
    recognizer = Recognizer.load(bilingual, "wordbeam", language="auto")
    words = [[written(w, recognizer.charset)] for w in ("maison", "chat", "une", "letter")]
    line = [written("a letter of his house", recognizer.charset)]
    together = recognizer.decode_texts(words + [line], as_words=[True] * 4 + [False])
    assert [language for _, language in together] == ["fr"] * 4 + ["en"]
    assert recognizer.decode_text(words[3], as_word=True)[1] == "en"
    assert together[0][0][0].text == "maison"


def test_a_language_given_by_hand_is_used_as_it_is(bilingual):
    french = Recognizer.load(bilingual, "wordbeam", language="fr")
    assert french.language == "fr" and not french.by_language
    assert french.choose_language([written("the cat sat", french.charset)]) == "fr"
    assert "maison" in french.lexicon and "house" not in french.lexicon


def test_a_missing_lexicon_is_named_with_the_command_that_builds_it(tiny_model_dir):
    with pytest.raises(ModelError, match=r"no lexicon for the wordbeam decoder in French.*htr.lexicon build --language fr"):
        Recognizer.load(tiny_model_dir, "wordbeam", language="fr")
    # auto with a single lexicon (here the shipped English one) simply uses it
    assert Recognizer.load(tiny_model_dir, language="auto").language == "en"
    with pytest.raises(ValueError, match="unknown language"):
        Recognizer.load(tiny_model_dir, language="de")


def test_the_french_lexicon_lists_elided_words():
    lexicon = Lexicon.build(size=3000, iam_dir=None, language="fr",
                            extra_lines=["Il a pris l'avion jusqu'à Montréal."])
    assert lexicon.meta["language"] == "fr"
    for word in ["maison", "l'homme", "qu'il", "d'une", "montréal", "jusqu'à"]:
        assert word in lexicon, word
    home = lexicon.unigram[lexicon.word_id("homme")]
    assert lexicon.unigram[lexicon.word_id("l'homme")] < home  # rarer than the word alone


def test_a_french_letter_weighs_for_french_where_the_words_cannot_tell():
    lexicons = {"en": Lexicon.from_words(ENGLISH + ["cafe"]), "fr": Lexicon.from_words(FRENCH)}
    # Words alone: misread words fit no lexicon, the English ones decide.
    assert best_language(["the cat sat zqx"], lexicons) == "en"
    # Misread words everywhere: an accent (or guillemets) tips it to French.
    assert best_language(["zqx vbnm café"], lexicons) == "fr"
    assert best_language(["« zqx vbnm »"], lexicons) == "fr"
    # A stray accent in a line of known English words does not (the network misreads "a" as "à").
    assert best_language(["the cat sat à"], lexicons) == "en"
    # Only where French is offered.
    assert best_language(["zqx vbnm café"], {"en": lexicons["en"]}) == "en"
