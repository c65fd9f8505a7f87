"""Documents read as jobs on real services, never mocks: ten documents of several pages, a worker
killed with SIGKILL in the middle of a page, and every page of every document must come back
read, exactly once.

- Embedded: the app itself (``flask --app app run``) in a process of its own, with its pool of two
  worker processes on a SQLite file; one worker is killed mid-page, then the whole app is killed
  mid-job and started again on the same data folder.
- Celery: Debian's redis-server on a free loopback port and two ``celery worker`` processes; one
  is killed mid-page and its page is handed to the other.

A tiny untrained model reads the pages (the plumbing is what is tested, not the reading)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

import document_files as files

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS = "/usr/bin/redis-server"
DOCUMENTS = [(f"letter-{i}.pdf", 2 + i % 3) for i in range(10)]  # 30 pages in all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_every_page_once(results: dict[str, dict]) -> None:
    """Each document's result: every page 1..n, exactly once, read (no error)."""
    assert len(results) == len(DOCUMENTS)
    for (name, pages), result in zip(DOCUMENTS, results.values()):
        assert result["file"] == name and result["state"] == "done", result.get("error")
        assert [p["page"] for p in result["pages"]] == list(range(1, pages + 1)), name
        assert all("error" not in p and p["width"] > 0 for p in result["pages"]), name


# --- embedded: the app as a process -----------------------------------------------------------

def post_document(base: str, name: str, data: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="decoder"\r\n\r\ngreedy\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f'Content-Type: application/pdf\r\n\r\n').encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(base + "/api/v1/jobs", body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 202
        return json.load(response)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


class App:
    """``flask --app app run`` in a session of its own (the app and its worker processes)."""

    def __init__(self, tmp_path: Path, model: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FLASK_HTR_MODEL": json.dumps(str(model)),
               "FLASK_HTR_DECODERS": '["greedy"]', "FLASK_HTR_TESSERACT": "false",
               "FLASK_HTR_WARMUP": "false", "FLASK_HTR_DATA_DIR": json.dumps(str(data_dir)),
               "FLASK_HTR_JOB_WORKERS": "2", "FLASK_HTR_BACKGROUND_LOAD": "false"}
        env.pop("HTR_BROKER_URL", None)
        self.log = open(tmp_path / f"app-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [str(BIN / "flask"), "--app", "app", "run", "--port", str(self.port)], cwd=ROOT,
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                get(self.base + "/healthz")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        raise AssertionError("the app did not start: " + self.output())

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-4000:]

    def kill(self) -> None:
        """SIGKILL to the app and everything it started: a crash, not a shutdown."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


def running_page(db: Path) -> tuple[str, int, int] | None:
    with sqlite3.connect(db, timeout=30) as con:
        return con.execute("SELECT job_id, number, worker FROM pages WHERE state = 'running' "
                           "AND worker IS NOT NULL ORDER BY started LIMIT 1").fetchone()


def kill_a_worker_mid_page(db: Path) -> tuple[str, int]:
    """SIGKILL the worker process reading a page, while it reads it; the page it was reading."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = running_page(db)
        if found is None:
            time.sleep(0.05)
            continue
        job_id, number, pid = found
        os.kill(pid, signal.SIGKILL)
        with sqlite3.connect(db, timeout=30) as con:
            state, worker = con.execute("SELECT state, worker FROM pages WHERE job_id = ? AND "
                                        "number = ?", (job_id, number)).fetchone()
        if (state, worker) == ("running", pid):  # killed before it could store the page
            return job_id, number
    raise AssertionError("no worker could be caught in the middle of a page")


@pytest.mark.slow
def test_embedded_jobs_survive_a_killed_worker_and_an_app_restart(tmp_path, tiny_model_dir):
    data_dir = tmp_path / "data"
    db = data_dir / "jobs.sqlite3"
    app = App(tmp_path, tiny_model_dir, data_dir)
    try:
        jobs = {name: post_document(app.base, name, files.pdf(pages))["id"]
                for name, pages in DOCUMENTS}
        killed = kill_a_worker_mid_page(db)
        # The app crashes in the middle of the jobs: some pages read, most not.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = sum(get(f"{app.base}/api/v1/jobs/{i}")["pages_done"] for i in jobs.values())
            if done >= 8:
                break
            time.sleep(0.2)
        assert 8 <= done < 30, done
        assert running_page(db) is not None or done < 30
    finally:
        app.kill()
    # No orphan worker goes on reading once the app is gone (they die with it).
    time.sleep(1)
    with sqlite3.connect(db) as con:
        before = con.execute("SELECT COUNT(*) FROM pages WHERE state IN ('done', 'failed')"
                             ).fetchone()[0]
    time.sleep(2)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM pages WHERE state IN ('done', 'failed')"
                           ).fetchone()[0] == before

    app = App(tmp_path, tiny_model_dir, data_dir)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = [get(f"{app.base}/api/v1/jobs/{i}")["state"] for i in jobs.values()]
            if all(s in ("done", "failed", "cancelled") for s in states):
                break
            time.sleep(0.5)
        results = {name: get(f"{app.base}/api/v1/jobs/{i}/result") for name, i in jobs.items()}
    finally:
        app.kill()
    check_every_page_once(results)
    with sqlite3.connect(db) as con:
        attempts = dict(((j, n), a) for j, n, a in con.execute(
            "SELECT job_id, number, attempts FROM pages"))
    assert attempts[killed] >= 2  # the page whose worker was killed was read again
    assert max(attempts.values()) <= 3
    workers = {p["worker"] for r in results.values() for p in r["pages"]}
    assert len(workers) >= 3  # two workers, a replacement, and the pool of the restarted app


