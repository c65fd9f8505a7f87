"""Export read pages to the formats other tools take: plain text, JSON, PAGE-XML 2019, ALTO 4.2,
hOCR and a searchable PDF, for one page or a whole document.

Everything here is pure (bytes out, nothing written): the command line (``python -m htr read
--format``), the API (``format=``) and the web page's download links are thin shells over
:func:`export`. XML is written with lxml and checked against the official schemas in
``htr/schemas`` by the tests; the PDF's invisible text layer is fpdf2's text rendering mode 3 on
top of the page image, one word at a time on the word's box, so that selecting a word in a PDF
viewer selects its handwriting.

Geometry is in the page image's pixels, as everywhere in :mod:`htr.results`; whatever a format
cannot hold is made to fit rather than refused: characters XML does not allow are dropped,
characters the PDF font lacks become U+FFFD, a word without a usable box gets its share of its
line's box, ids that are not XML ids are rewritten, points are kept on the page.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path, PurePath

import numpy as np
from lxml import etree

from .errors import HTRError
from .orientation import page_orientation
from .results import Box, Line, Page, Point, box_union

#: Every format :func:`export` writes.
FORMATS: tuple[str, ...] = ("text", "json", "page", "alto", "hocr", "pdf")
#: Media type of one page (or of a document, where it stays one file) in each format.
MEDIA_TYPES: dict[str, str] = {
    "text": "text/plain; charset=utf-8", "json": "application/json",
    "page": "application/vnd.prima.page+xml", "alto": "application/alto+xml",
    "hocr": "text/html; charset=utf-8", "pdf": "application/pdf",
}
EXTENSIONS: dict[str, str] = {"text": ".txt", "json": ".json", "page": ".xml", "alto": ".xml",
                              "hocr": ".hocr", "pdf": ".pdf"}
ZIP_TYPE = "application/zip"

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XHTML_NS = "http://www.w3.org/1999/xhtml"
#: The official schemas, kept in the package (see htr/schemas/README.md): nothing is fetched.
SCHEMAS = Path(__file__).resolve().parent / "schemas"
CREATOR = "htr (handwritten text recognition)"

#: Where the PDF's text-layer font is looked for: Debian's fonts-dejavu-core, then the copy that
#: matplotlib (a dependency) ships. Any Unicode TrueType font works; the text is invisible, so
#: only its character coverage matters.
PDF_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
#: A page image without resolution in its file is taken to be scanned at this many dots per inch.
DEFAULT_DPI = 300
#: PDF viewers (and the PDF 1.x specification's implementation limits) stop at 200 inches a side.
MAX_PDF_SIDE_PT = 14400.0


class ExportError(HTRError):
    """An export cannot be written (unknown format, no font for the PDF)."""


@dataclass(frozen=True)
class SourcePage:
    """One page of a document to export: what was read, the image's file name (written into the
    XML so that other tools find the image, and used inside ZIPs) and, for the PDF and ZIPs, the
    image itself (file bytes, a path, an array or a PIL image; None: the PDF page is blank paper
    under the text, and the ZIP holds the XML alone)."""

    page: Page
    name: str = "page.png"
    image: object = None


@dataclass(frozen=True)
class Export:
    """An exported file: its bytes, media type and a file name to save it under."""

    data: bytes
    media_type: str
    filename: str

    @property
    def binary(self) -> bool:
        """Not text a terminal can show (a PDF, a ZIP)."""
        return self.media_type in (MEDIA_TYPES["pdf"], ZIP_TYPE)


def export(pages: Sequence[SourcePage], fmt: str, stem: str | None = None) -> Export:
    """The pages in format ``fmt`` (one of :data:`FORMATS`) as one file.

    One page gives one file of that format. Several pages give one text, JSON, hOCR or PDF file
    of them all, and for ``page`` and ``alto`` (one page per file by design) a ZIP of one XML per
    page beside its page image. ``stem`` names the file (default: the only page's image name,
    else ``document``).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    pages = list(pages)
    if not pages:
        raise ExportError("nothing to export: no page was read")
    stem = stem or (PurePath(_safe_name(pages[0].name)).stem if len(pages) == 1 else "document")
    if fmt in ("page", "alto") and len(pages) != 1:
        return Export(xml_zip(pages, fmt), ZIP_TYPE, f"{stem}-{fmt}.zip")
    if fmt == "text":
        data = to_text(pages).encode("utf-8")
    elif fmt == "json":
        data = to_json(pages).encode("utf-8")
    elif fmt == "page":
        data = page_xml(pages[0].page, _base_name(pages[0].name))
    elif fmt == "alto":
        data = alto_xml(pages[0].page, _base_name(pages[0].name))
    elif fmt == "hocr":
        data = hocr(pages)
    else:
        data = searchable_pdf(pages)
    return Export(data, MEDIA_TYPES[fmt], stem + EXTENSIONS[fmt])


