"""Page segmentation on drawn pages: lines found where they were drawn, in reading order, on a
shaded and noisy page, skewed, with a printed header or ruled lines; blank pages; words split at
their spaces. (Telling a page from a line or a word: test_input_kind.py.)"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from htr.input_kind import classify_input
from htr.segment import LineSegmenter, find_lines
from htr.words import WordSegmenter, find_words

SCRIPT, PRINT = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SIMPLEX

TEXT = ["Dear Sir, many thanks for your letter",
        "of the tenth, which came this morning",
        "May 3",
        "and the parcel of seeds arrived safely.",
        "I shall write again when the plants",
        "have been potted.",
        "Yours very truly"]


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def draw_page(lines, size=(1100, 1500), top=120, step=120, left=100, scale=1.6, thick=2,
              font=SCRIPT, shading=True, seed=0):
    """A page (grey, ink dark) with ``lines`` written one per ``step`` rows, lit unevenly and
    noisy; and each line's ink box. A line given as (text, x, font) sets its own start/font."""
    w, h = size
    rng = np.random.default_rng(seed)
    ink = np.zeros((h, w), np.uint8)
    boxes = []
    for i, line in enumerate(lines):
        text, x, f = (line, left, font) if isinstance(line, str) else line
        one = np.zeros((h, w), np.uint8)
        cv2.putText(one, text, (x, top + i * step), f, scale, 255, thick, cv2.LINE_AA)
        boxes.append(ink_box(one > 60))
        ink = np.maximum(ink, one)
    return paper(ink, shading, rng), boxes


def paper(ink: np.ndarray, shading: bool, rng: np.random.Generator) -> np.ndarray:
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - 0.3 * (xx / w) * (yy / h) if shading else np.ones((h, w), np.float32)
    page = 225.0 * light - ink.astype(np.float32) / 255.0 * 170.0 * light
    page += rng.normal(0, 6, (h, w))
    return np.clip(page, 0, 255).astype(np.uint8)


def matched_in_order(found, boxes, min_iou=0.5) -> bool:
    """Every drawn box has its own found line at IoU >= min_iou, and they come in order."""
    if len(found) != len(boxes):
        return False
    return all(iou(f.box, b) >= min_iou for f, b in zip(found, boxes))


def test_lines_found_where_drawn_in_reading_order():
    page, boxes = draw_page(TEXT)
    lines = find_lines(page)
    assert [iou(l.box, b) >= 0.5 for l, b in zip(lines, boxes)] == [True] * len(TEXT)
    assert len(lines) == len(TEXT)
    for line in lines:  # geometry only, and consistent
        assert line.text == "" and line.words == ()
        x0, y0, x1, y1 = line.box
        assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in line.polygon)
        assert len(line.baseline) >= 2


def test_box_holds_ascenders_and_descenders():
    page, boxes = draw_page(["lofty hedges guard the gardens", "plenty of gypsy jelly"])
    lines = find_lines(page)
    assert len(lines) == 2
    for line, (x0, y0, x1, y1) in zip(lines, boxes):
        assert line.box[1] <= y0 + 2 and line.box[3] >= y1 - 2


def test_outline_holds_every_stroke_of_its_line():
    # The outline masks the line's crop for reading: it must not cut off the tops of tall
    # letters between them (straight lines from one column's top to the next did, 0.7% here).
    h, w = 700, 1400
    masks, ink = [], np.zeros((h, w), np.uint8)
    for i, text in enumerate(["lofty hedges block the half lit gardens",
                              "tall thick flags fly high by the hill"]):
        one = np.zeros((h, w), np.uint8)
        cv2.putText(one, text, (60, 200 + 200 * i), SCRIPT, 1.8, 255, 3, cv2.LINE_AA)
        masks.append(one > 127)
        ink = np.maximum(ink, one)
    lines = find_lines(paper(ink, False, np.random.default_rng(0)))
    assert len(lines) == 2
    for line, mask in zip(lines, masks):
        inside = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inside, [np.array(line.polygon, np.int32)], 1)
        assert (inside[mask] > 0).mean() > 0.999


