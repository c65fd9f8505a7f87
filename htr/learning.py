"""Fine-tuning as a background job ("Learn my handwriting"): :func:`htr.finetune.finetune` run on
a thread of the web process, one run at a time, followed like a document job (:mod:`htr.jobs`):
an id, a state of :data:`htr.jobs.STATES`, a progress fraction and message, and at the end the
new model's name and card (or the error).

A thread rather than the job workers: a run is one long task that needs the model's training
graph, not pages to spread over processes, and it must finish in this process's models folder.
Training shares the cores with reading while it runs (it is started by a person, rarely).
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import HTRError
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


class LearnJobs:
    """Starts and follows fine-tuning runs; finished runs are remembered (newest ``keep``)."""

    def __init__(self, keep: int = 20) -> None:
        self.jobs: dict[str, LearnJob] = {}
        self.keep = keep
        self.lock = threading.Lock()

    def running(self) -> LearnJob | None:
        return next((j for j in self.jobs.values() if j.state in ("queued", "running")), None)

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
        thread = threading.Thread(target=self._run, args=(job, base, output, config),
                                  name=f"learn-{job.name}", daemon=True)
        thread.start()
        return job.id

    def status(self, job_id: str) -> dict:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job.to_dict()

    def _run(self, job: LearnJob, base: Path, output: Path, config: FinetuneConfig | None) -> None:
        partial = output.with_name(f".{output.name}.partial")
        job.state, job.message = "running", "reading the corrected pages"

        def progress(fraction: float, message: str) -> None:
            job.progress, job.message = round(fraction, 3), message

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


__all__ = ["LearnJobs", "LearnJob", "Busy"]
