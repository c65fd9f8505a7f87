"""The HTML pages: the upload form (``/``), the results of images read while the request waits
(``POST /read``), and a document read as a job (``/jobs/ID``): its progress while it is read,
then its pages one at a time (each as the results page shows an image) with the whole
document's downloads."""

from __future__ import annotations

import json

from flask import Flask, Response, abort, redirect, render_template, request, url_for

from htr.documents import DocumentError, page_from_dict, sniff
from htr.export import SourcePage
from htr.jobs import FINAL

from . import info
from .engine import read_upload
from .jobs import backend, job_status, start_job
from .uploads import (UploadError, _data_url, _download_stem, _exported, _language, _layout,
                      _options, _uploads, display_image)

#: The exports offered as downloads on the results page, beside text and JSON, and their labels.
EXPORTS = {"page": "PAGE-XML", "alto": "ALTO", "hocr": "hOCR", "pdf": "Searchable PDF"}


def register(app: Flask) -> None:
    engine = app.extensions["htr"]

    @app.get("/")
    def index():
        return render_template("index.html", info=info(app))

    @app.get("/read")
    def read_get():
        return redirect(url_for("index"))

    @app.post("/read")
    def read_form():
        try:
            level, decoder, baseline = _options(engine)
            language = _language()
            files = _uploads(app.config["HTR_MAX_FILES"])
            layout = _layout(files[0].name)
            if layout is not None and len(files) > 1:
                raise UploadError("invalid_option", "A layout file describes one image: upload "
                                  "that image alone with it.")
            # A PDF, TIFF, HEIF or WEBP file, or several images asked for as one document, is
            # read as a job: the answer is its progress page.
            kinds = [sniff(f.data) for f in files]
            as_document = request.form.get("document") == "1" or any(
                k in app.config["HTR_DOCUMENT_FORMATS"] and k not in app.config["HTR_FORMATS"]
                for k in kinds)
            if as_document and layout is not None:
                raise UploadError("invalid_option", "A layout file describes one image, not a "
                                  "document: upload the image alone with it.")
            if as_document and app.extensions.get("htr_jobs") is not None:
                job_id = start_job(files, level, decoder, language)
                return redirect(url_for("job_page", job_id=job_id), 303)
        except UploadError as exc:
            return render_template("index.html", info=info(app), error=exc.message), exc.status
        results, statuses, read = [], [], []
        for upload in files:
            try:
                result = read_upload(upload, level, decoder, baseline, display=True,
                                     layout=layout, language=language)
            except UploadError as exc:
                results.append({"file": upload.name, "error": exc.to_dict()})
                statuses.append(exc.status)
                continue
            display = result.pop("_display")
            source = SourcePage(result.pop("_page"), upload.name, upload.data)
            read.append(source)
            results.append(_result_view(upload.name, result, display, source))
            statuses.append(200)
        status = 200 if 200 in statuses else statuses[0]
        # Several pages read: the whole document too (one PDF, ZIPs of PAGE and ALTO per page).
        document = ({fmt: _exported(read, fmt, "document") for fmt in EXPORTS}
                    if len(read) > 1 else None)
        return render_template("results.html", info=info(app), results=results, level=level,
                               decoder=decoder, baseline=baseline, language=language, document=document,
                               exports=EXPORTS), status

    @app.get("/jobs/<job_id>")
    def job_page(job_id: str):
        status = job_status(job_id)
        if status["state"] not in FINAL:
            return render_template("job.html", info=info(app), job=status)
        total = status["pages_total"]
        try:
            number = min(max(int(request.args.get("page", 1)), 1), max(total, 1))
        except ValueError:
            number = 1
        entry = next((p for p in status["pages"] if p["page"] == number), None)
        if entry is None:
            results = [{"file": f"{status['file']}, page {number}", "error": {
                "error": "not_read", "message": f"This page was not read: the job was "
                f"{status['state']} first."}}]
        elif "error" in entry:
            results = [{"file": f"{entry['file']}, page {number}", "error": entry["error"]}]
        else:
            grey = backend().document(job_id).render(number)
            name = f"{_download_stem(status['file'])}-p{number:03d}.png"
            source = SourcePage(page_from_dict(entry), name, grey)
            view = _result_view(f"{status['file']}, page {number}", entry,
                                display_image(b"", grey, app.config["HTR_DISPLAY_SIZE"]), source,
                                name[:-4])
            results = [view]
        stem = _download_stem(status["file"])
        downloads = {fmt: {"name": f"{stem}{ext}", "url": url_for(
            "api_job_result", job_id=job_id, format=fmt)} for fmt, ext in (
            ("text", ".txt"), ("json", ".json"), ("pdf", ".pdf"), ("page", "-page.zip"),
            ("alto", "-alto.zip"), ("hocr", ".hocr"))}
        return render_template("document.html", info=info(app), results=results, job=status,
                               number=number, downloads=downloads, document=None,
                               exports=EXPORTS, thumbnail_width=THUMBNAIL_WIDTH)

    @app.get("/jobs/<job_id>/pages/<int:number>/thumbnail.jpg")
    def job_thumbnail(job_id: str, number: int):
        """A small picture of one page of a finished job's document, for the page list (made
        when asked: a browser fetches only the ones it shows)."""
        status = job_status(job_id)
        if status["state"] not in FINAL:
            abort(404)
        try:
            grey = backend().document(job_id).render(number)
        except DocumentError:
            abort(404)
        return Response(thumbnail_jpeg(grey, THUMBNAIL_WIDTH), content_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.post("/jobs/<job_id>/cancel")
    def job_cancel(job_id: str):
        job_status(job_id)
        backend().cancel(job_id)
        return redirect(url_for("job_page", job_id=job_id), 303)


#: Width in pixels of a page's picture in a document's page list.
THUMBNAIL_WIDTH = 120


def thumbnail_jpeg(grey, width: int) -> bytes:
    """A page image shrunk to ``width`` pixels (its proportions kept), as JPEG bytes."""
    import io

    from PIL import Image

    image = Image.fromarray(grey)
    image.thumbnail((width, width * 4), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _result_view(name: str, result: dict, image: str, source: SourcePage,
                 stem: str | None = None) -> dict:
    """One read page as the results page shows it: the page, its image and its downloads."""
    stem = stem or _download_stem(name)
    return {
        "file": name, "page": result, "image": image,
        "txt_name": f"{stem}.txt", "json_name": f"{stem}.json",
        "txt_url": _data_url(result["text"] + "\n", "text/plain"),
        "json_url": _data_url(json.dumps(result, indent=2, ensure_ascii=False),
                              "application/json"),
        "exports": {fmt: _exported([source], fmt, stem) for fmt in EXPORTS},
        "source": source,  # the page image, for saving corrections (web.workspace)
    }
