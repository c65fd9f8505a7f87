"""The web application: upload handwriting, read it, see where every line and word was found,
beside what Tesseract makes of the same image; and the JSON API (``/api/v1/read``).

``create_app(config)`` builds the Flask application. The recognizers (one per decoder, each with
its page segmenter) are loaded once, when the application is created, never per request.

Uploads never touch the file system: request bodies are parsed into memory (bounded by
``MAX_CONTENT_LENGTH``), images are sniffed from their bytes (the file name and the browser's
content type are not trusted) and the image shown on the results page is sent back inline as a
``data:`` URL, so nothing is stored between requests and any worker can answer any request.

Configuration (``create_app(config)``, or environment variables ``FLASK_<KEY>`` whose values are
read as JSON, e.g. ``FLASK_HTR_MAX_FILES=4``): see :data:`DEFAULTS`.
"""

from __future__ import annotations

import atexit
import base64
import functools
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from flask import (Flask, Request, Response, jsonify, redirect, render_template, request,  # noqa: E402
                   url_for)
from PIL import Image, ImageOps  # noqa: E402
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge  # noqa: E402

from htr.errors import DataError, ImageError  # noqa: E402
from htr.export import FORMATS, SourcePage, export  # noqa: E402
from htr.image import load_image  # noqa: E402
from htr.tesseract import tesseract_text  # noqa: E402

ROOT = Path(__file__).resolve().parent
OPENAPI_FILE = ROOT / "openapi.json"
LEVELS = ("auto", "page", "line", "word")  # htr.page.LEVELS (imported lazily: TensorFlow)
log = logging.getLogger("htr.web")
#: The exports offered as downloads on the results page, beside text and JSON, and their labels.
EXPORTS = {"page": "PAGE-XML", "alto": "ALTO", "hocr": "hOCR", "pdf": "Searchable PDF"}

#: Every setting, with its default. Limits: ``MAX_CONTENT_LENGTH`` (bytes of one request, all its
#: files together; more gets 413), ``HTR_MAX_PIXELS`` (pixels of one image: a decompression bomb
#: is refused before it is decoded), ``HTR_MAX_FILES`` (files of one upload form).
DEFAULTS: dict = {
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "HTR_MAX_PIXELS": 40_000_000,
    "HTR_MAX_FILES": 10,
    "HTR_MODEL": None,                       # model folder; None: the shipped models/default
    "HTR_DECODERS": None,                    # loaded at start-up; None: all the library's
    "HTR_DEFAULT_DECODER": None,             # None: the library's default (htr.decode)
    "HTR_FORMATS": ["PNG", "JPEG"],          # accepted image formats (sniffed from the bytes)
    "HTR_LOW_CONFIDENCE": 0.5,               # words read with less confidence are marked
    "HTR_TESSERACT": True,                   # offer Tesseract's reading beside ours
    "HTR_TESSERACT_CMD": None,               # the tesseract binary; None: found on PATH
    "HTR_TESSERACT_LANG": "eng",
    "HTR_TESSERACT_TIMEOUT": 60,             # seconds
    "HTR_DISPLAY_SIZE": 1600,                # long side of the image shown on the results page
    "HTR_WARMUP": True,                      # read a drawn line at start-up (first request fast)
    "HTR_BACKGROUND_LOAD": True,             # load the other decoders after the default, aside
}

#: What each error code means for HTTP; the codes are part of the API (see openapi.json).
ERROR_STATUS = {
    "no_file": 400, "empty_file": 400, "too_many_files": 400, "invalid_option": 400,
    "invalid_layout": 400,
    "file_too_large": 413, "too_many_pixels": 413,
    "not_an_image": 415, "unsupported_format": 415,
    "corrupt_image": 422, "unreadable_image": 422,
    "not_found": 404, "method_not_allowed": 405, "internal_error": 500,
}

