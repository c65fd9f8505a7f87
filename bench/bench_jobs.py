"""Documents read as jobs: pages per minute with 1 and 2 embedded workers and with 2 Celery
workers, and the latency of single-image reads (``/api/v1/read``) while a long PDF is read.

    python bench/bench_jobs.py --pages 20                 # the shipped model, all of it
    python bench/bench_jobs.py --pages 20 --skip celery   # without Redis and Celery
    python bench/bench_jobs.py --pages 10 --memory 10     # memory while documents are read for 10 min

Each backend is warmed up first (its workers load the model and read a one-page document), then
one PDF of ``--pages`` pages (three real handwritten lines each, scanned at 100 dpi, rendered at
200) is timed from submission to its last page. Latency: ``--reads`` single reads of a three-line
page through the app's test client, alone, then while the same PDF is read by one embedded worker.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import document_files as files  # noqa: E402  (tests/: pages of real handwritten lines)


DECODER = "wordbeam"


def wait_done(backend, job_id: str, timeout: float = 1800) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = backend.status(job_id)
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.1)
    raise TimeoutError(job_id)


def time_document(backend, pdf: bytes, pages: int) -> float:
    """Pages per minute of one document, after a warm-up document."""
    from htr.documents import open_document

    wait_done(backend, backend.submit(open_document([("warm-up.pdf", files.pdf(1, 3))]), {}))
    started = time.perf_counter()
    status = wait_done(backend, backend.submit(open_document([("bench.pdf", pdf)]), {}))
    elapsed = time.perf_counter() - started
    assert status["state"] == "done" and status["pages_failed"] == 0, status
    assert [p["page"] for p in status["pages"]] == list(range(1, pages + 1))
    return pages / elapsed * 60


def embedded(workers: int, pdf: bytes, pages: int, model: str | None) -> float:
    from htr.jobs import JobSettings
    from htr.jobs.embedded import EmbeddedBackend

    with tempfile.TemporaryDirectory() as data_dir:
        backend = EmbeddedBackend(JobSettings(model=model, data_dir=data_dir, workers=workers,
                                              default_decoder=DECODER))
        try:
            return time_document(backend, pdf, pages)
        finally:
            backend.close()


def celery(workers: int, pdf: bytes, pages: int, model: str | None) -> float:
    from htr.jobs import JobSettings
    from htr.jobs.celery_backend import CeleryBackend

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    with tempfile.TemporaryDirectory() as tmp:
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", tmp],
                                 stdout=subprocess.DEVNULL)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HTR_BROKER_URL": url,
               "HTR_DEFAULT_DECODER": DECODER, **({"HTR_MODEL": model} if model else {})}
        procs = [subprocess.Popen(
            [str(Path(sys.executable).parent / "celery"), "-A", "htr.jobs.celery_backend",
             "worker", "--pool=solo", "-n", f"bench{i}@%h", "-Q", "htr-pages",
             "--loglevel=WARNING", "--without-gossip", "--without-mingle"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(workers)]
        try:
            time.sleep(1)
            backend = CeleryBackend(JobSettings(broker_url=url, default_decoder=DECODER))
            # Both workers warm: as many warm-up pages as workers, at once.
            from htr.documents import open_document

            warm = [backend.submit(open_document([("w.pdf", files.pdf(1, 3))]), {})
                    for _ in range(workers)]
            for job_id in warm:
                wait_done(backend, job_id)
            return time_document(backend, pdf, pages)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(30)
            redis.terminate()
            redis.wait(10)


def latency(pdf: bytes, reads: int, model: str | None) -> tuple[list[float], list[float], float]:
    """Seconds of single reads alone, then while the PDF is read (by one embedded worker)."""
    from app import create_app

    png = io.BytesIO()
    files.page_image(0, 3).save(png, "PNG")
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app({"HTR_MODEL": model, "HTR_TESSERACT": False, "HTR_DECODERS": [DECODER], "HTR_DATA_DIR": data_dir,
                          "HTR_JOB_WORKERS": 1, "HTR_MAX_PAGES": 1000})
        client = app.test_client()
        backend = app.extensions["htr_jobs"]

        def read_once() -> float:
            started = time.perf_counter()
            r = client.post("/api/v1/read", data={"file": (io.BytesIO(png.getvalue()), "p.png")})
            assert r.status_code == 200, r.get_json()
            return time.perf_counter() - started

        for _ in range(3):
            read_once()
        # The pool's worker loaded and warm before anything is timed.
        from htr.documents import open_document

        wait_done(backend, backend.submit(open_document([("w.pdf", files.pdf(1, 3))]), {}))
        alone = [read_once() for _ in range(reads)]
        job = client.post("/api/v1/jobs", data={"file": (io.BytesIO(pdf), "big.pdf")}).get_json()
        busy = []
        while backend.status(job["id"])["state"] not in ("done", "failed") and len(busy) < reads * 3:
            busy.append(read_once())
        done_during = backend.status(job["id"])["pages_done"]
        wait_done(backend, job["id"])
        backend.close()
        return alone, busy, done_during


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory(minutes: float, pdf: bytes, pages: int, model: str | None, workers: int = 2) -> list[tuple[float, float]]:
    """Documents read back to back by the embedded backend for ``minutes``: (seconds, MB) of this
    process (the web side's job store) and its workers together, sampled every 15 s after a
    warm-up document."""
    from htr.documents import open_document
    from htr.jobs import JobSettings
    from htr.jobs.embedded import EmbeddedBackend

    samples: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as data_dir:
        backend = EmbeddedBackend(JobSettings(model=model, data_dir=data_dir, workers=workers,
                                              default_decoder=DECODER))
        try:
            wait_done(backend, backend.submit(open_document([("warm-up.pdf", files.pdf(1, 3))]), {}))
            started = time.monotonic()
            job, next_sample, read = None, started, 0
            while time.monotonic() - started < minutes * 60:
                status = backend.status(job) if job else None
                if status is None or status["state"] in ("done", "failed", "cancelled"):
                    if status is not None:
                        assert status["state"] == "done" and not status["pages_failed"], status
                        read += status["pages_done"]
                    job = backend.submit(open_document([("bench.pdf", pdf)]), {})
                if time.monotonic() >= next_sample:
                    pids = [os.getpid(), *backend.worker_pids()]
                    samples.append((time.monotonic() - started, sum(rss_mb(p) for p in pids)))
                    print(f"  {samples[-1][0]:6.0f} s  {samples[-1][1]:7.0f} MB  ({read} pages read)",
                          flush=True)
                    next_sample += 15
                time.sleep(0.2)
        finally:
            backend.close()
    return samples


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=20)
    p.add_argument("--reads", type=int, default=20)
    p.add_argument("--model", help="model folder (default: the shipped model)")
    p.add_argument("--skip", action="append", default=[],
                   choices=("embedded1", "embedded2", "celery", "latency"))
    p.add_argument("--decoder", default="wordbeam")
    p.add_argument("--memory", type=float, metavar="MINUTES",
                   help="only this: memory of the embedded backend (2 workers) reading documents "
                        "back to back for MINUTES")
    args = p.parse_args()
    global DECODER
    DECODER = args.decoder
    pdf = files.pdf(args.pages, 3)
    print(f"{os.cpu_count()} CPU cores; a PDF of {args.pages} pages of 3 handwritten lines",
          flush=True)
    if args.memory:
        samples = memory(args.memory, pdf, args.pages, args.model)
        values = [mb for _, mb in samples]
        last = [mb for t, mb in samples if t >= samples[-1][0] - 120]
        print(f"memory (this process and 2 workers): first {values[0]:.0f} MB, max {max(values):.0f} MB, "
              f"mean of the last 2 minutes {statistics.mean(last):.0f} MB")
        return
    if "embedded1" not in args.skip:
        print(f"embedded, 1 worker:  {embedded(1, pdf, args.pages, args.model):.1f} pages/min",
              flush=True)
    if "embedded2" not in args.skip:
        print(f"embedded, 2 workers: {embedded(2, pdf, args.pages, args.model):.1f} pages/min",
              flush=True)
    if "celery" not in args.skip:
        print(f"Celery, 2 workers:   {celery(2, pdf, args.pages, args.model):.1f} pages/min",
              flush=True)
    if "latency" not in args.skip:
        alone, busy, done = latency(pdf, args.reads, args.model)
        print(f"single reads alone:        n={len(alone)} p50 {statistics.median(alone):.2f} s "
              f"p95 {p95(alone):.2f} s")
        print(f"while the PDF is read:     n={len(busy)} p50 {statistics.median(busy):.2f} s "
              f"p95 {p95(busy):.2f} s ({done} of {args.pages} pages read meanwhile); "
              f"p95 ratio {p95(busy) / p95(alone):.2f}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
