"""Load benchmark of the web app under gunicorn, started exactly as the container starts it
(``gunicorn -c gunicorn.conf.py wsgi:app``): time to first response after start, latency of one
page (p50/p95), throughput with concurrent clients for a while, errors, and the memory of the
master and its workers over the run (does it keep growing?).

    .venv/bin/python bench/bench_web.py                                  # composed 3-line page
    .venv/bin/python bench/bench_web.py --image ../shared/data/hooker/JDH_2_16_144_001.jpg \\
        --clients 8 --duration 60 --json bench-web.json

Not a test: numbers depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def composed_page() -> bytes:
    """Three real handwritten lines (the test fixtures) stacked on white paper, as PNG: the page
    the web tests read, composed by the tests' own helper."""
    from PIL import Image

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import stacked_lines

    out = io.BytesIO()
    Image.fromarray(stacked_lines(["line-iam-ondb-a01-020w-02.png", "line-iam-ondb-f01-017z-04.png",
                                   "line-hooker-JDH_2_16_56_001_r1l17.png"])).save(out, "PNG")
    return out.getvalue()


def multipart(data: bytes, name: str, fields: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"'
                 f'\r\nContent-Type: application/octet-stream\r\n\r\n'.encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def post(url: str, body: bytes, boundary: str, timeout: float = 300) -> tuple[int, float, dict]:
    """(status, seconds, json body) of one upload; status 0 for a connection failure."""
    request = urllib.request.Request(url, body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
            return response.status, time.perf_counter() - started, payload
    except urllib.error.HTTPError as exc:
        return exc.code, time.perf_counter() - started, {}
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return 0, time.perf_counter() - started, {"exception": repr(exc)}


def rss_mb(root_pid: int) -> tuple[float, int]:
    """Resident memory (MB) of a process and all its descendants, and how many there are."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    total, count, todo = 0.0, 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
                        count += 1
        except OSError:
            continue
        todo += children.get(pid, [])
    return total, count


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return float("nan")
    ts, ms = [s[0] for s in samples], [s[1] for s in samples]
    tm, mm = statistics.fmean(ts), statistics.fmean(ms)
    var = sum((t - tm) ** 2 for t in ts)
    return 60 * sum((t - tm) * (m - mm) for t, m in zip(ts, ms)) / var if var else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", help="page image to upload (default: a composed 3-line page)")
    p.add_argument("--level", default="auto")
    p.add_argument("--decoder", default=None, help="default: the app's default decoder")
    p.add_argument("--baseline", action="store_true", help="ask for Tesseract's reading too")
    p.add_argument("--workers", type=int, default=None,
                   help="WEB_CONCURRENCY (default: gunicorn.conf.py's)")
    p.add_argument("--requests", type=int, default=20, help="sequential requests for latency")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients for throughput")
    p.add_argument("--duration", type=float, default=60, help="seconds of concurrent load")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)

    data = Path(args.image).read_bytes() if args.image else composed_page()
    name = Path(args.image).name if args.image else "composed-page.png"
    fields = {"level": args.level}
    if args.decoder:
        fields["decoder"] = args.decoder
    if args.baseline:
        fields["baseline"] = "tesseract"
    body, boundary = multipart(data, name, fields)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HTR_BIND": f"127.0.0.1:{port}", "HTR_LOG_LEVEL": "warning"}
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    log = tempfile.NamedTemporaryFile("w+", prefix="bench-web-", suffix=".log", delete=False)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    started = time.perf_counter()
    server = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    figures: dict = {"image": name, "image_bytes": len(data), "cpus": os.cpu_count(),
                     "clients": args.clients, "duration_s": args.duration}
    try:
        # 1. Time to first response: /healthz, then the first reading.
        health = None
        while time.perf_counter() - started < 300:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited; its log: {log.name}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                    health = json.load(response)
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        if health is None:
            raise SystemExit("no answer from /healthz within 300 s")
        figures["first_health_s"] = round(time.perf_counter() - started, 2)
        status, _, first = post(base + "/api/v1/read", body, boundary)
        figures["first_read_s"] = round(time.perf_counter() - started, 2)
        if status != 200:
            raise SystemExit(f"first read failed: {status} {first}")
        figures.update(decoder=first["decoder"], level=first["level"], lines=len(first["lines"]),
                       width=first["width"], height=first["height"])
        figures["workers"] = rss_mb(server.pid)[1] - 1
        print(f"gunicorn: {figures['workers']} workers; image {name} "
              f"({first['width']}x{first['height']}, {len(first['lines'])} lines, "
              f"{first['level']}, {first['decoder']} decoder)")
        print(f"first /healthz answer {figures['first_health_s']:.2f} s after start, "
              f"first reading {figures['first_read_s']:.2f} s")

        # 2. Latency of one page, one request at a time.
        latencies, server_ms = [], []
        for _ in range(args.requests):
            status, seconds, payload = post(base + "/api/v1/read", body, boundary)
            if status != 200:
                raise SystemExit(f"sequential read failed: {status} {payload}")
            latencies.append(seconds)
            server_ms.append(payload["timings"]["total_ms"])
        figures["latency_p50_s"] = round(percentile(latencies, 0.5), 3)
        figures["latency_p95_s"] = round(percentile(latencies, 0.95), 3)
        figures["server_total_p50_ms"] = round(percentile(server_ms, 0.5), 1)
        print(f"one page, {args.requests} sequential requests: p50 {figures['latency_p50_s']:.2f} s,"
              f" p95 {figures['latency_p95_s']:.2f} s (server's own total p50 "
              f"{figures['server_total_p50_ms']:.0f} ms)")

        # 3. Concurrent clients for a while, memory sampled throughout.
        stop = threading.Event()
        results: list[tuple[float, int, float]] = []  # (finished at, status, seconds)
        memory: list[tuple[float, float]] = []
        lock = threading.Lock()
        load_start = time.perf_counter()

        def client() -> None:
            while not stop.is_set():
                status, seconds, _ = post(base + "/api/v1/read", body, boundary)
                with lock:
                    results.append((time.perf_counter() - load_start, status, seconds))

        def sampler() -> None:
            while not stop.is_set():
                memory.append((time.perf_counter() - load_start, rss_mb(server.pid)[0]))
                stop.wait(2.0)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        threads.append(threading.Thread(target=sampler))
        for t in threads:
            t.start()
        time.sleep(args.duration)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - load_start
        done = [r for r in results if r[0] <= args.duration]  # finished within the window
        ok = [r for r in done if r[1] == 200]
        errors = [r for r in results if r[1] != 200]
        lat = [r[2] for r in ok]
        figures.update(
            requests=len(done), ok=len(ok), errors=len(errors),
            throughput_pages_per_s=round(len(ok) / args.duration, 3),
            throughput_pages_per_min=round(60 * len(ok) / args.duration, 1),
            loaded_p50_s=round(percentile(lat, 0.5), 2), loaded_p95_s=round(percentile(lat, 0.95), 2),
            memory_mb_start=round(memory[0][1]) if memory else None,
            memory_mb_end=round(memory[-1][1]) if memory else None,
            memory_mb_max=round(max(m for _, m in memory)) if memory else None,
            memory_slope_mb_per_min_second_half=round(slope_mb_per_min(
                [m for m in memory if m[0] >= args.duration / 2]), 1),
            memory_series_mb=[round(m) for _, m in memory[::5]],
        )
        print(f"{args.clients} concurrent clients for {args.duration:.0f} s (drained after "
              f"{elapsed:.0f} s): {len(ok)} pages read, {figures['throughput_pages_per_s']:.2f} "
              f"pages/s ({figures['throughput_pages_per_min']:.0f}/min), {len(errors)} errors; "
              f"latency under load p50 {figures['loaded_p50_s']:.1f} s, "
              f"p95 {figures['loaded_p95_s']:.1f} s")
        print(f"memory (master + workers): {figures['memory_mb_start']} MB at the start of the "
              f"load, {figures['memory_mb_end']} MB at the end, max {figures['memory_mb_max']} MB;"
              f" slope over the second half {figures['memory_slope_mb_per_min_second_half']:+.1f}"
              f" MB/min; every 10 s: {figures['memory_series_mb']}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            figures["exit_code"] = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            figures["exit_code"] = "killed"
        log.close()
    text = Path(log.name).read_text()
    figures["tracebacks_in_log"] = text.count("Traceback")
    print(f"gunicorn stopped (exit {figures['exit_code']}); tracebacks in its log: "
          f"{figures['tracebacks_in_log']} ({log.name})")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    if figures["tracebacks_in_log"] == 0:
        os.unlink(log.name)
    return 0 if not figures.get("errors") and figures["tracebacks_in_log"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