def test_skewed_page_keeps_count_and_order():
    page, boxes = draw_page(TEXT, size=(1200, 1500), left=150)
    h, w = page.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 3.0, 1.0)  # 3 degrees counter-clockwise
    skewed = cv2.warpAffine(page, turn, (w, h), borderValue=int(np.median(page)))
    layout = LineSegmenter().analyse(skewed)
    assert len(layout.lines) == len(TEXT)
    assert abs(abs(layout.angle) - 3.0) < 1.0
    # Each found line is the drawn line its centre falls in, once turned: in order.
    centres = []
    for line in layout.lines:
        x0, y0, x1, y1 = line.box
        centres.append(((x0 + x1) / 2, (y0 + y1) / 2))
    back = cv2.invertAffineTransform(turn)
    ys = [back[1, 0] * x + back[1, 1] * y + back[1, 2] for x, y in centres]
    drawn = [(b[1] + b[3]) / 2 for b in boxes]
    nearest = [int(np.argmin([abs(y - d) for d in drawn])) for y in ys]
    assert nearest == list(range(len(TEXT)))


def test_blank_pages_have_no_lines():
    rng = np.random.default_rng(1)
    assert find_lines(paper(np.zeros((1400, 1000), np.uint8), True, rng)) == []
    assert find_lines(np.full((800, 600), 255, np.uint8)) == []
    assert classify_input(np.full((800, 600), 240, np.uint8)) == "page"


def test_printed_header_does_not_hide_the_handwriting():
    header = [("ROYAL GARDENS, KEW.", 380, PRINT)]
    page, boxes = draw_page(header + TEXT[:5], scale=1.2, thick=2)
    lines = find_lines(page)
    hand = boxes[1:]
    for b in hand:
        assert max(iou(l.box, b) for l in lines) >= 0.5
    assert len(lines) <= len(boxes)


def test_ruled_lines_are_not_text_lines():
    page, boxes = draw_page(TEXT[:5], top=180, step=100)
    ruled = page.copy()
    for y in range(90, 1450, 50):  # a ruled notebook page: rules under, between and past the text
        cv2.line(ruled, (0, y + 8), (1099, y + 8), 150, 2)
    lines = find_lines(ruled)
    assert len(lines) == 5
    assert all(iou(l.box, b) >= 0.5 for l, b in zip(lines, boxes))


def test_a_label_at_the_top_edge_of_a_ruled_page_is_a_line():
    # A flattened photo is cut tight at the sheet's edge: a label written at the top right, on
    # the first rule, reaches into the outer band of the page. Joined to the rule, it made one
    # large mark along the border, and went with the sheet's edge.
    lines = [("wikitexte_0066", 700, SCRIPT)] + [(t, 100, SCRIPT) for t in TEXT[:4]]
    page, boxes = draw_page(lines, top=49, step=100, scale=1.2)
    for y in range(51, 1500, 50):
        cv2.line(page, (0, y), (1099, y), 120, 2)
    found = LineSegmenter(line_mask=None).find_lines(page)
    assert len(found) == 5
    assert all(max(iou(l.box, b) for l in found) >= 0.5 for b in boxes)


def test_a_tall_stroke_joining_two_close_lines_is_shared_between_them():
    # A capital's stem in the second line runs up into the first and touches its writing (in
    # a blurred photo of dense writing letters of two lines run together): the mark was given
    # whole to the second line, whose box then took in most of the first.
    page, boxes = draw_page(TEXT[:5], top=150, step=80)
    first, second = boxes[0], boxes[1]
    cv2.line(page, (300, first[1] + 5), (300, second[3] - 5), 50, 3)
    found = sorted(LineSegmenter(line_mask=None).find_lines(page), key=lambda l: l.box[1])
    assert len(found) == 5
    assert found[1].box[1] >= first[1] + 20  # it began above the first line (111 against 115)


