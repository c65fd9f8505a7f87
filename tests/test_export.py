"""Exports (htr/export.py) and reading along a layout made elsewhere (``--layout``).

Every PAGE-XML and ALTO file written is validated against the official schemas kept in
htr/schemas (nothing is fetched); what is written is read back through the project's own
readers; the searchable PDF's text and word boxes are checked with pypdfium2.
"""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from lxml import etree
from PIL import Image

from conftest import draw_text, stacked_lines
from htr.export import SCHEMAS, SourcePage, export, hocr, searchable_pdf
from htr.readers.pagexml import read_alto_lines, read_layout, read_page_lines
from htr.results import Line, Page, Word

ROOT = Path(__file__).resolve().parent.parent
HOOKER = ROOT / "tests" / "fixtures" / "hooker"  # one Transkribus page: 6 regions, 19 lines
HOOKER_XML, HOOKER_JPG = HOOKER / "JDH_2_16_90_003.xml", HOOKER / "JDH_2_16_90_003.jpg"


# --- the official schemas, offline -----------------------------------------------------------

class _LocalXlink(etree.Resolver):
    """alto-4-2.xsd imports xlink.xsd by its web address: the copy beside it answers."""

    def resolve(self, url, pubid, context):
        if url.endswith("/xlink.xsd"):
            return self.resolve_filename(str(SCHEMAS / "xlink.xsd"), context)
        return None  # local files as usual; the parser has no network to fetch others with


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXlink())
    return {"page": etree.XMLSchema(etree.parse(str(SCHEMAS / "pagecontent.xsd"), parser)),
            "alto": etree.XMLSchema(etree.parse(str(SCHEMAS / "alto-4-2.xsd"), parser))}


def assert_valid(schemas, fmt: str, data: bytes) -> etree._Element:
    doc = etree.fromstring(data)
    schema = schemas[fmt]
    assert schema.validate(doc), schema.error_log
    return doc


# --- pages to export --------------------------------------------------------------------------

