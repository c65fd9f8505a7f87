"""Listen and translate through the web API (Flask's test client, real espeak-ng and Apertium):
``POST /api/v1/speak`` answers a WAV that fits the text, ``POST /api/v1/translate`` a
translation marked as machine translation, ``GET /api/v1/translate`` and ``/healthz`` what is
installed; past the limits, with no pair, or with the programs missing, a clear JSON error as
openapi.json documents it."""

from __future__ import annotations

import io
import wave

import pytest

from test_app import assert_error, validate

SETTINGS = {"TESTING": True, "HTR_DECODERS": ["greedy"], "HTR_TESSERACT": False,
            "HTR_WARMUP": False, "HTR_BACKGROUND_LOAD": False, "HTR_JOBS": False}


@pytest.fixture(scope="module")
def app(tiny_model_dir):
    from app import create_app

    return create_app({**SETTINGS, "HTR_MODEL": str(tiny_model_dir), "HTR_SPEECH_MAX_CHARS": 200})


@pytest.fixture(scope="module")
def bare_client(tiny_model_dir):
    """An app on a server where neither espeak-ng nor Apertium is installed."""
    from app import create_app

    return create_app({**SETTINGS, "HTR_MODEL": str(tiny_model_dir),
                       "HTR_ESPEAK_CMD": "/nonexistent/espeak-ng",
                       "HTR_APERTIUM_CMD": "/nonexistent/apertium"}).test_client()


def seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as w:
        return w.getnframes() / w.getframerate()


def test_speak_answers_a_wav_of_the_text_in_its_language(client):
    text = "My dear Hooker, the plants arrived in good order."
    r = client.post("/api/v1/speak", json={"text": text, "language": "en"})
    assert r.status_code == 200 and r.content_type == "audio/wav"
    assert 0.03 * len(text) <= seconds(r.data) <= 0.3 * len(text)
    # A form works too (curl -d), and French is spoken by the French voice: other audio.
    french = "Mon cher ami, les plantes sont bien arrivées."
    fr = client.post("/api/v1/speak", data={"text": french, "language": "fr"})
    en = client.post("/api/v1/speak", data={"text": french, "language": "en"})
    assert fr.status_code == en.status_code == 200 and fr.data != en.data
    assert 0.03 * len(french) <= seconds(fr.data) <= 0.3 * len(french)


def test_speak_past_the_limit_or_without_text_gets_a_clear_error(client, openapi):
    body = assert_error(client.post("/api/v1/speak", json={"text": "a" * 201}), 413,
                        "text_too_long", None)
    validate(openapi, "LanguageError", body)
    assert "201 characters long: at most 200" in body["message"]
    for request, status, code in (({}, 400, "no_text"), ({"text": "   "}, 400, "no_text"),
                                  ({"text": 12}, 400, "invalid_option"),
                                  ({"text": "Hi", "language": "xx"}, 400, "invalid_option"),
                                  ({"text": "Hi", "rate": 1000}, 400, "invalid_option")):
        validate(openapi, "LanguageError",
                 assert_error(client.post("/api/v1/speak", json=request), status, code))


def test_translate_answers_a_machine_translation_line_by_line(client, openapi):
    r = client.post("/api/v1/translate", json={
        "text": "The cat is on the table.\nMy brother is here.", "source": "en", "target": "es"})
    assert r.status_code == 200
    body = r.get_json()
    validate(openapi, "Translation", body)
    assert body["machine_translation"] is True and body["note"] == "Machine translation (Apertium)"
    assert len(body["lines"]) == 2 and "gato" in body["lines"][0] and "hermano" in body["lines"][1]
    fr = client.post("/api/v1/translate", data={"text": "Le chat est sur la table.",
                                                "source": "fr", "target": "es"}).get_json()
    assert "gato" in fr["text"] and fr["source"] == "fr"