def test_blurred_ruled_lines_of_a_nearly_blank_page_are_not_text_lines():
    # A photographed notebook page with two lines written on it: its faint rules, blurred by the
    # camera, are several pixels thick and must still go as rules, not be read as lines.
    page, boxes = draw_page(TEXT[:2], top=180, step=100)
    ruled = page.astype(np.float32)
    rules = np.zeros_like(ruled)
    for y in range(90, 1450, 50):
        cv2.line(rules, (60, y + 8), (1040, y + 8), 1.0, 3)
    ruled = ruled * (1 - 0.3 * rules)
    ruled = np.clip(cv2.GaussianBlur(ruled, (0, 0), 1.6), 0, 255).astype(np.uint8)
    lines = find_lines(ruled)
    assert len(lines) == 2
    assert all(iou(l.box, b) >= 0.5 for l, b in zip(lines, boxes))


def test_large_photo_maps_back_to_original_pixels():
    page, boxes = draw_page(TEXT[:4], size=(1000, 1500), top=200, step=150)
    big = cv2.resize(page, (2000, 3000), interpolation=cv2.INTER_LINEAR)
    lines = find_lines(big)
    assert len(lines) == 4
    for line, (x0, y0, x1, y1) in zip(lines, boxes):
        assert iou(line.box, (2 * x0, 2 * y0, 2 * x1, 2 * y1)) >= 0.5


def test_two_columns_read_left_column_first():
    left = ["(a) the first", "note on the", "left side"]
    right = ["(b) and then", "the second", "on the right"]
    ink = np.zeros((900, 1400), np.uint8)
    for i, (a, b) in enumerate(zip(left, right)):
        cv2.putText(ink, a, (60, 150 + 110 * i), SCRIPT, 1.5, 255, 2, cv2.LINE_AA)
        cv2.putText(ink, b, (820, 150 + 110 * i), SCRIPT, 1.5, 255, 2, cv2.LINE_AA)
    page = paper(ink, False, np.random.default_rng(2))
    lines = find_lines(page)
    assert len(lines) == 6
    xs = [l.box[0] for l in lines]
    assert all(x < 700 for x in xs[:3]) and all(x > 700 for x in xs[3:])


def test_words_split_at_spaces():
    words = ["the", "quick", "brown", "fox", "jumps"]
    h, gap = 110, 45
    ink = np.zeros((h, 1400), np.uint8)
    x, drawn = 30, []
    for word in words:
        one = np.zeros_like(ink)
        cv2.putText(one, word, (x, 70), SCRIPT, 1.6, 255, 2, cv2.LINE_AA)
        drawn.append(ink_box(one > 60))
        ink = np.maximum(ink, one)
        x = drawn[-1][2] + gap
    line = paper(ink, True, np.random.default_rng(3))
    found = find_words(line, (500, 1000, 500 + line.shape[1], 1000 + h))
    assert len(found) == len(words)
    for word, (x0, y0, x1, y1) in zip(found, drawn):
        assert iou(word.box, (x0 + 500, y0 + 1000, x1 + 500, y1 + 1000)) >= 0.5
    assert WordSegmenter().find_words(np.full((80, 300), 250, np.uint8)) == []


@pytest.mark.parametrize("shape", [(1, 1), (5, 400), (400, 5)])
def test_tiny_images_do_not_crash(shape):
    assert find_lines(np.full(shape, 200, np.uint8)) == []


