"""The JSON API's single-image routes: ``POST /api/v1/read`` (one image read while the request
waits), ``GET /healthz`` and ``GET /api/v1/openapi.json``."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, Response, jsonify

from htr.export import SourcePage, export

from . import info
from .engine import read_upload
from .uploads import _download_stem, _format, _language, _layout, _options, _uploads

OPENAPI_FILE = Path(__file__).resolve().parent.parent / "openapi.json"


def register(app: Flask) -> None:
    engine = app.extensions["htr"]
    openapi = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))

    @app.get("/healthz")
    def healthz():
        return jsonify(info(app))

    @app.get("/api/v1/openapi.json")
    def openapi_json():
        return jsonify(openapi)

    @app.post("/api/v1/read")
    def api_read():
        level, decoder, baseline = _options(engine)
        fmt = _format()
        files = _uploads(1)
        result = read_upload(files[0], level, decoder, baseline, layout=_layout(files[0].name),
                             language=_language())
        page = result.pop("_page")
        if fmt == "json":
            return jsonify(result)
        out = export([SourcePage(page, files[0].name, files[0].data)], fmt,
                     _download_stem(files[0].name))
        return Response(out.data, content_type=out.media_type, headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"'})
