"""Listen and translate: ``POST /api/v1/speak`` (a text spoken by espeak-ng, as ``audio/wav``),
``POST /api/v1/translate`` (a text machine-translated by Apertium, as JSON) and
``GET /api/v1/translate`` (the translations installed), over :mod:`htr.speech` and
:mod:`htr.translate`; and what both offer, for ``/healthz`` and the pages' Listen and Translate
controls (:func:`status`).

Whether espeak-ng and Apertium run here, and Apertium's pairs, are found once, when the app is
created: the pages and ``/healthz`` never start a process to know it.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request

from htr import speech, translate

from .uploads import UploadError

#: The codes of these routes' errors, and their HTTP statuses (see openapi.json's LanguageError).
LANGUAGE_ERROR_STATUS = {
    "no_text": 400, "invalid_option": 400, "translation_not_offered": 400,
    "text_too_long": 413, "file_too_large": 413,
    "speech_unavailable": 503, "translation_unavailable": 503,
    "not_found": 404, "method_not_allowed": 405, "internal_error": 500,
}
_SPEECH_CODES = {"unavailable": "speech_unavailable", "too_long": "text_too_long",
                 "empty": "no_text", "no_voice": "invalid_option", "invalid_rate": "invalid_option",
                 "failed": "internal_error"}
_TRANSLATION_CODES = {"unavailable": "translation_unavailable", "too_long": "text_too_long",
                      "empty": "no_text", "not_offered": "translation_not_offered",
                      "failed": "internal_error"}


def _error(code: str, message: str) -> UploadError:
    err = UploadError(code, message)
    err.status = LANGUAGE_ERROR_STATUS[code]
    return err


def status(app: Flask) -> dict:
    """What Listen and Translate offer here: ``{"speech": ..., "translation": ...}`` (the
    ``/healthz`` fields, also read by the pages to show or hide their controls)."""
    return app.extensions["htr_language_tools"]


def _find(app: Flask) -> dict:
    cfg = app.config
    if cfg["HTR_SPEECH"]:
        spoken = speech.available(cfg["HTR_ESPEAK_CMD"])
    else:
        spoken = speech.Availability(False, reason="Speech is turned off on this server.")
    if cfg["HTR_TRANSLATION"]:
        translating = translate.available(cfg["HTR_APERTIUM_CMD"])
    else:
        translating = translate.Availability(False, reason="Translation is turned off on this "
                                                           "server.")
    targets: dict[str, list[str]] = {}
    for pair in translating.pairs:
        targets.setdefault(pair.source, []).append(pair.target)
    return {
        "speech": {"available": spoken.available, "engine": "espeak-ng",
                   "version": spoken.version, "reason": spoken.reason,
                   "max_characters": cfg["HTR_SPEECH_MAX_CHARS"], "formats": ["wav"]},
        "translation": {"available": translating.available, "engine": "apertium",
                        "reason": translating.reason,
                        "max_characters": cfg["HTR_TRANSLATION_MAX_CHARS"],
                        "targets": {s: sorted(t) for s, t in sorted(targets.items())},
                        "names": {c: translate.name(c) for c in sorted(
                            {c for p in translating.pairs for c in (p.source, p.target)})}},
    }


def _fields() -> dict:
    """The request's fields: a JSON object, or a form (``curl -d text=...``)."""
    body = request.get_json(silent=True) if request.is_json else None
    if body is None:
        return request.form.to_dict()
    if not isinstance(body, dict):
        raise _error("invalid_option", "Send a JSON object, such as {\"text\": \"...\"}.")
    return body


def _text(fields: dict) -> str:
    text = fields.get("text")
    if text is None or text == "":
        raise _error("no_text", "Send the text in the field `text`.")
    if not isinstance(text, str):
        raise _error("invalid_option", "The field `text` must be a string.")
    if not text.strip():
        raise _error("no_text", "The text is empty: there is nothing to speak or translate.")
    return text


def _language(fields: dict, key: str, default: str | None) -> str | None:
    value = fields.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str) or not value.strip():
        raise _error("invalid_option", f"The field `{key}` must be a language code such as "
                                       "en, fr or es.")
    return value.strip().lower()


def register(app: Flask) -> None:
    app.extensions["htr_language_tools"] = _find(app)

    @app.post("/api/v1/speak")
    def api_speak():
        info = status(app)["speech"]
        if not info["available"]:
            raise _error("speech_unavailable", f"Speech is not available: {info['reason']}")
        fields = _fields()
        text = _text(fields)
        language = _language(fields, "language", "en")
        rate = fields.get("rate", speech.DEFAULT_RATE)
        try:
            rate = int(rate)
            if isinstance(fields.get("rate"), (bool, float)):
                raise ValueError
        except (TypeError, ValueError):
            raise _error("invalid_option", f"The field `rate` must be a whole number of words "
                                           f"per minute, {speech.MIN_RATE} to {speech.MAX_RATE}.") from None
        try:
            wav = speech.speak(text, language, rate=rate,
                               max_characters=current_app.config["HTR_SPEECH_MAX_CHARS"],
                               command=current_app.config["HTR_ESPEAK_CMD"])
        except speech.SpeechError as exc:
            raise _error(_SPEECH_CODES[exc.code], str(exc)) from None
        return Response(wav, content_type="audio/wav", headers={
            "Content-Disposition": 'inline; filename="speech.wav"', "Cache-Control": "no-store"})

    @app.get("/api/v1/translate")
    def api_translations():
        info = status(app)["translation"]
        return jsonify({k: info[k] for k in ("available", "engine", "reason", "targets", "names",
                                              "max_characters")})

    @app.post("/api/v1/translate")
    def api_translate():
        info = status(app)["translation"]
        if not info["available"]:
            raise _error("translation_unavailable", f"Translation is not available: "
                                                    f"{info['reason']}")
        fields = _fields()
        text = _text(fields)
        source = _language(fields, "source", "en")
        target = _language(fields, "target", None)
        if target is None:
            raise _error("invalid_option", "Say which language to translate into in the field "
                                           "`target` (GET /api/v1/translate lists them).")
        try:
            result = translate.translate(
                text, source, target, max_characters=current_app.config["HTR_TRANSLATION_MAX_CHARS"],
                command=current_app.config["HTR_APERTIUM_CMD"])
        except translate.TranslationError as exc:
            raise _error(_TRANSLATION_CODES[exc.code], str(exc)) from None
        return jsonify(result.to_dict())
