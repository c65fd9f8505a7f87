"""Correcting the reading over HTTP (web.workspace), with a tiny untrained model (nothing is
read here: the pages are drawn, with their results): a page stored with its image, corrected
line by line and whole, a change from a stale version refused with 409 and the version now,
exports and the training set carrying the corrected text, answers as openapi.json says."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from PIL import Image

from htr.readers.pagexml import read_pagexml
from test_app import validate
from test_workspace import drawn_page
import document_files as files


@pytest.fixture(scope="module")
def app(tiny_model_dir, tmp_path_factory):
    from app import create_app

    application = create_app({
        "TESTING": True, "HTR_MODEL": str(tiny_model_dir), "HTR_DECODERS": ["greedy"],
        "HTR_TESSERACT": False, "HTR_WARMUP": False, "HTR_BACKGROUND_LOAD": False,
        "HTR_DATA_DIR": str(tmp_path_factory.mktemp("data")), "HTR_JOB_WORKERS": 1,
        "HTR_WORKSPACE": str(tmp_path_factory.mktemp("workspace"))})
    yield application
    application.extensions["htr_jobs"].close()


def png(grey) -> bytes:
    out = io.BytesIO()
    Image.fromarray(grey).save(out, "PNG")
    return out.getvalue()


def store(client, name="letter.png"):
    image, result = drawn_page()
    r = client.post("/api/v1/pages", data={"result": json.dumps(result),
                                           "file": (io.BytesIO(png(image)), name)})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()


def test_a_page_is_stored_corrected_and_listed(client, openapi, app):
    page = store(client)
    validate(openapi, "WorkspacePageInfo", page)
    assert (page["version"], page["lines"], page["corrected"]) == (1, 3, 0)
    r = client.put(page["url"] + "/lines/1", json={"version": 1, "text": "the quick brown fox"})
    assert r.status_code == 200
    body = r.get_json()
    validate(openapi, "WorkspaceLineSaved", body)
    assert body["version"] == 2 and body["line"]["original"] == "the quick brown fax"
    r = client.put(page["url"], json={"version": 2, "lines": [
        "the quick brown fox", "jumps over Alice", "the lazy dog"]})
    assert r.status_code == 200 and r.get_json()["corrected"] == 2

    got = client.get(page["url"]).get_json()
    validate(openapi, "WorkspacePage", got)
    assert got["version"] == 3
    assert got["page"]["text"] == "the quick brown fox\njumps over Alice\nthe lazy dog"
    listed = client.get("/api/v1/pages").get_json()
    validate(openapi, "WorkspacePageList", listed)
    assert page["id"] in [p["id"] for p in listed["pages"]]
    image = client.get(page["image_url"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (got["page"]["width"], got["page"]["height"])
    # The web pages: the list links to the page, whose lines show the corrected text.
    html = client.get("/workspace").get_data(as_text=True)
    assert page["view_url"] in html and "2 of 3" in html
    html = client.get(page["view_url"]).get_data(as_text=True)
    assert "jumps over Alice" in html and "Save corrections" in html


def test_two_saves_from_the_same_version_give_the_second_a_409(client, openapi):
    page = store(client)
    first = client.put(page["url"] + "/lines/2", json={"version": 1, "text": "jumps over Alice"})
    assert first.status_code == 200 and first.get_json()["version"] == 2
    second = client.put(page["url"] + "/lines/2", json={"version": 1, "text": "jumps over Alison"})
    assert second.status_code == 409
    body = second.get_json()
    validate(openapi, "WorkspaceError", body)
    assert body["error"] == "conflict" and body["version"] == 2
    assert "saved elsewhere (version 2)" in body["message"]
    whole = client.put(page["url"], json={"version": 1, "lines": ["a", "b", "c"]})
    assert whole.status_code == 409
    lines = client.get(page["url"]).get_json()["page"]["lines"]
    assert lines[1]["text"] == "jumps over Alice"            # the first save was kept
    # Deleting names the version too: a page changed since is kept.
    stale = client.delete(page["url"] + "?version=1")
    assert stale.status_code == 409 and stale.get_json()["version"] == 2
    assert client.delete(page["url"] + "?version=2").status_code == 204
    assert client.get(page["url"]).status_code == 404
    assert page["id"] not in [p["id"] for p in client.get("/api/v1/pages").get_json()["pages"]]


def test_exports_and_the_training_set_carry_the_corrected_text(client, tmp_path):
    page = store(client, "letter one.png")
    client.put(page["url"] + "/lines/1", json={"version": 1, "text": "the quick brown fox"})
    text = client.get(page["url"] + "?format=text")
    assert text.status_code == 200 and text.get_data(as_text=True).startswith(
        "the quick brown fox\n")
    assert 'filename="letter_one.txt"' in text.headers["Content-Disposition"]
    for fmt in ("page", "alto", "hocr"):
        data = client.get(page["url"] + f"?format={fmt}").get_data(as_text=True)
        assert "fox" in data and "fax" not in data, fmt
    assert client.get(page["url"] + "?format=pdf").data.startswith(b"%PDF")
    r = client.get("/api/v1/workspace/export")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    zipfile.ZipFile(io.BytesIO(r.data)).extractall(tmp_path / "set")
    texts = {s.text for s in read_pagexml(tmp_path / "set")}
    assert "the quick brown fox" in texts


def test_bad_requests_get_clear_answers(client, openapi):
    image, result = drawn_page()
    page = store(client)
    cases = [
        (client.post("/api/v1/pages", data={"result": "{not json",
                                            "file": (io.BytesIO(png(image)), "a.png")}), 400),
        (client.post("/api/v1/pages", data={"result": json.dumps(result),
                                            "file": (io.BytesIO(png(image[:-3])), "a.png")}), 400),
        (client.post("/api/v1/pages", data={"result": json.dumps(result)}), 400),
        (client.put(page["url"], json={"lines": ["x", "y", "z"]}), 400),        # no version
        (client.put(page["url"] + "/lines/7", json={"version": 1, "text": "x"}), 400),
        (client.get(page["url"] + "?format=docx"), 400),
        (client.get("/api/v1/pages/0123456789ab"), 404),
        (client.get("/api/v1/pages/..%2F..%2Fetc/image"), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, (r.request.path, r.get_data(as_text=True))
        body = r.get_json()
        validate(openapi, "WorkspaceError", body)
        assert len(body["message"]) > 10


@pytest.mark.slow
def test_a_page_of_a_document_is_stored_from_its_job(client, openapi):
    r = client.post("/api/v1/jobs", data={"file": (io.BytesIO(files.pdf(2)), "letter.pdf"),
                                          "decoder": "greedy", "level": "page"})
    job = r.get_json()
    deadline = time.monotonic() + 120
    while (status := client.get(job["url"]).get_json())["state"] not in ("done", "failed"):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    read = json.loads(json.dumps(status["pages"][1]))
    assert read["lines"], read
    read["lines"][0]["text"] = "Dear Sir"                 # corrected before the first save
    r = client.post("/api/v1/pages", data={"result": json.dumps(read), "job": job["id"],
                                           "page": "2"})
    assert r.status_code == 201, r.get_data(as_text=True)
    page = r.get_json()
    validate(openapi, "WorkspacePageInfo", page)
    assert page["name"] == "letter.pdf, page 2" and page["source"] == f"job:{job['id']}:2"
    stored = client.get(page["url"]).get_json()["page"]
    assert stored["lines"][0]["text"] == "Dear Sir"
    # What the job read, as a workspace keeps a line's text: white space made single.
    assert stored["lines"][0]["original"] == " ".join(status["pages"][1]["lines"][0]["text"].split())
    # The document's page, shown again, knows it was saved: its corrections come back.
    html = client.get(f"/jobs/{job['id']}?page=2").get_data(as_text=True)
    assert page["view_url"] in html and '"Dear Sir"' in html
    # A page of a job that does not exist, or was not read, is refused.
    for fields, status_code in (({"job": "0" * 32, "page": "1"}, 404),
                                ({"job": job["id"], "page": "9"}, 400)):
        r = client.post("/api/v1/pages", data={"result": json.dumps(read), **fields})
        assert r.status_code == status_code
        validate(openapi, "WorkspaceError", r.get_json())
