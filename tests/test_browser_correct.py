"""Correcting the reading in a real browser (Playwright driving Debian's chromium, as
tests/test_browser.py): a line is corrected with the keyboard alone, outlined on the image while
it is edited, saved to the workspace, and still corrected after a reload; a save from a second
tab that had the same version gets the conflict message; downloads carry the corrected text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import served

from test_browser import page_png

EDITING = re.compile(r"\bediting\b")
#: A line's words as the page shows them (other tools may add buttons to a line).
WORDS = "li => Array.from(li.querySelectorAll('mark, .w')).map(w => w.firstChild.textContent).join(' ')"
CORRECTED = re.compile(r"\bcorrected\b")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app (shipped model, greedy decoder only: fast) with a workspace of its own."""
    from app import create_app

    app = create_app({"HTR_DECODERS": ["greedy"], "HTR_TESSERACT": False, "HTR_JOBS": False,
                      "HTR_BACKGROUND_LOAD": False,
                      "HTR_WORKSPACE": str(tmp_path_factory.mktemp("workspace"))})
    with served(app) as url:
        yield url


@pytest.mark.slow
def test_correct_a_line_with_the_keyboard_save_and_reload(server, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    page.get_by_label("Images to read").set_input_files(str(page_png(tmp_path / "page.png")))
    page.get_by_label("What the image shows").select_option("page")
    page.get_by_role("button", name="Read", exact=True).click()
    page.wait_for_selector(".result", timeout=120_000)
    # The correcting script is deferred: on a busy machine the page can show before it has run,
    # and a key pressed then does nothing (seen once in a full run beside a training job).
    page.wait_for_function("window.htrCorrect === true")
    lines = page.locator(".lines li")
    expect(lines).to_have_count(3)
    read = lines.evaluate_all(f"els => els.map({WORDS})")

    def shows(n: int, text: str) -> None:
        """Line ``n`` shows ``text`` (waiting a little for the page to get there)."""
        try:
            page.wait_for_function(f"([li, text]) => ({WORDS})(li) === text",
                                   arg=[lines.nth(n).element_handle(), text], timeout=5000)
        except Exception:
            assert lines.nth(n).evaluate(WORDS) == text

    # Keyboard alone: Tab from the Save button to the first line, Enter to edit, type, Enter.
    page.get_by_role("button", name="Save corrections").focus()
    page.keyboard.press("Tab")
    expect(lines.nth(0)).to_be_focused()
    page.keyboard.press("Enter")
    field = page.get_by_label("Correct line 1")
    expect(field).to_be_focused()
    expect(page.locator(".overlay g[data-line='0']")).to_have_class(EDITING)
    page.keyboard.type("Dear Sir, your letter")
    page.keyboard.press("Enter")
    shows(0, "Dear Sir, your letter")
    expect(lines.nth(0)).to_have_class(CORRECTED)
    expect(page.locator(".overlay g[data-line='0']")).not_to_have_class(EDITING)
    expect(lines.nth(0)).to_be_focused()
    # Escape undoes an edit.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.type("not this")
    page.keyboard.press("Escape")
    shows(1, read[1])
    expect(lines.nth(1)).not_to_have_class(CORRECTED)
    page.screenshot(path=str(tmp_path / "corrected.png"), full_page=True)

    page.get_by_role("button", name="Save corrections").click()
    status = page.locator(".correct-status")
    expect(status).to_contain_text("Saved in the workspace (version 1, 1 of 3 lines corrected)")
    assert re.search(r"/workspace/[0-9a-f]{12}$", page.url)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download text").click()
    assert Path(download.value.path()).read_text().splitlines()[0] == "Dear Sir, your letter"

    # Reloaded, the page is the workspace's: the correction is there.
    page.reload()
    shows(0, "Dear Sir, your letter")
    expect(lines.nth(0)).to_have_class(CORRECTED)
    shows(2, read[2])
    expect(page.locator(".workspace-nav")).to_contain_text("version 1, 1 of 3 lines corrected")

    # Two tabs with version 1: the first save wins, the second is told, not lost silently.
    other = context.new_page()
    other.goto(page.url)
    for tab, text in ((page, "a second line"), (other, "a different second line")):
        tab.locator(".lines li").nth(1).focus()
        tab.keyboard.press("Enter")
        tab.keyboard.type(text)
        tab.keyboard.press("Enter")
        tab.get_by_role("button", name="Save corrections").click()
    expect(status).to_contain_text("version 2")
    expect(other.locator(".correct-status")).to_contain_text(
        "This page was saved elsewhere (version 2)")
    expect(other.locator(".correct-status")).to_have_attribute("role", "alert")
    page.reload()
    shows(1, "a second line")

    # The workspace lists it, with the training set to download.
    page.goto(server + "/workspace")
    expect(page.locator(".workspace-pages tbody tr")).to_have_count(1)
    expect(page.locator(".workspace-pages tbody td").first).to_have_text("2 of 3")
    expect(page.get_by_role("link", name=re.compile("Download the training set"))).to_be_visible()
    assert not errors, errors
    context.close()
