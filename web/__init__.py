"""The web layer of the app, one module per concern, each registered on the Flask app by
:func:`app.create_app`: :mod:`web.uploads` (in-memory uploads, sniffing, options, errors),
:mod:`web.engine` (the models of this process, reading one upload while the request waits),
:mod:`web.api` (``/api/v1/read``, ``/healthz``, the OpenAPI document), :mod:`web.jobs` (documents
read as background jobs: ``/api/v1/jobs``), :mod:`web.pages` (the HTML pages) and
:mod:`web.errors` (error pages and answers, security headers)."""

from __future__ import annotations

from flask import Flask

from htr.lexicon import LANGUAGE_NAMES

from .uploads import LEVELS


def info(app: Flask) -> dict:
    """What the app offers and its limits: ``/healthz`` and every page's footer and form."""
    cfg, engine = app.config, app.extensions["htr"]
    jobs = app.extensions.get("htr_jobs")
    return {
        "status": "ok",
        "model": {"name": engine.model_dir.name, "height": engine.height,
                  "characters": engine.characters, "load_seconds": round(engine.load_seconds, 2)},
        "decoders": list(engine.decoders), "default_decoder": engine.default_decoder,
        "decoders_loaded": [d for d in engine.decoders if d in engine.recognizers],
        "levels": list(LEVELS), "formats": cfg["HTR_FORMATS"],
        "document_formats": cfg["HTR_DOCUMENT_FORMATS"] if jobs is not None else [],
        "jobs": jobs.name if jobs is not None else None,
        "tesseract": {"available": engine.tesseract_version is not None and
                      bool(cfg["HTR_TESSERACT"]), "version": engine.tesseract_version},
        "low_confidence_threshold": cfg["HTR_LOW_CONFIDENCE"],
        "limits": {"max_bytes": cfg["MAX_CONTENT_LENGTH"], "max_pixels": cfg["HTR_MAX_PIXELS"],
                   "max_files": cfg["HTR_MAX_FILES"], "max_pages": cfg["HTR_MAX_PAGES"]},
        **app.extensions.get("htr_language_tools", {}),  # speech, translation (web.language_tools)
    }


def register(app: Flask) -> None:
    from . import api, errors, jobs, pages, workspace

    for module in (errors, api, jobs, pages, workspace):
        module.register(app)
    from . import models  # the models list, model=, Learn my handwriting

    models.register(app)
    from . import model_exports  # a model's network for phones and ONNX Runtime (after models)

    model_exports.register(app)
    from . import language_tools  # Listen and Translate

    language_tools.register(app)
    app.jinja_env.globals["language_names"] = LANGUAGE_NAMES
