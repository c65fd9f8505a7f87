"""The jobs' API (``/api/v1/jobs``) and pages through Flask's test client, on the embedded backend
with a tiny model: answers as openapi.json documents them, bad documents with their pages named,
cancelling, results deleted after their time; and schemathesis against the served OpenAPI (every
route: no 5xx, no answer outside its schema)."""

from __future__ import annotations

import io
import time

import pytest
from hypothesis import HealthCheck, settings

import document_files as files
import schemathesis
from test_app import validate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tiny_model_dir, tmp_path_factory):
    from app import ROOT, create_app

    data_dir = tmp_path_factory.mktemp("jobs-data")
    static = sorted(p.relative_to(ROOT) for p in (ROOT / "static").rglob("*"))
    application = create_app({
        "TESTING": True, "HTR_MODEL": str(tiny_model_dir), "HTR_DECODERS": ["greedy"],
        "HTR_TESSERACT": False, "HTR_WARMUP": False, "HTR_BACKGROUND_LOAD": False,
        "HTR_DATA_DIR": str(data_dir), "HTR_JOB_WORKERS": 1, "HTR_MAX_PAGES": 5})
    yield application
    application.extensions["htr_jobs"].close()
    assert sorted(p.relative_to(ROOT) for p in (ROOT / "static").rglob("*")) == static
    assert (data_dir / "jobs.sqlite3").is_file()


def submit(client, *documents, **fields):
    data = {"file": [(io.BytesIO(d), name) for name, d in documents], **fields}
    return client.post("/api/v1/jobs", data=data)