# --- text and JSON --------------------------------------------------------------------------

def to_text(pages: Sequence[SourcePage]) -> str:
    """One page: its lines. Several: ``name<TAB>line`` for every line, so that a document's text
    can still be grepped and cut by file. Ends with a newline unless there is no text at all."""
    if len(pages) == 1:
        rows = [line.text for line in pages[0].page.lines]
    else:
        rows = [f"{p.name}\t{line.text}" for p in pages for line in p.page.lines]
    return "".join(row + "\n" for row in rows)


def to_json(pages: Sequence[SourcePage]) -> str:
    """A list of the pages' :meth:`~htr.results.Page.to_dict`, each with its ``file`` name and
    its ``insights`` (:func:`htr.insights.page_insights`)."""
    from .insights import page_insights

    return json.dumps([{"file": p.name, **p.page.to_dict(), "insights": page_insights(p.page)}
                       for p in pages], ensure_ascii=False, indent=2) + "\n"


# --- geometry made to fit ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float
    box: Box


def _clamp_box(box, width: int, height: int) -> Box | None:
    """The box kept on the page, or None when it is missing or has no area."""
    try:
        x0, y0, x1, y1 = (int(round(v)) for v in box)
    except (TypeError, ValueError):
        return None
    x0, x1 = max(0, min(x0, width)), max(0, min(x1, width))
    y0, y1 = max(0, min(y0, height)), max(0, min(y1, height))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _line_box(line: Line, width: int, height: int) -> Box:
    """A line's box on the page; a line with none (or none left on the page) gets a 1-pixel
    box at the nearest corner, so that every format still has coordinates to write."""
    box = _clamp_box(line.box, width, height)
    if box is None:
        x = min(max(0, int(line.box[0]) if line.box else 0), max(0, width - 1))
        y = min(max(0, int(line.box[1]) if line.box else 0), max(0, height - 1))
        box = (x, y, x + 1, y + 1)
    return box


def _words(line: Line, width: int, height: int) -> list[_Word]:
    """A line's words with a box each. A word without a usable box (missing, empty, off the
    page), and the words of a line that has text but no words, get the part of the line's box
    that their characters' share of the line's text would take: a reader of the PDF or XML
    still finds them about where they are."""
    lbox = _line_box(line, width, height)
    words = [(w.text, w.confidence, _clamp_box(w.box, width, height)) for w in line.words
             if w.text.strip()]
    if not words:
        words = [(t, line.confidence, None) for t in line.text.split()]
    total = sum(len(t) + 1 for t, _, _ in words) - 1
    out, at = [], 0
    for text, conf, box in words:
        if box is None:
            x0 = lbox[0] + (lbox[2] - lbox[0]) * at // max(1, total)
            x1 = lbox[0] + (lbox[2] - lbox[0]) * (at + len(text)) // max(1, total)
            box = (x0, lbox[1], max(x1, x0 + 1), lbox[3])
        out.append(_Word(text, min(1.0, max(0.0, float(conf))), box))
        at += len(text) + 1
    return out


def _polygon(line: Line, width: int, height: int) -> list[Point]:
    """The line's outline kept on the page; its box's corners when it has no polygon."""
    pts = [(min(max(0, int(x)), width - 1), min(max(0, int(y)), height - 1))
           for x, y in line.polygon]
    if len(set(pts)) < 3:
        pts = _corners(_line_box(line, width, height))
    return pts


def _baseline(line: Line, width: int, height: int) -> list[Point]:
    """The baseline kept on the page, [] when it has fewer than two points."""
    pts = [(min(max(0, int(x)), width - 1), min(max(0, int(y)), height - 1))
           for x, y in line.baseline]
    return pts if len(pts) >= 2 else []


