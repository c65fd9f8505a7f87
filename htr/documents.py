"""Whole documents in: the bytes of a PDF, a multi-page TIFF, HEIC/HEIF, WEBP, PNG or JPEG file
(or several files read as one document) opened into numbered pages, each rendered to a greyscale
image only when it is read.

The format is sniffed from the bytes, never taken from the file name. Limits (:class:`Limits`):
pages per document (the pages beyond are left out, with a note), bytes per file and pixels per
page. What cannot be read is named: a whole document that cannot be opened (not a document, an
encrypted PDF, a damaged file) raises :class:`DocumentError`; a page that cannot be rendered or
decoded (a PDF page of absurd size, a broken TIFF page) gives a :class:`DocumentError` naming that
page (``page``), while the other pages are still read.

PDF pages are rendered with pypdfium2 at ``Limits.dpi`` (any text layer is ignored: only what is
drawn on the page is read); the images of the other formats are decoded with Pillow (HEIF through
pillow-heif).
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .errors import HTRError, ImageError
from .image import _check_size, _pil_to_grey, load_image
from .results import Line, Page, Word

#: Every format a document may come in, as :func:`sniff` names them.
DOCUMENT_FORMATS: tuple[str, ...] = ("PDF", "TIFF", "HEIF", "WEBP", "PNG", "JPEG")
#: Formats whose files may hold several pages (Pillow frames; PDF pages apart).
_MULTI_FRAME = ("TIFF", "HEIF", "WEBP")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs",
                b"mif1", b"msf1"}
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"),
    (b"MM\x00+", "TIFF"), (b"BM", "BMP"),
]
#: pdfium is not thread-safe: one call into it at a time in a process.
_PDFIUM = threading.RLock()
_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def sniff(data: bytes) -> str | None:
    """The format the bytes are in (one of :data:`DOCUMENT_FORMATS`, or GIF, BMP), whatever the
    file is called; None when it is none of them."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if b"%PDF-" in data[:1024]:  # the header may follow a little junk (the spec allows 1024 bytes)
        return "PDF"
    if data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(size, 64), 4)}
        if brands & _HEIF_BRANDS:
            return "HEIF"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


@dataclass(frozen=True)
class Limits:
    """What one document may hold: ``max_pages`` pages (the rest are left out, with a note),
    ``max_bytes`` bytes per file, ``max_pixels`` pixels per page (a PDF page is measured at
    ``dpi`` before it is rendered, an image from its header before it is decoded)."""

    max_pages: int = 200
    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 40_000_000
    dpi: int = 200


class DocumentError(HTRError):
    """A document, or one of its pages (``page``, counted from 1), that cannot be read: a stable
    ``code`` (the web API's error codes) and a message a person can act on, naming the file and
    the page."""

    def __init__(self, code: str, message: str, page: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.page = page

    def to_dict(self) -> dict:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class Source:
    """One file of a document: the name it was given (shown only), its bytes and its format."""

    name: str
    data: bytes
    kind: str


@dataclass(frozen=True)
class PageRef:
    """Where page ``number`` (from 1, over the whole document) comes from: ``source`` (index of
    the file) and ``index`` (its page or frame in that file, from 0)."""

    number: int
    source: int
    index: int


@dataclass
class Document:
    """An opened document: its files, its pages (:class:`PageRef`, in order), notes about what
    was left out, and the pages already known to be broken when it was opened."""

    name: str
    sources: list[Source]
    pages: list[PageRef]
    limits: Limits = field(default_factory=Limits)
    notes: list[str] = field(default_factory=list)
    broken: dict[int, DocumentError] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        kinds = {s.kind for s in self.sources}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def page_name(self, number: int) -> str:
        """The file a page comes from, and which page of it (for messages and exports)."""
        ref = self.pages[number - 1]
        source = self.sources[ref.source]
        count = sum(1 for p in self.pages if p.source == ref.source)
        return source.name if count == 1 and source.kind not in ("PDF",) else \
            f"{source.name} page {ref.index + 1}"

    def render(self, number: int) -> np.ndarray:
        """Page ``number`` (from 1) as an 8-bit greyscale image, or :class:`DocumentError`
        naming the page."""
        if number in self.broken:
            raise self.broken[number]
        if not 1 <= number <= len(self.pages):
            raise DocumentError("not_found", f"{self.name} has no page {number}.", number)
        ref = self.pages[number - 1]
        source = self.sources[ref.source]
        return render_page(source, ref.index, self.limits, number)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None, DocumentError | None]]:
        """``(number, image, None)`` for each page that renders, ``(number, None, error)`` for
        each that does not."""
        for ref in self.pages:
            try:
                yield ref.number, self.render(ref.number), None
            except DocumentError as exc:
                yield ref.number, None, exc


