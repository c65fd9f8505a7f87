"""Accuracy measures: character and word error rates over a corpus (edit distance by rapidfuzz),
a page's lines put in a reference's reading order, and one-to-one matching of found boxes
(lines, words) with true ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist


def char_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(reference, hypothesis)


def word_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(reference.split(), hypothesis.split())


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Character error rate: total edits over total reference characters."""
    _check(references, hypotheses)
    total = sum(len(r) for r in references)
    return sum(map(char_errors, references, hypotheses)) / max(total, 1)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word error rate on white-space separated words (punctuation stays attached to its word)."""
    _check(references, hypotheses)
    total = sum(len(r.split()) for r in references)
    return sum(map(word_errors, references, hypotheses)) / max(total, 1)


#: The most a hypothesis line may differ from a reference line (edits over the longer line's
#: length) to be taken for that line's reading by :func:`in_reference_order`. A line cut in two
#: halves is about 0.5 from the whole, so its better half still finds its line.
SAME_LINE_DISTANCE = 0.6


def in_reference_order(reference: str, hypothesis: str,
                       max_distance: float = SAME_LINE_DISTANCE) -> str:
    """``hypothesis``'s lines (one per row) in the order of the ``reference`` lines they read.

    A page's CER counts a line read in another place than the reference's reading order as if
    it were misread, at the length of the lines it passed; where the reference's order is itself
    wrong (the Hooker letters' PAGE XML has lines out of order), that measures the annotation, not
    the reading. Each hypothesis line is paired with the reference line it is closest to (pairs
    taken closest first, one to one, none further apart than ``max_distance``); the paired lines
    are sorted by their reference line, and each unpaired one keeps its place after the line it
    followed. Only the order changes: every line and every character of ``hypothesis`` stays, so
    the CER against ``reference`` can only count misreadings, missed and extra lines."""
    if not reference or not hypothesis:
        return hypothesis
    refs, hyps = reference.split("\n"), hypothesis.split("\n")
    distance = cdist(refs, hyps, scorer=Levenshtein.normalized_distance, dtype=np.float32)
    paired: dict[int, int] = {}  # hypothesis line -> reference line
    used: set[int] = set()
    for k in np.argsort(distance, axis=None, kind="stable"):
        i, j = divmod(int(k), len(hyps))
        if distance[i, j] > max_distance:
            break
        if i not in used and j not in paired:
            paired[j] = i
            used.add(i)
    keys, last = [], -1  # lines before any paired one stay first
    for j in range(len(hyps)):
        last = paired.get(j, last)
        keys.append((last, j))
    return "\n".join(hyps[j] for _, j in sorted(keys))


def _check(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` (n, 4) with every box in ``b`` (m, 4):
    boxes are ``x0, y0, x1, y1`` with x1/y1 exclusive."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1)


def match_boxes(found, truth, threshold: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one pairs ``(found index, true index)`` with IoU >= ``threshold`` that maximise
    the total IoU (Hungarian assignment; greedy by IoU where SciPy is missing)."""
    iou = box_iou(found, truth)
    if iou.size == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        linear_sum_assignment = None
    if linear_sum_assignment is not None:
        rows, cols = linear_sum_assignment(-np.where(iou >= threshold, iou, 0))
        return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= threshold]
    pairs, used_f, used_t = [], set(), set()
    for k in np.argsort(-iou, axis=None):
        r, c = divmod(int(k), iou.shape[1])
        if iou[r, c] < threshold:
            break
        if r not in used_f and c not in used_t:
            pairs.append((r, c))
            used_f.add(r)
            used_t.add(c)
    return pairs


@dataclass(frozen=True)
class Detection:
    """Counts of a box detection: found, true and matched boxes."""

    found: int
    truth: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: "Detection") -> "Detection":
        return Detection(self.found + other.found, self.truth + other.truth,
                         self.matched + other.matched)


def detection(found, truth, threshold: float = 0.5) -> Detection:
    """How many of ``found`` boxes match ``truth`` boxes one to one at IoU >= ``threshold``."""
    n_found, n_truth = len(np.asarray(found).reshape(-1, 4)), len(np.asarray(truth).reshape(-1, 4))
    return Detection(n_found, n_truth, len(match_boxes(found, truth, threshold)))
