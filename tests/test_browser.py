"""A real browser: Playwright for Python driving Debian's chromium (/usr/bin/chromium, installed by
``make test``; no browser download) uploads a page image, waits for the result and checks that
the text, the overlay boxes and the Tesseract column appear, that a line in the image and its
text highlight each other, and that copy and downloads work. Screenshots are saved under the
test's temporary directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from conftest import served, stacked_lines

ROOT = Path(__file__).resolve().parent.parent
ACTIVE = re.compile(r"\bactive\b")  # the class of the highlighted line, in image and text


def page_png(path: Path) -> Path:
    """A small page: three real handwritten lines stacked on white paper."""
    Image.fromarray(stacked_lines(["line-iam-ondb-a01-020w-02.png", "line-iam-ondb-f01-017z-04.png",
                                   "line-hooker-JDH_2_16_56_001_r1l17.png"])).save(path)
    return path


@pytest.fixture(scope="module")
def server():
    """The app served over HTTP from a thread of this process (the model loaded once)."""
    from app import create_app

    with served(create_app()) as url:
        yield url


@pytest.mark.slow
def test_upload_a_page_and_see_it_read(server, browser, tmp_path):
    from playwright.sync_api import expect

    image = page_png(tmp_path / "page.png")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))

    page.goto(server + "/")
    expect(page.get_by_label("Images to read")).to_be_attached()
    page.get_by_label("Images to read").set_input_files(str(image))
    expect(page.locator("#chosen li")).to_have_text("page.png (%d KB)" % max(
        1, round(image.stat().st_size / 1024)))
    page.get_by_label("What the image shows").select_option("auto")
    expect(page.get_by_label("Compare with Tesseract")).to_be_checked()
    # While the upload is on its way the page shows that it is working: what the page looked
    # like just after the app's submit handler ran is kept in sessionStorage across the
    # navigation.
    page.evaluate("""document.querySelector('form.upload').addEventListener('submit', () =>
        sessionStorage.setItem('state', JSON.stringify([
            !document.querySelector('#working').hidden,
            document.querySelector('#submit').disabled,
            document.querySelector('#submit').textContent])))""")
    page.get_by_role("button", name="Read", exact=True).click()
    page.wait_for_selector(".result", timeout=120_000)
    assert page.evaluate("JSON.parse(sessionStorage.getItem('state'))") == [True, True, "Reading…"]
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)

    # The text, line by line, and the overlay: one outline per line, word boxes.
    lines = page.locator(".lines li")
    expect(lines).to_have_count(3)
    assert all(text.strip() for text in lines.all_inner_texts())
    expect(page.locator(".overlay polygon")).to_have_count(3)
    assert page.locator(".overlay rect.word").count() >= 3
    # The overlay lies exactly on the image, whatever size the image is shown at.
    img = page.locator(".stage img").bounding_box()
    svg = page.locator(".stage svg").bounding_box()
    assert all(abs(img[k] - svg[k]) <= 1 for k in ("x", "y", "width", "height")), (img, svg)
    natural = page.evaluate("document.querySelector('.stage svg').viewBox.baseVal.width")
    assert natural == Image.open(image).width and img["width"] < natural * 1.01
    # Tesseract's column, with its time.
    tesseract = page.locator("[data-engine=tesseract]")
    expect(tesseract).to_be_visible()
    expect(tesseract.locator("h3")).to_contain_text("Tesseract")
    expect(page.locator(".result .meta")).to_contain_text("Tesseract in")

    # Hovering a line's text highlights its outline in the image, and the other way round.
    lines.nth(1).hover()
    # (a line may also be marked "low": how confident the model is depends on its weights)
    expect(page.locator(".overlay g[data-line='1']")).to_have_class(ACTIVE)
    expect(page.locator(".overlay g[data-line='0']")).not_to_have_class(ACTIVE)
    word = page.locator(".overlay g[data-line='2'] rect.word").first.bounding_box()
    page.mouse.move(word["x"] + word["width"] / 2, word["y"] + word["height"] / 2)
    expect(page.locator(".lines li[data-line='2']")).to_have_class(ACTIVE)
    lines.nth(0).focus()                                        # keyboard too
    expect(page.locator(".overlay g[data-line='0']")).to_have_class(ACTIVE)

    # Copy to the clipboard, and the downloads.
    page.get_by_role("button", name="Copy text").click()
    expect(page.locator(".copied")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    shown = lines.evaluate_all("els => els.map(li => Array.from(li.querySelectorAll('mark, .w'))"
                               ".map(w => w.firstChild.textContent).join(' '))")
    assert copied.split("\n") == shown
    with page.expect_download() as download:
        page.get_by_role("link", name="Download text").click()
    assert download.value.suggested_filename == "page.txt"
    assert Path(download.value.path()).read_text().strip() == copied
    with page.expect_download() as download:
        page.get_by_role("link", name="Download JSON").click()
    assert download.value.suggested_filename == "page.json"
    assert '"lines"' in Path(download.value.path()).read_text()

    # Readable on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "results-phone.png"), full_page=True)
    assert not errors, errors
    context.close()


@pytest.mark.slow
def test_a_bad_file_gets_a_clear_message(server, browser, tmp_path):
    fake = tmp_path / "letter.png"
    fake.write_text("Dear Sir, this is not a picture.")
    page = browser.new_page()
    page.goto(server + "/")
    page.get_by_label("Images to read").set_input_files(str(fake))
    page.get_by_role("button", name="Read", exact=True).click()
    page.wait_for_selector("[role=alert]")
    assert "This file is not an image" in page.locator("[role=alert]").inner_text()
    page.screenshot(path=str(tmp_path / "error.png"), full_page=True)
    page.close()
