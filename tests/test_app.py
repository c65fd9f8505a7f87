"""The web application through Flask's test client: every route, the API's documented shapes,
and every kind of bad input (each gets a clear answer and the app keeps serving).

One application (the shipped model, both decoders, real Tesseract) serves the whole module.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import stacked_lines

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "hooker-line.png"  # "to what is given to Jackson &"
FIXTURES = ROOT / "tests" / "fixtures" / "shipped"


# --- images -----------------------------------------------------------------------------------

def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def sample_grey() -> np.ndarray:
    return np.asarray(Image.open(SAMPLE).convert("L"))


def page_png() -> bytes:
    """A small page: three real handwritten line crops stacked on white paper."""
    return encode(Image.fromarray(stacked_lines([
        "line-iam-ondb-a01-020w-02.png", "line-iam-ondb-f01-017z-04.png",
        "line-iam-ondb-l06-637z-04.png"])))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds almost nothing: a bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def upload(data: bytes, name: str = "image.png", **fields) -> dict:
    return {"file": (io.BytesIO(data), name), **fields}


# --- the application --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app():
    from app import create_app

    static = sorted((p.relative_to(ROOT), p.stat().st_mtime) for p in (ROOT / "static").rglob("*"))
    application = create_app({"TESTING": True})
    yield application
    after = sorted((p.relative_to(ROOT), p.stat().st_mtime) for p in (ROOT / "static").rglob("*"))
    assert after == static, "something was written under static/"


def validate(openapi: dict, schema_name: str, instance) -> None:
    """Check ``instance`` against a schema of the OpenAPI document (JSON Schema 2020-12)."""
    import jsonschema

    schema = {"$ref": f"#/components/schemas/{schema_name}", **{"components": openapi["components"]}}
    jsonschema.Draft202012Validator(schema).validate(instance)


def assert_error(response, status: int, code: str, openapi: dict | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json
    body = response.get_json()
    assert body["error"] == code
    assert len(body["message"]) > 10
    if openapi is not None:
        validate(openapi, "Error", body)
    return body


# --- routes -----------------------------------------------------------------------------------

def test_upload_page_has_an_accessible_form(client):
    r = client.get("/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'name="file"' in html and "multiple" in html
    for field in ("file", "level", "decoder", "baseline"):  # every control has a label
        assert f'<label for="{field}"' in html and f'id="{field}"' in html
    for level in ("auto", "page", "line", "word"):
        assert f'value="{level}"' in html
    from htr.decode import DECODERS

    assert all(f'value="{name}"' in html for name in DECODERS)
    assert 'name="viewport"' in html and 'lang="en"' in html
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_static_files_are_served(client):
    for name in ("style.css", "app.js"):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and len(r.data) > 500
        r.close()


def test_healthz_reports_model_decoders_and_tesseract(client, openapi):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.get_json()
    validate(openapi, "Health", body)
    assert body["status"] == "ok" and body["model"]["name"] == "default"
    from htr.decode import DECODERS, DEFAULT_DECODER

    assert sorted(body["decoders"]) == sorted(DECODERS) and body["decoders"][0] == DEFAULT_DECODER
    assert body["default_decoder"] == DEFAULT_DECODER
    assert body["decoders_loaded"][0] == DEFAULT_DECODER
    assert body["tesseract"]["available"] is True and body["tesseract"]["version"]


def test_openapi_documents_every_route_and_error_code(app, openapi):
    from app import ERROR_STATUS

    assert openapi["openapi"].startswith("3.")
    documented = set(openapi["paths"])
    served = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # Flask's <id> is OpenAPI's {id}
              for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") or rule.rule == "/healthz"}
    assert served == documented
    codes = openapi["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
    assert set(codes) == set(ERROR_STATUS)
    responses = openapi["paths"]["/api/v1/read"]["post"]["responses"]
    for code, status in ERROR_STATUS.items():
        if code not in ("not_found", "method_not_allowed"):
            assert f"`{code}`" in responses[str(status)]["description"], code


def test_api_reads_a_line_with_tesseract_beside(app, client, openapi):
    r = client.post("/api/v1/read", data=upload(SAMPLE.read_bytes(), "hooker-line.png",
                                                baseline="tesseract"))
    assert r.status_code == 200
    body = r.get_json()
    validate(openapi, "Page", body)
    assert (body["width"], body["height"]) == Image.open(SAMPLE).size
    assert body["level"] == "line" and len(body["lines"]) == 1
    line = body["lines"][0]
    assert line["text"] == body["text"] and len(line["text"]) >= 10
    assert "what" in body["text"]  # "to what is given to Jackson &": the model reads "what"
    assert len(line["words"]) >= 4
    for word in line["words"]:
        x0, y0, x1, y1 = word["box"]
        assert 0 <= x0 < x1 <= body["width"] and 0 <= y0 < y1 <= body["height"]
        assert word["low_confidence"] == (word["confidence"] < body["low_confidence_threshold"])
    assert body["decoder"] == app.extensions["htr"].default_decoder
    assert body["model"] == "default" and body["format"] == "PNG"
    assert body["timings"]["read_ms"] > 0 and body["timings"]["total_ms"] >= body["timings"]["read_ms"]
    tess = body["baseline"]
    assert tess["engine"] == "tesseract" and tess["available"] and tess["time_ms"] > 0
    assert isinstance(tess["text"], str)
    # Tesseract's temporary files went to the app's private directory and were removed.
    engine = app.extensions["htr"]
    assert engine.tmpdir and Path(engine.tmpdir).is_dir() and not os.listdir(engine.tmpdir)
    assert oct(os.stat(engine.tmpdir).st_mode & 0o777) == "0o700"


def test_api_reads_a_page_into_lines_and_words(client, openapi):
    r = client.post("/api/v1/read", data=upload(page_png(), "page.png", level="auto"))
    body = r.get_json()
    validate(openapi, "Page", body)
    assert body["level"] == "page"
    assert len(body["lines"]) == 3
    tops = [line["box"][1] for line in body["lines"]]
    assert tops == sorted(tops)  # reading order
    assert body["text"] == "\n".join(line["text"] for line in body["lines"])
    assert all(line["words"] and len(line["polygon"]) >= 3 for line in body["lines"])
    assert "baseline" not in body  # Tesseract only when asked for


def test_api_reads_an_upside_down_page_the_right_way_up(client, openapi):
    upright = client.post("/api/v1/read", data=upload(page_png(), "page.png")).get_json()
    assert "turned" not in upright
    flipped = encode(Image.open(io.BytesIO(page_png())).rotate(180))
    body = client.post("/api/v1/read", data=upload(flipped, "flipped.png")).get_json()
    validate(openapi, "Page", body)
    assert body["turned"] == 180 and body["text"] == upright["text"]
    assert "The page was upside down: it was read turned the right way up." in body["warnings"]
    w, h = body["width"], body["height"]
    for found, was in zip(body["lines"], upright["lines"]):  # in the flipped image's pixels
        x0, y0, x1, y1 = was["box"]
        assert found["box"] == [w - x1, h - y1, w - x0, h - y0]


def test_api_every_decoder_and_the_word_level(client):
    from htr.decode import DECODERS

    for name in DECODERS:
        r = client.post("/api/v1/read", data=upload(SAMPLE.read_bytes(), decoder=name))
        assert r.status_code == 200 and r.get_json()["decoder"] == name
        assert r.get_json()["text"].strip()
    word = (FIXTURES / "word-iam-ondb-a01-020w-02-01.png").read_bytes()
    body = client.post("/api/v1/read", data=upload(word, level="word")).get_json()
    assert body["level"] == "word" and len(body["lines"]) == 1
    assert len(body["lines"][0]["words"]) <= 1


def test_api_reads_in_the_language_asked_or_the_one_the_page_fits(client, openapi):
    page = page_png()
    auto = client.post("/api/v1/read", data=upload(page, "page.png")).get_json()
    validate(openapi, "Page", auto)
    assert auto["language"] == "en"  # English lines: auto picks the English lexicon
    french = client.post("/api/v1/read", data=upload(page, "page.png", language="fr")).get_json()
    assert french["language"] == "fr" and french["text"] != auto["text"]
    greedy = client.post("/api/v1/read", data=upload(page, "page.png", decoder="greedy",
                                                      language="fr")).get_json()
    assert "language" not in greedy  # no lexicon, no language
    assert_error(client.post("/api/v1/read", data=upload(page, "page.png", language="de")),
                 400, "invalid_option", openapi)


def test_blank_image_reads_as_no_lines(client):
    blank = encode(Image.new("L", (600, 400), 250))
    body = client.post("/api/v1/read", data=upload(blank)).get_json()
    assert body["lines"] == [] and body["text"] == ""


# --- awkward but valid images: read, with a note where something was left out ----------------

def test_sixteen_bit_cmyk_transparent_palette_and_animated_images_are_read(client):
    grey = sample_grey()
    ink = 255 - grey
    rgba = np.dstack([np.zeros_like(grey)] * 3 + [ink])  # black ink on a transparent sheet
    other = Image.fromarray(np.full_like(grey, 255))
    cases = {
        "16-bit": encode(Image.fromarray(grey.astype(np.uint16) * 257)),
        "cmyk": encode(Image.open(SAMPLE).convert("CMYK"), "JPEG", quality=95),
        "transparent": encode(Image.fromarray(rgba, "RGBA")),
        "palette": encode(Image.open(SAMPLE).convert("P")),
        "animated": encode(Image.fromarray(grey), save_all=True, append_images=[other]),
    }
    plain = None
    for name, data in cases.items():
        r = client.post("/api/v1/read", data=upload(data, f"{name}.png", level="line"))
        assert r.status_code == 200, (name, r.get_json())
        body = r.get_json()
        assert (body["width"], body["height"]) == (grey.shape[1], grey.shape[0]), name
        assert "what" in body["text"], (name, body["text"])
        plain = plain or body["text"]
        if name == "animated":
            assert any("animated" in w and "first frame" in w for w in body["warnings"])
        if name == "16-bit":
            assert any("16-bit" in w for w in body["warnings"])


def test_exif_rotated_photo_is_read_upright(client):
    upright = Image.open(SAMPLE).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # as a phone held sideways stores it
    body = client.post("/api/v1/read", data=upload(encode(stored, "JPEG", exif=exif), "p.jpg",
                                                   level="line")).get_json()
    assert (body["width"], body["height"]) == upright.size
    assert "what" in body["text"]


# --- bad input: a clear answer, a stable code, and the app keeps serving ----------------------

def test_bad_uploads_get_clear_json_errors(app, client, openapi, monkeypatch):
    sample = SAMPLE.read_bytes()
    jpeg = encode(Image.open(SAMPLE).convert("RGB"), "JPEG")
    cases = [
        (dict(level="auto"), 400, "no_file"),
        (upload(b"", ""), 400, "no_file"),                               # field, nothing chosen
        (upload(b""), 400, "empty_file"),
        (upload(b"Dear Sir, this is a text file.\n" * 20, "letter.png"), 415, "not_an_image"),
        (upload(b"%PDF-1.4\n" + b"0" * 100, "scan.jpg"), 415, "not_an_image"),
        (upload(sample[: len(sample) // 2]), 422, "corrupt_image"),       # truncated PNG
        (upload(jpeg[:600] + b"\x00" * 200, "cut.jpg"), 422, "corrupt_image"),
        (upload(sample[:8] + b"\x00" * 64), 422, "corrupt_image"),         # PNG signature, junk
        (upload(encode(Image.open(SAMPLE), "GIF"), "x.png"), 415, "unsupported_format"),
        (upload(encode(Image.open(SAMPLE), "BMP"), "x.png"), 415, "unsupported_format"),
        (upload(png_header_only(60_000, 60_000)), 413, "too_many_pixels"),  # 3.6 gigapixels
        (upload(sample, level="paragraph"), 400, "invalid_option"),
        (upload(sample, decoder="oracle"), 400, "invalid_option"),
        (upload(sample, baseline="abbyy"), 400, "invalid_option"),
        ({"file": [(io.BytesIO(sample), "a.png"), (io.BytesIO(sample), "b.png")]}, 400,
         "too_many_files"),
    ]
    for data, status, code in cases:
        assert_error(client.post("/api/v1/read", data=data), status, code, openapi)
    # Limits come from the configuration: a real image over the pixel limit, a body over the
    # size limit.
    monkeypatch.setitem(app.config, "HTR_MAX_PIXELS", 50_000)
    body = assert_error(client.post("/api/v1/read", data=upload(sample)), 413, "too_many_pixels")
    assert "50,000" in body["message"]
    assert "{}x{} pixels".format(*Image.open(io.BytesIO(sample)).size) in body["message"]
    monkeypatch.setitem(app.config, "HTR_MAX_PIXELS", 40_000_000)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    assert_error(client.post("/api/v1/read", data=upload(sample)), 413, "file_too_large", openapi)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 20 * 1024 * 1024)
    # Other routes and methods answer in JSON too.
    assert_error(client.get("/api/v1/read"), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/nothing"), 404, "not_found")
    # ...and the app is still serving.
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/v1/read", data=upload(sample)).status_code == 200


def test_file_names_are_only_displayed_never_used(client, tmp_path):
    target = Path(tempfile.gettempdir()) / "htr-evil-upload.png"
    name = f"../../../../{target.relative_to('/')}"
    r = client.post("/api/v1/read", data=upload(SAMPLE.read_bytes(), name))
    assert r.status_code == 200 and r.get_json()["file"] == "htr-evil-upload.png"
    assert not target.exists()
    r = client.post("/read", data=upload(SAMPLE.read_bytes(), '<img src=x onerror=alert(1)>.png'))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in html
    assert 'download="img_src_x_onerror_alert_1.txt"' in html


def test_uploads_are_parsed_in_memory(app):
    """Werkzeug spools large uploads to a temporary file by default; ours stay in memory."""
    big = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (700, 900), np.uint8)))
    assert len(big) > 500 * 1024
    seen = {}
    with app.test_request_context("/api/v1/read", method="POST", data=upload(big)):
        from flask import request

        stream = request.files["file"].stream
        seen["type"] = type(stream)
    assert seen["type"] is io.BytesIO


# --- the HTML pages ---------------------------------------------------------------------------

def test_results_page_shows_overlay_text_tesseract_and_downloads(client):
    r = client.post("/read", data=upload(page_png(), "my page.png", level="auto",
                                         decoder="greedy", baseline="tesseract"))
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    page = Image.open(io.BytesIO(page_png()))
    assert f'viewBox="0 0 {page.width} {page.height}"' in html
    assert html.count("<polygon") == 3 and html.count('class="line-text"') == 3
    assert html.count('data-line="2"') == 2  # the overlay's line and its text are linked
    assert '<rect class="word' in html
    assert re.search(r'<img src="data:image/jpeg;base64,[A-Za-z0-9+/=]{1000,}"', html)
    assert 'data-engine="tesseract"' in html and "Tesseract" in html
    assert 'download="my_page.txt"' in html and 'download="my_page.json"' in html
    txt = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)"', html).group(1)
    from urllib.parse import unquote

    lines = unquote(txt).strip().split("\n")
    assert len(lines) == 3 and all(lines)
    data = re.search(r'href="data:application/json;charset=utf-8,([^"]+)"', html).group(1)
    assert len(json.loads(unquote(data))["lines"]) == 3
    assert 'class="copy"' in html


def test_low_confidence_words_are_marked_by_the_configured_threshold(app, client, monkeypatch):
    def marks(threshold: float) -> tuple[int, int]:
        monkeypatch.setitem(app.config, "HTR_LOW_CONFIDENCE", threshold)
        html = client.post("/read", data=upload(SAMPLE.read_bytes(), level="line")).get_data(
            as_text=True)
        return html.count('<mark class="low"'), html.count('<span class="w">')

    assert marks(1.01)[1] == 0 and marks(1.01)[0] >= 4     # every word doubtful
    assert marks(0.0)[0] == 0 and marks(0.0)[1] >= 4       # none
    low, sure = marks(0.5)
    assert low + sure >= 4


def test_html_errors_are_pages_with_the_reason(app, client, monkeypatch):
    r = client.post("/read", data={"level": "auto"})
    assert r.status_code == 400 and 'role="alert"' in r.get_data(as_text=True)
    assert "No file was sent" in r.get_data(as_text=True)
    r = client.post("/read", data=upload(b"not an image at all", "fake.png"))
    assert r.status_code == 415 and "This file is not an image" in r.get_data(as_text=True)
    assert "Nothing could be read" in r.get_data(as_text=True)
    # One bad file among good ones: the good one is read, the bad one explained.
    r = client.post("/read", data={"file": [(io.BytesIO(SAMPLE.read_bytes()), "good.png"),
                                            (io.BytesIO(b""), "empty.png")], "level": "line"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "The file is empty" in html and 'class="line-text"' in html
    monkeypatch.setitem(app.config, "HTR_MAX_FILES", 2)
    r = client.post("/read", data={"file": [(io.BytesIO(b"x"), f"{i}.png") for i in range(3)]})
    assert r.status_code == 400 and "at most 2" in r.get_data(as_text=True)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)
    r = client.post("/read", data=upload(SAMPLE.read_bytes()))
    assert r.status_code == 413 and "too large" in r.get_data(as_text=True)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 20 * 1024 * 1024)
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "<html" in r.get_data(as_text=True)
    assert client.get("/read").status_code == 302


def test_missing_tesseract_is_reported_not_fatal(app, client, monkeypatch):
    import pytesseract

    from app import Engine

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "tesseract")
    probe = Engine.__new__(Engine)
    assert probe._tesseract_version("/nonexistent/tesseract") is None
    monkeypatch.setattr(app.extensions["htr"], "tesseract_version", None)
    assert client.get("/healthz").get_json()["tesseract"]["available"] is False
    body = client.post("/api/v1/read", data=upload(SAMPLE.read_bytes(),
                                                   baseline="tesseract")).get_json()
    assert body["text"] and body["baseline"]["available"] is False
    assert "not installed" in body["baseline"]["message"]
    html = client.post("/read", data=upload(SAMPLE.read_bytes(), baseline="tesseract")
                       ).get_data(as_text=True)
    assert "Tesseract is not installed on this server." in html


def test_another_model_and_a_decoder_that_cannot_load(tiny_model_dir):
    """HTR_MODEL names another model folder; a decoder it cannot have (no lexicon) is left out
    and asking for it is a clear error, while the rest works."""
    from app import create_app

    other = create_app({"HTR_MODEL": str(tiny_model_dir), "HTR_DECODERS": ["greedy", "beam"],
                        "HTR_DEFAULT_DECODER": "greedy", "HTR_TESSERACT": False,
                        "HTR_BACKGROUND_LOAD": False}).test_client()
    health = other.get("/healthz").get_json()
    assert health["model"]["name"] == tiny_model_dir.name
    assert health["decoders"] == ["greedy"] and health["tesseract"]["available"] is False
    assert_error(other.post("/api/v1/read", data=upload(SAMPLE.read_bytes(), decoder="beam")),
                 400, "invalid_option")
    body = other.post("/api/v1/read", data=upload(SAMPLE.read_bytes(), baseline="tesseract")
                      ).get_json()
    assert body["decoder"] == "greedy" and body["baseline"]["available"] is False


# --- exports and layouts (htr/export.py) --------------------------------------------------------

HOOKER_PAGE = ROOT / "tests" / "fixtures" / "hooker" / "JDH_2_16_90_003"


def test_api_format_answers_with_the_export_file(client):
    import pypdfium2 as pdfium

    r = client.post("/api/v1/read", data=upload(page_png(), "my page.png", format="pdf"))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == 'attachment; filename="my_page.pdf"'
    text = pdfium.PdfDocument(r.data)[0].get_textpage().get_text_range()
    assert len(text.split("\r\n")) == 3
    r = client.post("/api/v1/read", data=upload(page_png(), "my page.png", format="alto"))
    assert r.mimetype == "application/alto+xml" and b"<String " in r.data
    r = client.post("/api/v1/read", data=upload(page_png(), "p.png", format="text"))
    assert r.mimetype == "text/plain" and len(r.get_data(as_text=True).splitlines()) == 3
    r = client.post("/api/v1/read", data=upload(page_png(), "p.png", format="docx"))
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_option"


def test_api_reads_along_an_uploaded_layout_and_gives_its_ids_back(client):
    from htr.readers.pagexml import read_page_lines

    xml = HOOKER_PAGE.with_suffix(".xml").read_bytes()
    data = {**upload(HOOKER_PAGE.with_suffix(".jpg").read_bytes(), "JDH_2_16_90_003.jpg"),
            "layout": (io.BytesIO(xml), "page.xml"), "decoder": "greedy"}
    body = client.post("/api/v1/read", data=data).get_json()
    given = read_page_lines(HOOKER_PAGE.with_suffix(".xml"))
    assert [(ln["id"], ln["region"]) for ln in body["lines"]] == [(g.id, g.region) for g in given]
    data = {**upload(page_png(), "p.png"), "layout": (io.BytesIO(b"<notxml"), "page.xml")}
    r = client.post("/api/v1/read", data=data)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_layout"


def test_the_upload_page_reads_along_a_layout_file_too(client):
    from urllib.parse import unquote

    from htr.readers.pagexml import read_page_lines

    xml = HOOKER_PAGE.with_suffix(".xml").read_bytes()
    image = HOOKER_PAGE.with_suffix(".jpg").read_bytes()
    r = client.post("/read", data={**upload(image, "JDH_2_16_90_003.jpg", decoder="greedy"),
                                   "layout": (io.BytesIO(xml), "page.xml")})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    data = re.search(r'href="data:application/json;charset=utf-8,([^"]+)"', html).group(1)
    lines = json.loads(unquote(data))["lines"]
    assert [ln["id"] for ln in lines] == [g.id for g in read_page_lines(HOOKER_PAGE.with_suffix(".xml"))]
    two = client.post("/read", data={"file": [(io.BytesIO(image), "a.jpg"), (io.BytesIO(image), "b.jpg")],
                                     "layout": (io.BytesIO(xml), "page.xml")})
    assert two.status_code == 400 and "one image" in two.get_data(as_text=True)


def test_results_page_offers_every_export_per_page_and_for_the_document(client):
    r = client.post("/read", data={"file": [(io.BytesIO(page_png()), "a.png"),
                                            (io.BytesIO(page_png()), "b.png")],
                                   "decoder": "greedy"})
    html = r.get_data(as_text=True)
    for name in ("a.xml", "a.hocr", "a.pdf", "b.pdf", "document.pdf", "document-page.zip",
                 "document-alto.zip"):
        assert f'download="{name}"' in html, name
    assert re.search(r'href="data:application/pdf;base64,[A-Za-z0-9+/=]{1000,}"', html)