def draw_words(words, letter_gap, word_gap, font=PRINT, scale=1.4, thick=2, rise=None,
               size=(1500, 120), base=80, seed=4):
    """A line (grey) written letter by letter: ``letter_gap`` pixels of paper between the
    letters' ink, ``word_gap`` between words, the baseline at ``base`` less ``rise(x)``; and
    each word's ink box."""
    w, h = size
    ink = np.zeros((h, w), np.uint8)
    x, boxes = 20, []
    for word in words:
        one = np.zeros_like(ink)
        for ch in word:
            letter = np.zeros_like(ink)
            y = base - int(round(rise(x))) if rise else base
            cv2.putText(letter, ch, (x, y), font, scale, 255, thick, cv2.LINE_AA)
            x0, _, x1, _ = ink_box(letter > 60)
            if x0 < x:  # Hershey letters start a little right of the pen: close up
                pass
            shift = x - x0
            letter = np.roll(letter, shift, axis=1)
            one = np.maximum(one, letter)
            x = x1 + shift + letter_gap
        boxes.append(ink_box(one > 60))
        ink = np.maximum(ink, one)
        x = boxes[-1][2] + word_gap
    return paper(ink, True, np.random.default_rng(seed)), boxes


def words_match(found, boxes, min_iou=0.5) -> bool:
    return len(found) == len(boxes) and all(iou(f.box, b) >= min_iou for f, b in zip(found, boxes))


def test_words_of_spaced_print_are_not_cut_at_letters():
    # Letters a good half x-height apart, words three times as far: the cut follows the line's
    # own spacing, not a fixed fraction of the x-height.
    xh = 20  # x-height of FONT_HERSHEY_SIMPLEX at scale 1.4, about
    line, boxes = draw_words(["plain", "words", "set", "wide"], letter_gap=int(0.55 * xh),
                             word_gap=int(1.8 * xh))
    assert words_match(find_words(line), boxes)


def test_joined_writing_with_narrow_spaces_is_cut_at_every_space():
    # No gaps inside the words at all (joined letters): every gap is a space, narrow as it is.
    xh = 20
    line, boxes = draw_words(["plain", "words", "set", "close", "together"], letter_gap=-2,
                             word_gap=int(0.5 * xh))
    assert words_match(find_words(line), boxes)


def test_words_of_a_curving_line():
    # The baseline bends up and back down by more than an x-height: the core is followed.
    words = ["the", "line", "bends", "up", "and", "down", "again"]
    line, boxes = draw_words(words, letter_gap=1, word_gap=32, font=SCRIPT, scale=1.5,
                             rise=lambda x: 60 * np.sin(np.pi * x / 1300), size=(1500, 160),
                             base=120)
    assert words_match(find_words(line), boxes)


def test_neighbouring_lines_ink_stays_out_of_the_words():
    # A crop from a page: the descenders of the line above and the ascenders of the line below
    # reach into it, cut off by its edges. They are no words and do not stretch any word's box.
    ink = np.zeros((300, 1000), np.uint8)
    cv2.putText(ink, "gypsy jolly quays yearly going", (60, 104), SCRIPT, 1.5, 255, 2, cv2.LINE_AA)
    cv2.putText(ink, "lofty hedges below the tall bluffs", (60, 186), SCRIPT, 1.5, 255, 2,
                cv2.LINE_AA)
    drawn, x = [], 100
    for word in ["some", "more", "air"]:
        one = np.zeros_like(ink)
        cv2.putText(one, word, (x, 150), SCRIPT, 1.5, 255, 2, cv2.LINE_AA)
        drawn.append(ink_box(one > 60))
        ink = np.maximum(ink, one)
        x = drawn[-1][2] + 40
    page = paper(ink, False, np.random.default_rng(5))
    y0, y1 = min(b[1] for b in drawn) - 12, max(b[3] for b in drawn) + 12
    crop = page[y0:y1]
    assert (ink[y0] > 60).any() and (ink[y1 - 1] > 60).any()  # the neighbours do reach in
    found = find_words(crop, (0, y0, 1000, y1))
    assert words_match(found, drawn)
    assert all(f.box[1] >= b[1] - 3 and f.box[3] <= b[3] + 3 for f, b in zip(found, drawn))


# --- sparse pages of real handwriting: a few lines of a thin pen, wide margins -------------------

