"""Errors as answers: JSON ``{"error", "message"}`` under /api/ and /healthz, an error page
elsewhere; and the security headers of every answer."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import info
from .uploads import UploadError, _wants_json

log = logging.getLogger("htr.web")


def register(app: Flask) -> None:
    @app.errorhandler(UploadError)
    def upload_error(exc: UploadError):
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        return render_template("error.html", info=info(app), error=exc.to_dict()), exc.status

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
        return render_template("error.html", info=info(app), error=err.to_dict()), err.status

    @app.errorhandler(Exception)
    def internal_error(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        err = UploadError("internal_error", "Something went wrong on the server while reading "
                          "this request. It has been logged; please try again.")
        if _wants_json():
            return jsonify(err.to_dict()), 500
        return render_template("error.html", info=info(app), error=err.to_dict()), 500

    @app.after_request
    def headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
            "media-src 'self' blob:")  # blob: the speech the page fetched, played
        return response
