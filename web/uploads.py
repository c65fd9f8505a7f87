"""Uploads: request bodies parsed in memory, files sniffed from their bytes and decoded, the
request's options checked, and the errors a person can act on (:class:`UploadError`, with the
API's stable codes). Nothing here touches the file system."""

from __future__ import annotations

import base64
import io
import re
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import Request, request
from PIL import Image, ImageOps

from htr.documents import DOCUMENT_FORMATS, sniff
from htr.errors import DataError, ImageError
from htr.image import load_image
from htr.lexicon import LANGUAGE_CHOICES
from htr.export import FORMATS, SourcePage, export

LEVELS = ("auto", "page", "line", "word")  # htr.page.LEVELS (imported lazily: TensorFlow)

#: What each error code means for HTTP; the codes are part of the API (see openapi.json).
ERROR_STATUS = {
    "no_file": 400, "empty_file": 400, "too_many_files": 400, "invalid_option": 400,
    "invalid_layout": 400,
    "file_too_large": 413, "too_many_pixels": 413,
    "not_an_image": 415, "unsupported_format": 415,
    "corrupt_image": 422, "unreadable_image": 422,
    "not_found": 404, "method_not_allowed": 405, "internal_error": 500,
}
#: The codes only documents and jobs give (``/api/v1/jobs``), and their HTTP statuses.
JOB_ERROR_STATUS = {
    "encrypted_document": 422, "corrupt_document": 422, "empty_document": 422,
    "not_finished": 409, "nothing_read": 409,
}

#: The first bytes of the image formats we recognise, and their names.
class UploadError(Exception):
    """A request or upload the app refuses: a stable ``code`` and a message a person can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = ERROR_STATUS.get(code) or JOB_ERROR_STATUS.get(code, 400)

    def to_dict(self) -> dict:
        return {"error": self.code, "message": self.message}


class InMemoryRequest(Request):
    """Uploaded files are parsed into memory (bounded by MAX_CONTENT_LENGTH), never spooled to a
    temporary file."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return io.BytesIO()


@dataclass
class Upload:
    """One uploaded file: the name the browser gave (shown, never used as a path) and its bytes."""

    name: str
    data: bytes

def decode_upload(data: bytes, formats: list[str], max_pixels: int):
    """Check and decode an upload: ``(grey array, format, warnings)`` or :class:`UploadError`."""
    if not data:
        raise UploadError("empty_file", "The file is empty (0 bytes).")
    kind = sniff(data)
    if kind == "PDF":  # a document, not an image (the code this route has always given)
        raise UploadError("not_an_image", "This file is a PDF document, not an image: documents "
                          "are read in the background, page by page (POST /api/v1/jobs, or the "
                          "upload page).")
    if kind is None:
        raise UploadError("not_an_image", "This file is not an image (its content is not "
                          f"{' or '.join(formats)}, whatever its name says).")
    if kind not in formats:
        if kind in DOCUMENT_FORMATS:  # maybe of many pages: read it as a document, a job
            raise UploadError("unsupported_format", f"{kind} images are read as documents, in "
                              "the background: send them to POST /api/v1/jobs (here, upload "
                              f"{' or '.join(formats)}).")
        raise UploadError("unsupported_format", f"{kind} images are not accepted: upload "
                          f"{' or '.join(formats)}.")
    # load_image checks the pixel count from the header before it decodes (decompression bombs).
    try:
        grey = load_image(data, max_pixels=max_pixels)
    except ImageError as exc:
        if exc.code == "not_image":  # it starts like one: a damaged image
            raise UploadError("corrupt_image", f"The file starts like a {kind} image but is "
                              "corrupt and cannot be decoded.") from None
        raise _image_error(exc, max_pixels) from None
    notes = []
    try:
        with Image.open(io.BytesIO(data)) as image:
            if getattr(image, "n_frames", 1) > 1:
                notes.append(f"This is an animated image ({image.n_frames} frames): only the "
                             "first frame was read.")
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                notes.append("16-bit image: converted to 8 bits for reading.")
    except Exception:  # decoded once already; notes are only notes
        pass
    return grey, kind, notes


def _image_error(exc: ImageError, max_pixels: int) -> UploadError:
    if exc.code == "too_large":
        # No size: Pillow refused the header itself, which it does above MAX_IMAGE_PIXELS.
        size = ("{}x{} pixels".format(*exc.size) if exc.size
                else f"over {Image.MAX_IMAGE_PIXELS:,} pixels")
        return UploadError("too_many_pixels", f"The image is too large ({size}; the limit is "
                           f"{max_pixels:,} pixels). Scale it down and try again.")
    if exc.code == "empty":
        return UploadError("empty_file", "The file is empty (0 bytes).")
    if exc.code == "not_image":
        return UploadError("not_an_image", "This file is not an image that can be read.")
    if exc.code in ("corrupt", "no_pixels"):
        return UploadError("corrupt_image", "The image is corrupt or truncated and cannot be "
                           "decoded. Save or export it again and try again.")
    return UploadError("unreadable_image", f"The image cannot be read: {exc.reason}.")