def test_translate_errors_say_what_is_offered(client, openapi):
    body = assert_error(client.post("/api/v1/translate", json={
        "text": "Hello", "source": "en", "target": "de"}), 400, "translation_not_offered")
    validate(openapi, "LanguageError", body)
    assert "Spanish (es)" in body["message"]
    for request, status, code in (({"text": "Hello"}, 400, "invalid_option"),
                                  ({"target": "es"}, 400, "no_text"),
                                  ({"text": "a" * 20001, "target": "es"}, 413, "text_too_long")):
        validate(openapi, "LanguageError",
                 assert_error(client.post("/api/v1/translate", json=request), status, code))


def test_the_targets_offered_are_the_pairs_installed(client, openapi):
    listed = client.get("/api/v1/translate").get_json()
    validate(openapi, "Translations", listed)
    assert listed["available"] and listed["targets"]["en"] == ["ca", "es"]
    assert listed["targets"]["fr"] == ["ca", "es"] and listed["names"]["es"] == "Spanish"
    health = client.get("/healthz").get_json()
    validate(openapi, "Health", health)
    assert health["speech"]["available"] and health["speech"]["max_characters"] == 200
    assert health["translation"]["targets"] == listed["targets"]


def test_without_espeak_ng_or_apertium_the_api_says_why(bare_client, openapi):
    body = assert_error(bare_client.post("/api/v1/speak", json={"text": "Hello"}), 503,
                        "speech_unavailable")
    validate(openapi, "LanguageError", body)
    assert "espeak-ng is not installed" in body["message"]
    body = assert_error(bare_client.post("/api/v1/translate", json={
        "text": "Hello", "target": "es"}), 503, "translation_unavailable")
    assert "apertium is not installed" in body["message"]
    health = bare_client.get("/healthz").get_json()
    validate(openapi, "Health", health)
    assert health["speech"]["available"] is False and "espeak-ng" in health["speech"]["reason"]
    assert health["translation"] == {**health["translation"], "available": False, "targets": {}}
    assert bare_client.get("/api/v1/translate").get_json()["available"] is False


def controls(app, language: str | None) -> str:
    """The Listen and Translate controls of a page read in ``language`` (the partial the
    results page includes for each page)."""
    from flask import render_template

    from web import info

    page = {"text": "Dear John\nthe plants", "language": language,
            "lines": [{"text": "Dear John"}, {"text": "the plants"}]}
    with app.test_request_context("/read"):
        return render_template("_listen_translate.html", r={"page": page}, i=1, info=info(app))


def test_the_page_offers_listen_and_only_the_translations_installed(app, bare_client):
    html = controls(app, "fr")
    assert '<button type="button" class="listen-page"' in html and "Listen to the page" in html
    assert "spoken in French" in html and 'data-language="fr"' in html
    assert 'data-lines=\'["Dear John", "the plants"]\'' in html
    assert '<label for="r1-translate-to">Translate into</label>' in html
    assert '<option value="es">Spanish</option>' in html and '<option value="ca">Catalan</option>' in html
    assert "Machine translation (Apertium)" in html
    assert "Translate into" not in controls(app, "de")  # no pair from German: no Translate
    assert "Listen to the page" in controls(app, "de")
    assert controls(bare_client.application, "en").strip() == ""  # neither installed: nothing


def test_a_document_page_offers_listening_to_the_whole_document(app, bare_client):
    from flask import render_template

    from web import info

    def render(application, done: int, failed: int) -> str:
        with application.test_request_context("/jobs/abc"):
            return render_template(
                "_listen_document.html", info=info(application), number=2,
                job={"pages_done": done, "pages_failed": failed},
                downloads={"json": {"url": "/api/v1/jobs/abc/result?format=json"}})

    html = render(app, 3, 1)
    assert '<button type="button" class="listen-document-go">Listen to the whole document</button>' in html
    assert 'data-result-url="/api/v1/jobs/abc/result?format=json"' in html and 'data-page="2"' in html
    assert render(app, 2, 2).strip() == ""  # no page read: nothing to hear
    assert render(bare_client.application, 3, 0).strip() == ""  # no espeak-ng: no button
