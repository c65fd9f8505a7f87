"""The line network that tells the segmenter where lines run (htr.linemask): its input is the page
scaled by its line spacing, its targets are the lines' cores, and with the shipped network the
segmenter leaves show-through from the back of the sheet out of its lines."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from htr.image import load_image, normalize_ink, shrink_to
from htr.linemask import (CORE_ABOVE, CORE_THICKNESS, DEFAULT_LINE_MASK, MAX_SIDE, SPACING_PX,
                          line_targets, mask_input)
from htr.metrics import box_iou, match_boxes
from htr.segment import WORK_SIZE, LineSegmenter

PAGE = Path(__file__).parent / "fixtures" / "hooker" / "JDH_2_16_90_003.jpg"
needs_line_mask = pytest.mark.skipif(not DEFAULT_LINE_MASK.is_file(),
                                     reason="the line network is not installed")


def test_the_input_puts_lines_the_same_distance_apart_whatever_the_writing_size():
    page = np.full((1200, 900), 255, np.uint8)
    page[600:606, 100:800] = 0  # a stroke
    x, scale = mask_input(page, spacing=60.0)
    assert scale == pytest.approx(SPACING_PX / 60.0)
    assert x.shape == (400, 304)  # 1200 x 900 a third the size, padded to a multiple of 8
    assert x.dtype == np.float32 and x[:190].max() == 0.0  # paper is 0 ...
    assert x[200:202, 40:260].min() > 0.9  # ... and ink 1
    # Tiny writing on a huge scan is not blown up past the largest input.
    big, scale = mask_input(np.full((3000, 2000), 255, np.uint8), spacing=10.0)
    assert max(big.shape) <= MAX_SIDE + 8 and scale == pytest.approx(MAX_SIDE / 3000)


def test_a_target_is_the_band_of_each_line_just_above_its_baseline():
    spacing = 40.0
    target = line_targets((200, 300), [np.array([[20, 80], [280, 80]]), np.array([[20, 120], [280, 120]])],
                          spacing, scale=1.0)
    rows = np.flatnonzero(target[:, 150])
    upper, lower = rows[rows < 100], rows[rows >= 100]
    for band, baseline in ((upper, 80), (lower, 120)):
        assert band.mean() == pytest.approx(baseline - CORE_ABOVE * spacing, abs=1)
        assert len(band) == pytest.approx(CORE_THICKNESS * spacing, abs=2.5)
    assert not target[:, :15].any()  # nothing beyond a line's ends


def show_through(page: np.ndarray, darkness: float) -> np.ndarray:
    """``page`` with its own writing seen through the sheet: mirrored, shifted half a line,
    blurred and ``darkness`` as dark as the writing."""
    back = cv2.flip(page, 1).astype(np.float32)
    back = np.roll(back, 30, axis=0)
    back = cv2.GaussianBlur(back, (0, 0), 1.5)
    paper = float(np.percentile(page, 90))
    seen = paper - darkness * np.clip(paper - back, 0, None)
    return np.minimum(page.astype(np.float32), seen).astype(np.uint8)


@needs_line_mask
def test_show_through_from_the_back_is_not_taken_for_lines():
    page = load_image(PAGE)
    clean = np.array([l.box for l in LineSegmenter().find_lines(page)], float)
    seen = np.array([l.box for l in LineSegmenter().find_lines(show_through(page, 0.6))], float)
    # The same lines as on the clean page, no more: the back's writing is not read.
    assert len(match_boxes(seen, clean)) >= len(clean) - 1
    assert len(seen) <= len(clean) + 1
    for box in seen:
        assert box_iou(box[None], clean).max() > 0.3


@needs_line_mask
def test_the_classical_segmenter_is_still_there_without_the_network():
    page = load_image(PAGE)
    assert LineSegmenter(line_mask=None).line_mask is None
    assert len(LineSegmenter(line_mask=None).find_lines(page)) >= 15


def test_stacked_training_pages_have_a_baseline_under_each_line():
    from conftest import SHIPPED_FIXTURES

    from htr.linemask_training import sample, stacked_page

    names = ["line-iam-ondb-a01-020w-02.png", "line-iam-ondb-l06-637z-04.png",
             "line-iam-ondb-f01-017z-04.png"]
    lines = [cv2.imread(str(Path(SHIPPED_FIXTURES) / n), cv2.IMREAD_GRAYSCALE) for n in names]
    rng = np.random.default_rng(0)
    page = stacked_page(lines, rng)
    assert len(page.baselines) == 3
    ink_rows = np.flatnonzero((page.flat < 128).any(axis=1))
    for base in page.baselines:  # each on ink, below the most of its line
        y = int(base[0, 1])
        assert ink_rows.min() < y < ink_rows.max()
        assert (page.flat[max(0, y - 10):y, int(base[0, 0]):int(base[1, 0])] < 128).any()
    x, y = sample(page, rng)
    assert x.shape == y.shape == (256, 256, 1) and 0 < y.mean() < 0.5


def test_a_photographed_training_page_keeps_its_baselines_under_its_writing():
    from htr.linemask_training import prepare_page, prepare_photo
    from htr.readers.pagexml import read_pagexml_pages

    page = read_pagexml_pages(PAGE.parent)[0]
    scan = prepare_page(page)
    photo = prepare_photo(page, np.random.default_rng(0))
    assert photo is not None and len(photo.baselines) == len(scan.baselines)
    # The flattened photo is the page again (about its size, its lines as far apart)...
    assert abs(photo.spacing / scan.spacing - 1) < 0.15
    assert abs(photo.flat.shape[0] / scan.flat.shape[0] - 1) < 0.15
    # ...and just above each carried baseline lies writing, as on the scan.
    def ink_above(mask_page) -> float:
        hits = []
        for base in mask_page.baselines:
            x0, x1 = sorted((int(base[0, 0]), int(base[-1, 0])))
            y = int(np.mean(base[:, 1]))
            band = mask_page.flat[max(0, y - int(0.3 * mask_page.spacing)):y, x0:x1]
            hits.append(band.size and (band < 128).mean())
        return float(np.median(hits))

    assert ink_above(photo) > 0.5 * ink_above(scan) > 0


@pytest.mark.slow
def test_the_training_command_writes_a_network_the_segmenter_can_use(tmp_path):
    import subprocess
    import sys

    from htr.linemask import LineMask

    hooker = Path(__file__).parent / "fixtures" / "hooker"
    run = subprocess.run([sys.executable, "-m", "htr", "train-linemask", "--data", f"pagexml:{hooker}",
                          "--photos", "1", "--output", str(tmp_path), "--steps", "2"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1 of 1 photographed pages" in run.stdout
    assert "step 2/2" in run.stdout and (tmp_path / "history.json").is_file()
    page = load_image(PAGE)
    lines = LineSegmenter(line_mask=LineMask.load(tmp_path / "linemask.onnx")).find_lines(page)
    assert all(0 <= l.box[0] < l.box[2] <= page.shape[1] for l in lines)  # runs; 2 steps teach little
    # The int8 file the segmenter reads is written beside it, and reads as the float one does.
    assert f"wrote {tmp_path / 'linemask-int8.onnx'}" in run.stdout
    flat = normalize_ink(shrink_to(page, WORK_SIZE)[0])
    floats = LineMask.load(tmp_path / "linemask.onnx")(flat, 40.0)
    assert np.abs(LineMask.load(tmp_path / "linemask-int8.onnx")(flat, 40.0) - floats).mean() < 0.02
    # A float network quantised again on its own (what made the shipped file).
    again = tmp_path / "again.onnx"
    run = subprocess.run([sys.executable, "-m", "htr", "quantize-linemask", "--data", f"pagexml:{hooker}",
                          "--source", str(tmp_path / "linemask.onnx"), "--output", str(again)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "calibrated on 1 training pages" in run.stdout
    assert np.abs(LineMask.load(again)(flat, 40.0) - floats).mean() < 0.02
