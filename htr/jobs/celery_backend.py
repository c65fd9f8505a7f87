"""The Celery job backend, for more than one machine: ``HTR_BROKER_URL=redis://HOST:6379/0``.

Redis is the broker and holds the job state and each document's bytes, so every web process and
every worker sees the same jobs. Each page is one task (``htr.read_page``), run by any
``celery -A htr.jobs.celery_backend worker --pool=solo`` process (each loads the model once, on
start). Tasks are acknowledged late and prefetched one at a time: a task whose worker is lost
(killed, its machine gone) stays unacknowledged and Redis hands it to another worker after
``HTR_VISIBILITY_TIMEOUT`` seconds. A page's result is stored only once (HSETNX), however often
it was read; a page started ``max_attempts`` times is failed with that reason.

Keys, all under ``htr:job:ID``: the job's hash (state, counts, metadata), ``:src:K`` (file K's
bytes), ``:pages`` (page number -> its JSON), ``:attempts`` and ``:running`` (number -> the
worker reading it). They expire ``keep_seconds`` after the job has finished.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid

from ..documents import Document, DocumentError, Limits, PageRef, Source, page_error
from . import FINAL, JobBackend, JobNotFound, JobSettings, settings_from_env

log = logging.getLogger("htr.jobs")
PREFIX = "htr:job:"
#: Before it finishes a job's keys live this long at most (a job forgotten by every worker).
MAX_JOB_SECONDS = 7 * 24 * 3600

# KEYS: job, pages, attempts, running, then every key of the job (to expire).
# ARGV: page number, page JSON, 1 if the page failed, now, keep seconds.
_FINISH_PAGE = """
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
local done = redis.call('HINCRBY', KEYS[1], 'pages_done', 1)
local failed = redis.call('HINCRBY', KEYS[1], 'pages_failed', tonumber(ARGV[3]))
local total = tonumber(redis.call('HGET', KEYS[1], 'pages_total'))
if done >= total then
  local state = redis.call('HGET', KEYS[1], 'state')
  if state == 'queued' or state == 'running' then
    if failed >= total then
      redis.call('HSET', KEYS[1], 'state', 'failed', 'error', 'No page of the document could be read.')
    else
      redis.call('HSET', KEYS[1], 'state', 'done')
    end
    redis.call('HSET', KEYS[1], 'finished', ARGV[4])
  end
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[5])) end
end
return 1
"""
# KEYS: job, then every key of the job. ARGV: now, keep seconds.
_CANCEL = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'queued' or state == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished', ARGV[1])
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[2])) end
end
return state
"""
# KEYS: job. queued -> running (a job cancelled meanwhile stays cancelled).
_START = """
if redis.call('HGET', KEYS[1], 'state') == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'running')
end
return 1
"""


def _keys(job_id: str, sources: int) -> list[str]:
    base = PREFIX + job_id
    return [base, base + ":pages", base + ":attempts", base + ":running",
            *(f"{base}:src:{k}" for k in range(sources))]


class CeleryBackend(JobBackend):
    name = "celery"

    def __init__(self, settings: JobSettings) -> None:
        import redis

        self.settings = settings
        self.redis = redis.Redis.from_url(settings.broker_url)
        self.celery = make_celery(settings)
        self._finish = self.redis.register_script(_FINISH_PAGE)
        self._cancel = self.redis.register_script(_CANCEL)
        self._start = self.redis.register_script(_START)

    def start(self, job_id: str) -> None:
        self._start(keys=[PREFIX + job_id])

    def submit(self, document: Document, options: dict) -> str:
        job_id = uuid.uuid4().hex
        keys = _keys(job_id, len(document.sources))
        now = time.time()
        pipe = self.redis.pipeline()
        pipe.hset(keys[0], mapping={
            "state": "queued", "file": document.name, "options": json.dumps(options),
            "sources": json.dumps([{"name": s.name, "kind": s.kind} for s in document.sources]),
            "refs": json.dumps([[r.source, r.index] for r in document.pages]),
            "limits": json.dumps(document.limits.__dict__), "notes": json.dumps(document.notes),
            "pages_total": len(document.pages), "pages_done": 0, "pages_failed": 0,
            "created": now})
        for k, source in enumerate(document.sources):
            pipe.set(keys[4 + k], source.data)
        for key in keys:
            pipe.expire(key, MAX_JOB_SECONDS)
        pipe.execute()
        for ref in document.pages:
            broken = document.broken.get(ref.number)
            if broken is not None:
                self.finish_page(job_id, ref.number, page_error(
                    ref.number, document.sources[ref.source].name, broken), False)
            else:
                self.celery.send_task("htr.read_page", args=(job_id, ref.number))
        return job_id

    def _job(self, job_id: str) -> dict:
        job = {k.decode(): v.decode() for k, v in self.redis.hgetall(PREFIX + str(job_id)).items()}
        if not job:
            raise JobNotFound(job_id)
        return job

    def status(self, job_id: str) -> dict:
        job = self._job(job_id)
        stored = self.redis.hgetall(PREFIX + job_id + ":pages")
        pages = [json.loads(v) for _, v in sorted((int(k), v) for k, v in stored.items())]
        return {"id": job_id, "state": job["state"], "file": job["file"],
                "pages_total": int(job["pages_total"]), "pages_done": len(pages),
                "pages_failed": sum(1 for p in pages if "error" in p),
                "notes": json.loads(job["notes"]), "error": job.get("error"),
                "created": float(job["created"]),
                "finished": float(job["finished"]) if "finished" in job else None,
                "options": json.loads(job["options"]), "pages": pages}

    def cancel(self, job_id: str) -> dict:
        job = self._job(job_id)
        self._cancel(keys=_keys(job_id, len(json.loads(job["sources"]))),
                     args=[time.time(), self.settings.keep_seconds])
        return self.status(job_id)

    def document(self, job_id: str) -> Document:
        job = self._job(job_id)
        metas = json.loads(job["sources"])
        sources = []
        for k, meta in enumerate(metas):
            data = self.redis.get(f"{PREFIX}{job_id}:src:{k}")
            if data is None:
                raise JobNotFound(job_id)
            sources.append(Source(meta["name"], data, meta["kind"]))
        refs = [PageRef(n, s, i) for n, (s, i) in enumerate(json.loads(job["refs"]), 1)]
        return Document(job["file"], sources, refs, Limits(**json.loads(job["limits"])),
                        json.loads(job["notes"]))

    def finish_page(self, job_id: str, number: int, result: dict, ok: bool) -> bool:
        job = self._job(job_id)
        keys = _keys(job_id, len(json.loads(job["sources"])))
        return bool(self._finish(keys=keys, args=[number, json.dumps(result), 0 if ok else 1,
                                                  time.time(), self.settings.keep_seconds]))

    def close(self) -> None:
        self.redis.close()


