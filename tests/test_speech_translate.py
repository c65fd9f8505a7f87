"""Listen and translate, in the library: real espeak-ng speaks a text as a WAV whose length fits
the text, in the text's language; real Apertium translates English and French line by line.
(The web API's routes: tests/test_language_tools_api.py.)"""

from __future__ import annotations

import io
import json
import wave

import pytest

from htr import speech, translate

ENGLISH = "The letter came on Thursday, with the news from London."
FRENCH = "La lettre est arrivée jeudi, avec les nouvelles de Paris."


def wav_params(data: bytes) -> wave._wave_params:
    with wave.open(io.BytesIO(data)) as w:
        return w.getparams()


# --- speech -----------------------------------------------------------------------------------

def test_a_text_is_spoken_as_a_wav_whose_length_fits_the_text():
    short = speech.speak("Dear John,", "en")
    long = speech.speak(ENGLISH + " " + ENGLISH, "en")
    params = wav_params(long)
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, 22050)
    # The header's lengths are the true ones (espeak-ng streams a placeholder).
    assert params.nframes * 2 + 44 == len(long)
    for text, wav in (("Dear John,", short), (ENGLISH + " " + ENGLISH, long)):
        seconds = speech.duration(wav)
        assert 0.03 * len(text) <= seconds <= 0.3 * len(text), (text, seconds)
    assert speech.duration(long) > 3 * speech.duration(short)


def test_french_is_spoken_by_the_french_voice():
    assert speech.voice_for("fr") == "fr-fr" and speech.voice_for("en") == "en-gb"
    french, as_english = speech.speak(FRENCH, "fr"), speech.speak(FRENCH, "en")
    assert 0.03 * len(FRENCH) <= speech.duration(french) <= 0.3 * len(FRENCH)
    assert french != as_english  # the same letters, pronounced another way
    assert speech.voice_for(None) == "en-gb"  # a page read without a language: English


def test_a_slower_rate_takes_longer():
    assert speech.duration(speech.speak(ENGLISH, "en", rate=100)) > \
        1.4 * speech.duration(speech.speak(ENGLISH, "en", rate=200))


def test_text_past_the_limit_and_bad_requests_get_clear_errors():
    with pytest.raises(speech.SpeechError, match="3,001 characters long: at most 3,000") as err:
        speech.speak("a" * 3001, "en")
    assert err.value.code == "too_long"
    with pytest.raises(speech.SpeechError) as err:
        speech.speak("Dear John", "en", max_characters=5)
    assert err.value.code == "too_long"
    for kwargs, code in (({"text": "  \n"}, "empty"), ({"text": "Hi", "language": "xx"}, "no_voice"),
                         ({"text": "Hi", "rate": 5}, "invalid_rate")):
        with pytest.raises(speech.SpeechError) as err:
            speech.speak(**kwargs)
        assert err.value.code == code


def test_without_espeak_ng_it_says_why():
    status = speech.available("no-such-espeak-ng")
    assert not status.available and "not installed" in status.reason
    with pytest.raises(speech.SpeechError, match="not installed") as err:
        speech.speak("Hello", "en", command="no-such-espeak-ng")
    assert err.value.code == "unavailable"
    here = speech.available()
    assert here.available and here.version and here.reason is None


# --- translation ------------------------------------------------------------------------------

def test_the_installed_pairs_are_offered_by_their_iso_codes():
    status = translate.available()
    assert status.available
    assert {("en", "es"), ("fr", "es"), ("en", "ca"), ("fr", "ca")} <= {
        (p.source, p.target) for p in status.pairs}
    assert translate.targets("en") == ["ca", "es"] and translate.targets("fr") == ["ca", "es"]
    assert translate.targets("eng") == ["ca", "es"]  # Apertium's own code is understood too
    assert translate.targets("de") == [] and translate.targets(None) == []


def test_english_to_spanish_keeps_the_lines_and_is_marked_as_machine_translation():
    text = "The cat is on the table.\nMy brother lives in the house\n\nwith the red door."
    result = translate.translate(text, "en", "es")
    assert len(result.lines) == 4 and result.lines[2] == ""
    assert result.text == "\n".join(result.lines) and result.text != text
    assert "gato" in result.lines[0] and "mesa" in result.lines[0]
    assert "hermano" in result.text and "casa" in result.text
    data = result.to_dict()
    assert data["machine_translation"] is True and data["engine"] == "apertium"
    assert data["note"] == "Machine translation (Apertium)"
    assert (data["source"], data["target"], data["mode"]) == ("en", "es", "eng-spa")


def test_french_to_spanish():
    result = translate.translate("Le chat est sur la table.\nMon frère habite à Paris.", "fr", "es")
    assert len(result.lines) == 2 and result.text != "Le chat est sur la table.\nMon frère habite à Paris."
    assert "gato" in result.lines[0] and "hermano" in result.lines[1]


def test_no_pair_too_long_and_no_apertium_get_clear_errors():
    with pytest.raises(translate.TranslationError, match=r"to German \(de\).*Spanish \(es\)") as err:
        translate.translate("Hello", "en", "de")
    assert err.value.code == "not_offered"
    with pytest.raises(translate.TranslationError, match="No translation from") as err:
        translate.translate("Guten Tag", "de", "es")
    assert err.value.code == "not_offered"
    with pytest.raises(translate.TranslationError) as err:
        translate.translate("a" * 101, "en", "es", max_characters=100)
    assert err.value.code == "too_long"
    status = translate.available("no-such-apertium")
    assert not status.available and "not installed" in status.reason
    assert translate.targets("en", "no-such-apertium") == []
    with pytest.raises(translate.TranslationError) as err:
        translate.translate("Hello", "en", "es", command="no-such-apertium")
    assert err.value.code == "unavailable"


# --- the command line -------------------------------------------------------------------------

def test_cli_speaks_texts_and_files_into_one_wav(tmp_path, capsys):
    from htr.cli import main

    letter = tmp_path / "letter.txt"
    letter.write_text(FRENCH + "\n", encoding="utf-8")
    out = tmp_path / "out.wav"
    assert main(["speak", "Dear John,", str(letter), "--language", "fr", "-o", str(out)]) == 0
    seconds = speech.duration(out.read_bytes())
    chars = len("Dear John,") + len(FRENCH)
    assert 0.03 * chars <= seconds <= 0.3 * chars
    assert f"{seconds:.1f} s of speech" in capsys.readouterr().err
    assert main(["speak", "x" * 3001, "-o", str(out)]) == 2
    assert "at most 3,000" in capsys.readouterr().err


def test_cli_translates_line_by_line_and_says_it_is_machine_translation(tmp_path, capsys):
    from htr.cli import main

    assert main(["translate", "--to", "es", "The cat is on the table.\nMy brother is here."]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2 and "gato" in lines[0] and "hermano" in lines[1]
    assert "Machine translation (Apertium), English to Spanish" in captured.err
    letter = tmp_path / "lettre.txt"
    letter.write_text("Le chat est sur la table.", encoding="utf-8")
    assert main(["translate", "--from", "fr", "--to", "es", "--format", "json", str(letter)]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["file"] == str(letter) and entry["machine_translation"] is True
    assert "gato" in entry["text"]
    assert main(["translate", "--list"]) == 0
    assert "en -> es  (English to Spanish, apertium eng-spa)" in capsys.readouterr().out
    assert main(["translate", "--to", "de", "Hello"]) == 2
    assert "Spanish (es)" in capsys.readouterr().err
