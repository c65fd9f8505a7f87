"""A real browser (Playwright driving Debian's chromium, as tests/test_browser.py) uploads a
3-page PDF: the upload starts a job, the progress bar climbs to "page 3 of 3", then the
document's first page is shown; next leads to page 2, shown as the results page shows an image
(overlay, text), with the whole document's downloads."""

from __future__ import annotations

import pytest

import document_files as files
from conftest import served


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    from app import create_app

    app = create_app({"HTR_MODEL": str(tiny_model_dir), "HTR_DECODERS": ["greedy"],
                      "HTR_TESSERACT": False, "HTR_WARMUP": False, "HTR_BACKGROUND_LOAD": False,
                      "HTR_DATA_DIR": str(tmp_path_factory.mktemp("browser-jobs")),
                      "HTR_JOB_WORKERS": 1})
    with served(app) as url:
        yield url
    app.extensions["htr_jobs"].close()


@pytest.mark.slow
def test_upload_a_pdf_watch_its_progress_and_open_page_2(server, browser, tmp_path):
    from playwright.sync_api import expect

    document = tmp_path / "letter.pdf"
    document.write_bytes(files.pdf(3))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.goto(server + "/")
    page.get_by_label("Images to read").set_input_files(str(document))
    page.get_by_role("button", name="Read", exact=True).click()
    # The progress page, polling: record every progress text it shows.
    page.wait_for_selector("#job-progress", timeout=30_000)
    # (kept in sessionStorage: the page moves on to the document when the job is done)
    page.evaluate("""() => {
        const text = document.querySelector('#progress-text');
        const keep = () => sessionStorage.setItem('seen', JSON.stringify(
            JSON.parse(sessionStorage.getItem('seen') || '[]').concat([text.textContent])));
        keep();
        new MutationObserver(keep).observe(text, {childList: true, characterData: true,
                                                  subtree: true}); }""")
    page.screenshot(path=str(tmp_path / "progress.png"))
    page.wait_for_selector(".page-of", timeout=120_000)  # the document, once every page is read
    expect(page.locator(".page-of")).to_have_text("Page 1 of 3")
    expect(page.locator(".document-nav h2")).to_have_text("letter.pdf")
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('seen'))")
    assert seen[-1] == "page 3 of 3 read", seen
    assert any(text.endswith(("page 0 of 3 read", "page 1 of 3 read", "page 2 of 3 read"))
               for text in seen), seen  # it was watched on its way, not only at the end
    page.get_by_role("link", name="Next page →").click()
    expect(page.locator(".page-of")).to_have_text("Page 2 of 3")
    expect(page.locator(".result h2")).to_have_text("letter.pdf, page 2")
    expect(page.locator(".overlay")).to_have_count(1)
    assert page.locator(".lines li").count() >= 1  # the page's lines, as for an image
    expect(page.get_by_role("link", name="Searchable PDF").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "page-2.png"), full_page=True)
    assert not errors, errors
