"""Which way up a page is, and how level: a page scanned or photographed sideways or upside down
is read at its other quarter turns when its reading looks like nonsense, and the turn that
reads best is kept; a page laid askew is turned level before its lines are found
(:func:`level_angle`, :func:`levelled`).

Read the wrong way up, handwriting gives the network little it is sure of: on the 54 validation
scans (Hooker letters, Copiste texts; README, "Pages upside down, on their side or askew") an
upright page's words were read with 0.46-0.80 confidence a character, its upside-down copy
with 0.18-0.41, and a sideways copy came out as a line or two of almost nothing. So a page whose
reading is unsure (:func:`looks_upright` false) is read again turned, and the reading with the
most sure characters (:func:`sure_characters`) is taken, the upright one unless another has
clearly more (:data:`CLEARLY_MORE`). Which turns are read, the way the page's lines run says
(:func:`measure_lie`): across the page, it is upright or upside down; down it, it lies on one
side or the other; only where that is not clear, all three. An upright page that reads well
costs nothing more; one upside down, or a doubtful upright one (a faint or hard hand), one
more reading; a scan on its side two, and neither its reading nor its lines as it lies (a
photo's sheet: three, as the way its lines run is measured only once it reads unsure).

Only images of a page's size are turned (:func:`may_be_turned`): a line or a word crop is
taken the way it is given. A photo's sheet is levelled by its own outline (:mod:`htr.sheet`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

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


#: Lines run across a page that is upright or upside down and down one that lies on its side,
#: and the ink's profile across the lines is the more peaked (lines and the gaps between them):
#: a page whose rows' profile is at least this many times as peaked as its columns' (each at its
#: best tilt within :data:`TILT_SEARCH`, per unit of the profile's length) is only read upright
#: and upside down, one whose columns' is so only on its two sides (:attr:`Lie.quarter_turns`).
#: The 54 validation pages, scanned and as flattened photos, at each quarter turn (428 with ink
#: enough to tell): 211 of the 214 with lines across measured 1.15 or more, 211 of the 214 with
#: lines down 1 / 1.15 or less, and none of either the other side of 1.0 / 1.15 (the rest read
#: every way round).
LINES_CLEAR = 1.15


@dataclasses.dataclass(frozen=True)
class Lie:
    """How the writing on a page lies: ``tilt``, the degrees to turn the page counter-clockwise
    to bring its lines level (:func:`level_angle`), and :attr:`across`, how much more peaked the
    ink's profile across the page's rows is than across its columns, measured when first asked
    (3 ms more; :func:`level_angle` does without it)."""

    tilt: float
    #: The peak of the rows' profile at the tilt, per unit of its length (:func:`_peak`).
    rows_peak: float = 0.0
    #: The sampled ink pixels (x, y) about the page's centre; None: too little ink to tell.
    ink: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)

    @functools.cached_property
    def across(self) -> float | None:
        """The rows' peak over the columns' (each at its best tilt within :data:`TILT_SEARCH`);
        None where there is too little ink to tell."""
        if self.ink is None:
            return None
        # Across the columns: the rows' profile a quarter turn on.
        side = max(_TURNS + 90, key=lambda degrees: _peakedness(_profile(self.ink, degrees)))
        return self.rows_peak / _peak(_profile(self.ink, side))

    @property
    def quarter_turns(self) -> tuple[int, ...]:
        """The quarter turns (``np.rot90``'s k) the page may need to be read the right way up:
        its lines run across it (0 and 2), down it (1 and 3), or it is not clear (all four)."""
        if self.across is not None and self.across >= LINES_CLEAR:
            return (0, 2)
        if self.across is not None and self.across <= 1 / LINES_CLEAR:
            return (1, 3)
        return (0, 1, 2, 3)


_TURNS = np.arange(-TILT_SEARCH, TILT_SEARCH + 1e-9, TILT_STEP)


def _profile(ink: np.ndarray, degrees: float) -> np.ndarray:
    """How many of the ``ink`` points (x, y) lie in each 2-pixel band across the page turned
    ``degrees`` counter-clockwise."""
    t = np.radians(degrees)
    rows = ink[:, 1] * np.cos(t) - ink[:, 0] * np.sin(t)
    return np.bincount(((rows - rows.min()) // 2).astype(np.int64))


def _peakedness(counts: np.ndarray) -> float:
    return float(np.dot(counts, counts))


def _peak(counts: np.ndarray) -> float:
    """A profile's peakedness per unit of its length, so that a wide page's rows and its columns
    compare: ink spread evenly scores 1 either way."""
    return _peakedness(counts) * counts.size / float(counts.sum()) ** 2


def measure_lie(grey: np.ndarray) -> Lie:
    """How the writing on ``grey`` lies (:class:`Lie`). The tilt is the turn within
    :data:`TILT_SEARCH` whose ink profile across the lines is most peaked, to
    :data:`TILT_STEP`; the ink is the segmenter's (dark scanner edges left out), a fixed sample
    of it: the same image always gives the same answer. The tilt is 0 where there is too little
    ink to tell (:data:`TILT_MIN_POINTS`) or the best turn is the search's limit (no tilt
    stands out)."""
    from .image import normalize_ink
    from .ink_mask import binarise, remove_edges

    scale = TILT_SIDE / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ys, xs = np.nonzero(remove_edges(binarise(normalize_ink(grey))))
    if xs.size < TILT_MIN_POINTS:
        return Lie(0.0)
    if xs.size > TILT_POINTS:
        keep = np.random.default_rng(0).choice(xs.size, TILT_POINTS, replace=False)
        xs, ys = xs[keep], ys[keep]
    ink = np.stack([xs - grey.shape[1] / 2, ys - grey.shape[0] / 2], axis=1)
    best = max(_TURNS, key=lambda degrees: _peakedness(_profile(ink, degrees)))
    return Lie(0.0 if abs(best) >= TILT_SEARCH else float(best), _peak(_profile(ink, best)), ink)


def level_angle(grey: np.ndarray) -> float:
    """The degrees to turn ``grey`` counter-clockwise (as ``cv2.getRotationMatrix2D`` turns)
    to bring its lines level, within :data:`TILT_SEARCH` (:func:`measure_lie`)."""
    return measure_lie(grey).tilt


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


def upright_reading(read_turned: Callable[[int], Page],
                    quarter_turns: Sequence[int] | Callable[[], Sequence[int]] = (0, 1, 2, 3)
                    ) -> Page:
    """The best reading of an image that may lie on its side or upside down:
    ``read_turned(k)`` reads it turned by ``np.rot90(image, k)`` (k quarter turns
    counter-clockwise; 0: as it is) in its own pixels; ``quarter_turns``, the turns its lines
    allow (:attr:`Lie.quarter_turns`), or a function that measures them, called only if the
    reading as it is turns out unsure (where measuring costs more than it saves on most pages).

    A reading as it is that looks upright (:func:`looks_upright`) is taken at once. Otherwise
    the allowed turns are read, and the reading kept is the one with the most
    :func:`sure_characters`: as it is unless another has :data:`CLEARLY_MORE` and at least
    :data:`SURE_TO_TURN`. A page whose lines are known to run down it is read on its two sides
    first (and not as it is), the surer of the two kept if it looks upright, and every way
    round if neither does. A turned reading comes back in the image's own pixels, with
    :attr:`Page.turned` saying how."""
    readings: dict[int, Page] = {}

    def read(turns: int) -> Page:
        if turns not in readings:
            readings[turns] = read_turned(turns)
        return readings[turns]

    if callable(quarter_turns):
        if looks_upright(read(0)):
            return read(0)
        quarter_turns = quarter_turns()
    if tuple(quarter_turns) == (1, 3):
        turns = max((1, 3), key=lambda k: sure_characters(read(k)))
        if looks_upright(read(turns)):
            return turned_back(read(turns), turns)
        quarter_turns = (0, 1, 2, 3)  # neither side reads well: every way round
    first = read(0)
    if looks_upright(first):
        return first
    best_turns, best_sure = 0, max(sure_characters(first), SURE_TO_TURN)
    for turns in quarter_turns:
        # Every allowed turn is read: a page on its side, read upside down, can find a few
        # lines of sure words along its edge (one synthetic photo of 21 did), so the first
        # reading that looks upright is not taken as the answer.
        sure = sure_characters(read(turns))
        if turns and sure > max(best_sure, CLEARLY_MORE * sure_characters(first)):
            best_turns, best_sure = turns, sure
    return first if best_turns == 0 else turned_back(read(best_turns), best_turns)


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
