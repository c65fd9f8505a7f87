"""The models a server offers and "Learn my handwriting": ``GET /api/v1/models`` (the shipped
model and those of the models folder, ``HTR_MODELS_DIR``), ``POST /api/v1/models/learn`` (fine-tune
a model on the workspace's corrected pages, in the background: 202 and the run's URL),
``GET /api/v1/models/learn/ID`` (its state and progress), and the ``/models`` page with the
list, the button and the run's progress. Reads name a model with ``model=`` (:mod:`web.engine`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for

from htr.errors import ModelError
from htr.finetune import FinetuneConfig
from htr.learning import Busy, LearnJobs
from htr.modelstore import DEFAULT_MODELS_DIR, ModelStore

from . import info
from .uploads import _wants_json

LEARN_ID = re.compile(r"[0-9a-f]{32}")
#: HTTP status of each error code of these routes.
STATUS = {"invalid_option": 400, "not_found": 404, "busy": 409, "nothing_to_learn": 409}


class LearnError(Exception):
    """A model request refused: a stable code (:data:`STATUS`) and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def models_dir(app: Flask) -> Path:
    """``HTR_MODELS_DIR``, else ``models`` in the data folder (``HTR_DATA_DIR``, else
    ``~/.local/share/htr``): outside the repository, never under the static folder."""
    cfg = app.config
    folder = cfg.get("HTR_MODELS_DIR") or (
        Path(cfg["HTR_DATA_DIR"]) / "models" if cfg.get("HTR_DATA_DIR") else DEFAULT_MODELS_DIR)
    folder = Path(folder).expanduser().resolve()
    static = Path(app.static_folder).resolve()
    if folder == static or static in folder.parents:
        raise ValueError(f"HTR_MODELS_DIR {folder} is under the static folder {static}")
    return folder


def store() -> ModelStore:
    return current_app.extensions["htr"].store


def learn_jobs() -> LearnJobs:
    return current_app.extensions["htr_learning"]


def models_list() -> dict:
    engine = current_app.extensions["htr"]
    loaded = set(engine.models_loaded())
    models = [dict(m.to_dict(), loaded=m.name in loaded) for m in store().list()]
    running = learn_jobs().running()
    return {"default": engine.model_dir.name, "models": models,
            "learning": learn_status(running.id) if running else None}


def learn_status(job_id: str) -> dict:
    if not LEARN_ID.fullmatch(job_id or ""):
        raise LearnError("not_found", f"There is no training run {job_id!r}.")
    try:
        status = learn_jobs().status(job_id)
    except KeyError:
        raise LearnError("not_found", "There is no such training run (the server may have "
                         "restarted since).") from None
    status["url"] = url_for("api_learn_status", job_id=job_id)
    return status


def _workspace_folder() -> Path | None:
    ws = current_app.extensions.get("htr_workspace")
    return Path(ws.pages_dir) if ws is not None else None


def start_learning(values) -> str:
    """Start "Learn my handwriting" from a form or JSON body: ``name`` (the new model's; default
    ``my-hand-DATE``), ``base`` (a model's name; default the shipped one), ``minutes`` (time
    budget, up to ``HTR_FINETUNE_MAX_MINUTES``). The run's id, or :class:`LearnError`."""
    cfg = current_app.config
    folder = _workspace_folder()
    if folder is None or not folder.is_dir() or not any(folder.rglob("*.xml")):
        raise LearnError("nothing_to_learn", "There are no corrected pages yet: correct the "
                         "reading of a page or two and save the corrections first.")
    if not hasattr(values, "get"):
        raise LearnError("invalid_option", "The body must be a JSON object or a form.")
    name = str(values.get("name") or "").strip() or time.strftime("my-hand-%Y%m%d-%H%M%S")
    try:
        base = store().find(str(values.get("base") or "").strip() or None)
        output = store().path_for(name)
    except ModelError as exc:
        raise LearnError("invalid_option", str(exc)) from None
    limit = float(cfg["HTR_FINETUNE_MAX_MINUTES"])
    try:
        minutes = float(values.get("minutes") or cfg["HTR_FINETUNE_MINUTES"])
    except (TypeError, ValueError):
        raise LearnError("invalid_option", "minutes must be a number.") from None
    if not 0 < minutes <= limit:
        raise LearnError("invalid_option", f"minutes must be more than 0 and at most {limit:g}.")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        return learn_jobs().submit(base, [f"pagexml:{folder}"], output,
                                   FinetuneConfig(time_budget_minutes=minutes))
    except Busy as exc:
        raise LearnError("busy", f"{exc} (run {exc.job_id})") from None


def register(app: Flask) -> None:
    engine = app.extensions["htr"]
    engine.store = ModelStore(engine.model_dir, models_dir(app))
    app.extensions["htr_learning"] = LearnJobs(engine.store.folder / ".runs")
    # The upload form's choice of model (the default first; only shown when there are others).
    app.jinja_env.globals["offered_models"] = lambda: [m.name for m in engine.store.list()]

    @app.errorhandler(LearnError)
    def learn_error(exc: LearnError):
        body, status = {"error": exc.code, "message": exc.message}, STATUS.get(exc.code, 400)
        if _wants_json():
            return jsonify(body), status
        return render_template("error.html", info=info(app), error=body), status

    @app.get("/api/v1/models")
    def api_models():
        return jsonify(models_list())

    @app.post("/api/v1/models/learn")
    def api_learn():
        values = request.get_json(silent=True) if request.is_json else request.values
        job_id = start_learning({} if values is None else values)
        status = learn_status(job_id)
        return jsonify(status), 202, {"Location": status["url"]}

    @app.get("/api/v1/models/learn/<job_id>")
    def api_learn_status(job_id: str):
        return jsonify(learn_status(job_id))

    @app.get("/models")
    def models_page():
        job = request.args.get("run")
        status = learn_status(job) if job else None
        return render_template("models.html", info=info(app), listing=models_list(), run=status,
                               max_minutes=app.config["HTR_FINETUNE_MAX_MINUTES"],
                               minutes=app.config["HTR_FINETUNE_MINUTES"])

    @app.post("/models/learn")
    def models_learn():
        job_id = start_learning(request.form)
        return redirect(url_for("models_page", run=job_id), 303)