def open_document(files: Sequence[tuple[str, bytes]], limits: Limits = Limits(),
                  formats: Sequence[str] = DOCUMENT_FORMATS, name: str | None = None) -> Document:
    """Open one file, or several read one after the other as one document, into numbered pages
    (nothing is rendered yet). Raises :class:`DocumentError` when a file cannot be opened at all
    (empty, not a document, a format not accepted, too large, encrypted, damaged)."""
    files = list(files)
    if not files:
        raise DocumentError("no_file", "No file was given.")
    name = name or (files[0][0] if len(files) == 1 else "document")
    document = Document(name, [], [], limits)
    for source_name, data in files:
        source = _source(source_name, data, limits, formats)
        index = len(document.sources)
        document.sources.append(source)
        room = limits.max_pages - len(document.pages)
        count, broken = _count_pages(source, room + 1)
        if count > room:
            total = f"{count - 1}+" if count == room + 1 and source.kind != "PDF" else str(count)
            document.notes.append(
                f"{source.name} has {total} pages: only the first {limits.max_pages} pages of the "
                f"document are read (the limit per document).")
            count = room
        for i in range(count):
            number = len(document.pages) + 1
            document.pages.append(PageRef(number, index, i))
            if broken is not None and i == broken[0]:
                document.broken[number] = DocumentError(
                    "corrupt_page", f"{source.name}: page {i + 1} is damaged and cannot be read "
                    f"({broken[1]}); the pages after it cannot be reached.", number)
    if not document.pages:
        raise DocumentError("empty_document", f"{name} has no pages.")
    return document


def _source(name: str, data: bytes, limits: Limits, formats: Sequence[str]) -> Source:
    if not data:
        raise DocumentError("empty_file", f"{name}: the file is empty (0 bytes).")
    if len(data) > limits.max_bytes:
        raise DocumentError("file_too_large", f"{name}: the file is {len(data) / 1048576:.1f} MB; "
                            f"the limit is {limits.max_bytes / 1048576:.1f} MB per file.")
    kind = sniff(data)
    accepted = ", ".join(formats)
    if kind is None:
        raise DocumentError("not_an_image", f"{name}: this file is not a document or image (its "
                            f"content is none of {accepted}, whatever its name says).")
    if kind not in formats:
        raise DocumentError("unsupported_format", f"{name}: {kind} files are not accepted: "
                            f"send {accepted}.")
    return Source(name, data, kind)


def _count_pages(source: Source, at_most: int) -> tuple[int, tuple[int, str] | None]:
    """How many pages a file holds (counting stops after ``at_most`` for images; a PDF says),
    and the first broken page's index and reason when the file's page chain breaks."""
    if source.kind == "PDF":
        with _PDFIUM:
            return len(_open_pdf(source)), None
    if source.kind not in _MULTI_FRAME:
        return 1, None
    if source.kind == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(source.data))
    except Exception as exc:
        raise DocumentError("corrupt_document", f"{source.name}: the file starts like a "
                            f"{source.kind} file but cannot be opened ({exc}).") from None
    count = 0
    while count < at_most:
        try:
            image.seek(count)
        except EOFError:
            break
        except Exception as exc:  # a broken link in the chain of pages (TIFF IFDs)
            if count == 0:
                raise DocumentError("corrupt_document", f"{source.name}: the file cannot be "
                                    f"read ({exc}).") from None
            return count + 1, (count, str(exc) or type(exc).__name__)
        count += 1
    return count, None


def _open_pdf(source: Source):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(source.data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise DocumentError("encrypted_document", f"{source.name}: the PDF is encrypted "
                                "(protected by a password): remove the protection and send it "
                                "again.") from None
        raise DocumentError("corrupt_document", f"{source.name}: the file starts like a PDF but "
                            f"cannot be opened ({exc}).") from None


def render_page(source: Source, index: int, limits: Limits, number: int | None = None) -> np.ndarray:
    """Page ``index`` (from 0) of one file as a greyscale image, or :class:`DocumentError`
    naming the page (``number``: its number in the whole document, for the error)."""
    number = number or index + 1
    where = f"{source.name}: page {index + 1}"
    if source.kind == "PDF":
        return _render_pdf_page(source, index, limits, number, where)
    if source.kind not in _MULTI_FRAME:
        try:
            return load_image(source.data, max_pixels=limits.max_pixels)
        except ImageError as exc:
            raise _page_error(exc, where, number) from None
    if source.kind == "HEIF":
        _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(source.data))
            image.seek(index)
            _check_size(image.size, None, limits.max_pixels)
            image.load()
            return _pil_to_grey(image, None, limits.max_pixels)
        except ImageError as exc:
            raise _page_error(exc, where, number) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DocumentError("too_many_pixels", f"{where} is too large to decode "
                                f"(over {limits.max_pixels:,} pixels).", number) from None
        except Exception as exc:
            raise DocumentError("corrupt_page", f"{where} is damaged and cannot be read "
                                f"({exc or type(exc).__name__}).", number) from None