def png(grey: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(grey).save(out, "PNG")
    return out.getvalue()


def box_line(box, text, words, conf=0.8, **kw) -> Line:
    x0, y0, x1, y1 = box
    return Line(box=box, polygon=((x0, y0), (x1 - 1, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)),
                baseline=((x0, y1 - 8), (x1 - 1, y1 - 6)), text=text, confidence=conf,
                words=tuple(words), **kw)


def letter() -> Page:
    """Two lines with words, and the awkward cases: a control character and a form feed (not
    allowed in XML), a word without a box, a line whose words are not known, a very long line
    running off the page."""
    long_text = " ".join(["handwriting"] * 200)
    return Page(640, 300, (
        box_line((20, 20, 400, 80), "Dear Sir\x07 thanks", [
            Word((20, 25, 120, 78), "Dear", 0.93), Word((135, 22, 210, 75), "Sir\x07", 0.41),
            Word((0, 0, 0, 0), "thanks", 0.6)]),
        box_line((20, 100, 500, 160), "no words known\x0c", []),
        box_line((20, 180, 900, 240), long_text,
                 [Word((20 + 4 * i, 180, 24 + 4 * i, 240), "handwriting", 0.5) for i in range(200)]),
    ))


# --- PAGE-XML and ALTO against the schemas ----------------------------------------------------

@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_every_page_we_write_is_valid_against_the_official_schema(schemas, fmt):
    one_word = Page(200, 80, (Line((10, 10, 150, 60), text="hello", confidence=0.9,
                                   words=(Word((10, 10, 150, 60), "hello", 0.9),)),))
    for page in (letter(), Page(300, 200), one_word):
        out = export([SourcePage(page, "scan 1.png")], fmt)
        assert out.media_type.endswith("xml") and out.filename == "scan_1.xml"
        assert_valid(schemas, fmt, out.data)
    # A page read turned (htr.orientation) says how its writing lies in the image.
    doc = assert_valid(schemas, fmt, export([SourcePage(replace(letter(), turned=90), "s.png")], fmt).data)
    turned = doc.xpath("//*[local-name()='Page']/@orientation" if fmt == "page" else
                       "//*[local-name()='TextBlock']/@ROTATION")
    assert turned and set(turned) == {"-90"}  # writing lying a quarter turn clockwise


@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_a_document_is_a_zip_of_one_valid_xml_per_page_beside_its_image(schemas, fmt, tmp_path):
    grey = np.full((300, 640), 230, np.uint8)
    pages = [SourcePage(letter(), "a/letter.png", png(grey)), SourcePage(Page(640, 300), "blank.png",
             png(grey)), SourcePage(letter(), "b/letter.png", png(grey))]
    out = export(pages, fmt)
    assert (out.media_type, out.filename, out.binary) == ("application/zip", f"document-{fmt}.zip",
                                                         True)
    with zipfile.ZipFile(io.BytesIO(out.data)) as zf:
        assert sorted(zf.namelist()) == ["blank.png", "blank.xml", "letter.png", "letter.xml",
                                         "letter_2.png", "letter_2.xml"]
        zf.extractall(tmp_path)
    for name in ("letter", "blank", "letter_2"):
        assert_valid(schemas, fmt, (tmp_path / f"{name}.xml").read_bytes())
        # ... and each XML names the image beside it, so the project's reader finds it.
        read = (read_page_lines if fmt == "page" else read_alto_lines)(tmp_path / f"{name}.xml")
        assert all(line.image == tmp_path / f"{name}.png" for line in read)


def test_xml_leaves_out_what_xml_cannot_hold_and_keeps_the_rest():
    doc = etree.fromstring(export([SourcePage(letter(), "x.png")], "page").data)
    ns = {"pc": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
    lines = doc.findall(".//pc:TextLine", ns)
    assert lines[0].find("pc:TextEquiv/pc:Unicode", ns).text == "Dear Sir thanks"
    assert lines[0].findall("pc:Word", ns)[1].find("pc:TextEquiv", ns).get("conf") == "0.41"
    assert lines[1].find("pc:TextEquiv/pc:Unicode", ns).text == "no words known"
    assert [len(ln.findall("pc:Word", ns)) for ln in lines] == [3, 3, 200]
    # The long line's box and words are cut at the page's edge, not written off it.
    assert lines[2].find("pc:Coords", ns).get("points") == "20,180 639,180 639,239 20,239"


# --- round trip through the project's readers -------------------------------------------------

@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_what_we_write_reads_back_the_same_lines_boxes_and_text(fmt, tmp_path):
    page = Page(640, 300, (
        box_line((20, 20, 400, 80), "Dear Sir", [Word((20, 25, 120, 78), "Dear", 0.93),
                                                 Word((135, 22, 210, 75), "Sir", 0.41)],
                 id="line-1", region="intro"),
        box_line((20, 100, 500, 160), "with thanks", [Word((30, 100, 200, 150), "with", 0.7),
                                                      Word((220, 105, 480, 160), "thanks", 0.8)],
                 id="line-2", region="body"),
    ))
    cv2.imwrite(str(tmp_path / "scan.png"), np.full((300, 640), 230, np.uint8))
    xml = tmp_path / "scan.xml"
    xml.write_bytes(export([SourcePage(page, "scan.png")], fmt).data)
    read = read_layout(xml)  # finds the image the XML names, beside it
    assert [(r.id, r.region, r.text, r.box) for r in read] == [
        (ln.id, ln.region, ln.text, ln.box) for ln in page.lines]
    assert [list(r.baseline) for r in read] == [list(map(tuple, ln.baseline)) for ln in page.lines]
    assert [[(w.text, w.box) for w in r.words] for r in read] == [
        [(w.text, w.box) for w in ln.words] for ln in page.lines]


# --- hOCR -------------------------------------------------------------------------------------

def test_hocr_has_lines_and_words_with_boxes_and_confidences():
    doc = etree.fromstring(hocr([SourcePage(letter(), "scan.png"), SourcePage(Page(10, 10), "b.png")]))
    x = {"h": "http://www.w3.org/1999/xhtml"}
    pages = doc.findall(".//h:div[@class='ocr_page']", x)
    assert [p.get("title") for p in pages] == ['image "scan.png"; bbox 0 0 640 300; ppageno 0',
                                               'image "b.png"; bbox 0 0 10 10; ppageno 1']
    lines = pages[0].findall(".//h:span[@class='ocr_line']", x)
    assert lines[0].get("title").startswith("bbox 20 20 400 80; baseline ")
    words = lines[0].findall("h:span[@class='ocrx_word']", x)
    assert [(w.text, w.get("title")) for w in words[:2]] == [
        ("Dear", "bbox 20 25 120 78; x_wconf 93"), ("Sir", "bbox 135 22 210 75; x_wconf 41")]


# --- the searchable PDF -----------------------------------------------------------------------

def pdf_words(page: pdfium.PdfPage) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The words of a PDF page's text layer as a viewer selects them: text and box (loose
    character boxes joined, PDF points, origin bottom left)."""
    text = page.get_textpage()
    out, word, box = [], "", None
    for i in range(text.count_chars()):
        ch = text.get_text_range(i, 1)
        if ch.isspace():
            if word:
                out.append((word, box))
            word, box = "", None
            continue
        l, b, r, t = text.get_charbox(i, loose=True)
        word += ch
        box = (l, b, r, t) if box is None else (min(box[0], l), min(box[1], b), max(box[2], r),
                                                max(box[3], t))
    if word:
        out.append((word, box))
    return out


def test_searchable_pdf_text_is_ours_in_reading_order_and_words_lie_on_their_boxes():
    grey = stacked_lines(["line-iam-ondb-a01-020w-02.png", "line-iam-ondb-f01-017z-04.png"])
    h, w = grey.shape
    page = Page(w, h, (
        box_line((40, 40, 300, 100), "A MOVE to stop", [
            Word((40, 45, 70, 95), "A", 0.9), Word((80, 42, 180, 98), "MOVE", 0.8),
            Word((190, 50, 220, 96), "to", 0.7), Word((230, 44, 300, 99), "stop", 0.6)]),
        box_line((40, 130, w - 40, 190), "Mr. Gaitskell from", []),  # words placed by share
    ))
    doc = pdfium.PdfDocument(searchable_pdf([SourcePage(page, "p.png", png(grey))]))
    assert len(doc) == 1
    pdf_page = doc[0]
    pw, ph = pdf_page.get_size()
    scale = pw / w
    assert ph == pytest.approx(h * scale) and scale == pytest.approx(72 / 300)
    extracted = pdf_page.get_textpage().get_text_range()
    assert extracted.split("\r\n") == [line.text for line in page.lines]
    words = pdf_words(pdf_page)
    assert [t for t, _ in words] == page.text.split()
    for (text, (l, b, r, t)), word in zip(words, page.lines[0].words):
        x0, y0, x1, y1 = (v * scale for v in word.box)
        top, bottom = ph - t, ph - b  # PDF's y grows upwards, the image's downwards
        assert (l, top, r, bottom) == pytest.approx((x0, y0, x1, y1), abs=1.0), text
    # The page image is there, full page, under the text.
    assert any(obj.type == pdfium.raw.FPDF_PAGEOBJ_IMAGE for obj in pdf_page.get_objects())


def test_pdf_of_a_document_with_an_empty_page_and_odd_characters():
    grey = np.full((400, 300), 240, np.uint8)
    odd = Page(300, 400, (Line((10, 10, 290, 60), text="naïve ☃ \x00x 𝔘", confidence=0.5),))
    out = export([SourcePage(odd, "a.png", png(grey)), SourcePage(Page(300, 400), "b.png", None)],
                 "pdf")
    assert (out.media_type, out.filename, out.binary) == ("application/pdf", "document.pdf", True)
    doc = pdfium.PdfDocument(out.data)
    assert len(doc) == 2
    text = doc[0].get_textpage().get_text_range()
    # Kept: what the font has (DejaVu has ☃); a character it lacks is U+FFFD; a NUL is dropped.
    assert text.split() == ["naïve", "☃", "x", "\ufffd"]
    assert doc[1].get_textpage().get_text_range() == ""


def test_export_text_and_json_of_a_document():
    pages = [SourcePage(letter(), "a.png"), SourcePage(Page(10, 10), "b.png")]
    text = export(pages, "text").data.decode()
    rows = text.split("\n")
    assert rows[0] == "a.png\tDear Sir\x07 thanks" and len(rows) == 4 and rows[-1] == ""
    body = json.loads(export(pages, "json").data)
    assert [p["file"] for p in body] == ["a.png", "b.png"] and body[1]["lines"] == []


# --- reading along a layout made elsewhere ----------------------------------------------------

@pytest.fixture(scope="module")
def recognizer():
    """The shipped model (greedy: the fastest decoder; the layout is what is tested)."""
    from htr.recognizer import Recognizer

    return Recognizer.load(decoder="greedy")


@pytest.fixture(scope="module")
def hooker_page(recognizer):
    return recognizer.read_page(str(HOOKER_JPG), layout=read_layout(HOOKER_XML))


def test_layout_reads_exactly_its_lines_in_its_reading_order_with_its_ids(hooker_page):
    given = read_page_lines(HOOKER_XML)
    # The file's ReadingOrder puts its regions tr_5, tr_6, tr_1, tr_3, tr_2, tr_4: not the order
    # they are written in.
    assert list(dict.fromkeys(line.region for line in given)) == [
        "tr_5", "tr_6", "tr_1", "tr_3", "tr_2", "tr_4"]
    page = hooker_page
    assert [(ln.id, ln.region) for ln in page.lines] == [(g.id, g.region) for g in given]
    assert [ln.box for ln in page.lines] == [g.box for g in given]
    assert [list(ln.polygon) for ln in page.lines] == [g.polygon for g in given]
    # The lines were read: most have text, with words inside their line's box.
    assert sum(bool(ln.text) for ln in page.lines) >= len(given) - 2
    for line in page.lines:
        for word in line.words:
            assert line.box[0] - 2 <= word.box[0] < word.box[2] <= line.box[2] + 2


@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_a_page_read_along_a_layout_goes_back_with_its_ids(schemas, hooker_page, fmt, tmp_path):
    shutil.copy(HOOKER_JPG, tmp_path / HOOKER_JPG.name)
    xml = tmp_path / "out.xml"
    data = export([SourcePage(hooker_page, HOOKER_JPG.name)], fmt).data
    assert_valid(schemas, fmt, data)
    xml.write_bytes(data)
    back = read_layout(xml)
    assert [(b.id, b.region, b.text) for b in back] == [
        (ln.id, ln.region, ln.text) for ln in hooker_page.lines]


# --- the command line -------------------------------------------------------------------------

def htr(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "htr", *args], capture_output=True, env=env,
                          timeout=180, **kw)


@pytest.fixture
def two_pages(tmp_path):
    paths = []
    for name, text in (("one.png", "hello there"), ("two.png", "good bye")):
        cv2.imwrite(str(tmp_path / name), draw_text(text))
        paths.append(str(tmp_path / name))
    return paths


@pytest.mark.slow
def test_cli_writes_each_format_to_a_file_or_standard_output(tiny_model_dir, two_pages, schemas,
                                                             tmp_path):
    one, two = two_pages
    model = ("--model", str(tiny_model_dir), "--level", "line")
    run = htr("read", one, *model, "--format", "page", "-o", str(tmp_path / "one.xml"))
    assert run.returncode == 0 and run.stdout == b"", run.stderr
    assert_valid(schemas, "page", (tmp_path / "one.xml").read_bytes())
    run = htr("read", one, *model, "--format", "alto")
    assert run.returncode == 0, run.stderr
    assert_valid(schemas, "alto", run.stdout)
    run = htr("read", one, two, *model, "--format", "pdf")  # a pipe, not a terminal: allowed
    assert run.returncode == 0 and run.stdout.startswith(b"%PDF-"), run.stderr
    assert len(pdfium.PdfDocument(run.stdout)) == 2
    run = htr("read", one, two, *model, "--format", "alto", "-o", str(tmp_path / "doc.zip"))
    assert zipfile.ZipFile(tmp_path / "doc.zip").namelist() == ["one.xml", "one.png", "two.xml",
                                                                "two.png"]
    run = htr("read", one, *model, "--format", "hocr")
    assert run.returncode == 0 and b'class="ocr_page"' in run.stdout


def test_cli_will_not_write_a_pdf_to_a_terminal(tiny_model_dir, two_pages):
    leader, follower = pty.openpty()
    try:
        run = subprocess.run([sys.executable, "-m", "htr", "read", two_pages[0], "--model",
                              str(tiny_model_dir), "--format", "pdf"], stdout=follower,
                             stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             timeout=180)
    finally:
        os.close(follower)
        os.close(leader)
    assert run.returncode == 2
    assert b"--format pdf writes a binary file: give -o FILE" in run.stderr


@pytest.mark.slow
def test_cli_reads_along_a_layout(tiny_model_dir, tmp_path):
    run = htr("read", str(HOOKER_JPG), "--layout", str(HOOKER_XML), "--model", str(tiny_model_dir),
              "--format", "json")
    assert run.returncode == 0, run.stderr
    lines = json.loads(run.stdout)[0]["lines"]
    assert [line["id"] for line in lines] == [g.id for g in read_page_lines(HOOKER_XML)]
    bad = tmp_path / "bad.xml"
    bad.write_text("<html/>")
    run = htr("read", str(HOOKER_JPG), "--layout", str(bad), "--model", str(tiny_model_dir))
    assert run.returncode == 2 and b"neither PAGE-XML nor ALTO" in run.stderr