# --- Celery: redis-server and two worker processes --------------------------------------------

@pytest.fixture()
def redis_url(tmp_path):
    if not Path(REDIS).exists():
        pytest.fail(f"{REDIS} is missing: `make test` installs it (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def start_worker(name: str, redis_url: str, model: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HTR_BROKER_URL": redis_url,
           "HTR_MODEL": str(model), "HTR_DEFAULT_DECODER": "greedy",
           "HTR_VISIBILITY_TIMEOUT": "5"}
    return subprocess.Popen(
        [str(BIN / "celery"), "-A", "htr.jobs.celery_backend", "worker", "--pool=solo",
         "-n", f"{name}@%h", "-Q", "htr-pages", "--loglevel=INFO", "--without-gossip",
         "--without-mingle"], cwd=ROOT, env=env, stdout=open(log, "w"),
        stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_celery_jobs_survive_a_worker_killed_mid_page(tmp_path, tiny_model_dir, redis_url):
    import redis

    from htr.documents import open_document
    from htr.jobs import JobSettings
    from htr.jobs.celery_backend import PREFIX, CeleryBackend

    settings = JobSettings(broker_url=redis_url, visibility_timeout=5)
    web1, web2 = CeleryBackend(settings), CeleryBackend(settings)  # two web processes' views
    workers = [start_worker(f"w{i}", redis_url, tiny_model_dir, tmp_path / f"w{i}.log")
               for i in (1, 2)]
    try:
        jobs = {name: web1.submit(open_document([(name, files.pdf(pages))]), {"decoder": "greedy"})
                for name, pages in DOCUMENTS}
        client = redis.Redis.from_url(redis_url)
        pids = {w.pid: w for w in workers}
        killed = None
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline:
            for job_id in jobs.values():
                for number, worker in client.hgetall(PREFIX + job_id + ":running").items():
                    pid = int(worker.decode().rsplit(":", 1)[1])
                    if pid in pids and not client.hexists(PREFIX + job_id + ":pages", number):
                        os.kill(pid, signal.SIGKILL)
                        pids[pid].wait(10)
                        if not client.hexists(PREFIX + job_id + ":pages", number):
                            killed = (job_id, int(number), pid)
                        break
                if killed:
                    break
            time.sleep(0.02)
        assert killed is not None, "no worker could be caught in the middle of a page"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if all(web2.status(i)["state"] == "done" for i in jobs.values()):
                break
            time.sleep(0.5)
        results = {name: web2.status(i) for name, i in jobs.items()}
        check_every_page_once(results)
        job_id, number, pid = killed
        assert int(client.hget(PREFIX + job_id + ":attempts", number)) >= 2  # read again
        page = next(p for p in results[next(n for n, i in jobs.items() if i == job_id)]["pages"]
                    if p["page"] == number)
        assert not page["worker"].endswith(f":{pid}")  # stored by the worker that took it over
        # Finished jobs' keys expire (keep_seconds), the documents' bytes with them.
        assert 0 < client.ttl(PREFIX + job_id + ":src:0") <= settings.keep_seconds
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
