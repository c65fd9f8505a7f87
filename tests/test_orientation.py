"""A page scanned or photographed upside down, on its side or laid askew is read the right way up
and level, every box still in the pixels of the image as it was given; line and word crops are
read as given."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shipped_crops, stacked_lines
from test_page import LINES, PAGE_BOUND, compose_page

from htr.metrics import box_iou, cer
from htr.orientation import looks_upright, turned_back, turned_image, upright_reading
from htr.recognizer import DEFAULT_MODEL
from htr.results import Line, Page, Word


def turned_box(box, quarter_turns: int, shape) -> tuple[int, int, int, int]:
    """Where ``box`` of an image of ``shape`` lies once the image is turned by
    ``np.rot90(image, quarter_turns)``: found by turning a mask of it (no arithmetic shared
    with the code under test)."""
    mask = np.zeros(shape, bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    rows, cols = np.nonzero(np.rot90(mask, quarter_turns))
    return cols.min(), rows.min(), cols.max() + 1, rows.max() + 1


@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_turned_back_puts_every_box_where_it_lies_in_the_unturned_image(quarter_turns):
    shape = (300, 500)  # rows, columns of the unturned image
    th, tw = np.rot90(np.zeros(shape), quarter_turns).shape
    word, line_box = (40, 30, 90, 60), (20, 25, 200, 70)  # found on the turned image
    page = Page(tw, th, (Line(line_box, polygon=((20, 25), (199, 25), (199, 69), (20, 69)),
                              baseline=((20, 60), (199, 60)), text="a word",
                              words=(Word(word, "word", 0.9),)),),
                sheet=((0, 0), (tw - 1, 0), (tw - 1, th - 1), (0, th - 1)))
    back = turned_back(page, quarter_turns)
    assert (back.height, back.width) == shape and back.turned == 90 * quarter_turns
    undo = -quarter_turns  # the turned image turned back is the unturned one
    assert back.lines[0].words[0].box == turned_box(word, undo, (th, tw))
    assert back.lines[0].box == turned_box(line_box, undo, (th, tw))
    # Points are pixels: each lands inside its box, on the pixel np.rot90 takes it to.
    corner = np.zeros((th, tw), bool)
    corner[25, 20] = True
    rows, cols = np.nonzero(np.rot90(corner, undo))
    assert back.lines[0].polygon[0] == (cols[0], rows[0])
    assert sorted(back.sheet) == sorted([(0, 0), (shape[1] - 1, 0), (shape[1] - 1, shape[0] - 1),
                                         (0, shape[0] - 1)])
    assert back.to_dict()["turned"] == 90 * quarter_turns
    assert "turned" not in turned_back(page, 0).to_dict()


def reading(*words: tuple[str, float]) -> Page:
    """A page of one line holding ``words`` (text, confidence)."""
    return Page(400, 300, (Line((0, 0, 400, 40), text=" ".join(t for t, _ in words),
                                words=tuple(Word((0, 0, 10, 10), t, c) for t, c in words)),))


def test_a_turn_is_kept_only_where_it_reads_clearly_more_and_sure_text():
    unsure = reading(("xq", 0.2), ("ovn", 0.1))
    # Upside down the page holds 3 words read surely: turned back by 180 degrees.
    sure = reading(("Dear", 0.8), ("Sir,", 0.7), ("thanks", 0.9))
    assert upright_reading(lambda turns: sure if turns == 2 else unsure).turned == 180
    # Nonsense every way round (an untrained model, a drawing): left the way it was given,
    # however much more nonsense one turn holds.
    noise = reading(("iiiiiiiiii", 0.15), ("llll", 0.1))
    assert upright_reading(lambda turns: noise if turns else unsure).turned == 0
    # Only a little surer than as given: not turned either.
    surer = reading(("Dear", 0.9), ("Sir,", 0.8), ("thanks", 0.95))
    assert upright_reading(lambda turns: surer if turns else sure).turned == 0


def test_only_the_turns_a_pages_lines_allow_are_read():
    letter = reading(("Dear", 0.8), ("Sir,", 0.7), ("thank", 0.9), ("you", 0.9), ("kindly", 0.8))
    unsure = reading(("xq", 0.2), ("ovn", 0.1))
    asked = []

    def read(turns: int) -> Page:
        asked.append(turns)
        return letter if turns == 3 else unsure

    # Lines running down the page: it lies on a side; read on its two sides only.
    assert upright_reading(read, (1, 3)).turned == 270 and sorted(asked) == [1, 3]
    # Lines running across: upright or upside down, never read on its sides.
    asked.clear()
    assert upright_reading(read, (0, 2)).turned == 0 and asked == [0, 2]
    # Neither side reads well: every way round after all.
    asked.clear()
    assert upright_reading(lambda turns: asked.append(turns) or unsure, (1, 3)).turned == 0
    assert sorted(asked) == [0, 1, 2, 3]
    # The lines' way measured only once the page read unsure as it is (a photo's sheet).
    asked.clear()
    measured = []
    assert upright_reading(read, lambda: measured.append(1) or (1, 3)).turned == 270
    assert asked == [0, 1, 3] and measured == [1]
    assert upright_reading(lambda turns: letter, lambda: measured.append(2) or (1, 3)).turned == 0
    assert measured == [1]  # read well as it is: not measured


needs_model = pytest.mark.skipif(not (DEFAULT_MODEL / "model.keras").is_file(),
                                 reason="no shipped model in models/default")


@pytest.fixture(scope="module")
def recognizer():
    from htr.recognizer import Recognizer

    return Recognizer.load()


@pytest.fixture(scope="module")
def upright(recognizer):
    image, boxes = compose_page(list(LINES))
    page = recognizer.read_page(image)
    assert page.turned == 0 and looks_upright(page)  # read well: not tried at other turns
    return image, page


@needs_model
@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_a_page_on_its_side_or_upside_down_is_read_the_right_way_up(recognizer, upright, quarter_turns):
    image, page = upright
    given = turned_image(image, quarter_turns)
    read = recognizer.read_page(given)
    assert read.turned == 90 * (4 - quarter_turns)  # counter-clockwise, to undo the turn
    assert (read.width, read.height) == (given.shape[1], given.shape[0])
    assert read.text == page.text and read.level == "page"
    # Every line and word where it lies in the image as it was given.
    expected = [turned_box(line.box, quarter_turns, image.shape) for line in page.lines]
    assert np.all(np.diag(box_iou([line.box for line in read.lines], expected)) > 0.95)
    words = [w.box for line in read.lines for w in line.words]
    expected = [turned_box(w.box, quarter_turns, image.shape) for line in page.lines for w in line.words]
    assert np.all(np.diag(box_iou(words, expected)) > 0.95)


@needs_model
def test_pages_read_together_are_turned_too_and_a_line_crop_is_read_as_given(recognizer):
    small_page = stacked_lines(list(LINES)[:3])  # 370 pixels high: a small page
    line = next(iter(shipped_crops("line-iam-ondb-").values()))
    pages = list(recognizer.read_pages([turned_image(small_page, 2), turned_image(line, 2),
                                        turned_image(small_page, 1)]))
    assert pages[0].turned == 180 and pages[0].level == "page" and len(pages[0].lines) == 3
    assert "representatives" in pages[0].text
    assert pages[1].turned == 0  # a crop is taken the way it is given
    # On its side: read on its sides only (its lines run down it), the same text.
    assert pages[2].turned == 270 and pages[2].text == pages[0].text


@needs_model
def test_a_page_on_its_side_has_its_lines_found_only_on_its_sides(recognizer, upright):
    from htr.page import PageReader
    from htr.segment import LineSegmenter

    class CountingSegmenter(LineSegmenter):
        def analyse(self, grey, *args, **kwargs):
            looked_at.append(grey.shape)
            return super().analyse(grey, *args, **kwargs)

    image, page = upright
    looked_at = []
    read = PageReader(recognizer, CountingSegmenter()).read(turned_image(image, 1))
    assert read.turned == 270 and read.text == page.text
    # Found on the page turned each way onto its sides, never as it lies (a column of nonsense).
    assert looked_at == [image.shape, image.shape]


@needs_model
@pytest.mark.parametrize("degrees", [-12, 20])
def test_a_page_laid_askew_is_read_level_its_boxes_round_its_lines_where_they_lie(recognizer, upright,
                                                                                  degrees):
    image, page = upright
    h, w = image.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)  # counter-clockwise
    turn[:, 2] += 200  # on a larger sheet: every line stays on it
    w, h = w + 400, h + 400
    askew = cv2.warpAffine(image, turn, (w, h), flags=cv2.INTER_CUBIC, borderValue=228)
    read = recognizer.read_page(askew)
    assert read.turned == 0 and (read.width, read.height) == (w, h) and len(read.lines) == len(LINES)
    assert cer(["\n".join(LINES.values())], [read.text]) <= PAGE_BOUND, read.text
    # Each line's box is the box round its upright box's corners, turned as the page was.
    for line, was in zip(read.lines, page.lines):
        x0, y0, x1, y1 = was.box
        corners = cv2.transform(np.array([[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]], np.float64), turn)[0]
        expected = (*corners.min(axis=0), *corners.max(axis=0))
        assert box_iou([line.box], [expected])[0, 0] > 0.8, (line.box, expected)
        assert all(0 <= x < w and 0 <= y < h for x, y in line.polygon)


@needs_model
def test_a_level_page_is_read_as_it_lies(upright):
    from htr.orientation import LEVEL_FROM, level_angle

    image, _ = upright
    assert abs(level_angle(image)) < LEVEL_FROM
    h, w = image.shape
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), 9, 1.0), (w, h),
                            borderValue=228)
    assert abs(level_angle(turned) + 9) < 1.0  # turned 9 degrees, levelled by turning it back
