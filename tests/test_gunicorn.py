"""The container's command, started for real: gunicorn with gunicorn.conf.py serving wsgi:app.
It must come up, answer /healthz and /api/v1/read, survive bad input and stop cleanly."""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "hooker-line.png"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_file(url: str, data: bytes, name: str, **fields) -> tuple[int, dict]:
    """A multipart/form-data POST, as a browser or curl -F sends it."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"'
                 f'\r\nContent-Type: image/png\r\n\r\n'.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.slow
def test_gunicorn_serves_the_app_as_the_container_does(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HTR_BIND": f"127.0.0.1:{port}"}
    env.pop("WEB_CONCURRENCY", None)  # the config's worker count, as in the container
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "htr-web-*")))
    log = open(tmp_path / "gunicorn.log", "w+")
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        health = None
        while time.monotonic() - started < 240:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                    health = json.load(response)
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert health is not None, "gunicorn did not answer /healthz within 240 s"
        assert health["status"] == "ok" and health["decoders"][0] == health["default_decoder"]

        status, body = post_file(base + "/api/v1/read", SAMPLE.read_bytes(), "line.png",
                                 level="auto", baseline="tesseract")
        assert status == 200, body
        assert body["level"] == "line" and "what" in body["text"]
        assert body["baseline"]["available"] and body["timings"]["read_ms"] > 0

        status, body = post_file(base + "/api/v1/read", b"just some text", "fake.png")
        assert (status, body["error"]) == (415, "not_an_image")
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            assert response.status == 200 and b'name="file"' in response.read()
        status, body = post_file(base + "/api/v1/read", SAMPLE.read_bytes(), "again.png")
        assert status == 200 and body["text"]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
        log.close()
    output = (tmp_path / "gunicorn.log").read_text()
    assert code == 0, output[-3000:]
    assert f"Listening at: http://127.0.0.1:{port}" in output
    assert "Traceback" not in output, output[-3000:]
    # The workers removed their private temporary directories on the way out.
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "htr-web-*"))) <= before
