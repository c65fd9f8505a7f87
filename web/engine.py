"""The models of one web process (:class:`Engine`, loaded once, when the app is created) and the
reading of one upload while the request waits (``/api/v1/read``, ``POST /read``)."""

from __future__ import annotations

import atexit
import functools
import logging
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from htr.documents import page_result
from htr.errors import ImageError
from htr.orientation import turned_image
from htr.tesseract import tesseract_text

from .uploads import LEVELS, Upload, UploadError, _image_error, decode_upload, display_image

log = logging.getLogger("htr.web")


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
        #: Other models than the default (``model=``), loaded when first named: the
        #: least recently used is dropped beyond ``model_cache_size`` (web.models sets the store).
        self.store = None
        self.model_cache_size = 2
        self._models: OrderedDict[str, dict] = OrderedDict()
        self._models_lock = threading.Lock()
        self._ready = {name: threading.Event() for name in self.decoders}
        self.lock = threading.Lock()
        self.warmup = warmup
        self._load(default)  # raises: without its default decoder the app cannot work
        if warmup:  # dateparser's and YAKE's data too: the first read then loads nothing
            from htr.insights import warm_up as warm_up_insights

            warm_up_insights()
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

    def recognizer_for(self, decoder: str, model: str | None = None):
        """The recognizer of a decoder for ``model`` (a name from the models list; None or the
        default's name: the default model, loaded at start-up). Another model is loaded on first
        use and kept among the ``model_cache_size`` most recently used; a model folder written
        again under the same name is loaded afresh. Unknown names: :class:`UploadError`."""
        if not model or model == self.model_dir.name or self.store is None:
            if model and model != self.model_dir.name:
                raise UploadError("invalid_option", f"There is no model {model!r}: this server "
                                  f"offers {self.model_dir.name} only.")
            return self.recognizer(decoder)
        from htr.errors import ModelError
        from htr.model import MODEL_FILE
        from htr.recognizer import Recognizer

        if decoder not in self.decoders:
            raise UploadError("invalid_option", f"The {decoder} decoder is not available on this "
                              f"server: choose one of {', '.join(self.recognizers)}.")
        try:
            path = self.store.find(model)
            stamp = (path / MODEL_FILE).stat().st_mtime_ns
            with self._models_lock:
                entry = self._models.get(model)
                if entry is None or entry["stamp"] != stamp:
                    first = Recognizer.load(path, decoder=self.default_decoder)
                    entry = {"stamp": stamp, self.default_decoder: first}
                    self._models[model] = entry
                    while len(self._models) > self.model_cache_size:
                        self._models.popitem(last=False)
                    log.info("loaded model %s", model)
                self._models.move_to_end(model)
                if decoder not in entry:
                    entry[decoder] = entry[self.default_decoder].with_decoder(decoder)
                return entry[decoder]
        except ModelError as exc:
            raise UploadError("invalid_option", str(exc)) from None

    def models_loaded(self) -> list[str]:
        """The names of the models in memory, the default first."""
        return [self.model_dir.name, *self._models]

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

    def read(self, grey, level: str, decoder: str, layout=None, language: str | None = None,
             model: str | None = None):
        """Read one image with a decoder, in ``language`` (``en``, ``fr``; ``auto`` or None:
        the one the page fits best), with ``model`` (None: the default)."""
        try:
            recognizer = self.recognizer_for(decoder, model).in_language(language)
        except ValueError as exc:
            raise UploadError("invalid_option", f"{exc}.") from None
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

def requested_model() -> str | None:
    """The request's ``model=`` (form field or query), or None for the default model."""
    from flask import request

    return (request.values.get("model") or "").strip() or None


def read_upload(upload: Upload, level: str, decoder: str, baseline: bool,
                display: bool = False, layout=None, language: str | None = None,
                model: str | None = None) -> dict:
    """Read one upload into the API's result (a dict), or raise :class:`UploadError`. The
    :class:`htr.results.Page` itself is kept under ``_page`` for the exports (not JSON).
    ``layout``: the lines of a PAGE-XML or ALTO file to read along. ``model``: a model's name
    (None: the request's ``model=``, else the default model)."""
    from flask import current_app

    cfg, engine = current_app.config, current_app.extensions["htr"]
    model = model or requested_model() or engine.model_dir.name
    started = time.perf_counter()
    grey, kind, notes = decode_upload(upload.data, cfg["HTR_FORMATS"], cfg["HTR_MAX_PIXELS"])
    decoded = time.perf_counter()
    tess = None
    if baseline and cfg["HTR_TESSERACT"] and level != "auto":
        tess = engine.pool.submit(engine.tesseract, grey, level, cfg["HTR_TESSERACT_LANG"],
                                  cfg["HTR_TESSERACT_TIMEOUT"])
    try:
        page = engine.read(grey, level, decoder, layout, language, model)
    except ImageError as exc:
        raise _image_error(exc, cfg["HTR_MAX_PIXELS"]) from None
    read = time.perf_counter()
    if baseline and cfg["HTR_TESSERACT"] and tess is None:  # auto: Tesseract told what we found
        upright = turned_image(grey, page.turned // 90) if page.turned else grey
        tess = engine.pool.submit(engine.tesseract, upright, page.level, cfg["HTR_TESSERACT_LANG"],
                                  cfg["HTR_TESSERACT_TIMEOUT"])
    timings = {"decode_ms": _ms(decoded - started), "read_ms": _ms(read - decoded)}
    result = page_result(page, file=upload.name, kind=kind, decoder=decoder,
                         model=model, low_confidence=cfg["HTR_LOW_CONFIDENCE"],
                         timings=timings, warnings=notes)
    result.setdefault("level", level)
    if tess is not None:
        result["baseline"] = tess.result()
    elif baseline:
        result["baseline"] = {"engine": "tesseract", "available": False,
                              "message": "Tesseract is turned off on this server."}
    timings["total_ms"] = _ms(time.perf_counter() - started)  # the same dict, in the result
    if display:
        result["_display"] = display_image(upload.data, grey, cfg["HTR_DISPLAY_SIZE"])
    result["_page"] = page
    log.info("read %s %dx%d level=%s decoder=%s lines=%d in %.0f ms", kind, grey.shape[1],
             grey.shape[0], result["level"], decoder, len(result["lines"]), timings["total_ms"])
    return result

def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
