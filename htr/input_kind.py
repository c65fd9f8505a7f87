"""What an image shows: a page, a single line or a single word (:func:`classify_input`, which
``--level auto`` goes by), in a line crop which rows of writing are its own and which are bits
of the neighbouring lines that a loose box takes in (:func:`writing_row`, :func:`neighbour_rows`,
:func:`ink_rows`), and on a page which lines its edges cut through (:func:`uncut_lines`).

Each is told from :meth:`htr.segment.LineSegmenter.analyse`'s layout of the image, and where
that is not enough (a word's tall strokes found as lines of their own) from the rows of its
marks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .image import shrink_to
from .ink_mask import EDGES_FROM, as_grey, mark_contrast
from .results import Box, Line, Word, box_union
from .segment import COMPONENT_FAINT, WORK_SIZE, Layout, LineSegmenter, ink_level
from .words import WordSegmenter, levelled_marks, local_core

#: Lines found in a crop whose rows overlap by this share of the shorter one's height are one
#: row of writing found in pieces (:func:`writing_row`).
SAME_ROW = 0.5
#: Least ink of a row of writing, as a share of the heaviest row's: less is a bit of a
#: neighbouring line that a loose crop takes in (:func:`writing_row`). With one line found
#: required instead, 10% of the real IAM validation lines, 28% of the IAM forms' and 21% of the
#: Hooker line crops were taken for pages (``--level auto``, the command line's default).
ROW_INK = 0.4
#: Least height of an image with two rows of writing one above the other, in line spacings.
ONE_ROW_HEIGHT = 1.5
#: Where the segmenter finds at most this many lines in an image at most this many line spacings
#: high, the rows of its marks (:func:`ink_rows`) say whether it holds one row of writing. In a
#: crop of one word the segmenter can take the word's tall strokes and its core for two lines
#: (the spacing measured from the strokes of the word itself): 41 of 4,620 real IAM words were
#: taken for pages so (19 after this rule), and 230 of 400 pairs of them stacked one above the other for
#: one row (153 after it). Where no line is found at all the image stays one row: asking the ink
#: there too made 39 more stacked pairs pages, but they read worse as pages than as a line.
FEW_LINES = 3
FEW_SPACINGS = 6.0
#: Most rows :func:`ink_rows` looks for (more is a page anyway).
MAX_ROWS_SEARCHED = 8
#: A row of marks whose core runs within this many of its x-heights of the image's top or bottom
#: edge is cut by that edge: a neighbouring line that a loose crop takes in, not a row of its own
#: (:func:`ink_rows`), or half a line at a page's edge, not worth reading (:func:`uncut_lines`).
#: A whole line's core lies further in, by half an x-height and its descenders or ascenders (the
#: Hooker training pages cut tight round their lines' outlines lose no line to it, nor at 1.5).
EDGE_ROW = 1.0
#: An image under this many pixels on its short side is no page with one short row of writing
#: on it (as a bigger image with wide paper round its row is) but a crop, however much paper it
#: has: 122 of IAM-OnDB's 3,144 validation words, short words written in the x-height alone
#: ("on", "a", "are") in images 80 pixels high, were taken for pages and read as nothing.
CROP_SIZE = EDGES_FROM
#: A mark at either end of a crop narrower than this many x-heights is not a word of its own
#: (:func:`classify_input`): punctuation, a bracket, a bit of the neighbouring word.
END_MARK_WIDTH = 0.5
#: The x-height of a row of writing where the segmenter measured none, as a share of its height.
X_HEIGHT_OF_ROW = 0.35
#: A row found in a line crop this many x-heights or more from the crop's own row (middle to
#: middle) belongs to a neighbouring line (:func:`neighbour_rows`).
NEIGHBOUR_ROW = 1.5
#: Which row is a crop's own line is clear only where that row (the heaviest) has at least this
#: many times the ink of each neighbour's row and its middle lies within this share of the
#: crop's height from the crop's middle (a loose box is drawn round its line): a form field's
#: crop with a printed row above the name had the name painted out (the capitals' validation
#: crops at ``--level auto`` 117.33% without this guard, 106.93% with it; chosen on the
#: training split).
OWN_ROW_OUTWEIGHS, OWN_ROW_OFF_CENTRE = 2.0, 1 / 6
#: A line or word image whose writing is at most this many x-heights wide
#: (:func:`ink_width_in_x_heights`) may well be a single word (words cut from real IAM lines:
#: half under 6.5, 95% under 20; line crops of every set: 95% over 9-35).
WORD_SIZED = 30.0

InputKind = Literal["page", "line", "word"]


def classify_input(grey: np.ndarray, segmenter: LineSegmenter | None = None,
                   layout: Layout | None = None) -> InputKind:
    """Whether an image shows a page (rows of writing one above the other, or none: a blank page
    is a page), a single line, or a single word. One row of writing (:func:`writing_row`; in an
    image of at most :data:`FEW_LINES` lines found, :data:`FEW_SPACINGS` high, :func:`ink_rows`)
    in an image at most three of its heights tall (or, where no line is found, ink filling a
    third of the image's height) is a line image, and a word image if :class:`WordSegmenter`
    finds only one word in it, not counting the marks at either end narrower than a letter
    (:data:`END_MARK_WIDTH`). ``layout``: the segmenter's analysis of ``grey`` when already
    made."""
    grey = as_grey(grey)
    layout = layout or (segmenter or LineSegmenter()).analyse(grey)
    few = len(layout.lines) <= FEW_LINES and grey.shape[0] <= FEW_SPACINGS * layout.spacing
    if layout.lines and few:
        if ink_rows(grey) > 1:
            return "page"
        row: Box | None = box_union(line.box for line in layout.lines)
    else:
        row = writing_row(layout)
    if row is not None:
        x0, y0, x1, y1 = row
        tall = y1 - y0
        if layout.ink_box is not None:
            # A word's tall strokes (a j's tail, a b's stem) can lie outside its line's box:
            # the ink within half the row's height above and below it counts too.
            reach = (y1 - y0) // 2
            tall = min(max(y1, layout.ink_box[3]), y1 + reach) - max(min(y0, layout.ink_box[1]), y0 - reach)
    elif not layout.lines and layout.ink_box is not None:
        # Too little ink for a line of a page (a word or a short line written with a thin
        # pen): a crop if the ink fills the image's height.
        x0, y0, x1, y1 = layout.ink_box
        tall = y1 - y0
    else:
        return "page"
    if grey.shape[0] > 3 * tall and min(grey.shape) >= CROP_SIZE:
        return "page"
    words = WordSegmenter().find_words(grey[y0:y1, x0:x1], (x0, y0, x1, y1))
    return "word" if len(_without_end_marks(words, _x_height(layout, y1 - y0))) <= 1 else "line"


def ink_width_in_x_heights(layout: Layout | None) -> float | None:
    """How wide the writing in an analysed image is, in x-heights (a word of a few letters:
    about 3-8; a line: 30 or more); None without ink. Where the segmenter measured no x-height
    (it found no line), :data:`X_HEIGHT_OF_ROW` of the ink's height stands in."""
    if layout is None or layout.ink_box is None:
        return None
    x0, y0, x1, y1 = layout.ink_box
    return (x1 - x0) / max(_x_height(layout, y1 - y0), 1.0)


def uncut_lines(layout: Layout) -> list[Line]:
    """The lines of an image read as a page, but those that its top or bottom edge cuts through
    (the middle of their core, half an x-height above the baseline, within :data:`EDGE_ROW`
    x-heights of the edge) and that have less ink than the heaviest line: a crop of a form field
    holds the top half of the printed row below it, a photo of part of a page the top or bottom
    of a line, and half a line is read as a string of short words that are not there (the
    capitals' validation crops at ``--level auto``: 106.93% -> 61.58% CER; IAM forms 9.85 ->
    8.21%; full pages: none left out). A layout made without the lines' ink keeps them all."""
    lines = layout.lines
    if len(lines) < 2 or not layout.x_height or len(layout.line_ink) != len(lines):
        return list(lines)
    height = layout.size[1]
    heaviest = max(layout.line_ink)

    def cut(line: Line) -> bool:
        if line.baseline:
            middle = float(np.median([y for _, y in line.baseline])) - layout.x_height / 2
        else:
            middle = (line.box[1] + line.box[3]) / 2
        return cut_by_edge(middle, height, layout.x_height)

    return [line for line, ink in zip(lines, layout.line_ink) if ink >= heaviest or not cut(line)]


def cut_by_edge(middle: float, height: float, x_height: float) -> bool:
    """Whether a row of writing whose core's middle runs at row ``middle`` of an image
    ``height`` rows high is cut by the image's top or bottom edge (:data:`EDGE_ROW`)."""
    return min(middle, height - middle) < EDGE_ROW * x_height


def word_sized(layout: Layout | None) -> bool:
    """Whether an analysed crop's writing is no wider than a word (:data:`WORD_SIZED`)."""
    wide = ink_width_in_x_heights(layout)
    return wide is not None and wide <= WORD_SIZED


def _x_height(layout: Layout, row_height: float) -> float:
    """The layout's x-height, or :data:`X_HEIGHT_OF_ROW` of a row ``row_height`` high where the
    segmenter measured none (it found no line)."""
    return layout.x_height or X_HEIGHT_OF_ROW * row_height


def _without_end_marks(words: list[Word], x_height: float) -> list[Word]:
    """``words`` without the marks far narrower than a letter at either end: a word crop takes
    in its own full stop, comma, bracket or quote, which the word segmenter sets apart, and a
    bit of its neighbour's (316 of the 2,014 real IAM validation words taken for lines)."""
    thin = lambda word: word.box[2] - word.box[0] < END_MARK_WIDTH * x_height  # noqa: E731
    while len(words) > 1 and thin(words[0]):
        words = words[1:]
    while len(words) > 1 and thin(words[-1]):
        words = words[:-1]
    return words


def _rows(layout: Layout) -> list[list]:
    """The lines of a layout grouped into rows as :func:`writing_row` groups them, heaviest line
    first: each row ``[its heaviest line's top, bottom, its lines' ink, its lines]``."""
    rows: list[list] = []
    # A layout made without the lines' ink (by hand): every line weighs the same.
    inks = layout.line_ink if len(layout.line_ink) == len(layout.lines) else [1.0] * len(layout.lines)
    for line, ink in sorted(zip(layout.lines, inks), key=lambda li: -li[1]):
        _, y0, _, y1 = line.box
        for row in rows:
            # Against the row's heaviest line only: rows that grew would swallow a skewed
            # page's overlapping lines one by one.
            if min(y1, row[1]) - max(y0, row[0]) >= SAME_ROW * min(y1 - y0, row[1] - row[0]):
                row[2] += ink
                row[3].append(line)
                break
        else:
            rows.append([y0, y1, ink, [line]])
    return rows


def neighbour_rows(layout: Layout) -> tuple[list[Line], list[Line]]:
    """In a line crop: the lines of its own row (the row with the most ink, :func:`writing_row`'s
    rows) and those of the rows whose middle lies at least :data:`NEIGHBOUR_ROW` x-heights from
    its middle, the bits of the neighbouring lines that a loose crop takes in. Rows nearer are
    the line's own (a capital's top, an underline, a word raised above the others). No
    neighbours where the own row is not clearly the crop's line (:data:`OWN_ROW_OUTWEIGHS`)."""
    rows = _rows(layout)
    if len(rows) < 2:
        return [line for row in rows for line in row[3]], []
    own = max(rows, key=lambda row: row[2])
    reach = NEIGHBOUR_ROW * _x_height(layout, own[1] - own[0])
    middle = (own[0] + own[1]) / 2
    far_rows = [row for row in rows if row is not own and abs((row[0] + row[1]) / 2 - middle) >= reach]
    height = layout.size[1]
    if far_rows and (own[2] < OWN_ROW_OUTWEIGHS * max(row[2] for row in far_rows)
                     or (height and abs(middle - height / 2) > OWN_ROW_OFF_CENTRE * height)):
        return own[3], []
    return own[3], [line for row in far_rows for line in row[3]]


def writing_row(layout: Layout) -> Box | None:
    """The box of the one row of writing in a line or word crop, or None where there are more
    (or none). In a crop the segmenter may find a line in pieces side by side (a gap wider than
    it bridges, a long line read as two) and bits of the neighbouring lines a loose crop takes
    in: lines whose rows overlap by :data:`SAME_ROW` of the shorter's height are one row, and a
    row with less than :data:`ROW_INK` of the heaviest row's ink is such a bit, not writing of
    its own. An image less than :data:`ONE_ROW_HEIGHT` line spacings high holds one row whatever
    was found in it: the segmenter took the tall strokes of a big word for lines of their own."""
    rows = _rows(layout)
    if not rows:
        return None
    heaviest = max(row[2] for row in rows)
    writing = [row for row in rows if row[2] >= ROW_INK * heaviest]
    if len(writing) == 1:
        return box_union(line.box for line in writing[0][3])
    if layout.size[1] < ONE_ROW_HEIGHT * layout.spacing:
        return box_union(line.box for line in layout.lines)
    return None


def ink_rows(grey: np.ndarray) -> int:
    """How many rows of writing an image of a word or a few lines holds, told by its marks
    rather than by line tracking: the core of the densest row (:func:`htr.words.local_core`)
    takes the marks that reach into its middle half, and the marks left are searched again. A
    row with less than :data:`ROW_INK` of the heaviest row's ink is a bit of a neighbouring line
    (a loose crop's), as in :func:`writing_row`, and so is a lighter row whose core the image's
    top or bottom edge cuts (:data:`EDGE_ROW`); marks much fainter than the writing
    (:data:`COMPONENT_FAINT`: show-through from the back of the sheet) are left out, as in
    :meth:`LineSegmenter.analyse`."""
    small, _ = shrink_to(as_grey(grey), WORK_SIZE)
    found, labels, stats, cents = levelled_marks(small)
    n = len(stats)
    ys, xs = np.nonzero(labels)
    marks = labels[ys, xs]
    area = np.bincount(marks, minlength=n)
    left = area > 0
    left[0] = False
    if left.any():
        contrast = mark_contrast(small, found, stats, cents)
        left &= contrast >= COMPONENT_FAINT * ink_level(contrast[left], stats[left])
    rows: list[tuple[int, bool]] = []  # each row's ink, and whether an edge cuts its core
    for _ in range(MAX_ROWS_SEARCHED):
        if not left.any():
            break
        on = left[marks]
        ink = np.zeros(small.shape, bool)
        ink[ys[on], xs[on]] = True
        centre, x_height = local_core(ink)
        near = on & (np.abs(ys - centre[xs]) <= x_height / 4)
        row = np.zeros(n, bool)
        row[marks[near]] = True
        if not row.any():
            break
        middle = float(np.median(centre[np.unique(xs[near])]))
        rows.append((int(area[row].sum()), cut_by_edge(middle, small.shape[0], x_height)))
        left &= ~row
    heaviest = max((ink for ink, _ in rows), default=0)
    return sum(ink >= ROW_INK * heaviest and (ink == heaviest or not cut) for ink, cut in rows)