def make_celery(settings: JobSettings):
    from celery import Celery

    app = Celery("htr", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,                 # acknowledged when the page is read, not before
        worker_prefetch_multiplier=1,        # a worker holds one page at a time
        task_reject_on_worker_lost=True,     # a task whose worker died is queued again
        # A lost worker's page goes back to the queue once unacknowledged for visibility_timeout;
        # the workers look for such pages every few seconds (kombu's default: every 100 s).
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout / 5)),
            "unacked_restore_throttle": 1},
        task_ignore_result=True,             # results go to the job's hash, not a result backend
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue="htr-pages",
    )
    return app


# --- the worker side: `celery -A htr.jobs.celery_backend worker --pool=solo` -------------------

SETTINGS = settings_from_env()
app = make_celery(SETTINGS) if SETTINGS.broker_url else None
_state: dict = {}


def _worker():
    if "worker" not in _state:
        from .reading import PageWorker

        worker = PageWorker(SETTINGS)
        worker.load()
        _state["worker"] = worker
        _state["backend"] = CeleryBackend(SETTINGS)
    return _state["worker"], _state["backend"]


if app is not None:
    from celery.signals import worker_process_init, worker_ready

    @worker_ready.connect
    def _load_model(**_):  # --pool=solo: the model is loaded before the first task
        _worker()

    @worker_process_init.connect
    def _load_model_in_child(**_):  # prefork: each child loads it once
        _worker()

    @app.task(name="htr.read_page", acks_late=True, reject_on_worker_lost=True)
    def read_page(job_id: str, number: int) -> None:
        worker, backend = _worker()
        try:
            job = backend._job(job_id)
        except JobNotFound:
            return  # deleted after its time, or never made here
        if job["state"] in FINAL:
            return  # cancelled: the remaining pages are not read
        base = PREFIX + job_id
        if backend.redis.hexists(base + ":pages", number):
            return  # already read (this task was handed out again after a lost worker)
        metas = json.loads(job["sources"])
        source_k, index = json.loads(job["refs"])[number - 1]
        meta = metas[source_k]
        attempts = backend.redis.hincrby(base + ":attempts", number, 1)
        if attempts > SETTINGS.max_attempts:
            backend.finish_page(job_id, number, page_error(number, meta["name"], DocumentError(
                "worker_lost", f"{meta['name']}: page {number} was not read: its worker stopped "
                f"{attempts - 1} times while reading it.", number)), False)
            return
        backend.redis.hset(base + ":running", number, f"{os.uname().nodename}:{os.getpid()}")
        backend.start(job_id)
        data = backend.redis.get(f"{base}:src:{source_k}")
        if data is None:
            return
        try:
            result, ok = worker.read(Source(meta["name"], data, meta["kind"]), index, number,
                                     json.loads(job["options"]), Limits(**json.loads(job["limits"])))
        except Exception as exc:  # noqa: BLE001 - the page fails, the worker goes on
            log.exception("job %s page %d", job_id, number)
            result, ok = page_error(number, meta["name"], DocumentError(
                "unreadable_page", f"{meta['name']}: page {index + 1} could not be read "
                f"({type(exc).__name__}: {exc}).", number)), False
        backend.finish_page(job_id, number, result, ok)
