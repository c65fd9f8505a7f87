"""Understanding a read text (htr.insights): key phrases in the text's language, and dates,
amounts of money, phone numbers, e-mail addresses and URLs with their exact place in the text and
a normalised value; on realistic letters, on recognised text with its errors, in English and
French; then the same in the JSON of a real read, the CLI and the web page."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from htr.insights import InsightsError, entities, key_phrases, understand

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "shipped"

LETTER = """Kew, Thursday 3rd of March 1887
Dear Mr Smith,
I write to tell you that the orchid seeds from the botanical garden at
Calcutta arrived safely, and that the box cost £2.10s with the carriage.
Should you wish to speak to me, ring +44 20 7946 0958 or write to
j.smith@example.org; the catalogue is at www.kew.org/catalogue.
Our next meeting is on 3/4/21 at the Herbarium.
"""
# As the model reads a letter: words misspelt, letters dropped or swapped.
MISREAD = """Thursday 3rd of March 1887
Dear Sir, I recieved yuor lettre and tbe box of seeds wich cost £2.10s
and I may send the second one now. It came on 3/4/21, ring
+44 20 7946 0958 or j.smith@example.org."""
LETTRE = """Paris, le 3 mars 1887
Monsieur, je vous écris pour vous dire que les graines du jardin botanique
sont bien arrivées. La caisse a coûté 12,50 € avec le port de 3 francs.
Appelez le 01 42 68 53 00 ou écrivez à j.dupont@example.fr avant le 1er mai 1887 à 14h30."""


def found(text: str, language: str = "en") -> dict[str, object]:
    """Each entity's text -> (kind, value), after checking that its offsets give its text."""
    out = {}
    for e in entities(text, language):
        assert text[e.start:e.end] == e.text, e
        out[e.text] = (e.kind, e.value)
    return out


def test_a_letter_gives_its_date_money_phone_email_and_url_with_their_values():
    assert found(LETTER) == {
        "Thursday 3rd of March 1887": ("date", "1887-03-03"),
        "£2.10s": ("money", {"amount": 2.5, "currency": "GBP"}),  # £2 10s: 2 + 10/20 pounds
        "+44 20 7946 0958": ("phone", "+442079460958"),
        "j.smith@example.org": ("email", "j.smith@example.org"),
        "www.kew.org/catalogue": ("url", "http://www.kew.org/catalogue"),
        "3/4/21": ("date", "2021-04-03"),  # day first, as a British hand writes it
    }


def test_recognised_text_with_errors_still_gives_its_entities_and_no_silly_dates():
    assert found(MISREAD) == {
        "Thursday 3rd of March 1887": ("date", "1887-03-03"),
        "£2.10s": ("money", {"amount": 2.5, "currency": "GBP"}),
        "3/4/21": ("date", "2021-04-03"),
        "+44 20 7946 0958": ("phone", "+442079460958"),
        "j.smith@example.org": ("email", "j.smith@example.org"),
    }  # "may", "second", "now" are words here, not dates


@pytest.mark.parametrize("sentence", [
    "I will come now, may I? The second one is 12 and then 1887 were there.",
    "I may 12 times have told you to march 2 miles a day.",
    "We went to the market and bought 3 loaves of bread for the children on the second day.",
    "tbe lettr was writen in may and I saw 2 of them at 4 oclock, yesterday or tomorrow",
    "Recieved yuor lettre of 12th Febuary wich I answer at once.",
    "see page 48 March and the note",  # not the year 2048
    "Je vous remercie de votre lettre et des 2 livres que vous m'avez envoyés.",
])
def test_ordinary_sentences_hold_no_entity(sentence):
    assert found(sentence, "fr" if sentence.startswith("Je") else "en") == {}


def test_a_french_letter_is_read_in_french():
    assert found(LETTRE, "fr") == {
        "3 mars 1887": ("date", "1887-03-03"),
        "12,50 €": ("money", {"amount": 12.5, "currency": "EUR"}),
        "3 francs": ("money", {"amount": 3, "currency": "FRF"}),
        "01 42 68 53 00": ("phone", "+33142685300"),  # a French number without +33
        "j.dupont@example.fr": ("email", "j.dupont@example.fr"),
        "1er mai 1887 à 14h30": ("date", "1887-05-01T14:30"),
    }