def wait(client, url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(url).get_json()
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job not finished in {timeout} s: {status}")


def test_a_pdf_is_read_page_by_page_with_progress(client, openapi):
    r = submit(client, ("letter.pdf", files.pdf(3)), decoder="greedy", level="page")
    assert r.status_code == 202
    created = r.get_json()
    validate(openapi, "JobCreated", created)
    assert r.headers["Location"] == created["url"] == f"/api/v1/jobs/{created['id']}"
    early = client.get(created["url"] + "/result")
    assert early.status_code in (200, 409)  # 409 not_finished unless it was very quick
    seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(created["url"]).get_json()
        validate(openapi, "Job", status)
        assert [p["page"] for p in status["pages"]] == list(range(1, status["pages_done"] + 1))
        seen.add(status["pages_done"])
        if status["state"] == "done":
            break
        time.sleep(0.1)
    assert status["pages_total"] == 3 and status["pages_done"] == 3 and len(seen) >= 2
    result = client.get(created["url"] + "/result").get_json()
    validate(openapi, "Document", result)
    assert result["file"] == "letter.pdf" and [p["page"] for p in result["pages"]] == [1, 2, 3]
    for page in result["pages"]:
        validate(openapi, "Page", page)  # each page as /api/v1/read answers
        assert page["format"] == "PDF" and page["level"] == "page" and page["decoder"] == "greedy"
    pdf = client.get(created["url"] + "/result?format=pdf")
    import pypdfium2 as pdfium

    assert pdf.mimetype == "application/pdf" and len(pdfium.PdfDocument(pdf.data)) == 3
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="letter.pdf"'
    text = client.get(created["url"] + "/result?format=text")
    assert text.mimetype == "text/plain" and text.get_data(as_text=True).startswith(
        "letter-p001.png\t")
    assert client.get(created["url"] + "/result?format=docx").get_json()["error"] == \
        "invalid_option"
    # The page of the document, as the results page shows an image, with next and previous.
    html = client.get(f"/jobs/{created['id']}?page=2").get_data(as_text=True)
    assert "Page 2 of 3" in html and 'rel="prev"' in html and 'rel="next"' in html
    assert html.count('class="result"') == 1 and "letter.pdf, page 2" in html
    assert f'href="/api/v1/jobs/{created["id"]}/result?format=pdf"' in html
    # Every page has a small picture in the page list, made when the browser asks for it.
    assert html.count(f'src="/jobs/{created["id"]}/pages/') == 3
    thumb = client.get(f"/jobs/{created['id']}/pages/2/thumbnail.jpg")
    from PIL import Image

    picture = Image.open(io.BytesIO(thumb.data))
    size = result["pages"][1]["width"], result["pages"][1]["height"]
    assert thumb.mimetype == "image/jpeg" and picture.width == 120
    assert abs(picture.height - 120 * size[1] / size[0]) <= 1  # the page's proportions
    assert client.get(f"/jobs/{created['id']}/pages/4/thumbnail.jpg").status_code == 404


def test_bad_documents_name_their_pages_and_the_rest_is_read(client, openapi):
    def error(r, status, code):
        assert r.status_code == status, r.get_data(as_text=True)
        validate(openapi, "JobError", r.get_json())
        assert r.get_json()["error"] == code
        return r.get_json()["message"]

    assert "password" in error(submit(client, ("secret.pdf", files.encrypted_pdf())), 422,
                               "encrypted_document")
    error(submit(client, ("notes.pdf", b"just text " * 20)), 415, "not_an_image")
    error(submit(client, ("empty.pdf", b"")), 400, "empty_file")
    error(client.post("/api/v1/jobs", data={}), 400, "no_file")
    error(submit(client, ("a.pdf", files.pdf(1)), level="chapter"), 400, "invalid_option")
    error(client.get("/api/v1/jobs/" + "0" * 32), 404, "not_found")
    error(client.get("/api/v1/jobs/../../etc"), 404, "not_found")

    bomb = submit(client, ("bomb.pdf", files.pdf_bomb(3000, huge_page=2))).get_json()
    tif = submit(client, ("archive.tif", files.tiff(3, broken=2))).get_json()
    bomb, tif = wait(client, bomb["url"]), wait(client, tif["url"])
    assert bomb["state"] == "done" and bomb["pages_total"] == 5  # HTR_MAX_PAGES
    assert "3000 pages" in bomb["notes"][0]
    assert [("error" in p) for p in bomb["pages"]] == [False, True, False, False, False]
    assert bomb["pages"][1]["error"]["error"] == "too_many_pixels"
    assert "bomb.pdf: page 2 is 190 x 190 inches" in bomb["pages"][1]["error"]["message"]
    assert [("error" in p) for p in tif["pages"]] == [False, True, False]
    assert tif["pages"][1]["error"]["error"] == "corrupt_page"
    assert tif["pages_failed"] == 1 and tif["state"] == "done"
    for status in (bomb, tif):
        validate(openapi, "Job", status)
    html = client.get(f"/jobs/{tif['id']}?page=2").get_data(as_text=True)
    assert "archive.tif: page 2 is damaged" in html


def test_several_images_are_one_document_and_a_job_can_be_cancelled(client, app):
    r = submit(client, ("a.tif", files.tiff(2)), ("b.webp", files.webp()),
               ("c.heic", files.heif(1)))
    status = wait(client, r.get_json()["url"])
    assert status["file"] == "document" and status["state"] == "done"
    assert [(p["file"], p["format"]) for p in status["pages"]] == [
        ("a.tif", "TIFF"), ("a.tif", "TIFF"), ("b.webp", "WEBP"), ("c.heic", "HEIF")]

    r = submit(client, ("long.pdf", files.pdf(5)))
    cancelled = client.delete(r.get_json()["url"]).get_json()
    assert cancelled["state"] == "cancelled"
    time.sleep(3)  # at most the page being read is finished, no other is started
    later = client.get(r.get_json()["url"]).get_json()
    assert later["state"] == "cancelled" and later["pages_done"] <= cancelled["pages_done"] + 1
    assert later["pages_done"] < 5
    assert client.get(r.get_json()["url"] + "/result").get_json()["state"] == "cancelled"
    # The upload form: a PDF starts a job and answers with its progress page.
    r = client.post("/read", data={"file": (io.BytesIO(files.pdf(1)), "one.pdf")})
    assert r.status_code == 303 and r.headers["Location"].startswith("/jobs/")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "one.pdf" in page and ("<progress" in page or "Page 1 of 1" in page)


def test_finished_jobs_are_deleted_after_their_time(tiny_model_dir, tmp_path):
    from htr.documents import open_document
    from htr.jobs import JobNotFound, JobSettings
    from htr.jobs.embedded import EmbeddedBackend

    backend = EmbeddedBackend(JobSettings(model=str(tiny_model_dir), default_decoder="greedy",
                                          data_dir=str(tmp_path), workers=1, keep_seconds=2))
    try:
        job_id = backend.submit(open_document([("a.pdf", files.pdf(1))]), {})
        deadline = time.monotonic() + 90
        while backend.status(job_id)["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert (tmp_path / "jobs" / job_id).is_dir()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                backend.status(job_id)
            except JobNotFound:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the finished job was not deleted after keep_seconds")
        assert not (tmp_path / "jobs" / job_id).exists()
    finally:
        backend.close()


# --- schemathesis against the served OpenAPI --------------------------------------------------

def test_every_route_answers_within_its_schema(app):
    """Every operation of the served document, a bounded number of generated requests each."""
    from hypothesis import given
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance,
                                                   response_schema_conformance,
                                                   status_code_conformance)

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /api/v1/read", "POST /api/v1/jobs", "GET /api/v1/jobs/{job_id}",
        "DELETE /api/v1/jobs/{job_id}", "GET /api/v1/jobs/{job_id}/result", "GET /healthz"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=[not_a_server_error, response_schema_conformance,
                                           status_code_conformance, content_type_conformance])

        check()
