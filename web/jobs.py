"""Documents read as background jobs (:mod:`htr.jobs`): ``POST /api/v1/jobs`` answers 202 at
once with the job's id and URL; ``GET /api/v1/jobs/ID`` its state, progress and the pages read so
far; ``GET /api/v1/jobs/ID/result`` the whole document (``{"file", "pages"}``, or an export with
``format=``); ``DELETE /api/v1/jobs/ID`` cancels it."""

from __future__ import annotations

import re

from flask import Flask, Response, current_app, jsonify, request, url_for

from htr.documents import DocumentError, Limits, open_document, page_from_dict
from htr.export import SourcePage, export
from htr.jobs import FINAL, JobBackend, JobNotFound

from .uploads import Upload, UploadError, _download_stem, _language, _options, _uploads

JOB_ID = re.compile(r"[0-9a-f]{32}")


def backend() -> JobBackend:
    jobs = current_app.extensions.get("htr_jobs")
    if jobs is None:
        raise UploadError("not_found", "Documents are not read as jobs on this server.")
    return jobs


def limits() -> Limits:
    cfg = current_app.config
    return Limits(max_pages=cfg["HTR_MAX_PAGES"], max_bytes=cfg["HTR_MAX_DOCUMENT_BYTES"],
                  max_pixels=cfg["HTR_MAX_PIXELS"], dpi=cfg["HTR_DPI"])


def start_job(files: list[Upload], level: str, decoder: str, language: str = "auto") -> str:
    """Open the uploads as one document (their pages one after the other) and queue it: the
    job's id, or :class:`UploadError` when a file cannot be opened at all."""
    jobs = backend()
    try:
        document = open_document([(f.name, f.data) for f in files], limits(),
                                 current_app.config["HTR_DOCUMENT_FORMATS"])
    except DocumentError as exc:
        raise UploadError(exc.code, exc.message) from None
    options = {"level": level, "decoder": decoder, "language": language}
    options.update(job_model())
    return jobs.submit(document, options)


def job_model() -> dict:
    """The request's ``model=`` as a job's options: its name and folder (the workers load it),
    or nothing for the default model; :class:`UploadError` for a model that is not offered."""
    from htr.errors import ModelError

    from .engine import requested_model

    engine = current_app.extensions["htr"]
    name = requested_model()
    if not name or name == engine.model_dir.name:
        return {}
    try:
        path = engine.store.find(name) if engine.store is not None else None
    except ModelError as exc:
        raise UploadError("invalid_option", str(exc)) from None
    if path is None:
        raise UploadError("invalid_option", f"There is no model {name!r} on this server.")
    return {"model": name, "model_dir": str(path)}


def job_status(job_id: str) -> dict:
    if not JOB_ID.fullmatch(job_id or ""):
        raise UploadError("not_found", f"There is no job {job_id!r}.")
    try:
        status = backend().status(job_id)
    except JobNotFound:
        raise UploadError("not_found", "There is no such job: it never existed, or its results "
                          "were deleted after their time.") from None
    status["url"] = url_for("api_job", job_id=job_id)
    status["result_url"] = url_for("api_job_result", job_id=job_id)
    return status


def read_pages(status: dict) -> list[dict]:
    return [p for p in status["pages"] if "error" not in p]


def export_job(job_id: str, status: dict, fmt: str):
    """The pages of a finished job that were read, in one export file (page images rendered
    again from the stored document)."""
    pages = read_pages(status)
    if not pages:
        raise UploadError("nothing_read", "No page of this document was read: there is nothing "
                          "to export.")
    document = backend().document(job_id)
    sources = []
    for p in pages:
        image = document.render(p["page"])
        sources.append(SourcePage(page_from_dict(p), f"{_download_stem(status['file'])}-"
                                  f"p{p['page']:03d}.png", image))
    return export(sources, fmt, _download_stem(status["file"]))


def register(app: Flask) -> None:
    engine = app.extensions["htr"]

    @app.post("/api/v1/jobs")
    def api_jobs():
        level, decoder, _ = _options(engine)
        files = _uploads(app.config["HTR_MAX_FILES"])
        job_id = start_job(files, level, decoder, _language())
        url = url_for("api_job", job_id=job_id)
        status = job_status(job_id)
        return jsonify({"id": job_id, "url": url, "state": status["state"],
                        "pages_total": status["pages_total"]}), 202, {"Location": url}

    @app.get("/api/v1/jobs/<job_id>")
    def api_job(job_id: str):
        return jsonify(job_status(job_id))

    @app.delete("/api/v1/jobs/<job_id>")
    def api_job_cancel(job_id: str):
        job_status(job_id)
        backend().cancel(job_id)
        return jsonify(job_status(job_id))

    @app.get("/api/v1/jobs/<job_id>/result")
    def api_job_result(job_id: str):
        from htr.export import FORMATS

        status = job_status(job_id)
        fmt = request.args.get("format", "json") or "json"
        if fmt not in FORMATS:
            raise UploadError("invalid_option", f"Unknown format {fmt!r}: choose one of "
                              f"{', '.join(FORMATS)}.")
        if status["state"] not in FINAL:
            raise UploadError("not_finished", f"The job is {status['state']}: "
                              f"{status['pages_done']} of {status['pages_total']} pages read so "
                              "far. Ask again when its state is done.")
        if fmt == "json":
            return jsonify({"id": job_id, "file": status["file"], "state": status["state"],
                            "notes": status["notes"], "error": status["error"],
                            "pages": status["pages"]})
        out = export_job(job_id, status, fmt)
        return Response(out.data, content_type=out.media_type, headers={
            "Content-Disposition": f'attachment; filename="{out.filename}"'})
