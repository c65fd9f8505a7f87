"""The web application: upload handwriting, read it, see where every line and word was found,
beside what Tesseract makes of the same image; whole documents (PDF, TIFF, HEIC, WEBP) read as
background jobs with progress; and the JSON API (``/api/v1/read``, ``/api/v1/jobs``).

``create_app(config)`` builds the Flask application from the web package (:mod:`web`: one module
per concern, each registered here). The recognizers (one per decoder, each with its page
segmenter) are loaded once, when the application is created, never per request; the job backend
(:mod:`htr.jobs`: embedded, or Celery with ``HTR_BROKER_URL``) is opened then too.

Uploads never touch the app's folders: request bodies are parsed into memory (bounded by
``MAX_CONTENT_LENGTH``), images are sniffed from their bytes (the file name and the browser's
content type are not trusted) and the image shown on the results page is sent back inline as a
``data:`` URL. Documents read as jobs are kept, until their results expire, in the data folder
(``HTR_DATA_DIR``, never under ``static/``) or in Redis.

Configuration (``create_app(config)``, or environment variables ``FLASK_<KEY>`` whose values are
read as JSON, e.g. ``FLASK_HTR_MAX_FILES=4``): see :data:`DEFAULTS`.
"""

from __future__ import annotations

import atexit
import logging
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from flask import Flask  # noqa: E402

import web  # noqa: E402
from htr.documents import DOCUMENT_FORMATS, Limits, mark_confidence  # noqa: E402,F401
from web.engine import Engine, _private_tesseract_dir, _warm_up, read_upload  # noqa: E402,F401
from web.pages import EXPORTS  # noqa: E402,F401
from web.uploads import (ERROR_STATUS, LEVELS, InMemoryRequest, Upload, UploadError,  # noqa: E402,F401
                         decode_upload, display_image, sniff)

ROOT = Path(__file__).resolve().parent
OPENAPI_FILE = ROOT / "openapi.json"
log = logging.getLogger("htr.web")

#: Every setting, with its default. Limits: ``MAX_CONTENT_LENGTH`` (bytes of one request, all its
#: files together; more gets 413), ``HTR_MAX_PIXELS`` (pixels of one image, or of one page of a
#: document: a decompression bomb is refused before it is decoded), ``HTR_MAX_FILES`` (files of
#: one upload form), ``HTR_MAX_PAGES`` (pages of one document: the rest are left out, with a
#: note), ``HTR_MAX_DOCUMENT_BYTES`` (bytes of one file of a document).
DEFAULTS: dict = {
    "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
    "HTR_MAX_PIXELS": 40_000_000,
    "HTR_MAX_FILES": 10,
    "HTR_MODEL": None,                       # model folder; None: the shipped models/default
    "HTR_DECODERS": None,                    # loaded at start-up; None: all the library's
    "HTR_DEFAULT_DECODER": None,             # None: the library's default (htr.decode)
    "HTR_FORMATS": ["PNG", "JPEG"],          # image formats read while the request waits
    "HTR_LOW_CONFIDENCE": 0.5,               # words read with less confidence are marked
    "HTR_TESSERACT": True,                   # offer Tesseract's reading beside ours
    "HTR_TESSERACT_CMD": None,               # the tesseract binary; None: found on PATH
    "HTR_TESSERACT_LANG": "eng",
    "HTR_TESSERACT_TIMEOUT": 60,             # seconds
    "HTR_DISPLAY_SIZE": 1600,                # long side of the image shown on the results page
    "HTR_WARMUP": True,                      # read a drawn line at start-up (first request fast)
    "HTR_BACKGROUND_LOAD": True,             # load the other decoders after the default, aside
    # Documents, read as jobs (htr.jobs): the formats (sniffed), the limits, the backend.
    "HTR_JOBS": True,                        # False: no /api/v1/jobs, documents refused
    "HTR_DOCUMENT_FORMATS": list(DOCUMENT_FORMATS),
    "HTR_MAX_PAGES": 200,                    # pages of one document
    "HTR_MAX_DOCUMENT_BYTES": 20 * 1024 * 1024,
    "HTR_DPI": 200,                          # PDF pages are rendered at this resolution
    "HTR_DATA_DIR": None,                    # embedded backend's folder; None: ~/.local/share/htr
    "HTR_WORKSPACE": None,                   # corrected pages (web.workspace); None: DATA_DIR/workspace
    "HTR_MODELS_DIR": None,                  # fine-tuned models (web.models); None: DATA_DIR/models
    "HTR_FINETUNE_MINUTES": 5,               # "Learn my handwriting": its time budget
    "HTR_FINETUNE_MAX_MINUTES": 15,          # the most a request may ask for
    "HTR_JOB_WORKERS": 1,                    # embedded worker processes (each loads the model)
    "HTR_JOB_KEEP_SECONDS": 24 * 3600,       # finished jobs' results are deleted after this
    "HTR_JOB_MAX_ATTEMPTS": 3,               # a page whose reading stops its worker this often fails
    "HTR_BROKER_URL": os.environ.get("HTR_BROKER_URL") or None,  # redis://...: Celery instead
    "HTR_VISIBILITY_TIMEOUT": 600,           # Celery: a lost worker's page goes to another after
    # Listen and translate (web.language_tools): espeak-ng and Apertium, and their limits.
    "HTR_SPEECH": True,                      # False: no Listen buttons, /api/v1/speak says so
    "HTR_ESPEAK_CMD": "espeak-ng",
    "HTR_SPEECH_MAX_CHARS": 3000,            # characters spoken at once (about three minutes)
    "HTR_TRANSLATION": True,                 # False: no Translate control, /api/v1/translate says so
    "HTR_APERTIUM_CMD": "apertium",
    "HTR_TRANSLATION_MAX_CHARS": 20000,      # characters translated at once
}


