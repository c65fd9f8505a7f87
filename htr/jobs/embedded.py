"""The embedded job backend: no service to run. Job state lives in a SQLite file
(``DATA_DIR/jobs.sqlite3``), each document's files beside it (``DATA_DIR/jobs/ID/``), and a pool
of worker processes on this machine reads the pages, each process loading the model once.

Any number of processes (gunicorn's web workers) may open the same data folder: they all submit
and answer from the same SQLite file, and one of them at a time, the holder of the lock
``DATA_DIR/pool.lock``, runs the worker pool (when it goes, another takes over within seconds).
On taking over, pages left half-read by a pool that went away (a restart, a crash) are queued
again; a page started ``max_attempts`` times is marked failed with that reason, so that a page
that kills its worker cannot stop the rest. A worker killed while reading is replaced and its
page queued again the same way. Finished jobs are deleted after ``keep_seconds``.

A worker claims a page in one transaction and stores its result only if the page is still its
own, so every page of a document is stored exactly once.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from ..documents import Document, DocumentError, Limits, PageRef, Source, page_error
from . import FINAL, JobBackend, JobNotFound, JobSettings

log = logging.getLogger("htr.jobs")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, file TEXT NOT NULL, options TEXT NOT NULL,
    sources TEXT NOT NULL, limits TEXT NOT NULL, notes TEXT NOT NULL, error TEXT,
    pages_total INTEGER NOT NULL, created REAL NOT NULL, finished REAL);
CREATE TABLE IF NOT EXISTS pages (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE, number INTEGER NOT NULL,
    source INTEGER NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, worker INTEGER, started REAL, result TEXT,
    PRIMARY KEY (job_id, number));
CREATE INDEX IF NOT EXISTS pages_state ON pages(state);
"""
#: Seconds between a worker's looks for a page when there was none, and between the pool
#: supervisor's rounds (dead workers, the lock, deletion of old results).
POLL = 0.2
SUPERVISE = 0.5
#: How much lower the workers' CPU priority is than the app's (``nice``).
NICE = 10


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=60000")
    return db