def _render_pdf_page(source: Source, index: int, limits: Limits, number: int,
                     where: str) -> np.ndarray:
    with _PDFIUM:
        pdf = _open_pdf(source)
        try:
            page = pdf[index]
            width_pt, height_pt = page.get_size()
            scale = limits.dpi / 72
            w, h = round(width_pt * scale), round(height_pt * scale)
            if w < 1 or h < 1:
                raise DocumentError("corrupt_page", f"{where} has no area ({width_pt:g} x "
                                    f"{height_pt:g} points).", number)
            if w * h > limits.max_pixels:
                raise DocumentError(
                    "too_many_pixels", f"{where} is {width_pt / 72:.0f} x {height_pt / 72:.0f} "
                    f"inches: {w:,} x {h:,} pixels at {limits.dpi} dpi, over the limit of "
                    f"{limits.max_pixels:,} pixels per page.", number)
            bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False)
            grey = np.array(bitmap.to_numpy(), copy=True)
        except DocumentError:
            raise
        except Exception as exc:
            raise DocumentError("corrupt_page", f"{where} cannot be rendered ({exc}).",
                                number) from None
        finally:
            pdf.close()
    if grey.ndim == 3:
        grey = grey[..., 0] if grey.shape[2] == 1 else \
            np.asarray(Image.fromarray(grey[..., :3]).convert("L"))
    return np.ascontiguousarray(grey, dtype=np.uint8)


def _page_error(exc: ImageError, where: str, number: int) -> DocumentError:
    code = {"too_large": "too_many_pixels", "not_image": "corrupt_page",
            "corrupt": "corrupt_page"}.get(exc.code, "unreadable_page")
    return DocumentError(code, f"{where}: {exc.reason}.", number)


# --- read pages as the API shows them ---------------------------------------------------------

def mark_confidence(page: dict, threshold: float) -> dict:
    """Flag words (and lines without words) read with less than ``threshold`` confidence."""
    for line in page["lines"]:
        line["low_confidence"] = line["confidence"] < threshold
        for word in line["words"]:
            word["low_confidence"] = word["confidence"] < threshold
    return page


def page_result(page: Page, *, file: str, kind: str, decoder: str, model: str,
                low_confidence: float, timings: dict, warnings: Sequence[str] = (),
                number: int | None = None) -> dict:
    """A read page as the API gives it (``/api/v1/read`` and each page of a job's document),
    with its key phrases and entities (:mod:`htr.insights`)."""
    from .insights import page_insights
    from .orientation import turn_note

    result = mark_confidence(page.to_dict(), low_confidence)
    if number is not None:
        result["page"] = number
    if page.turned:  # said beside the other notes, where a reader looks
        warnings = [*warnings, turn_note(page.turned)]
    result.update(file=file, format=kind, text=page.text, decoder=decoder, model=model,
                  warnings=list(warnings), low_confidence_threshold=low_confidence,
                  timings=timings, insights=page_insights(page))
    return result


def page_error(number: int, file: str, error: DocumentError) -> dict:
    """A page that could not be read, as a document's page list shows it."""
    return {"page": number, "file": file, "error": error.to_dict()}


def page_from_dict(data: dict) -> Page:
    """A :class:`~htr.results.Page` back from its API dict (for exports of a stored result)."""
    lines = tuple(Line(
        box=tuple(ln["box"]), polygon=tuple(tuple(p) for p in ln.get("polygon", ())),
        baseline=tuple(tuple(p) for p in ln.get("baseline", ())), text=ln.get("text", ""),
        confidence=ln.get("confidence", 0.0),
        words=tuple(Word(tuple(w["box"]), w.get("text", ""), w.get("confidence", 0.0))
                    for w in ln.get("words", ())),
        id=ln.get("id", ""), region=ln.get("region", "")) for ln in data.get("lines", ()))
    return Page(data["width"], data["height"], lines, data.get("level", "page"),
                turned=data.get("turned", 0))
