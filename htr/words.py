"""The words of a line image: :class:`WordSegmenter` cuts a line at the spaces between its
words (boxes only; the recognizer reads the text), :func:`find_words` with the defaults. Its
marks and core (:func:`levelled_marks`, :func:`local_core`) also tell the rows of writing in a
small image (:func:`htr.input_kind.ink_rows`)."""

from __future__ import annotations

import cv2
import numpy as np

from .image import normalize_ink
from .ink_mask import MAX_SKEW, as_grey, binarise, estimate_skew
from .results import Box, Word

#: Where a line's gaps are expected to turn from spaces between letters to spaces between words
#: (x-heights), how far (a factor) the cut may stray from it unpenalised, and the penalty per
#: unit of log-distance beyond (see :func:`_gap_threshold`). Chosen on synthetic pages of
#: rendered IAM-OnDB training lines (``bench/eval_word_boxes.py``).
WORD_GAP = 0.9
GAP_TOLERANCE = 1.6
GAP_PENALTY = 0.5
#: Added to both gaps of a ratio: blank runs of a pixel or two do not make huge jumps.
GAP_SMOOTH = 0.2
#: A typical space between letters and the narrowest space between words (x-heights), set
#: against a line's widest and narrowest gaps to weigh "one word" and "all words".
LETTER_GAP = 0.2
WORD_GAP_MIN = 0.7
#: Ink that does not reach a line's core and is taller than this (x-heights) is not a dot or a
#: t-cross of the line but an ascender or descender of the line above or below.
MARK_HEIGHT = 0.6
#: Most a line's core may move (x-heights) from one strip of the line to the next (a strip is
#: about as wide as the line is high, some three x-heights).
CORE_STEP = 0.6