@pytest.mark.parametrize("text, kind, value", [
    ("Paid £2 10s 6d for it", "money", {"amount": 2.525, "currency": "GBP"}),
    ("the carriage 5s. 6d. was paid", "money", {"amount": 0.275, "currency": "GBP"}),
    ("a bill of £12.10.6 in all", "money", {"amount": 12.525, "currency": "GBP"}),
    ("a bill of £1/5/- in all", "money", {"amount": 1.25, "currency": "GBP"}),
    ("it cost £3.50 in all", "money", {"amount": 3.5, "currency": "GBP"}),
    ("price 1,200 € in all", "money", {"amount": 1200, "currency": "EUR"}),
    ("Call me on the 5th of May 1887 at 3 pm.", "date", "1887-05-05T15:00"),
    ("See you on 3 March.", "date", "--03-03"),  # no year written: ISO 8601's --MM-DD
    ("We left in March 1887 for India.", "date", "1887-03"),
    ("I came on\nthe 3rd of May 188I to see", "date", "--05-03"),  # the year misread
    ("Kew, Dec 29th, 1881", "date", "1881-12-29"),  # month first, as English letters also write
    ("Kew Sept. 4/81.", "date", "1981-09-04"),  # two-digit years as Python reads them
    ("Come at 10:30 please.", "time", "10:30"),
    ("Ring 020 7946 0958 today", "phone", "+442079460958"),
    ("Write to J.Smith@Example.ORG.", "email", "j.smith@example.org"),
    ("See https://example.org/letters?id=3.", "url", "https://example.org/letters?id=3"),
])
def test_each_kind_is_normalised(text, kind, value):
    (entity,) = entities(text)
    assert (entity.kind, entity.value) == (kind, value)
    assert text[entity.start:entity.end] == entity.text


def test_offsets_count_characters_across_lines_and_accents():
    text = "Émile écrit:\nle 3 mars 1887, 12,50 €"
    spans = {e.text: (e.start, e.end) for e in entities(text, "fr")}
    assert spans == {"3 mars 1887": (16, 27), "12,50 €": (29, 36)}


def test_key_phrases_are_few_and_occur_in_the_text_in_its_language():
    for text, language in ((LETTER, "en"), (LETTRE, "fr"), (MISREAD, "en")):
        result = understand(text, language)
        assert 1 <= len(result.key_phrases) <= 5
        for phrase in result.key_phrases:
            assert text[phrase.start:phrase.end] == phrase.text
            # none is part of an entity (the entities are shown as such)
            assert all(phrase.end <= e.start or phrase.start >= e.end for e in result.entities)
    english = " ".join(k.text for k in understand(LETTER).key_phrases)
    assert "botanical garden" in english
    french = [k.text.lower() for k in key_phrases(LETTRE, "fr")]
    assert any("jardin" in k for k in french)
    assert not any(k in ("vous", "pour", "que") for k in french)  # French stop words left out


def test_insights_as_json_and_unknown_languages():
    assert understand("", "fr").to_dict() == {"language": "fr", "key_phrases": [], "entities": []}
    # a page read without a lexicon is understood in English
    assert understand("Ring +44 20 7946 0958", None).language == "en"
    data = json.loads(json.dumps(understand(LETTER).to_dict()))
    assert data["entities"][0] == {"kind": "date", "text": "Thursday 3rd of March 1887",
                                   "start": 5, "end": 31, "value": "1887-03-03"}
    with pytest.raises(InsightsError, match="en, fr"):
        understand("Hallo", "de")