class _Tx:
    """``with _Tx(db):`` one write transaction (BEGIN IMMEDIATE: writers queue, none fails)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, value, tb) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _finish_job_if_ended(db: sqlite3.Connection, job_id: str, now: float) -> None:
    """Inside a transaction: a job whose pages have all ended is done (failed: none read)."""
    left, failed, total = db.execute(
        "SELECT SUM(state IN ('queued','running')), SUM(state = 'failed'), COUNT(*) FROM pages "
        "WHERE job_id = ?", (job_id,)).fetchone()
    if total and not left:
        state, error = ("failed", "No page of the document could be read.") if failed == total \
            else ("done", None)
        db.execute("UPDATE jobs SET state = ?, error = COALESCE(error, ?), finished = ? "
                   "WHERE id = ? AND state IN ('queued', 'running')", (state, error, now, job_id))


def _give_up_or_requeue(db: sqlite3.Connection, max_attempts: int, where: str, args: tuple,
                        reason: str) -> None:
    """Inside a transaction: pages that were being read by a worker that went away are queued
    again, or failed once they have been started ``max_attempts`` times."""
    now = time.time()
    rows = db.execute(f"SELECT p.job_id, p.number, p.attempts, p.source, j.sources FROM pages p "
                      f"JOIN jobs j ON j.id = p.job_id WHERE p.state = 'running' AND {where}",
                      args).fetchall()
    for job_id, number, attempts, source, sources in rows:
        if attempts >= max_attempts:
            name = json.loads(sources)[source]["name"]
            error = DocumentError("worker_lost", f"{name}: page {number} was not read: {reason} "
                                  f"{attempts} times while reading it.", number)
            db.execute("UPDATE pages SET state = 'failed', worker = NULL, result = ? "
                       "WHERE job_id = ? AND number = ?",
                       (json.dumps(page_error(number, name, error)), job_id, number))
            _finish_job_if_ended(db, job_id, now)
        else:
            db.execute("UPDATE pages SET state = 'queued', worker = NULL WHERE job_id = ? AND "
                       "number = ?", (job_id, number))
        log.warning("job %s page %d: %s (attempt %d)", job_id, number, reason, attempts)


class EmbeddedBackend(JobBackend):
    name = "embedded"

    def __init__(self, settings: JobSettings, run_pool: bool = True) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        (self.data_dir / "jobs").mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / "jobs.sqlite3"
        with connect(self.db_path) as db:
            db.executescript(SCHEMA)
        self._local = threading.local()
        self._stop = threading.Event()
        self._workers: list = []
        self._started_at: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._respawn_at: dict[int, float] = {}
        self._lock_file = None
        self._supervisor = None
        if run_pool and settings.workers > 0:
            self._supervisor = threading.Thread(target=self._supervise, name="htr-job-pool",
                                                daemon=True)
            self._supervisor.start()

    # --- the web side ----------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.db_path)
        return db

    def submit(self, document: Document, options: dict) -> str:
        job_id = uuid.uuid4().hex
        folder = self.data_dir / "jobs" / job_id
        folder.mkdir(parents=True)
        for k, source in enumerate(document.sources):
            (folder / f"{k}.bin").write_bytes(source.data)
        now = time.time()
        sources = [{"name": s.name, "kind": s.kind} for s in document.sources]
        with _Tx(self.db) as db:
            db.execute("INSERT INTO jobs (id, state, file, options, sources, limits, notes, "
                       "pages_total, created) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
                       (job_id, document.name, json.dumps(options), json.dumps(sources),
                        json.dumps(document.limits.__dict__), json.dumps(document.notes),
                        len(document.pages), now))
            for ref in document.pages:
                broken = document.broken.get(ref.number)
                result = (json.dumps(page_error(ref.number, document.sources[ref.source].name,
                                                broken)) if broken else None)
                db.execute("INSERT INTO pages (job_id, number, source, idx, state, result) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (job_id, ref.number, ref.source,
                                                         ref.index, "failed" if broken else
                                                         "queued", result))
            _finish_job_if_ended(db, job_id, now)
        return job_id

    def _job(self, job_id: str) -> tuple:
        row = self.db.execute("SELECT id, state, file, notes, error, pages_total, created, "
                              "finished, options, sources, limits FROM jobs WHERE id = ?",
                              (str(job_id),)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return row

    def status(self, job_id: str) -> dict:
        job = self._job(job_id)
        pages = self.db.execute("SELECT state, result FROM pages WHERE job_id = ? AND state IN "
                                "('done', 'failed') ORDER BY number", (job_id,)).fetchall()
        return {"id": job[0], "state": job[1], "file": job[2], "pages_total": job[5],
                "pages_done": len(pages),
                "pages_failed": sum(1 for state, _ in pages if state == "failed"),
                "notes": json.loads(job[3]), "error": job[4], "created": job[6],
                "finished": job[7], "options": json.loads(job[8]),
                "pages": [json.loads(result) for _, result in pages]}

    def cancel(self, job_id: str) -> dict:
        self._job(job_id)
        with _Tx(self.db) as db:
            db.execute("UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ? AND "
                       "state IN ('queued', 'running')", (time.time(), job_id))
        return self.status(job_id)

    def document(self, job_id: str) -> Document:
        job = self._job(job_id)
        sources = [Source(s["name"], (self.data_dir / "jobs" / job_id / f"{k}.bin").read_bytes(),
                          s["kind"]) for k, s in enumerate(json.loads(job[9]))]
        refs = [PageRef(n, s, i) for n, s, i in self.db.execute(
            "SELECT number, source, idx FROM pages WHERE job_id = ? ORDER BY number", (job_id,))]
        return Document(job[2], sources, refs, Limits(**json.loads(job[10])), json.loads(job[3]))

    def close(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(30)
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()

    # --- the pool (in the process holding the lock) -------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                # The pool starts when there is work (a job, or one left by a restart), so that
                # an app that never reads a document never loads the model twice.
                if self._lock_file is None and self._pending() and self._take_lock():
                    self._recover()
                    self._start_workers()
                if self._lock_file is not None:
                    self._replace_dead_workers()
                    self._delete_old()
            except Exception:  # keep supervising: one bad round must not stop the pool
                log.exception("job pool supervisor")
            self._stop.wait(SUPERVISE)
        self._stop_workers()

    def _pending(self) -> bool:
        return self.db.execute("SELECT 1 FROM pages WHERE state IN ('queued', 'running') "
                               "LIMIT 1").fetchone() is not None

    def _take_lock(self) -> bool:
        handle = open(self.data_dir / "pool.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        log.info("job pool: %d worker(s) on %s (pid %d)", self.settings.workers, self.data_dir,
                 os.getpid())
        return True

    def _recover(self) -> None:
        """Taking over: any page still marked running belongs to a pool that went away."""
        with _Tx(connect(self.db_path)) as db:
            _give_up_or_requeue(db, self.settings.max_attempts, "1", (),
                                "the app stopped")
            for (job_id,) in db.execute("SELECT id FROM jobs WHERE state IN ('queued', "
                                        "'running')").fetchall():
                if not (self.data_dir / "jobs" / job_id).is_dir():
                    db.execute("UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE "
                               "id = ?", (time.time(), "The document's files were lost while "
                               "the app was stopped.", job_id))

    def _start_workers(self) -> None:
        while len(self._workers) < self.settings.workers:
            self._workers.append(self._spawn())

    def _spawn(self):
        # spawn, never fork: TensorFlow's threads do not survive a fork.
        process = multiprocessing.get_context("spawn").Process(
            target=worker_main, args=(str(self.db_path), self.settings.to_dict(), os.getpid()),
            name="htr-job-worker", daemon=True)
        process.start()
        self._started_at[process.pid] = time.monotonic()
        return process

    def _replace_dead_workers(self) -> None:
        now = time.monotonic()
        for i, process in enumerate(self._workers):
            if process is None:
                if now >= self._respawn_at.get(i, 0):
                    self._workers[i] = self._spawn()
                continue
            if process.is_alive():
                continue
            pid = process.pid
            with _Tx(connect(self.db_path)) as db:
                _give_up_or_requeue(db, self.settings.max_attempts, "p.worker = ?", (pid,),
                                    "its worker stopped")
            # One that could not even start (the model does not load) is not started again in a
            # tight loop: it waits, longer each time (up to a minute).
            quick = now - self._started_at.get(pid, 0) < 30
            self._failures[i] = self._failures.get(i, 0) + 1 if quick else 0
            wait = min(60.0, 2.0 ** self._failures[i]) if quick else 0.0
            log.warning("job worker %d stopped (exit %s): another in %.0f s", pid,
                        process.exitcode, wait)
            process.close()
            self._workers[i] = None
            self._respawn_at[i] = now + wait

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self._workers if p is not None]

    def _delete_old(self) -> None:
        if getattr(self, "_next_cleanup", 0) > time.time():
            return
        self._next_cleanup = time.time() + min(60.0, max(1.0, self.settings.keep_seconds / 4))
        cutoff = time.time() - self.settings.keep_seconds
        with _Tx(connect(self.db_path)) as db:
            old = [row[0] for row in db.execute("SELECT id FROM jobs WHERE finished IS NOT NULL "
                                                "AND finished < ?", (cutoff,))]
            for job_id in old:
                db.execute("DELETE FROM pages WHERE job_id = ?", (job_id,))
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        for job_id in old:
            shutil.rmtree(self.data_dir / "jobs" / job_id, ignore_errors=True)
        if old:
            log.info("deleted %d finished job(s) older than %.0f s", len(old),
                     self.settings.keep_seconds)

    def _stop_workers(self) -> None:
        self._workers = [p for p in self._workers if p is not None]
        for process in self._workers:
            if process.is_alive():
                process.terminate()
        for process in self._workers:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)
        if self._workers:  # stopped on purpose: what was being read is queued again, uncounted
            with _Tx(connect(self.db_path)) as db:
                db.execute("UPDATE pages SET state = 'queued', worker = NULL, "
                           "attempts = MAX(attempts - 1, 0) WHERE state = 'running'")
        self._workers = []
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


# --- a worker process -------------------------------------------------------------------------

def _die_with_parent(parent: int) -> None:
    """Linux: this process gets SIGKILL when the thread that started it (the pool supervisor)
    ends, however it ends: no orphan goes on reading after the app is gone."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:
        os._exit(0)