HAND = ["line-iam-ondb-a01-020w-02.png", "line-iam-ondb-l06-637z-04.png",
        "line-iam-ondb-f01-017z-04.png", "word-iam-ondb-d05-013-08-02.png"]


def hand_page(names, header=None, skew=0.0, thin=False):
    """A 1500x1200 sheet with lines rendered from IAM-OnDB strokes (tests/fixtures/shipped)
    written one below the other at varied indents, optionally under a bold printed header,
    turned by ``skew`` degrees, or photographed at twice the size with a thinner pen. Returns
    the page and the lines' ink boxes (before any turning)."""
    from pathlib import Path

    from htr.image import normalize_ink

    fixtures = Path(__file__).resolve().parent / "fixtures" / "shipped"
    rng = np.random.default_rng(0)
    page = np.clip(rng.normal(228, 4, (1200, 1500)), 0, 255)
    y, boxes = 90, []
    if header:
        printed = np.full(page.shape, 255, np.uint8)
        cv2.putText(printed, header, (120, y + 40), cv2.FONT_HERSHEY_DUPLEX, 1.4, 40, 2, cv2.LINE_AA)
        boxes.append(ink_box(printed < 128))
        page *= printed / 255.0
        y += 110
    for i, name in enumerate(names):
        line = normalize_ink(cv2.imread(str(fixtures / name), cv2.IMREAD_GRAYSCALE)) / 255.0
        lh, lw = line.shape
        x = 100 + 40 * (i % 3)
        page[y:y + lh, x:x + lw] *= line
        bx = ink_box(line < 0.5)
        boxes.append((x + bx[0], y + bx[1], x + bx[2], y + bx[3]))
        y += lh + 40
    page = page.astype(np.uint8)
    if skew:
        turn = cv2.getRotationMatrix2D((750, 600), skew, 1.0)
        page = cv2.warpAffine(page, turn, (1500, 1200), borderValue=228)
    if thin:  # twice the pixels, strokes no wider: a finer pen
        page = cv2.dilate(cv2.resize(page, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC),
                          np.ones((5, 5), np.uint8))
        boxes = [tuple(2 * v for v in b) for b in boxes]
    return page, boxes


@pytest.mark.parametrize("skew", [4.0, -4.0])
def test_a_sparse_skewed_page_of_real_handwriting_keeps_its_lines_apart(skew):
    page, boxes = hand_page(HAND[:3], skew=skew)
    layout = LineSegmenter().analyse(page)
    assert len(layout.lines) == 3  # with three lines, not the spacing of every other line
    drawn = [(b[1] + b[3]) / 2 for b in boxes]
    assert 0.8 * (drawn[1] - drawn[0]) <= layout.spacing <= 1.25 * (drawn[1] - drawn[0])
    back = cv2.invertAffineTransform(cv2.getRotationMatrix2D((750, 600), skew, 1.0))
    for line, d in zip(layout.lines, drawn):  # each where its line was written, in order
        x0, y0, x1, y1 = line.box
        y = back[1, 0] * (x0 + x1) / 2 + back[1, 1] * (y0 + y1) / 2 + back[1, 2]
        assert abs(y - d) < 0.3 * (drawn[1] - drawn[0])


def test_a_printed_header_does_not_break_up_the_thin_line_below_it():
    page, boxes = hand_page(HAND[:3], header="ROYAL BOTANIC GARDENS, KEW")
    layout = LineSegmenter().analyse(page)
    assert len(layout.lines) == 4
    for line, box in zip(layout.lines, boxes):  # the header first, each line whole
        assert iou(line.box, box) >= 0.5, (line.box, box)
        assert line.box[0] <= box[0] + 5 and line.box[2] >= box[2] - 5, (line.box, box)


def test_a_thin_pen_short_line_is_kept():
    page, boxes = hand_page(HAND, thin=True)
    lines = find_lines(page)
    assert matched_in_order(lines, boxes)  # "faith" alone on the last line included
