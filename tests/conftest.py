"""Shared fixtures: images drawn on the fly and a small untrained model folder."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Lexicon caches and exported networks of a test run stay out of the user's own cache.
if "HTR_CACHE" not in os.environ:
    os.environ["HTR_CACHE"] = tempfile.mkdtemp(prefix="htr-test-cache-")
    atexit.register(shutil.rmtree, os.environ["HTR_CACHE"], True)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def draw_text(text: str, height: int = 64, ink: int = 20, paper: int = 235) -> np.ndarray:
    """A grey image of ``text`` in a script-like Hershey font, dark ink on light paper."""
    font, scale, thick = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, height / 40, max(1, height // 24)
    (w, h), base = cv2.getTextSize(text, font, scale, thick)
    image = np.full((height, w + height // 2), paper, np.uint8)
    cv2.putText(image, text, (height // 4, (height + h) // 2), font, scale, ink, thick, cv2.LINE_AA)
    return image


SHIPPED_FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "shipped")


def tilted(grey: np.ndarray, degrees: float) -> np.ndarray:
    """``grey`` turned by ``degrees`` (counter-clockwise), as a phone held a little off would
    take it, on a canvas that holds all of it, filled with the paper's colour."""
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    size = (int(w * abs(m[0, 0]) + h * abs(m[0, 1])) + 1, int(h * abs(m[0, 0]) + w * abs(m[0, 1])) + 1)
    m[:, 2] += ((size[0] - w) / 2, (size[1] - h) / 2)
    return cv2.warpAffine(grey, m, size, borderValue=int(np.median(grey)))


def shipped_crops(prefix: str) -> dict[str, np.ndarray]:
    """The real handwritten crops of tests/fixtures/shipped whose names start with ``prefix``."""
    names = sorted(n for n in os.listdir(SHIPPED_FIXTURES) if n.startswith(prefix))
    return {n: cv2.imread(os.path.join(SHIPPED_FIXTURES, n), cv2.IMREAD_GRAYSCALE) for n in names}


def with_neighbours(line: np.ndarray, above: np.ndarray, below: np.ndarray, rows: int) -> np.ndarray:
    """``line`` as a loose box round it would cut it from a page: the bottom ``rows`` of the line
    ``above`` and the top ``rows`` of the line ``below`` stacked on, as wide as it (paper where
    they are narrower or shorter)."""
    paper = int(np.median(line))
    width = line.shape[1]

    def strip(other, part):  # a band of another line, as wide as this one
        out = np.full((rows, width), paper, np.uint8)
        band = other[part, :width][:rows]
        out[:len(band), :band.shape[1]] = band
        return out

    return np.vstack([strip(above, slice(-rows, None)), line, strip(below, slice(0, rows))])


def loose_line_crop() -> tuple[np.ndarray, np.ndarray, str]:
    """A real line (tests/fixtures/shipped) as a loose box would cut it from a page: with nearly
    half of the line above and of the line below (45% of its height each) stacked on; the
    crop, the line alone and its text."""
    crops = shipped_crops("line-")
    line = crops["line-iam-ondb-a01-020w-02.png"]
    above, below = crops["line-hooker-JDH_2_16_84_002_tr_1_tl_2.png"], crops["line-iam-ondb-f01-017z-04.png"]
    loose = with_neighbours(line, above, below, line.shape[0] * 9 // 20)
    return loose, line, "By Hugh Pilcher. But representatives"


def stacked_lines(names: list[str]) -> np.ndarray:
    """A small page: real handwritten line crops (tests/fixtures/shipped) stacked on white."""
    lines = [cv2.imread(os.path.join(SHIPPED_FIXTURES, name), cv2.IMREAD_GRAYSCALE) for name in names]
    width = max(line.shape[1] for line in lines) + 80
    rows = [np.full((40, width), 255, np.uint8)]
    for line in lines:
        padded = np.full((line.shape[0], width), 255, np.uint8)
        padded[:, 40:40 + line.shape[1]] = line
        rows += [padded, np.full((30, width), 255, np.uint8)]
    return np.vstack(rows)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """An untrained small model saved as a model folder: enough to test loading and plumbing.
    Its weights are the same every run (seeded), so that what it reads, nonsense, is too: a test
    that passes once passes again."""
    import keras

    from htr.model import ModelConfig, build_model, save_model_dir
    from htr.text import Charset

    keras.utils.set_random_seed(0)

    charset = Charset("abcdefghijklmnopqrstuvwxyz .,")
    config = ModelConfig(height=32, conv=(8, 8, 16, 16), pool_height_after=(0, 1, 2, 3),
                         lstm_units=16, lstm_layers=1)
    directory = tmp_path_factory.mktemp("model")
    save_model_dir(directory, build_model(charset.num_classes, config), charset, config)
    return directory


@contextlib.contextmanager
def served(app):
    """``app`` served over HTTP from a thread of this process, for a real browser: yields its
    base URL, and stops the server after."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(10)


#: Debian's chromium (``make test`` installs it), driven by Playwright: no browser download.
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    """A headless chromium for a module's browser tests."""
    import shutil
    from pathlib import Path

    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


# The web app's tests: each module defines its own (module-scoped) ``app``.
@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def openapi(app):
    """The OpenAPI document the app serves."""
    return app.test_client().get("/api/v1/openapi.json").get_json()
