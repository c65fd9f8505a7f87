"""Listen and Translate in a real browser (Playwright driving Debian's chromium, as
tests/test_browser.py): a page and a line are read together, then with the keyboard alone a
line is spoken (it is highlighted in the text and on the image while it plays), the whole page
is spoken and stopped, both images are spoken as one document, and the page is translated into
Spanish, shown marked as a machine translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from conftest import served, stacked_lines

SPEAKING = re.compile(r"\bspeaking\b")


@pytest.fixture(scope="module")
def server():
    """The shipped model (its word-beam decoder: the page's language is found) served over
    HTTP from a thread of this process."""
    from app import create_app

    app = create_app({"HTR_DECODERS": ["wordbeam"], "HTR_TESSERACT": False, "HTR_WARMUP": False,
                      "HTR_BACKGROUND_LOAD": False, "HTR_JOBS": False})
    with served(app) as url:
        yield url


@pytest.mark.slow
def test_listen_and_translate_with_the_keyboard(server, browser, tmp_path):
    from playwright.sync_api import expect

    image = tmp_path / "page.png"
    Image.fromarray(stacked_lines(["line-iam-ondb-a01-020w-02.png",
                                   "line-hooker-JDH_2_16_56_001_r1l17.png"])).save(image)
    line = Path(__file__).resolve().parent.parent / "samples" / "hooker-line.png"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(server + "/")
    page.get_by_label("Images to read").set_input_files([str(image), str(line)])
    page.get_by_role("button", name="Read", exact=True).click()
    page.wait_for_selector(".result", timeout=120_000)
    first = page.locator("#result-1")
    lines = first.locator(".lines li")
    expect(lines).to_have_count(2)
    status = first.locator(".speech-status")

    # Every line has its own button, named for screen readers, reached with Tab.
    expect(first.get_by_role("button", name="Listen to line 1")).to_be_visible()
    expect(first.get_by_role("button", name="Listen to line 2")).to_be_visible()
    lines.nth(1).focus()
    page.keyboard.press("Tab")
    expect(first.get_by_role("button", name="Listen to line 2")).to_be_focused()
    page.keyboard.press("Enter")
    # While line 2 is spoken, it is highlighted in the text and on the image.
    expect(lines.nth(1)).to_have_class(SPEAKING, timeout=15_000)
    expect(first.locator(".overlay g[data-line='1']")).to_have_class(SPEAKING)
    expect(status).to_have_text("Speaking line 2 of 2.")
    expect(lines.nth(1)).not_to_have_class(SPEAKING, timeout=15_000)  # and no more after
    expect(status).to_have_text("Done.")

    # The whole page, line after line; pressed again, it stops.
    listen = first.get_by_role("button", name="Listen to the page")
    listen.focus()
    page.keyboard.press("Enter")
    expect(lines.nth(0)).to_have_class(SPEAKING, timeout=15_000)
    page.screenshot(path=str(tmp_path / "speaking.png"), full_page=True)
    stop = first.get_by_role("button", name="Stop listening")
    expect(stop).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text("Stopped.")
    expect(page.locator(".lines li.speaking")).to_have_count(0)

    # Both images as one document: the page's lines, then the line's.
    whole = page.get_by_role("button", name="Listen to the whole document")
    whole.focus()
    page.keyboard.press("Enter")
    expect(lines.nth(0)).to_have_class(SPEAKING, timeout=15_000)
    expect(page.locator(".listen-all .speech-status")).to_have_text("Speaking page.png, line 1.")
    page.get_by_role("button", name="Stop listening").press("Enter")
    expect(page.locator(".listen-all .speech-status")).to_have_text("Stopped.")

    # Translate: only the pairs installed for English, with the keyboard.
    choice = first.get_by_label("Translate into")
    assert choice.locator("option").all_inner_texts() == ["Catalan", "Spanish"]
    choice.focus()
    choice.select_option("es")
    page.keyboard.press("Tab")
    expect(first.get_by_role("button", name="Translate", exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    translation = first.locator(".translation")
    expect(translation).to_be_visible()
    expect(translation.locator("h4")).to_have_text("Spanish translation")
    expect(translation).to_contain_text("Machine translation (Apertium)")
    translated = translation.locator("li")
    expect(translated).to_have_count(2)
    assert translation.locator("ol").get_attribute("lang") == "es"
    source = [t.replace("▶", "").strip() for t in lines.all_inner_texts()]
    assert translated.all_inner_texts() != source and all(translated.all_inner_texts())
    page.screenshot(path=str(tmp_path / "translated.png"), full_page=True)
    assert not errors, errors