def _points(points: Sequence[Point]) -> str:
    return " ".join(f"{x},{y}" for x, y in points)


def _corners(box: Box) -> list[Point]:
    """A box's corner pixels: points name pixels, so the last row and column are x1 - 1 and
    y1 - 1 (our boxes exclude x1, y1), which is what PAGE readers take a polygon to cover."""
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1 - 1, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)]


def _box_points(box: Box) -> str:
    return _points(_corners(box))


# XML 1.0 allows tab, newline, carriage return and everything from U+0020 except the surrogates
# and U+FFFE/U+FFFF; lxml refuses anything else, so it is dropped (a model never reads it, but a
# layout file or a lexicon could carry it in).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]")


def xml_text(text: str) -> str:
    """``text`` less the characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", text)


class _Ids:
    """Unique XML ids (xsd:ID, an NCName): a layout's own ids are kept where they are valid and
    not taken; others are made valid, and a repeat gets a suffix."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, wanted: str, fallback: str) -> str:
        ident = _NOT_ID.sub("_", xml_text(wanted)) if wanted else fallback
        if not re.match(r"[A-Za-z_]", ident):
            ident = "id_" + ident
        candidate, n = ident, 1
        while candidate in self.used:
            n += 1
            candidate = f"{ident}_{n}"
        self.used.add(candidate)
        return candidate


def _regions(page: Page) -> list[tuple[str, list[Line]]]:
    """Consecutive lines of the same region, in reading order. Lines the reader found itself
    (no region) make one region: the page's text block."""
    runs: list[tuple[str, list[Line]]] = []
    for line in page.lines:
        if runs and runs[-1][0] == line.region:
            runs[-1][1].append(line)
        else:
            runs.append((line.region, [line]))
    return runs


def _conf(value: float) -> str:
    return f"{min(1.0, max(0.0, float(value))):.4f}".rstrip("0").rstrip(".") or "0"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- PAGE-XML 2019 ----------------------------------------------------------------------------

def page_xml(page: Page, image_name: str) -> bytes:
    """PAGE-XML (2019-07-15 schema) of one page: a ReadingOrder over its TextRegions, each
    TextLine with Coords, Baseline (when known), its Words (Coords, TextEquiv with ``conf``) and
    its own TextEquiv. Line and region ids of a layout the page was read along are kept."""
    w, h = page.width, page.height
    E = lambda tag, parent=None, **attrs: (  # noqa: E731
        etree.SubElement(parent, f"{{{PAGE_NS}}}{tag}", attrs) if parent is not None
        else etree.Element(f"{{{PAGE_NS}}}{tag}", attrs, nsmap={None: PAGE_NS, "xsi": XSI_NS}))
    root = E("PcGts")
    root.set(f"{{{XSI_NS}}}schemaLocation",
             f"{PAGE_NS} {PAGE_NS}/pagecontent.xsd")
    meta = E("Metadata", root)
    E("Creator", meta).text = CREATOR
    E("Created", meta).text = _now()
    E("LastChange", meta).text = meta[-1].text
    pg = E("Page", root, imageFilename=xml_text(image_name), imageWidth=str(w),
           imageHeight=str(h))
    if page.turned:  # the degrees to turn it clockwise to read it (page_orientation)
        pg.set("orientation", str(page_orientation(page.turned)))
    ids = _Ids()
    regions = _regions(page)
    region_ids = [ids(rid, f"r{i + 1}") for i, (rid, _) in enumerate(regions)]
    if regions:  # an OrderedGroup must hold at least one region: an empty page has no order
        group = E("OrderedGroup", E("ReadingOrder", pg), id=ids("", "ro1"))
        for i, rid in enumerate(region_ids):
            E("RegionRefIndexed", group, index=str(i), regionRef=rid)
    for (_, lines), rid in zip(regions, region_ids):
        region = E("TextRegion", pg, id=rid, type="paragraph")
        E("Coords", region, points=_box_points(box_union([_line_box(ln, w, h) for ln in lines])))
        for k, line in enumerate(lines):
            el = E("TextLine", region, id=ids(line.id, f"{rid}_l{k + 1}"))
            E("Coords", el, points=_points(_polygon(line, w, h)))
            if base := _baseline(line, w, h):
                E("Baseline", el, points=_points(base))
            for j, word in enumerate(_words(line, w, h)):
                we = E("Word", el, id=ids("", f"{el.get('id')}_w{j + 1}"))
                E("Coords", we, points=_box_points(word.box))
                E("Unicode", E("TextEquiv", we, conf=_conf(word.confidence))).text = \
                    xml_text(word.text)
            E("Unicode", E("TextEquiv", el, conf=_conf(line.confidence))).text = \
                xml_text(line.text)
        E("Unicode", E("TextEquiv", region)).text = xml_text("\n".join(ln.text for ln in lines))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- ALTO 4.2 ---------------------------------------------------------------------------------

