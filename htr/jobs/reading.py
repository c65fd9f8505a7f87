"""What a worker does with one page of a job, the same in the embedded pool and in Celery:
render the page from the document's bytes, read it with a recognizer loaded once per process,
and give the page as the API shows it (or the page's error)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..documents import DocumentError, Limits, Source, page_error, page_result, render_page
from ..errors import HTRError
from . import JobSettings


class PageWorker:
    """One worker process's reader: the model is loaded once (on first use, or by
    :meth:`load`), one recognizer per decoder sharing it."""

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings
        self._recognizers: dict = {}
        self._other: dict = {}  # {"dir": folder, decoder: recognizer}: a job's other model

    def load(self) -> None:
        self.recognizer(self.settings.default_decoder)

    def recognizer(self, decoder: str | None, model_dir: str | None = None):
        """The recognizer of ``decoder`` for the settings' model, or for ``model_dir`` (a job's
        ``model=``: kept with the most recently used other model, one at a time)."""
        from ..decode import DEFAULT_DECODER
        from ..recognizer import Recognizer

        decoder = decoder or self.settings.default_decoder or DEFAULT_DECODER
        if model_dir:
            if self._other.get("dir") != model_dir:
                self._other = {"dir": model_dir}
            if decoder not in self._other:
                base = next((r for k, r in self._other.items() if k != "dir"), None)
                self._other[decoder] = (base.with_decoder(decoder) if base is not None else
                                        Recognizer.load(model_dir, decoder))
            return self._other[decoder]
        if decoder not in self._recognizers:
            base = next(iter(self._recognizers.values()), None)
            self._recognizers[decoder] = (base.with_decoder(decoder) if base is not None else
                                          Recognizer.load(self.settings.model, decoder))
        return self._recognizers[decoder]

    @property
    def model_name(self) -> str:
        from ..recognizer import DEFAULT_MODEL

        return Path(self.settings.model or DEFAULT_MODEL).name

    def read(self, source: Source, index: int, number: int, options: dict,
             limits: Limits | None = None) -> tuple[dict, bool]:
        """Page ``number`` (page ``index`` of ``source``) read: ``(page dict, True)``, or
        ``(error dict, False)`` when the page cannot be rendered or read."""
        limits = limits or self.settings.limits
        started = time.perf_counter()
        try:
            grey = render_page(source, index, limits, number)
        except DocumentError as exc:
            return page_error(number, source.name, exc), False
        rendered = time.perf_counter()
        decoder = options.get("decoder")
        level = options.get("level") or "auto"
        try:
            recognizer = self.recognizer(decoder, options.get("model_dir")).in_language(
                options.get("language"))
            page = recognizer.read_page(grey, level=level)
        except (HTRError, ValueError) as exc:  # ValueError: a language without its lexicon
            return page_error(number, source.name, DocumentError(
                "unreadable_page", f"{source.name}: page {index + 1}: {exc}", number)), False
        read = time.perf_counter()
        ms = lambda s: round(s * 1000, 1)  # noqa: E731
        result = page_result(
            page, file=source.name, kind=source.kind, decoder=recognizer.decoder,
            model=options.get("model") or self.model_name,
            low_confidence=self.settings.low_confidence, number=number,
            timings={"decode_ms": ms(rendered - started), "read_ms": ms(read - rendered),
                     "total_ms": ms(read - started)})
        result.setdefault("level", level)
        result["worker"] = f"{os.uname().nodename}:{os.getpid()}"
        return result, True