def test_the_cli_prints_the_insights_of_a_text_file(tmp_path):
    letter = tmp_path / "letter.txt"
    letter.write_text(LETTER, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "htr", "insights", "--format", "json", str(letter)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    (entry,) = json.loads(run.stdout)
    assert entry["file"] == str(letter) and entry["language"] == "en"
    assert {e["value"] for e in entry["entities"] if e["kind"] == "phone"} == {"+442079460958"}
    run = subprocess.run([sys.executable, "-m", "htr", "insights", str(letter)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "'£2.10s' -> 2.5 GBP" in run.stdout and re.search(r"date .*1887-03-03", run.stdout)


# --- in a real read: the API's JSON, the results page, a browser -------------------------------

def drawn_letter(path: Path) -> Path:
    """A small page of three printed lines with a date in the middle one (printed, so that the
    model reads it well enough to find the date: it reads 1887 as 188I, which still leaves
    "3rd of May")."""
    import cv2
    import numpy as np

    rows = [np.full((40, 760), 255, np.uint8)]
    for text in ("Dear Sir, I came on", "the 3rd of May 1887", "to see the garden"):
        line = np.full((64, 760), 255, np.uint8)
        cv2.putText(line, text, (40, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 20, 2, cv2.LINE_AA)
        rows += [line, np.full((30, 760), 255, np.uint8)]
    cv2.imwrite(str(path), np.vstack(rows))
    return path


@pytest.fixture(scope="module")
def app():
    from app import create_app

    return create_app({"TESTING": True})


@pytest.fixture(scope="module")
def read_letter(app, tmp_path_factory):
    """The API's answer for the drawn letter, read in English."""
    image = drawn_letter(tmp_path_factory.mktemp("letter") / "letter.png")
    r = app.test_client().post("/api/v1/read", data={
        "file": (image.open("rb"), "letter.png"), "language": "en"})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    return image, r.get_json()


@pytest.mark.slow
def test_the_json_of_a_read_holds_its_insights_and_fits_the_openapi_schema(app, read_letter,
                                                                          openapi):
    import jsonschema

    _, body = read_letter
    schema = {"$ref": "#/components/schemas/Page", "components": openapi["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)
    insights = body["insights"]
    assert insights["language"] == "en"
    dates = [e for e in insights["entities"] if e["kind"] == "date"]
    assert dates and dates[0]["value"] in ("1887-05-03", "--05-03")  # its year may be misread
    for item in insights["entities"] + insights["key_phrases"]:
        assert body["text"][item["start"]:item["end"]] == item["text"]
    assert insights["key_phrases"]  # "garden", "Dear Sir"...
    # The real handwriting of a fixture line too, read while the request waits.
    r = app.test_client().post("/api/v1/read", data={
        "file": ((FIXTURES / "line-iam-ondb-a01-020w-02.png").open("rb"), "line.png")})
    line = r.get_json()
    jsonschema.Draft202012Validator(schema).validate(line)
    assert all(line["text"][k["start"]:k["end"]] == k["text"]
               for k in line["insights"]["key_phrases"])


@pytest.mark.slow
def test_the_results_page_shows_the_panel_and_the_browser_marks_the_date(app, read_letter,
                                                                          browser, tmp_path):
    from playwright.sync_api import expect

    from conftest import served

    image, body = read_letter
    with served(app) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/")
        page.get_by_label("Images to read").set_input_files(str(image))
        page.get_by_label("Language").select_option("en")
        page.get_by_role("button", name="Read", exact=True).click()
        page.wait_for_selector(".result", timeout=120_000)
        panel = page.locator(".insights")
        expect(panel.get_by_role("heading", name="Understanding")).to_be_visible()
        expect(panel.locator(".key-phrases li").first).to_be_visible()
        entry = panel.locator(".entities li[data-kind=date]").first
        expect(entry.locator(".kind")).to_have_text("Date")
        # The date is marked in the text itself, saying what it is in words, not colour alone:
        # one mark, or one per word where the words are shown apart (a doubtful one).
        marks = page.locator(".lines li[data-line='1'] mark.entity[data-kind=date]")
        mark = marks.first
        expect(mark).to_be_visible()
        expect(mark).to_have_attribute("title", re.compile(r"^date: (1887-05-03|--05-03)$"))
        expect(marks.last.locator(".entity-note")).to_have_text(re.compile(r"\(date: .*05-03\)"))
        expect(marks.last.locator(".entity-label")).to_have_text("date")
        # The marks hold the date's words, and nothing else (besides the screen reader's
        # "(uncertain)" after a doubtful word among them).
        date = next(e for e in body["insights"]["entities"] if e["kind"] == "date")
        shown = marks.evaluate_all(
            "ms => ms.map(m => { const c = m.cloneNode(true);"
            " c.querySelectorAll('.entity-label, .entity-note, .sr-only').forEach(e => e.remove());"
            " return c.textContent; }).join(' ')")
        assert " ".join(shown.split()) == date["text"]
        entry.locator("a").click()  # the list's link takes the focus to the mark
        expect(mark).to_be_focused()
        page.screenshot(path=str(tmp_path / "insights.png"), full_page=True)
        assert not errors, errors