#: The first bytes of the image formats we recognise, and their names.
_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"),
]
class UploadError(Exception):
    """A request or upload the app refuses: a stable ``code`` and a message a person can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = ERROR_STATUS.get(code, 400)

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


# --- the models, loaded once per process ------------------------------------------------------

class Engine:
    """The recognizers of one process, one per decoder, each with its page reader (segmenter),
    and Tesseract's version (None when it is not installed). Reading is serialised: the network
    already uses every core, and one read at a time keeps memory flat.

    The default decoder is loaded (and warmed up) before the app serves anything; the others are
    loaded right after, in a background thread, so that the first answer comes sooner. A request
    for one of them that comes before it is ready waits for it."""

    def __init__(self, model: str | None, decoders: list[str] | None, default: str | None,
                 tesseract: bool, tesseract_cmd: str | None, warmup: bool,
                 background: bool = True) -> None:
        from htr.decode import DECODERS, DEFAULT_DECODER

        started = time.perf_counter()
        from htr.recognizer import DEFAULT_MODEL

        self.model_dir = Path(model or DEFAULT_MODEL)
        default = default or (DEFAULT_DECODER if not decoders or DEFAULT_DECODER in decoders
                              else decoders[0])
        #: Decoders offered, the default first (the upload form lists them in this order).
        self.decoders = [default] + [d for d in (decoders or DECODERS) if d != default]
        self.default_decoder = default
        self.recognizers: dict = {}
        self.failed: dict[str, str] = {}
        self._ready = {name: threading.Event() for name in self.decoders}
        self.lock = threading.Lock()
        self.warmup = warmup
        self._load(default)  # raises: without its default decoder the app cannot work
        first = self.recognizers[default]
        self.height = first.height
        self.characters = len(first.charset)
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tesseract")
        self.tmpdir: str | None = None
        self.tesseract_version = self._tesseract_version(tesseract_cmd) if tesseract else None
        self.load_seconds = time.perf_counter() - started
        log.info("loaded model %s, decoder %s, tesseract %s in %.1f s", self.model_dir.name,
                 default, self.tesseract_version or "not installed", self.load_seconds)
        rest = self.decoders[1:]
        if background and rest:
            threading.Thread(target=self._load_all, args=(rest,), name="load-decoders",
                             daemon=True).start()
        else:
            self._load_all(rest)

    def _load(self, name: str) -> None:
        from htr.recognizer import Recognizer

        try:
            base = self.recognizers.get(self.default_decoder)
            # One model in memory: the other decoders share the default recognizer's network.
            recognizer = (base.with_decoder(name) if base is not None
                          else Recognizer.load(self.model_dir, decoder=name))
            if self.warmup:
                with self.lock:
                    _warm_up(recognizer)
            self.recognizers[name] = recognizer
        except Exception as exc:
            if name == self.default_decoder:
                raise
            log.warning("decoder %s not loaded: %s", name, exc)
            self.failed[name] = str(exc)
            self.decoders.remove(name)
        finally:
            self._ready[name].set()

    def _load_all(self, names: list[str]) -> None:
        for name in names:
            self._load(name)
        log.info("decoders loaded: %s", ", ".join(self.recognizers))

    def recognizer(self, decoder: str, timeout: float = 300):
        """The recognizer of a decoder, waiting for it if it is still being loaded."""
        if decoder not in self.recognizers and decoder in self._ready:
            self._ready[decoder].wait(timeout)
        if decoder not in self.recognizers:
            raise UploadError("invalid_option", f"The {decoder} decoder is not available on this "
                              f"server: choose one of {', '.join(self.recognizers)}.")
        return self.recognizers[decoder]

    def _tesseract_version(self, cmd: str | None) -> str | None:
        """Tesseract's version, or None when it cannot be run. pytesseract hands the image to
        the binary through a temporary file: those go to a private directory of this process
        (mode 0700), which pytesseract empties after each call and which is removed at exit."""
        try:
            import pytesseract

            if cmd:
                pytesseract.pytesseract.tesseract_cmd = cmd
            version = str(pytesseract.get_tesseract_version())
        except Exception as exc:  # not installed, not runnable, pytesseract missing
            log.warning("Tesseract not available: %s", exc)
            return None
        self.tmpdir = _private_tesseract_dir()
        return version

    def read(self, grey, level: str, decoder: str, layout=None):
        recognizer = self.recognizer(decoder)
        with self.lock:
            return recognizer.read_page(grey, level=level, layout=layout)

    def tesseract(self, grey, level: str, lang: str, timeout: float) -> dict:
        """Tesseract's reading of the same (EXIF-rotated, greyscale) image, with its time."""
        if self.tesseract_version is None:
            return {"engine": "tesseract", "available": False,
                    "message": "Tesseract is not installed on this server."}
        started = time.perf_counter()
        try:
            text = tesseract_text(grey, level, lang, timeout)
        except RuntimeError as exc:  # pytesseract's timeout
            return {"engine": "tesseract", "available": True, "version": self.tesseract_version,
                    "error": f"Tesseract gave up: {exc}", "text": "",
                    "time_ms": _ms(time.perf_counter() - started)}
        except Exception as exc:
            log.warning("Tesseract failed: %s", exc)
            return {"engine": "tesseract", "available": True, "version": self.tesseract_version,
                    "error": "Tesseract could not read this image.", "text": "",
                    "time_ms": _ms(time.perf_counter() - started)}
        return {"engine": "tesseract", "available": True, "version": self.tesseract_version,
                "text": text, "time_ms": _ms(time.perf_counter() - started)}