def _job_backend(app: Flask):
    from htr.jobs import JobSettings, open_backend

    cfg = app.config
    data_dir = Path(cfg["HTR_DATA_DIR"] or Path.home() / ".local" / "share" / "htr").resolve()
    static = Path(app.static_folder).resolve()
    if data_dir == static or static in data_dir.parents:
        raise ValueError(f"HTR_DATA_DIR {data_dir} is under the static folder {static}: the "
                         "documents people send must never be served as files")
    engine = app.extensions["htr"]
    settings = JobSettings(
        model=str(engine.model_dir), default_decoder=engine.default_decoder,
        low_confidence=cfg["HTR_LOW_CONFIDENCE"],
        limits=Limits(cfg["HTR_MAX_PAGES"], cfg["HTR_MAX_DOCUMENT_BYTES"], cfg["HTR_MAX_PIXELS"],
                      cfg["HTR_DPI"]),
        data_dir=str(data_dir), workers=cfg["HTR_JOB_WORKERS"],
        keep_seconds=cfg["HTR_JOB_KEEP_SECONDS"], broker_url=cfg["HTR_BROKER_URL"],
        max_attempts=cfg["HTR_JOB_MAX_ATTEMPTS"], visibility_timeout=cfg["HTR_VISIBILITY_TIMEOUT"])
    backend = open_backend(settings)
    atexit.register(backend.close)
    return backend


def create_app(config: dict | None = None) -> Flask:
    """The Flask application: loads the model once (see :class:`web.engine.Engine`), opens the
    job backend, then registers the web package's pages, API, jobs and error handlers."""
    app = Flask(__name__)
    app.request_class = InMemoryRequest
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("FLASK")
    app.config.update(config or {})
    app.config["HTR_FORMATS"] = [f.upper() for f in app.config["HTR_FORMATS"]]
    app.config["HTR_DOCUMENT_FORMATS"] = [f.upper() for f in app.config["HTR_DOCUMENT_FORMATS"]]
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    engine = Engine(app.config["HTR_MODEL"], app.config["HTR_DECODERS"],
                    app.config["HTR_DEFAULT_DECODER"], app.config["HTR_TESSERACT"],
                    app.config["HTR_TESSERACT_CMD"], app.config["HTR_WARMUP"],
                    app.config["HTR_BACKGROUND_LOAD"])
    app.extensions["htr"] = engine
    if app.config["HTR_JOBS"]:
        app.extensions["htr_jobs"] = _job_backend(app)
    web.register(app)
    return app