def display_image(data: bytes, grey, size: int) -> str:
    """A ``data:`` URL of the image as the results page shows it: EXIF-rotated like the reading,
    colour where it has colour, at most ``size`` pixels on its long side (JPEG)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "PA", "CMYK", "1"):
                raise ValueError(image.mode)  # 16-bit and float: the grey reading shows them
            image.draft("RGB", (size, size))
            image = ImageOps.exif_transpose(image)
            if image.mode in ("P", "PA"):
                image = image.convert("RGBA")
            if image.mode in ("RGBA", "LA"):
                white = Image.new("RGBA", image.size, (255, 255, 255, 255))
                image = Image.alpha_composite(white, image.convert("RGBA"))
            image = image.convert("RGB")
            if (image.height > image.width) != (grey.shape[0] > grey.shape[1]):
                raise ValueError("orientation differs from the reading")
    except Exception:
        image = Image.fromarray(grey)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")

# --- request helpers --------------------------------------------------------------------------

def _options(engine) -> tuple[str, str, bool]:
    level = _choice("level", LEVELS, "auto")
    decoder = request.form.get("decoder", engine.default_decoder) or engine.default_decoder
    if decoder not in engine.decoders:
        raise UploadError("invalid_option", f"Unknown or unavailable decoder {decoder!r}: choose "
                          f"one of {', '.join(engine.decoders)}.")
    baseline = request.form.get("baseline", "")
    if baseline not in ("", "none", "tesseract"):
        raise UploadError("invalid_option", f"Unknown baseline {baseline!r}: use 'tesseract' or "
                          "leave it out.")
    return level, decoder, baseline == "tesseract"


def _choice(field: str, allowed, default: str) -> str:
    """The form's ``field``: one of ``allowed``, ``default`` when left out or empty."""
    value = request.form.get(field, default) or default
    if value not in allowed:
        raise UploadError("invalid_option", f"Unknown {field} {value!r}: choose one of "
                          f"{', '.join(allowed)}.")
    return value


def _language() -> str:
    """The form's ``language``: ``auto`` (the default), ``en`` or ``fr``."""
    return _choice("language", LANGUAGE_CHOICES, "auto")


def _format() -> str:
    return _choice("format", FORMATS, "json")


def _layout(image_name: str):
    """The lines of the PAGE-XML or ALTO file uploaded as ``layout`` (parsed in memory), or
    None when there is none."""
    from htr.readers.pagexml import read_layout

    files = [f for f in request.files.getlist("layout") if f.filename or f.content_length]
    if not files:
        return None
    data = files[0].read()
    if not data:
        raise UploadError("invalid_layout", "The layout file is empty.")
    try:
        # The image is the upload; its name only labels the lines (nothing is read from disk).
        return read_layout(data, image=Path(image_name))
    except DataError as exc:
        raise UploadError("invalid_layout", f"The layout is not a PAGE-XML or ALTO file that "
                          f"can be read: {exc}") from None


def _exported(pages: list[SourcePage], fmt: str, stem: str) -> dict:
    """An export as the results page offers it: a file name and a ``data:`` URL."""
    out = export(pages, fmt, stem)
    url = f"data:{out.media_type.split(';')[0]};base64," + base64.b64encode(out.data).decode()
    return {"name": out.filename, "url": url}


def _uploads(limit: int) -> list[Upload]:
    files = [f for f in request.files.getlist("file") if f.filename or f.content_length]
    if not files:
        if request.files.getlist("file"):  # a file field with nothing chosen
            raise UploadError("no_file", "No file was chosen: pick an image to read.")
        raise UploadError("no_file", "No file was sent: send the image in the multipart field "
                          "'file'.")
    if len(files) > limit:
        raise UploadError("too_many_files", f"{len(files)} files were sent; at most {limit} can "
                          "be read at once.")
    return [Upload(_display_name(f.filename), f.read()) for f in files]


def _display_name(name: str | None) -> str:
    """The client's file name as shown to the person (last path part, printable, short). It is
    only ever displayed or echoed, escaped; never used as a path."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:120]
    return name or "upload"


def _download_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name.rsplit(".", 1)[0]).strip("._")[:60]
    return stem or "page"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _data_url(text: str, mime: str) -> str:
    return f"data:{mime};charset=utf-8," + urllib.parse.quote(text)