class WordSegmenter:
    """Cuts a line image into words at the spaces between words.

    The line is levelled, its core (x-height band) followed along it (:func:`local_core`) and
    the ink of the lines above and below left out (:func:`_foreign_components`). Its
    components group into letters-or-words, with the gap between neighbours measured along
    the rows they share near the core (:func:`_clusters`), and the line is cut at the gaps
    wider than where its gaps jump from letter spacing to word spacing (:func:`_gap_threshold`;
    ``gap`` is the width, in x-heights, that jump is expected at). Dots, accents, t-crosses
    and dashes then join the word under or nearest them."""

    def __init__(self, gap: float = WORD_GAP) -> None:
        self.gap = gap

    def find_words(self, line_grey: np.ndarray, line_box: Box | None = None) -> list[Word]:
        """The words of a line image, left to right. ``line_box`` is where the image lies on its
        page (its x0, y0 offset the word boxes); without it boxes are in the image's pixels."""
        grey = as_grey(line_grey)
        h, w = grey.shape
        ox, oy = (line_box[0], line_box[1]) if line_box is not None else (0, 0)
        original, labels, stats, _ = levelled_marks(grey)
        n = len(stats)
        ink = labels > 0
        if not ink.any():
            return []
        # The line's core (x-height band), followed along the line: handwriting drifts and
        # curves, which a straight band would smear over many rows.
        centre, x_height = local_core(ink)
        ys, xs = np.nonzero(ink)
        off = ys - centre[xs]
        in_core = np.abs(off) <= 0.5 * x_height
        foreign = _foreign_components(labels, n, labels[ys, xs], in_core, ys, x_height)
        if foreign.any():
            labels = np.where(foreign[labels], 0, labels)
            original = np.where(foreign[original], 0, original)
            keep = labels[ys, xs] > 0
            ys, xs, off = ys[keep], xs[keep], off[keep]
            if not ys.size:
                return []
        # Gaps are looked for over the core and a half x-height round it: the slanted ascenders
        # and descenders of neighbouring letters overlap in x further out and would close real
        # gaps (and a crop from a page holds bits of the lines above and below there).
        lab = labels[ys, xs]
        near = np.abs(off) <= x_height
        if not near.any():
            return []
        clusters, gap_w = _clusters(lab, xs, ys, near, np.abs(off) <= 0.5 * x_height, n, x_height)
        thr = _gap_threshold(gap_w / x_height, self.gap) * x_height
        word_of = np.concatenate([[0], np.cumsum(gap_w > thr)])  # cluster -> word
        owner = np.where(clusters >= 0, word_of[np.maximum(clusters, 0)], -1)
        n_words = int(word_of[-1]) + 1
        # Each word's columns (its clusters' ink near the core); the ink that is in no cluster
        # (dots, accents, t-crosses, dashes, underlines) goes to the word whose columns it
        # overlaps most, or the nearest; across two words (an underline, a flourish) it is cut
        # half-way between them.
        in_unit = owner[lab] >= 0
        wx0 = np.full(n_words, w, np.int64)
        wx1 = np.full(n_words, -1, np.int64)
        np.minimum.at(wx0, owner[lab[in_unit & near]], xs[in_unit & near])
        np.maximum.at(wx1, owner[lab[in_unit & near]], xs[in_unit & near])
        live = wx1 >= 0
        if not live.any():
            return []
        cx0 = np.full(n, w, np.int64)
        cx1 = np.full(n, -1, np.int64)
        np.minimum.at(cx0, lab, xs)
        np.maximum.at(cx1, lab, xs)
        shared = np.zeros(n, bool)
        for i in np.flatnonzero((owner < 0) & (cx1 >= 0)):
            over = np.clip(np.minimum(cx1[i], wx1) - np.maximum(cx0[i], wx0) + 1, 0, None)
            over[~live] = 0
            if over.max() > 0:
                owner[i] = int(np.argmax(over))
                shared[i] = np.sum(over >= 0.2 * (cx1[i] - cx0[i] + 1)) >= 2
            else:
                dist = np.where(live, np.maximum(wx0 - cx1[i], cx0[i] - wx1), np.inf)
                owner[i] = int(np.argmin(dist))
        ends = np.where(live, wx1 + 1, 0)
        starts = np.where(live, wx0, 0)
        mids = [(ends[k] + starts[k + 1]) // 2 for k in range(n_words - 1)]
        cut_at = np.concatenate([[0], np.maximum.accumulate(np.array(mids, np.int64)) if mids
                                 else np.zeros(0, np.int64), [w]])
        # Every ink pixel of the line (original, unsheared): its word, by owner or by column.
        iy, ix = np.nonzero(original > 0)
        lab = original[iy, ix]
        word = owner[lab]
        split = shared[lab]
        word[split] = np.clip(np.searchsorted(cut_at, ix[split], side="right") - 1, 0, n_words - 1)
        ok = word >= 0
        iy, ix, word = iy[ok], ix[ok], word[ok]
        words = []
        for k in range(n_words):
            sel = word == k
            if not sel.any():
                continue
            if sel.sum() < 0.05 * x_height ** 2 and n_words > 1:
                continue  # a lone dot or speck between words
            x0, x1 = int(ix[sel].min()), int(ix[sel].max()) + 1
            y0, y1 = int(iy[sel].min()), int(iy[sel].max()) + 1
            words.append(Word(box=(ox + x0, oy + y0, ox + x1, oy + y1)))
        return words


def levelled_marks(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The marks (connected components, specks left out) of a line or word image: their labels
    as found, the same labels levelled (sheared by the writing's skew: a line cut from a page
    still rises or falls a little across its width, which would smear its core over many rows),
    and OpenCV's stats and centroids of every label (specks' too). Label 0 is paper."""
    h, w = grey.shape
    ink = binarise(normalize_ink(grey))
    n, labels, stats, cents = cv2.connectedComponentsWithStats(ink, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= max(3, h * w // 20000)
    keep[0] = False
    original = np.where(keep[labels], labels, 0)
    if not keep.any():
        return original, original, stats, cents
    level = original.astype(np.float32)
    angle = estimate_skew((level > 0).astype(np.uint8), MAX_SKEW)
    if abs(angle) > 0.2:
        tan = np.tan(np.radians(angle))
        shear = np.float32([[1, 0, 0], [-tan, 1, tan * w / 2]])
        level = cv2.warpAffine(level, shear, (w, h), flags=cv2.INTER_NEAREST)
    return original, level.astype(np.int32), stats, cents


def local_core(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The core (x-height band) of a levelled line's ink mask, followed along the line: the
    centre row of the core at every column (float array, one per column) and the x-height.

    The line is cut into strips about as wide as it is high; in each strip with ink the core is
    the run of rows round the densest one that cross at least half as many strokes (strokes
    crossed per row, not ink per row: an underline or a long dash is one stroke). The x-height
    is the strips' median (weighted by their ink); the centre is interpolated between strips,
    after a running median of three and a check of each strip against its neighbour's."""
    h, w = ink.shape
    starts = np.zeros_like(ink)
    starts[:, 1:] = ink[:, 1:] & ~ink[:, :-1]
    starts[:, 0] = ink[:, 0]
    strip = max(24, h)
    mids, centres, heights, weights = [], [], [], []
    for x0 in range(0, w, strip):
        x1 = min(w, x0 + strip)
        if x1 - x0 < strip // 2 and mids:  # a narrow last strip joins the one before
            x0 = max(0, x1 - strip)
        rows = starts[:, x0:x1].sum(axis=1).astype(np.float64)
        total = float(rows.sum())
        if total < 4:
            continue
        rows = np.convolve(rows, np.ones(3) / 3, mode="same")
        peak = int(np.argmax(rows))
        low = np.flatnonzero(rows < 0.5 * rows[peak])
        top = int(low[low < peak].max()) + 1 if np.any(low < peak) else 0
        bottom = int(low[low > peak].min()) if np.any(low > peak) else h
        mids.append((x0 + x1) / 2)
        centres.append((top + bottom) / 2)
        heights.append(bottom - top)
        weights.append(total)
    if not mids:  # hardly any ink: one band over the whole line
        rows = starts.sum(axis=1).astype(np.float64)
        ys = np.flatnonzero(rows)
        top, bottom = (int(ys.min()), int(ys.max()) + 1) if ys.size else (0, h)
        return np.full(w, (top + bottom) / 2), max(2.0, float(bottom - top))
    order = np.argsort(heights)
    cw = np.cumsum(np.array(weights)[order])
    x_height = max(2.0, float(np.array(heights)[order][np.searchsorted(cw, 0.5 * cw[-1])]))
    centres, weights = np.array(centres), np.array(weights)
    if len(centres) >= 3:  # a running median of three (the end strips: of the three there)
        padded = np.concatenate([[np.median(centres[:3])], centres, [np.median(centres[-3:])]])
        centres = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    # Followed from the strip with the most ink outwards: a strip whose core jumps from its
    # neighbour's by more than CORE_STEP x-heights, or with little ink, holds mostly other
    # ink (a descender of the line above, the ascenders of the line below, a flourish) and
    # takes its neighbour's centre instead.
    weak = weights < 0.2 * np.median(weights)
    start = int(np.argmax(weights))
    for step in (1, -1):
        prev = centres[start]
        for i in range(start + step, len(centres) if step > 0 else -1, step):
            if weak[i] or abs(centres[i] - prev) > CORE_STEP * x_height:
                centres[i] = prev
            prev = centres[i]
    return np.interp(np.arange(w), mids, centres), x_height


def _foreign_components(labels: np.ndarray, n: int, lab: np.ndarray, in_core: np.ndarray,
                        ys: np.ndarray, x_height: float) -> np.ndarray:
    """Which components of a (levelled) line crop belong to the lines above and below: those
    none of whose pixels (``lab``, at rows ``ys``) lies in the line's core (``in_core``) and that
    either touch the crop's top or bottom edge (an ascender or descender cut off by the crop)
    or are taller than a dot or a t-cross (:data:`MARK_HEIGHT` x-heights). I-dots, accents and
    t-crosses stay."""
    h = labels.shape[0]
    y0 = np.full(n, h, np.int64)
    y1 = np.full(n, -1, np.int64)
    np.minimum.at(y0, lab, ys)
    np.maximum.at(y1, lab, ys)
    present = y1 >= 0
    reach = np.bincount(lab[in_core], minlength=n)[:n] > 0
    edge = (y0 == 0) | (y1 == h - 1)
    tall = (y1 - y0 + 1) > MARK_HEIGHT * x_height
    return present & ~reach & (edge | tall)


def _clusters(lab: np.ndarray, xs: np.ndarray, ys: np.ndarray, near: np.ndarray,
              in_core: np.ndarray, n: int, x_height: float) -> tuple[np.ndarray, np.ndarray]:
    """The letters-or-words of a line, left to right, and the gaps between them.

    ``lab``, ``xs``, ``ys`` are the line's ink pixels (label, column, row), ``near`` marks those
    near its core (the gaps are measured there) and ``in_core`` those in it. The units are the
    components that reach the core, less flat strokes (t-crosses, dashes, underlines: they
    may span letters and words); a unit mostly within the columns of the cluster before it
    (a letter written under an overhanging one) joins that cluster. The gap between two
    neighbouring clusters is their nearest approach along the rows they share (0 where they
    touch or interlock), or the blank columns between them where they share no row: slanted
    writing's words overlap in columns yet keep a clear space along each row.

    Returns each component's cluster (-1: no unit) and the gaps (pixels, one fewer than
    clusters)."""
    x0 = np.full(n, np.iinfo(np.int64).max, np.int64)
    x1 = np.full(n, -1, np.int64)
    y0 = np.full(n, np.iinfo(np.int64).max, np.int64)
    y1 = np.full(n, -1, np.int64)
    sel = near
    np.minimum.at(x0, lab[sel], xs[sel])
    np.maximum.at(x1, lab[sel], xs[sel])
    np.minimum.at(y0, lab[sel], ys[sel])
    np.maximum.at(y1, lab[sel], ys[sel])
    reach = np.bincount(lab[in_core], minlength=n)[:n] > 0
    wide, tall = x1 - x0 + 1, y1 - y0 + 1
    flat = (tall < 0.35 * x_height) & (wide > 2 * tall)
    units = np.flatnonzero((x1 >= 0) & reach & ~flat)
    if units.size == 0:
        units = np.flatnonzero(x1 >= 0)
    cluster = np.full(n, -1, np.int64)
    if units.size == 0:
        return cluster, np.zeros(0)
    order = units[np.argsort(x0[units], kind="stable")]
    cx0, cx1 = [], []
    for i in order.tolist():
        if cx1:
            overlap = min(x1[i], cx1[-1]) - max(x0[i], cx0[-1]) + 1
            if overlap > 0.5 * min(x1[i] - x0[i] + 1, cx1[-1] - cx0[-1] + 1):
                cluster[i] = len(cx1) - 1
                cx0[-1], cx1[-1] = min(cx0[-1], x0[i]), max(cx1[-1], x1[i])
                continue
        cluster[i] = len(cx1)
        cx0.append(x0[i])
        cx1.append(x1[i])
    k = len(cx1)
    if k == 1:
        return cluster, np.zeros(0)
    # Each cluster's first and last ink column in every row near the core.
    c = cluster[lab]
    sel = near & (c >= 0)
    r0 = int(ys[sel].min())
    rows = int(ys[sel].max()) - r0 + 1
    left = np.full((k, rows), np.iinfo(np.int64).max, np.int64)
    right = np.full((k, rows), -1, np.int64)
    np.minimum.at(left, (c[sel], ys[sel] - r0), xs[sel])
    np.maximum.at(right, (c[sel], ys[sel] - r0), xs[sel])
    gaps = np.zeros(k - 1)
    for j in range(k - 1):
        both = (right[j] >= 0) & (right[j + 1] >= 0)
        if both.any():
            gaps[j] = max(0, int(np.min(left[j + 1][both] - right[j][both])) - 1)
        else:
            gaps[j] = max(0, int(cx0[j + 1] - cx1[j]) - 1)
    return cluster, gaps


def _gap_threshold(gaps: np.ndarray, typical: float = WORD_GAP) -> float:
    """The width (in x-heights) above which a line's blank gaps are spaces between words.

    Writers differ: one leaves half an x-height between letters, another joins them and spaces
    words a whole x-height apart, so no fixed width serves every line. The gaps of one line
    fall into two groups, between letters (or pen lifts) and between words, and the cut goes
    where the sorted gaps jump the most in ratio (:data:`GAP_SMOOTH` keeps hairline gaps from
    making huge ratios), with a penalty on cuts far from ``typical``, beyond a factor of
    :data:`GAP_TOLERANCE` either way. Two cuts are weighed beside those between gaps: none (one
    word: the widest gap against a word gap of :data:`WORD_GAP_MIN`) and every gap a word gap
    (the narrowest against a letter gap of :data:`LETTER_GAP`)."""
    s = np.unique(np.asarray(gaps, np.float64))
    if s.size == 0:
        return np.inf
    pairs = list(zip(s[:-1].tolist(), s[1:].tolist()))
    pairs.append((float(s[-1]), max(float(s[-1]), WORD_GAP_MIN)))  # no cut: one word
    if s[0] > LETTER_GAP:
        pairs.append((LETTER_GAP, float(s[0])))  # every gap a space between words

    def score(pair: tuple[float, float]) -> float:
        a, b = pair
        at = np.sqrt((a + 0.05) * (b + 0.05))
        far = max(0.0, abs(np.log(at / typical)) - np.log(GAP_TOLERANCE))
        return float(np.log((b + GAP_SMOOTH) / (a + GAP_SMOOTH)) - GAP_PENALTY * far)

    a, b = max(pairs, key=score)
    return (a + b) / 2 if b > a else a


def find_words(line_grey: np.ndarray, line_box: Box | None = None) -> list[Word]:
    """The words of a line image with the default :class:`WordSegmenter`."""
    return WordSegmenter().find_words(line_grey, line_box)