def alto_xml(page: Page, image_name: str) -> bytes:
    """ALTO 4.2 of one page, in pixels: TextBlocks in reading order (ALTO 4.2 has no other way
    to say it), each TextLine with BASELINE (a point list, new in 4.2) and a Shape polygon, each
    word a String with WC (its confidence) and an SP between words."""
    w, h = page.width, page.height
    E = lambda tag, parent=None, **attrs: (  # noqa: E731
        etree.SubElement(parent, f"{{{ALTO_NS}}}{tag}", attrs) if parent is not None
        else etree.Element(f"{{{ALTO_NS}}}{tag}", attrs,
                           nsmap={None: ALTO_NS, "xlink": XLINK_NS, "xsi": XSI_NS}))
    root = E("alto")
    root.set(f"{{{XSI_NS}}}schemaLocation",
             f"{ALTO_NS} http://www.loc.gov/standards/alto/v4/alto-4-2.xsd")
    desc = E("Description", root)
    E("MeasurementUnit", desc).text = "pixel"
    E("fileName", E("sourceImageInformation", desc)).text = xml_text(image_name)
    step = E("OCRProcessing", desc, ID="ocr1")
    step = E("ocrProcessingStep", step)
    E("processingDateTime", step).text = _now()
    E("softwareName", E("processingSoftware", step)).text = CREATOR
    ids = _Ids()
    pg = E("Page", E("Layout", root), ID=ids("", "page1"), PHYSICAL_IMG_NR="1",
           WIDTH=str(w), HEIGHT=str(h))
    space = E("PrintSpace", pg, HPOS="0", VPOS="0", WIDTH=str(w), HEIGHT=str(h))

    def place(el, box: Box) -> None:
        el.set("HPOS", str(box[0]))
        el.set("VPOS", str(box[1]))
        el.set("WIDTH", str(box[2] - box[0]))
        el.set("HEIGHT", str(box[3] - box[1]))

    for i, (rid, lines) in enumerate(_regions(page)):
        block = E("TextBlock", space, ID=ids(rid, f"r{i + 1}"))
        place(block, box_union([_line_box(ln, w, h) for ln in lines]))
        if page.turned:  # the writing's turn in the image, counter-clockwise
            block.set("ROTATION", str(page_orientation(page.turned)))
        for k, line in enumerate(lines):
            el = E("TextLine", block, ID=ids(line.id, f"{block.get('ID')}_l{k + 1}"))
            place(el, _line_box(line, w, h))
            if base := _baseline(line, w, h):
                el.set("BASELINE", _points(base))
            E("Polygon", E("Shape", el), POINTS=_points(_polygon(line, w, h)))
            for j, word in enumerate(_words(line, w, h)):
                if j:
                    E("SP", el)
                s = E("String", el, ID=ids("", f"{el.get('ID')}_w{j + 1}"),
                      CONTENT=xml_text(word.text), WC=_conf(word.confidence))
                place(s, word.box)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def xml_zip(pages: Sequence[SourcePage], fmt: str) -> bytes:
    """A ZIP of one PAGE-XML (``fmt="page"``) or ALTO file per page, each beside its page image
    under the name the XML gives it (page names made unique), as Transkribus and eScriptorium
    import them."""
    write = page_xml if fmt == "page" else alto_xml
    out = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, p in enumerate(pages):
            name = _safe_name(p.name)
            stem, suffix = PurePath(name).stem, PurePath(name).suffix
            k = 1
            while stem.lower() in taken:
                k += 1
                stem = f"{PurePath(name).stem}_{k}"
            taken.add(stem.lower())
            image = _image_bytes(p.image)
            zf.writestr(f"{stem}.xml", write(p.page, stem + suffix))
            if image is not None:
                zf.writestr(stem + suffix, image, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def _base_name(name: str) -> str:
    """The image's file name without its folder: the XML lies beside the image wherever both
    are copied to, so a folder of the machine that read it would only mislead."""
    return re.split(r"[\\/]", name or "")[-1] or "page.png"


def _safe_name(name: str) -> str:
    """A file name fit for a ZIP member and an XML attribute: its last path part, odd
    characters replaced."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.-]+", "_", xml_text(base)).strip("._") or "page"
    return base if PurePath(base).suffix else base + ".png"


def _image_bytes(image) -> bytes | None:
    """The page image as file bytes (paths read, arrays and PIL images made PNG)."""
    if image is None:
        return None
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if isinstance(image, (str, Path)):
        return Path(image).read_bytes()
    from PIL import Image

    pil = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    out = io.BytesIO()
    pil.save(out, "PNG")
    return out.getvalue()


# --- hOCR -------------------------------------------------------------------------------------

def hocr(pages: Sequence[SourcePage]) -> bytes:
    """hOCR 1.2 (XHTML) of all pages: an ``ocr_page`` per page, an ``ocr_carea``/``ocr_par`` per
    region, ``ocr_line`` with bbox and baseline, ``ocrx_word`` with bbox and ``x_wconf`` (0-100)."""
    H = lambda tag, parent, cls=None, title=None, **attrs: etree.SubElement(  # noqa: E731
        parent, f"{{{XHTML_NS}}}{tag}",
        {**({"class": cls} if cls else {}), **({"title": title} if title else {}), **attrs})
    html = etree.Element(f"{{{XHTML_NS}}}html", nsmap={None: XHTML_NS})
    html.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    head = H("head", html)
    H("title", head).text = "htr"
    H("meta", head, **{"http-equiv": "Content-Type", "content": "text/html; charset=utf-8"})
    H("meta", head, name="ocr-system", content=CREATOR)
    H("meta", head, name="ocr-capabilities",
      content="ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf")
    body = H("body", html)
    for n, p in enumerate(pages):
        page, w, h = p.page, p.page.width, p.page.height
        image = re.sub(r'["\\;]', "_", xml_text(_base_name(p.name)))  # the title's quoting has no escapes
        div = H("div", body, "ocr_page", f'image "{image}"; bbox 0 0 {w} {h}; ppageno {n}',
                id=f"page_{n + 1}")
        for i, (_, lines) in enumerate(_regions(page)):
            bbox = "bbox {} {} {} {}".format(*box_union([_line_box(ln, w, h) for ln in lines]))
            area = H("div", div, "ocr_carea", bbox, id=f"block_{n + 1}_{i + 1}")
            par = H("p", area, "ocr_par", bbox, id=f"par_{n + 1}_{i + 1}")
            for k, line in enumerate(lines):
                box = _line_box(line, w, h)
                title = "bbox {} {} {} {}".format(*box)
                base = _baseline(line, w, h)
                if base and base[-1][0] != base[0][0]:
                    # hOCR's baseline: slope, and offset from the box's bottom-left corner
                    slope, at = np.polyfit(*np.array(base, np.float64).T, 1)
                    offset = slope * box[0] + at - box[3]
                    title += f"; baseline {slope:.4f} {offset:.0f}"
                title += f"; x_wconf {round(100 * min(1, max(0, line.confidence)))}"
                el = H("span", par, "ocr_line", title, id=f"line_{n + 1}_{i + 1}_{k + 1}")
                if line.id:
                    el.set("data-id", xml_text(line.id))
                for j, word in enumerate(_words(line, w, h)):
                    span = H("span", el, "ocrx_word", "bbox {} {} {} {}; x_wconf {}".format(
                        *word.box, round(100 * word.confidence)),
                        id=f"word_{n + 1}_{i + 1}_{k + 1}_{j + 1}")
                    span.text = xml_text(word.text)
                    span.tail = " "
    return etree.tostring(html, xml_declaration=True, encoding="UTF-8", pretty_print=True,
                          doctype='<!DOCTYPE html>')


# --- searchable PDF ---------------------------------------------------------------------------

def pdf_font() -> Path:
    """The TrueType font of the PDF's text layer (see :data:`PDF_FONTS`), or a clear error."""
    candidates = [Path(p) for p in PDF_FONTS]
    try:
        import matplotlib

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise ExportError("no font for the PDF's text layer: install DejaVu Sans (Debian: apt-get "
                      "install fonts-dejavu-core, /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)")


@lru_cache(maxsize=4)
def _font_metrics(path: str) -> tuple[frozenset[int], float, float]:
    """Code points the font has glyphs for, and its ascent and descent per em."""
    from fontTools.ttLib import TTFont

    font = TTFont(path, lazy=True)
    hhea, units = font["hhea"], font["head"].unitsPerEm
    return frozenset(font.getBestCmap()), hhea.ascent / units, -hhea.descent / units


def searchable_pdf(pages: Sequence[SourcePage]) -> bytes:
    """One PDF of all pages: each page image, full page, at its resolution (``DEFAULT_DPI`` when
    its file does not say), under an invisible text layer. Every word is written on its own box:
    its font size makes the font's ascent plus descent the box's height, and its horizontal
    stretch makes its width the box's width, so a viewer highlights the handwriting when the
    word is selected, and text extraction gives the lines in reading order."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    font = pdf_font()
    glyphs, ascent, descent = _font_metrics(str(font))
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_creator(CREATOR)
    pdf.add_font("text-layer", fname=str(font))
    for p in pages:
        page = p.page
        image, dpi = _pdf_image(p.image, page)
        scale = 72.0 / dpi
        scale = min(scale, MAX_PDF_SIDE_PT / max(page.width, page.height, 1))
        pdf.add_page(format=(max(1.0, page.width * scale), max(1.0, page.height * scale)))
        if image is not None:
            pdf.image(image, x=0, y=0, w=page.width * scale, h=page.height * scale)
        pdf.text_mode = TextMode.INVISIBLE
        for line in page.lines:
            words = _words(line, page.width, page.height)
            for j, word in enumerate(words):
                text = "".join(c if ord(c) in glyphs else "\ufffd" for c in word.text
                               if c.isprintable())
                if not text:
                    continue
                x0, y0, x1, y1 = (v * scale for v in word.box)
                size = (y1 - y0) / (ascent + descent)
                # The space that separates the words goes on the end of each but the last, so
                # extraction gives the words apart however close the handwriting wrote them.
                shown = text + (" " if j < len(words) - 1 else "")
                pdf.set_font("text-layer", size=size)
                pdf.set_stretching(100)
                natural = pdf.get_string_width(text)
                pdf.set_stretching(100 * (x1 - x0) / natural if natural > 0 else 100)
                pdf.text(x0, y1 - descent * size, shown)
        pdf.text_mode = TextMode.FILL
    return bytes(pdf.output())


def _pdf_image(image, page: Page):
    """The page image as a PIL image the size of the page (EXIF-rotated as the reading was,
    16-bit and odd modes brought to 8 bits), and its resolution in dots per inch."""
    if image is None:
        return None, DEFAULT_DPI
    from PIL import Image, ImageOps

    from .image import load_image

    if isinstance(image, np.ndarray):
        pil = Image.fromarray(image)
    elif isinstance(image, Image.Image):
        pil = image
    else:
        pil = Image.open(io.BytesIO(image) if isinstance(image, (bytes, bytearray)) else image)
    dpi = pil.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))[0]
    dpi = float(dpi) if 100 <= float(dpi or 0) <= 1200 else DEFAULT_DPI
    try:
        pil = ImageOps.exif_transpose(pil)
        if pil.mode in ("RGBA", "LA", "P", "PA"):  # transparent: on white paper, as read
            rgba = pil.convert("RGBA")
            pil = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
        elif pil.mode == "CMYK":
            pil = pil.convert("RGB")
        elif pil.mode not in ("RGB", "L"):
            pil = None
    except Exception:
        pil = None
    if pil is None:  # 16-bit, float: the grey image the page was read from
        source = image if not isinstance(image, Image.Image) else np.asarray(image)
        pil = Image.fromarray(load_image(source))
    if pil.size != (page.width, page.height):
        pil = pil.resize((page.width, page.height))
    return pil, dpi
