"""Fine-tuning as a background job ("Learn my handwriting"): :func:`htr.finetune.finetune` run on
a thread of the web process, one run at a time, followed like a document job (:mod:`htr.jobs`):
an id, a state of :data:`htr.jobs.STATES`, a progress fraction and message, and at the end the
new model's name and card (or the error).

A thread rather than the job workers: a run is one long task that needs the model's training
graph, not pages to spread over processes, and it must finish in this process's models folder.
Training shares the cores with reading while it runs (it is started by a person, rarely). Each
run's state is also written to ``STATE_DIR/ID.json`` (at most once a second while it runs), so that
every web process (gunicorn's workers) can answer for it and refuse a second run while one goes.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import HTRError
from .files import write_atomically
from .finetune import CARD_FILE, FinetuneConfig, finetune

log = logging.getLogger("htr.learning")


class Busy(HTRError):
    """A fine-tuning run is already going (``job_id``): one at a time."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__("A model is already being trained: wait for it to finish.")


@dataclass
class LearnJob:
    id: str
    name: str
    base: str
    data: list[str]
    state: str = "queued"
    progress: float = 0.0
    message: str = "waiting to start"
    created: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    result: dict | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("data")  # server paths
        out["base"] = Path(self.base).name
        return out


#: A run whose state file has not been written for this long is taken as lost (its process
#: ended): it no longer blocks a new run.
STALE_SECONDS = 120


class LearnJobs:
    """Starts and follows fine-tuning runs; finished runs are remembered (newest ``keep`` in
    memory, every one in ``state_dir`` when it is given)."""

    def __init__(self, state_dir: str | Path | None = None, keep: int = 20) -> None:
        self.jobs: dict[str, LearnJob] = {}
        self.keep = keep
        self.lock = threading.Lock()
        self.state_dir = Path(state_dir) if state_dir else None
        self._written = 0.0

    def running(self) -> LearnJob | None:
        """The run going now, in this process or (by its state file) in another."""
        mine = next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)
        if mine is not None or self.state_dir is None or not self.state_dir.is_dir():
            return mine
        for path in self.state_dir.glob("*.json"):
            try:
                if time.time() - path.stat().st_mtime > STALE_SECONDS:
                    continue
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if data.get("state") in ("queued", "running"):
                return LearnJob(**{k: data[k] for k in ("id", "name", "base", "state", "progress",
                                                        "message", "created")}, data=[])
        return None

    def _save(self, job: LearnJob, force: bool = False) -> None:
        """The run's state for the other processes, written atomically (throttled)."""
        if self.state_dir is None or (not force and time.time() - self._written < 1.0):
            return
        self._written = time.time()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(self.state_dir / f"{job.id}.json", json.dumps(job.to_dict()).encode())

    def submit(self, base: Path, data: list[str], output: Path,
               config: FinetuneConfig | None = None) -> str:
        """Start fine-tuning ``base`` on ``data`` into ``output`` (a folder that must not exist:
        written under a temporary name and moved there when done). Raises :class:`Busy`."""
        with self.lock:
            busy = self.running()
            if busy is not None:
                raise Busy(busy.id)
            job = LearnJob(secrets.token_hex(16), output.name, str(base), list(data))
            self.jobs[job.id] = job
            for old in sorted((j for j in self.jobs.values() if j.finished),
                              key=lambda j: j.finished)[:-self.keep or None]:
                self.jobs.pop(old.id, None)
        self._save(job, force=True)
        thread = threading.Thread(target=self._run, args=(job, base, output, config),
                                  name=f"learn-{job.name}", daemon=True)
        thread.start()
        return job.id

    def status(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is not None:
            return job.to_dict()
        path = self.state_dir / f"{job_id}.json" if self.state_dir else None
        try:
            data = json.loads(path.read_text()) if path else None
        except (OSError, ValueError):
            data = None
        if data is None:
            raise KeyError(job_id)
        if data["state"] in ("queued", "running") and time.time() - path.stat().st_mtime > STALE_SECONDS:
            data.update(state="failed", error="The process training this model ended before it "
                        "finished.", message="failed")
        return data

    def _run(self, job: LearnJob, base: Path, output: Path, config: FinetuneConfig | None) -> None:
        partial = output.with_name(f".{output.name}.partial")
        job.state, job.message = "running", "reading the corrected pages"

        def progress(fraction: float, message: str) -> None:
            job.progress, job.message = round(fraction, 3), message
            self._save(job)

        try:
            result = finetune(base, job.data, partial, config, progress=progress,
                              log=lambda line: log.info("%s: %s", job.name, line))
            partial.rename(output)  # the model appears in the list only when complete
            card_file = output / CARD_FILE
            card_file.write_text(card_file.read_text().replace(str(partial), str(output)))
            card = asdict(result)
            card.pop("history", None)
            card.update(output=output.name, base=Path(result.base).name, data=None)
            job.result, job.state, job.message = card, "done", "done"
            job.progress = 1.0
        except Exception as exc:  # any failure ends the job with its reason, not the thread silently
            log.exception("fine-tuning %s failed", job.name)
            job.state, job.error = "failed", str(exc) or type(exc).__name__
            job.message = "failed"
            shutil.rmtree(partial, ignore_errors=True)
        finally:
            job.finished = time.time()
            self._save(job, force=True)


__all__ = ["LearnJobs", "LearnJob", "Busy"]
