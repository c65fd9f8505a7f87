"""Which way up a page is, and how level: a page scanned or photographed sideways or upside down
is read at its other quarter turns when its reading looks like nonsense, and the turn that
reads best is kept; a page laid askew is turned level before its lines are found
(:func:`level_angle`, :func:`levelled`).

Read the wrong way up, handwriting gives the network little it is sure of: on the 54 validation
scans (Hooker letters, Copiste texts; README, "Pages upside down, on their side or askew") an
upright page's words were read with 0.46-0.80 confidence a character, its upside-down copy
with 0.18-0.41, and a sideways copy came out as a line or two of almost nothing. So a page whose
reading is unsure (:func:`looks_upright` false) is read again at the three other quarter
turns, and the reading with the most sure characters (:func:`sure_characters`) is taken, the
upright one unless another has clearly more (:data:`CLEARLY_MORE`). An upright page that reads
well costs nothing more; one the wrong way up, or a doubtful upright one (a faint or hard
hand), costs three more readings.

Only images of a page's size are turned (:func:`may_be_turned`): a line or a word crop is
taken the way it is given. A photo's sheet is levelled by its own outline (:mod:`htr.sheet`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import cv2
import numpy as np

from .results import Box, Line, Page, Point

#: An image at least this many pixels on its shorter side may be a page lying on its side or
#: upside down (the validation sets' line crops are at most 277 high, a few lines of a note
#: photographed small about 350).
PAGE_SIDE = 300
#: A reading whose words average at least this confidence a character, over at least
#: :data:`SURE_ENOUGH_CHARACTERS` characters, is taken as upright (validation scans: upright
#: 0.46-0.80, upside down 0.18-0.41).
UPRIGHT_CONFIDENCE = 0.45
SURE_ENOUGH_CHARACTERS = 20
#: Another turn's reading replaces the upright one when it has this many times its sure
#: characters (upright scans held 1.8-5.3 times their upside-down copies').
CLEARLY_MORE = 1.5
#: ... and at least this many sure characters itself: a page that reads as nonsense every way
#: round (a drawing, a hand or a model that reads nothing: an untrained test model's readings
#: held 0.1-2.0) is left the way it was given rather than turned on noise.
SURE_TO_TURN = UPRIGHT_CONFIDENCE * SURE_ENOUGH_CHARACTERS


#: The segmenter searches :data:`htr.ink_mask.MAX_SKEW` (5) degrees either way for its lines'
#: skew and shears them level; laid further askew (a scan laid crooked on the glass), pages
#: read at 59% CER at 10 degrees against 20% level (10 validation pages). A page whose lines lie
#: this many degrees askew or more (measured over :data:`TILT_SEARCH` degrees either way) is
#: turned level before its lines are found. The validation pages as scanned measure up to 4
#: degrees, written askew by hand: such pages read better sheared than turned (10 pages, those
#: of 2 degrees or more turned: 20.35 -> 20.95% CER).
LEVEL_FROM = 5.0
TILT_SEARCH = 30.0
#: The tilt is measured on the page shrunk to this long side, from at most this many ink
#: pixels, and not at all from fewer than the least (a nearly blank page); to the nearest
#: :data:`TILT_STEP` degrees, as the segmenter shears away what is left.
TILT_SIDE, TILT_POINTS, TILT_MIN_POINTS, TILT_STEP = 400, 3_000, 700, 1.0


def level_angle(grey: np.ndarray) -> float:
    """The degrees to turn ``grey`` counter-clockwise (as ``cv2.getRotationMatrix2D`` turns)
    to bring its lines level, within :data:`TILT_SEARCH`: the turn whose ink profile across the
    lines is most peaked (lines and the gaps between them), to :data:`TILT_STEP`. The ink is
    the segmenter's (dark scanner edges left out), a fixed sample of it: the same image always
    gives the same angle. 0 where there is too little ink to tell
    (:data:`TILT_MIN_POINTS`) or the best turn is the search's limit (no tilt stands out)."""
    from .image import normalize_ink
    from .ink_mask import binarise, remove_edges

    scale = TILT_SIDE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(remove_edges(binarise(normalize_ink(grey))))
    if xs.size < TILT_MIN_POINTS:
        return 0.0
    if xs.size > TILT_POINTS:
        keep = np.random.default_rng(0).choice(xs.size, TILT_POINTS, replace=False)
        xs, ys = xs[keep], ys[keep]
    xs = xs - grey.shape[1] / 2
    ys = ys - grey.shape[0] / 2

    def peakedness(degrees: float) -> float:
        t = np.radians(degrees)
        rows = ys * np.cos(t) - xs * np.sin(t)
        counts = np.bincount(((rows - rows.min()) // 2).astype(np.int64))
        return float(np.dot(counts, counts))

    best = max(np.arange(-TILT_SEARCH, TILT_SEARCH + 1e-9, TILT_STEP), key=peakedness)
    return 0.0 if abs(best) >= TILT_SEARCH else float(best)


def levelled(grey: np.ndarray, degrees: float
             ) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``grey`` turned ``degrees`` counter-clockwise on a canvas that holds all of it (the new
    corners filled with its paper's grey), and the function that maps points (x, y) on the
    turned image back into ``grey``'s pixels."""
    h, w = grey.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    out_w, out_h = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    turn[:, 2] += (out_w - w) / 2, (out_h - h) / 2
    paper = int(np.median(grey[::4, ::4]))
    image = cv2.warpAffine(grey, turn, (out_w, out_h), flags=cv2.INTER_CUBIC,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=paper)
    back = cv2.invertAffineTransform(turn)

    def to_original(points) -> np.ndarray:
        pts = np.asarray(points, np.float64).reshape(-1, 1, 2)
        return cv2.transform(pts, back).reshape(-1, 2) if pts.size else np.zeros((0, 2))

    return image, to_original


def sure_characters(page: Page) -> float:
    """The characters read on ``page``, each word's counted by its confidence: how much
    sensible text a reading holds, comparable across readings of the same image."""
    return float(sum(len(w.text) * w.confidence for line in page.lines for w in line.words))


def looks_upright(page: Page) -> bool:
    """Whether ``page``'s reading is sure enough to take the image as the right way up: at least
    :data:`SURE_ENOUGH_CHARACTERS` characters read, at :data:`UPRIGHT_CONFIDENCE` a character
    on average."""
    read = sum(len(w.text) for line in page.lines for w in line.words)
    return read >= SURE_ENOUGH_CHARACTERS and sure_characters(page) >= UPRIGHT_CONFIDENCE * read


def may_be_turned(shape: tuple[int, ...]) -> bool:
    """Whether an image of ``shape`` (rows, columns) is large enough to be a page that lies
    on its side or upside down (:data:`PAGE_SIDE`)."""
    return min(shape[:2]) >= PAGE_SIDE


def upright_reading(first: Page, read_turned: Callable[[int], Page]) -> Page:
    """The best reading of an image whose reading as it is, ``first``, looked unsure:
    ``read_turned(k)`` reads the image turned by ``np.rot90(image, k)`` (k quarter turns
    counter-clockwise) in its own pixels; the reading kept is the one with the most
    :func:`sure_characters`, ``first`` unless another has :data:`CLEARLY_MORE` and at least
    :data:`SURE_TO_TURN`. A turned
    reading comes back in the image's own pixels, with :attr:`Page.turned` saying how."""
    best, best_turns, best_sure = first, 0, max(sure_characters(first), SURE_TO_TURN)
    for turns in (1, 2, 3):
        page = read_turned(turns)
        sure = sure_characters(page)
        # Every turn is read: a page on its side, read upside down, can find a few lines of
        # sure words along its edge (one synthetic photo of 21 did), so the first reading that
        # looks upright is not taken as the answer.
        if sure > max(best_sure, CLEARLY_MORE * sure_characters(first)):
            best, best_turns, best_sure = page, turns, sure
    return best if best_turns == 0 else turned_back(best, best_turns)


def turned_back(page: Page, quarter_turns: int) -> Page:
    """``page``, read on an image turned by ``np.rot90(image, quarter_turns)``, with every box,
    polygon, baseline and sheet corner mapped back into the unturned image's pixels."""
    width, height = page.width, page.height  # the turned image's
    for _ in range(quarter_turns % 4):
        page = _one_turn_back(page, height)
        width, height = height, width
    return dataclasses.replace(page, width=width, height=height, turned=90 * (quarter_turns % 4))


def turned_back_box(box: Box, quarter_turns: int, turned_shape: tuple[int, ...]) -> Box:
    """A box found on ``np.rot90(image, quarter_turns)`` (of ``turned_shape``: rows, columns),
    in ``image``'s pixels."""
    height, width = turned_shape[:2]
    for _ in range(quarter_turns % 4):
        box = _box_one_turn_back(box, height)
        height, width = width, height
    return box


def _box_one_turn_back(box: Box, height: int) -> Box:
    """A box found on ``np.rot90(image, 1)`` (``height`` rows), on ``image``: edges, not pixels,
    so the end stays exclusive."""
    x0, y0, x1, y1 = box
    return height - y1, x0, height - y0, x1


def _one_turn_back(page: Page, height: int) -> Page:
    """``page`` read on ``np.rot90(image, 1)`` (``height`` rows), mapped onto ``image``:
    ``turned[r, c] = image[c, height - 1 - r]``."""
    def point(p: Point) -> Point:
        return height - 1 - p[1], p[0]

    def box(b: Box) -> Box:
        return _box_one_turn_back(b, height)

    def line(ln: Line) -> Line:
        return dataclasses.replace(
            ln, box=box(ln.box), polygon=tuple(map(point, ln.polygon)),
            baseline=tuple(map(point, ln.baseline)),
            words=tuple(dataclasses.replace(w, box=box(w.box)) for w in ln.words))

    sheet = tuple(map(point, page.sheet)) if page.sheet is not None else None
    return dataclasses.replace(page, lines=tuple(map(line, page.lines)), sheet=sheet)


def page_orientation(turned: int) -> int:
    """A page read turned ``turned`` degrees counter-clockwise as PAGE-XML's ``orientation``
    (the degrees to turn it clockwise to set it right, -179 to 180), which is also how far its
    writing lies turned counter-clockwise in the image (ALTO's ``ROTATION``)."""
    degrees = -turned % 360
    return degrees - 360 if degrees > 180 else degrees


def turn_note(turned: int) -> str:
    """What a reader is told of a page read turned by ``turned`` degrees counter-clockwise
    (:attr:`Page.turned`, not 0)."""
    return {90: "The page lay on its side: it was read turned a quarter turn to the left.",
            180: "The page was upside down: it was read turned the right way up.",
            270: "The page lay on its side: it was read turned a quarter turn to the right."}[turned]


def turned_image(grey: np.ndarray, quarter_turns: int) -> np.ndarray:
    """``grey`` turned by ``quarter_turns`` quarter turns counter-clockwise, contiguous (as the
    segmenter's OpenCV calls want it)."""
    return np.ascontiguousarray(np.rot90(grey, quarter_turns))