def worker_main(db_path: str, settings: dict, parent: int) -> None:
    _die_with_parent(parent)
    # Background work: the app's own requests (a single image read while someone waits) come
    # first on a busy machine.
    try:
        os.nice(NICE)
    except OSError:
        pass
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    from .reading import PageWorker

    settings = JobSettings.from_dict(settings)
    worker = PageWorker(settings)
    worker.load()
    db = connect(Path(db_path))
    pid = os.getpid()
    folder = Path(db_path).parent / "jobs"
    while os.getppid() == parent:
        with _Tx(db):
            row = db.execute(
                "SELECT p.job_id, p.number, p.source, p.idx, j.sources, j.options, j.limits "
                "FROM pages p JOIN jobs j ON j.id = p.job_id WHERE p.state = 'queued' AND "
                "j.state IN ('queued', 'running') ORDER BY j.created, p.number LIMIT 1").fetchone()
            if row is not None:
                db.execute("UPDATE pages SET state = 'running', worker = ?, started = ?, "
                           "attempts = attempts + 1 WHERE job_id = ? AND number = ?",
                           (pid, time.time(), row[0], row[1]))
                db.execute("UPDATE jobs SET state = 'running' WHERE id = ? AND state = 'queued'",
                           (row[0],))
        if row is None:
            time.sleep(POLL)
            continue
        job_id, number, source, index, sources, options, limits = row
        meta = json.loads(sources)[source]
        try:
            data = (folder / job_id / f"{source}.bin").read_bytes()
            result, ok = worker.read(Source(meta["name"], data, meta["kind"]), index, number,
                                     json.loads(options), Limits(**json.loads(limits)))
        except Exception as exc:  # noqa: BLE001 - the page fails, the worker goes on
            log.exception("job %s page %d", job_id, number)
            result, ok = page_error(number, meta["name"], DocumentError(
                "unreadable_page", f"{meta['name']}: page {index + 1} could not be read "
                f"({type(exc).__name__}: {exc}).", number)), False
        with _Tx(db):
            changed = db.execute(
                "UPDATE pages SET state = ?, result = ?, worker = NULL WHERE job_id = ? AND "
                "number = ? AND state = 'running' AND worker = ?",
                ("done" if ok else "failed", json.dumps(result), job_id, number, pid)).rowcount
            if changed:
                _finish_job_if_ended(db, job_id, time.time())
