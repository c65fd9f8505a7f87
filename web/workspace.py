"""Correcting the reading: the workspace (:mod:`htr.workspace`) over HTTP, and its pages.

API: ``POST /api/v1/pages`` stores a page (its image, or a page of a job's document, and the
read result with any corrections); ``GET /api/v1/pages`` lists them; ``GET /api/v1/pages/ID``
gives one (``format=`` exports its corrected text through :mod:`htr.export`);
``PUT /api/v1/pages/ID`` and ``PUT /api/v1/pages/ID/lines/N`` change it, naming the version
they were made from (an older one gets 409); ``GET /api/v1/pages/ID/image`` is its image and
``GET /api/v1/workspace/export`` the whole workspace as a training set (a ZIP of PAGE-XML files
beside their images).

Pages: ``/workspace`` lists the saved pages, ``/workspace/ID`` opens one to go on correcting it.
The results and document pages include ``_correct.html`` (the "Save corrections" button, fed by
:func:`correction_payload`) and ``static/correct.js`` makes their lines editable.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from flask import (Flask, Response, current_app, jsonify, render_template, request, send_file,
                   url_for)

from htr.documents import mark_confidence
from htr.export import FORMATS, ZIP_TYPE, export
from htr.workspace import Conflict, InvalidPage, Workspace, WorkspaceError

from . import info
from .uploads import _download_stem, _uploads, _wants_json

#: HTTP status of each workspace error code.
STATUS = {"invalid_page": 400, "not_found": 404, "conflict": 409}


def workspace() -> Workspace:
    return current_app.extensions["htr_workspace"]


def workspace_dir(app: Flask) -> Path:
    """The workspace folder: ``HTR_WORKSPACE``, else ``workspace`` in the data folder
    (``HTR_DATA_DIR``, else ``~/.local/share/htr``); never under the static folder."""
    cfg = app.config
    folder = cfg.get("HTR_WORKSPACE") or Path(
        cfg.get("HTR_DATA_DIR") or Path.home() / ".local" / "share" / "htr") / "workspace"
    folder = Path(folder).expanduser().resolve()
    static = Path(app.static_folder).resolve()
    if folder == static or static in folder.parents:
        raise ValueError(f"HTR_WORKSPACE {folder} is under the static folder {static}: corrected "
                         "pages and their images must never be served as files")
    return folder


def _info(page) -> dict:
    out = page.to_dict()
    out.update(url=url_for("api_page", page_id=page.id),
               image_url=url_for("api_page_image", page_id=page.id),
               view_url=url_for("workspace_view", page_id=page.id))
    return out


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidPage("Send a JSON object, e.g. {\"version\": 3, \"text\": \"...\"}.")
    return body


def _version(body: dict) -> int:
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidPage("Name the version your change was made from: \"version\", an integer "
                          "as the page's last save or GET gave it.")
    return version


def _result_field():
    """The read result sent with ``POST /api/v1/pages``: a form field or a file part, JSON."""
    raw = request.form.get("result")
    if raw is None and "result" in request.files:
        raw = request.files["result"].read().decode("utf-8", "replace")
    if not raw:
        raise InvalidPage("Send the page's read result (JSON, as /api/v1/read gives it) in the "
                          "field 'result'.")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidPage(f"The field 'result' is not JSON: {exc}.") from None


def _job_image(job_id: str, number_text: str):
    """A page of a finished job's document: its image as read, its name, its source key and
    the page as the job read it."""
    from htr.jobs import FINAL

    from .jobs import backend, job_status

    try:
        number = int(number_text)
    except ValueError:
        raise InvalidPage("'page' must be the page's number in the job's document, from 1.") \
            from None
    status = job_status(job_id)
    entry = next((p for p in status["pages"] if p["page"] == number and "error" not in p), None)
    if status["state"] not in FINAL or entry is None:
        raise InvalidPage(f"Page {number} of job {job_id} was not read: there is no image of it "
                          "to store.")
    image = backend().document(job_id).render(number)
    return image, f"{status['file']}, page {number}", f"job:{job_id}:{number}", entry


def _export_response(page_id: str, fmt: str) -> Response:
    stored = workspace().get(page_id)
    out = export([workspace().source_page(page_id)], fmt, _download_stem(stored.info.name))
    return Response(out.data, content_type=out.media_type, headers={
        "Content-Disposition": f'attachment; filename="{out.filename}"'})


def correction_payload(result: dict, job: dict | None = None, number: int | None = None,
                       saved=None) -> dict:
    """What ``static/correct.js`` needs to save one page shown on a results, document or
    workspace page: the page read (geometry and text), where its image comes from (the upload
    itself, a job's page, or the workspace's copy) and, when it was saved before, its id,
    version and corrected texts."""
    page = result["page"]
    keep = ("width", "height", "level", "language", "sheet", "turned", "model", "decoder")
    data = {k: page[k] for k in keep if k in page}
    data["lines"] = [{k: v for k, v in line.items() if k != "low_confidence"} | {
        "words": [{k: v for k, v in w.items() if k != "low_confidence"} for w in line["words"]]}
        for line in page["lines"]]
    if "timings" in page:
        data["timings"] = {"read_ms": page["timings"].get("read_ms", 0)}
    out = {"page": data, "name": result["file"], "create_url": url_for("api_pages"),
           "image": None, "job": None, "number": None, "saved": None}
    if job is not None:
        out.update(job=job["id"], number=number)
        saved = saved or workspace().find(f"job:{job['id']}:{number}")
    elif saved is None and result.get("source") is not None and \
            isinstance(result["source"].image, (bytes, bytearray)):
        out["image"] = base64.b64encode(result["source"].image).decode("ascii")
    if saved is not None:
        stored = workspace().get(saved.id)
        out["saved"] = {"id": saved.id, "version": saved.version,
                        "url": url_for("api_page", page_id=saved.id),
                        "view_url": url_for("workspace_view", page_id=saved.id),
                        "texts": [line["text"] for line in stored.page["lines"]]}
    return out


def register(app: Flask) -> None:
    app.extensions["htr_workspace"] = Workspace(workspace_dir(app))
    app.jinja_env.globals["correction_payload"] = correction_payload

    @app.errorhandler(WorkspaceError)
    def workspace_error(exc: WorkspaceError):
        body = {"error": exc.code, "message": str(exc)}
        if isinstance(exc, Conflict):
            body["version"] = exc.current
        status = STATUS.get(exc.code, 400)
        if _wants_json():
            return jsonify(body), status
        return render_template("error.html", info=info(app), error=body), status

    # --- API ----------------------------------------------------------------------------------

    @app.post("/api/v1/pages")
    def api_pages_create():
        result = _result_field()
        if request.form.get("job"):
            image, name, source, read = _job_image(request.form["job"],
                                                   request.form.get("page", ""))
            # What the job read is what the model read: the lines' originals, where not sent.
            if isinstance(result, dict) and isinstance(result.get("lines"), list) and \
                    len(result["lines"]) == len(read["lines"]):
                for line, as_read in zip(result["lines"], read["lines"]):
                    if isinstance(line, dict):
                        line.setdefault("original", as_read["text"])
        else:
            upload = _uploads(1)[0]
            image, name, source = upload.data, upload.name, None
        name = request.form.get("name") or name
        page = workspace().save(result, image, name=name, source=source)
        return jsonify(_info(page)), 201, {"Location": url_for("api_page", page_id=page.id)}

    @app.get("/api/v1/pages")
    def api_pages():
        return jsonify({"pages": [_info(p) for p in workspace().list()],
                        "export_url": url_for("api_workspace_export")})

    @app.get("/api/v1/pages/<page_id>")
    def api_page(page_id: str):
        fmt = request.args.get("format", "")
        if fmt:
            if fmt not in FORMATS:
                raise InvalidPage(f"Unknown format {fmt!r}: choose one of {', '.join(FORMATS)}.")
            return _export_response(page_id, fmt)
        stored = workspace().get(page_id)
        page = dict(stored.page, text="\n".join(line["text"] for line in stored.page["lines"]))
        return jsonify(_info(stored.info) | {"page": page})

    @app.put("/api/v1/pages/<page_id>")
    def api_page_put(page_id: str):
        body = _json_body()
        version = _version(body)
        if "lines" in body and isinstance(body["lines"], list) and all(
                isinstance(t, str) for t in body["lines"]):
            page = workspace().set_lines(page_id, body["lines"], version)
        elif isinstance(body.get("page"), dict):
            page = workspace().replace(page_id, body["page"], version)
        else:
            raise InvalidPage("Send \"lines\" (every line's corrected text, in order) or "
                              "\"page\" (the whole page, as /api/v1/read gives it), with "
                              "\"version\".")
        return jsonify(_info(page))

    @app.delete("/api/v1/pages/<page_id>")
    def api_page_delete(page_id: str):
        try:
            version = int(request.args.get("version", ""))
        except ValueError:
            raise InvalidPage("Name the version you want to delete: ?version=N, as the page's "
                              "last save or GET gave it.") from None
        workspace().delete(page_id, version)
        return "", 204

    @app.put("/api/v1/pages/<page_id>/lines/<int:number>")
    def api_page_line(page_id: str, number: int):
        body = _json_body()
        version = _version(body)
        if not isinstance(body.get("text"), str):
            raise InvalidPage("Send the line's corrected \"text\" (a string), with \"version\".")
        page = workspace().correct_line(page_id, number, body["text"], version)
        line = workspace().get(page_id).page["lines"][number - 1]
        return jsonify(_info(page) | {"line": {"number": number, **line}})

    @app.get("/api/v1/pages/<page_id>/image")
    def api_page_image(page_id: str):
        path = workspace().image_path(page_id)
        kind = "image/png" if path.suffix == ".png" else "image/jpeg"
        return send_file(path, mimetype=kind, max_age=0, conditional=True)

    @app.get("/api/v1/workspace/export")
    def api_workspace_export():
        data = workspace().export_zip()
        return Response(data, content_type=ZIP_TYPE, headers={
            "Content-Disposition": 'attachment; filename="workspace-pagexml.zip"'})

    # --- pages --------------------------------------------------------------------------------

    @app.get("/workspace")
    def workspace_list():
        return render_template("workspace.html", info=info(app), pages=workspace().list(),
                               folder=workspace().root)

    @app.get("/workspace/<page_id>")
    def workspace_view(page_id: str):
        from .pages import EXPORTS

        stored = workspace().get(page_id)
        page = mark_confidence(json.loads(json.dumps(stored.page)), app.config["HTR_LOW_CONFIDENCE"])
        page.setdefault("timings", {"read_ms": 0})
        page.setdefault("decoder", "")
        page["text"] = "\n".join(line["text"] for line in page["lines"])
        stem = _download_stem(stored.info.name)
        url = lambda fmt: url_for("api_page", page_id=page_id, format=fmt)  # noqa: E731
        view = {"file": stored.info.name, "page": page,
                "image": url_for("api_page_image", page_id=page_id),
                "txt_name": f"{stem}.txt", "json_name": f"{stem}.json",
                "txt_url": url("text"), "json_url": url("json"),
                "exports": {fmt: {"name": stem + {"page": "-page.xml", "alto": "-alto.xml"}.get(
                    fmt, "." + fmt), "url": url(fmt)} for fmt in EXPORTS},
                "saved": stored.info}
        return render_template("workspace_page.html", info=info(app), results=[view],
                               stored=stored.info, document=None, exports=EXPORTS)