@functools.lru_cache(maxsize=1)
def _private_tesseract_dir() -> str:
    """One private directory (mode 0700) per process for pytesseract's temporary files, removed
    at exit. pytesseract's temporary-file maker is module-wide, so the directory lives as long as
    the process, not as long as one app: a second app (tests) must not find it gone."""
    import pytesseract

    path = tempfile.mkdtemp(prefix="htr-web-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    pytesseract.pytesseract.NamedTemporaryFile = functools.partial(
        tempfile.NamedTemporaryFile, dir=path)
    return path


def _warm_up(recognizer) -> None:
    """Read a drawn line once, so that the first user waits for no graph tracing."""
    import cv2
    import numpy as np

    image = np.full((48, 260), 235, np.uint8)
    cv2.putText(image, "warm up", (10, 34), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.1, 20, 2)
    recognizer.read_page(image, level="line")


# --- reading one upload -----------------------------------------------------------------------

def sniff(data: bytes) -> str | None:
    """The image format the bytes start with, whatever the file is called; None if unknown."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def decode_upload(data: bytes, formats: list[str], max_pixels: int):
    """Check and decode an upload: ``(grey array, format, warnings)`` or :class:`UploadError`."""
    if not data:
        raise UploadError("empty_file", "The file is empty (0 bytes).")
    kind = sniff(data)
    if kind is None:
        raise UploadError("not_an_image", "This file is not an image (its content is not "
                          f"{' or '.join(formats)}, whatever its name says).")
    if kind not in formats:
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


def read_upload(upload: Upload, level: str, decoder: str, baseline: bool,
                display: bool = False, layout=None) -> dict:
    """Read one upload into the API's result (a dict), or raise :class:`UploadError`. The
    :class:`htr.results.Page` itself is kept under ``_page`` for the exports (not JSON).
    ``layout``: the lines of a PAGE-XML or ALTO file to read along."""
    from flask import current_app

    cfg, engine = current_app.config, current_app.extensions["htr"]
    started = time.perf_counter()
    grey, kind, notes = decode_upload(upload.data, cfg["HTR_FORMATS"], cfg["HTR_MAX_PIXELS"])
    decoded = time.perf_counter()
    tess = None
    if baseline and cfg["HTR_TESSERACT"] and level != "auto":
        tess = engine.pool.submit(engine.tesseract, grey, level, cfg["HTR_TESSERACT_LANG"],
                                  cfg["HTR_TESSERACT_TIMEOUT"])
    try:
        page = engine.read(grey, level, decoder, layout)
    except ImageError as exc:
        raise _image_error(exc, cfg["HTR_MAX_PIXELS"]) from None
    read = time.perf_counter()
    if baseline and cfg["HTR_TESSERACT"] and tess is None:  # auto: Tesseract told what we found
        tess = engine.pool.submit(engine.tesseract, grey, page.level, cfg["HTR_TESSERACT_LANG"],
                                  cfg["HTR_TESSERACT_TIMEOUT"])
    result = mark_confidence(page.to_dict(), cfg["HTR_LOW_CONFIDENCE"])
    result.update(file=upload.name, format=kind, text=page.text, decoder=decoder,
                  model=engine.model_dir.name, warnings=notes,
                  low_confidence_threshold=cfg["HTR_LOW_CONFIDENCE"])
    result.setdefault("level", level)
    timings = {"decode_ms": _ms(decoded - started), "read_ms": _ms(read - decoded)}
    if tess is not None:
        result["baseline"] = tess.result()
    elif baseline:
        result["baseline"] = {"engine": "tesseract", "available": False,
                              "message": "Tesseract is turned off on this server."}
    timings["total_ms"] = _ms(time.perf_counter() - started)
    result["timings"] = timings
    if display:
        result["_display"] = display_image(upload.data, grey, cfg["HTR_DISPLAY_SIZE"])
    result["_page"] = page
    log.info("read %s %dx%d level=%s decoder=%s lines=%d in %.0f ms", kind, grey.shape[1],
             grey.shape[0], result["level"], decoder, len(result["lines"]), timings["total_ms"])
    return result


def mark_confidence(page: dict, threshold: float) -> dict:
    """Flag words (and lines without words) read with less than ``threshold`` confidence."""
    for line in page["lines"]:
        line["low_confidence"] = line["confidence"] < threshold
        for word in line["words"]:
            word["low_confidence"] = word["confidence"] < threshold
    return page


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# --- request helpers --------------------------------------------------------------------------

def _options(engine: Engine) -> tuple[str, str, bool]:
    level = request.form.get("level", "auto") or "auto"
    if level not in LEVELS:
        raise UploadError("invalid_option", f"Unknown level {level!r}: choose one of "
                          f"{', '.join(LEVELS)}.")
    decoder = request.form.get("decoder", engine.default_decoder) or engine.default_decoder
    if decoder not in engine.decoders:
        raise UploadError("invalid_option", f"Unknown or unavailable decoder {decoder!r}: choose "
                          f"one of {', '.join(engine.decoders)}.")
    baseline = request.form.get("baseline", "")
    if baseline not in ("", "none", "tesseract"):
        raise UploadError("invalid_option", f"Unknown baseline {baseline!r}: use 'tesseract' or "
                          "leave it out.")
    return level, decoder, baseline == "tesseract"


def _format() -> str:
    fmt = request.form.get("format", "json") or "json"
    if fmt not in FORMATS:
        raise UploadError("invalid_option", f"Unknown format {fmt!r}: choose one of "
                          f"{', '.join(FORMATS)}.")
    return fmt


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


# --- the application --------------------------------------------------------------------------

def create_app(config: dict | None = None) -> Flask:
    """The Flask application: loads the model once (see :class:`Engine`), then serves the upload
    page (``/``), results (``POST /read``), the API and its OpenAPI document."""
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("FLASK")
    app.config.update(config or {})
    app.config["HTR_FORMATS"] = [f.upper() for f in app.config["HTR_FORMATS"]]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = Engine(app.config["HTR_MODEL"], app.config["HTR_DECODERS"],
                    app.config["HTR_DEFAULT_DECODER"], app.config["HTR_TESSERACT"], app.config["HTR_TESSERACT_CMD"],
                    app.config["HTR_WARMUP"], app.config["HTR_BACKGROUND_LOAD"])
    app.extensions["htr"] = engine
    openapi = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))

    def info() -> dict:
        cfg = app.config
        return {
            "status": "ok",
            "model": {"name": engine.model_dir.name, "height": engine.height,
                      "characters": engine.characters,
                      "load_seconds": round(engine.load_seconds, 2)},
            "decoders": list(engine.decoders), "default_decoder": engine.default_decoder,
            "decoders_loaded": [d for d in engine.decoders if d in engine.recognizers],
            "levels": list(LEVELS), "formats": cfg["HTR_FORMATS"],
            "tesseract": {"available": engine.tesseract_version is not None and
                          bool(cfg["HTR_TESSERACT"]), "version": engine.tesseract_version},
            "low_confidence_threshold": cfg["HTR_LOW_CONFIDENCE"],
            "limits": {"max_bytes": cfg["MAX_CONTENT_LENGTH"], "max_pixels": cfg["HTR_MAX_PIXELS"],
                       "max_files": cfg["HTR_MAX_FILES"]},
        }

    @app.get("/")
    def index():
        return render_template("index.html", info=info())

    @app.get("/healthz")
    def healthz():
        return jsonify(info())

    @app.get("/api/v1/openapi.json")
    def openapi_json():
        return jsonify(openapi)

    @app.post("/api/v1/read")
    def api_read():
        level, decoder, baseline = _options(engine)
        fmt = _format()
        files = _uploads(1)
        result = read_upload(files[0], level, decoder, baseline, layout=_layout(files[0].name))
        page = result.pop("_page")
        if fmt == "json":
            return jsonify(result)
        out = export([SourcePage(page, files[0].name, files[0].data)], fmt,
                     _download_stem(files[0].name))
        return Response(out.data, content_type=out.media_type, headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"'})

    @app.get("/read")
    def read_get():
        return redirect(url_for("index"))

    @app.post("/read")
    def read_form():
        try:
            level, decoder, baseline = _options(engine)
            files = _uploads(app.config["HTR_MAX_FILES"])
        except UploadError as exc:
            return render_template("index.html", info=info(), error=exc.message), exc.status
        results, statuses, read = [], [], []
        for upload in files:
            try:
                result = read_upload(upload, level, decoder, baseline, display=True)
            except UploadError as exc:
                results.append({"file": upload.name, "error": exc.to_dict()})
                statuses.append(exc.status)
                continue
            display = result.pop("_display")
            stem = _download_stem(upload.name)
            source = SourcePage(result.pop("_page"), upload.name, upload.data)
            read.append(source)
            results.append({
                "file": upload.name, "page": result, "image": display,
                "txt_name": f"{stem}.txt", "json_name": f"{stem}.json",
                "txt_url": _data_url(result["text"] + "\n", "text/plain"),
                "json_url": _data_url(json.dumps(result, indent=2, ensure_ascii=False),
                                      "application/json"),
                "exports": {fmt: _exported([source], fmt, stem) for fmt in EXPORTS},
            })
            statuses.append(200)
        status = 200 if 200 in statuses else statuses[0]
        # Several pages read: the whole document too (one PDF, ZIPs of PAGE and ALTO per page).
        document = ({fmt: _exported(read, fmt, "document") for fmt in EXPORTS}
                    if len(read) > 1 else None)
        return render_template("results.html", info=info(), results=results, level=level,
                               decoder=decoder, baseline=baseline, document=document,
                               exports=EXPORTS), status

    @app.errorhandler(UploadError)
    def upload_error(exc: UploadError):
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        return render_template("error.html", info=info(), error=exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, RequestEntityTooLarge):
            limit = app.config["MAX_CONTENT_LENGTH"]
            err = UploadError("file_too_large", f"The upload is too large: the limit is "
                              f"{limit / 1048576:.1f} MB per request.")
        else:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code, f"http_{exc.code}")
            err = UploadError(code, exc.description or exc.name)
            err.status = exc.code or 500
        if _wants_json():
            return jsonify(err.to_dict()), err.status
        return render_template("error.html", info=info(), error=err.to_dict()), err.status

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        err = UploadError("internal_error", "Something went wrong on the server while reading "
                          "this request. It has been logged; please try again.")
        if _wants_json():
            return jsonify(err.to_dict()), 500
        return render_template("error.html", info=info(), error=err.to_dict()), 500

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'")
        return response

    return app
