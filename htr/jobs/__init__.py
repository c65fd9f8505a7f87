"""Documents read as background jobs, page by page, with progress: the small interface the web
app, the command line and the benchmarks call (:class:`JobBackend`), and its two
implementations.

- :class:`htr.jobs.embedded.EmbeddedBackend` (the default, no extra service): job state in a
  SQLite file under a data folder, and a pool of worker processes on this machine, each loading
  the model once. A restart loses no job: pages that were being read are read again (a page whose
  reading stopped its worker ``max_attempts`` times is marked failed, with that reason).
- :class:`htr.jobs.celery_backend.CeleryBackend` (``HTR_BROKER_URL=redis://...``): one Celery
  task per page on any number of ``celery worker`` processes, job state and the documents' bytes
  in Redis, so that any number of web processes see the same jobs.

A job is one document (:mod:`htr.documents`): its state is one of :data:`STATES`; each page
ends read (the page as ``/api/v1/read`` gives it, with its ``page`` number) or failed (``{"page",
"file", "error"}``); the job is ``done`` when every page has ended (``failed`` when no page could
be read), ``cancelled`` when asked. Pages are stored exactly once, however often a page had to be
read again after a worker was lost.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from ..documents import Document, Limits

#: The states of a job; the last three are final.
STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class JobSettings:
    """Everything the backends and their workers need. ``data_dir``: where the embedded backend
    keeps its SQLite file and the documents being read (never under the app's static folder);
    ``workers``: embedded worker processes; ``keep_seconds``: how long a finished job's results
    stay; ``broker_url``: Celery's broker (Redis), which also holds job state;
    ``max_attempts``: how many times a page is started before it is marked failed (its reading
    stopped its worker each time); ``visibility_timeout``: seconds after which Redis hands an
    unacknowledged page task (its worker lost) to another worker."""

    model: str | None = None
    default_decoder: str | None = None
    decoders: tuple[str, ...] | None = None
    low_confidence: float = 0.5
    limits: Limits = field(default_factory=Limits)
    data_dir: str = "data"
    workers: int = 1
    keep_seconds: float = 24 * 3600
    broker_url: str | None = None
    max_attempts: int = 3
    visibility_timeout: float = 600

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "JobSettings":
        data = dict(data)
        data["limits"] = Limits(**data.get("limits", {}))
        if data.get("decoders") is not None:
            data["decoders"] = tuple(data["decoders"])
        return cls(**data)


class JobNotFound(LookupError):
    """No job with that id (never made, or its results were deleted after their time)."""


class JobBackend:
    """The interface: submit a document, follow it, get its pages, cancel it."""

    name = "none"

    def submit(self, document: Document, options: dict) -> str:
        """Queue every page of an opened document; the job's id. ``options``: ``level``,
        ``decoder``."""
        raise NotImplementedError

    def status(self, job_id: str) -> dict:
        """``{"id", "state", "file", "pages_total", "pages_done", "pages_failed", "notes",
        "error", "created", "finished", "pages": [the pages ended so far, in order]}``, or
        :class:`JobNotFound`."""
        raise NotImplementedError

    def cancel(self, job_id: str) -> dict:
        """Cancel a job that has not finished (pages being read are finished, no other page is
        started); its status."""
        raise NotImplementedError

    def document(self, job_id: str) -> Document:
        """The job's document, opened again (to show or export its pages' images)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop what this process started (worker processes, threads)."""


def open_backend(settings: JobSettings) -> JobBackend:
    """Celery when a broker is set, else the embedded backend."""
    if settings.broker_url:
        from .celery_backend import CeleryBackend

        return CeleryBackend(settings)
    from .embedded import EmbeddedBackend

    return EmbeddedBackend(settings)


def settings_from_env(env=os.environ, **overrides) -> JobSettings:
    """Settings from ``HTR_*`` environment variables (the Celery workers' way of being told):
    HTR_MODEL, HTR_DEFAULT_DECODER, HTR_LOW_CONFIDENCE, HTR_MAX_PAGES, HTR_MAX_DOCUMENT_BYTES,
    HTR_MAX_PIXELS, HTR_DPI, HTR_DATA_DIR, HTR_JOB_WORKERS, HTR_JOB_KEEP_SECONDS,
    HTR_BROKER_URL, HTR_MAX_ATTEMPTS, HTR_VISIBILITY_TIMEOUT."""
    d = Limits()
    limits = Limits(int(env.get("HTR_MAX_PAGES", d.max_pages)),
                    int(env.get("HTR_MAX_DOCUMENT_BYTES", d.max_bytes)),
                    int(env.get("HTR_MAX_PIXELS", d.max_pixels)), int(env.get("HTR_DPI", d.dpi)))
    s = JobSettings()
    values = dict(
        model=env.get("HTR_MODEL") or None, default_decoder=env.get("HTR_DEFAULT_DECODER") or None,
        low_confidence=float(env.get("HTR_LOW_CONFIDENCE", s.low_confidence)), limits=limits,
        data_dir=env.get("HTR_DATA_DIR", s.data_dir),
        workers=int(env.get("HTR_JOB_WORKERS", s.workers)),
        keep_seconds=float(env.get("HTR_JOB_KEEP_SECONDS", s.keep_seconds)),
        broker_url=env.get("HTR_BROKER_URL") or None,
        max_attempts=int(env.get("HTR_MAX_ATTEMPTS", s.max_attempts)),
        visibility_timeout=float(env.get("HTR_VISIBILITY_TIMEOUT", s.visibility_timeout)))
    values.update(overrides)
    return JobSettings(**values)
