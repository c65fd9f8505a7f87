"""A model's network for other runtimes, downloaded from the app: ``GET
/api/v1/models/NAME/export?format=tflite|onnx[&quantize=float16|int8]`` answers a ZIP of the
exported network and its model card (:func:`htr.runtimes.export_network`: what the file takes in,
what it gives out, how to decode it). Each export is made once per weights, format and
quantisation and kept in the runtimes cache (:func:`htr.runtimes.cached_export`), so a second
download is a file read."""

from __future__ import annotations

import io
import zipfile

from flask import Flask, jsonify, request, send_file

from htr.modelstore import UnknownModel
from htr.runtimes import FORMATS, QUANTIZATIONS, cached_export, card_path


def register(app: Flask) -> None:
    def refuse(code: str, message: str, status: int):
        return jsonify({"error": code, "message": message}), status

    @app.get("/api/v1/models/<name>/export")
    def api_model_export(name: str):
        fmt = request.args.get("format", "tflite")
        quantize = request.args.get("quantize") or None
        if fmt not in FORMATS:
            return refuse("invalid_option", f"format must be one of {', '.join(FORMATS)}", 400)
        if quantize not in (None, *QUANTIZATIONS):
            return refuse("invalid_option",
                          f"quantize must be one of {', '.join(QUANTIZATIONS)} (or left out)", 400)
        try:
            directory = app.extensions["htr"].store.find(name)
        except UnknownModel as exc:
            return refuse("not_found", str(exc), 404)
        path = cached_export(directory, fmt, quantize)
        shown = f"{name}-{quantize or 'float32'}.{fmt}"
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(path, shown)
            z.write(card_path(path), shown + ".card.json")
            z.write(card_path(path, ".md"), shown + ".card.md")
        archive.seek(0)
        return send_file(archive, mimetype="application/zip", as_attachment=True,
                         download_name=f"{name}-{quantize or 'float32'}-{fmt}.zip")
