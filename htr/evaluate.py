"""Scoring a recognizer on labelled samples (CER, WER and speed) and on whole pages (line
detection, page CER and time per page)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm import tqdm

from .image import load_image, preprocess
from .metrics import Detection, cer, detection, wer
from .readers.base import Sample
from .readers.pagexml import PageSample


class _TextScores:
    """CER and WER of ``references`` against ``hypotheses`` (the fields of the classes below)."""

    references: list[str]
    hypotheses: list[str]

    @property
    def n(self) -> int:
        return len(self.references)

    @property
    def cer(self) -> float:
        return cer(self.references, self.hypotheses)

    @property
    def wer(self) -> float:
        return wer(self.references, self.hypotheses)


@dataclass(frozen=True)
class Evaluation(_TextScores):
    """What a recognizer made of a set of samples."""

    references: list[str]
    hypotheses: list[str]
    seconds: float

    @property
    def items_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0


def evaluate(recognizer, samples: Sequence[Sample], batch_size: int = 32, chunk: int = 256,
             progress: bool = True, desc: str = "evaluate") -> Evaluation:
    """Read every sample's canonical image and compare with its text.

    Images are loaded and preprocessed on two threads while the network runs; the time counts
    loading, preprocessing, the network and decoding, as a user would see it.
    """
    hypotheses: list[str] = []
    start = time.perf_counter()
    height = recognizer.height
    with ThreadPoolExecutor(2) as pool, tqdm(total=len(samples), desc=desc, disable=not progress,
                                             leave=False, unit="img") as bar:
        for i in range(0, len(samples), chunk):
            inputs = list(pool.map(lambda s: preprocess(s.image(None), height), samples[i:i + chunk]))
            for probs in recognizer.probabilities(inputs, batch_size):
                hypotheses.append(recognizer.decode(probs).text)
            bar.update(len(inputs))
    return Evaluation([s.text for s in samples], hypotheses, time.perf_counter() - start)


@dataclass(frozen=True)
class PageEvaluation(_TextScores):
    """What a recognizer made of whole pages: line detection against the true line boxes (as
    drawn, and as the reader cuts them: :meth:`PageSample.line_boxes`), page text against the
    true lines joined in reading order, and time."""

    detection: Detection
    detection_drawn: Detection
    references: list[str]
    hypotheses: list[str]
    seconds: list[float]
    segment_seconds: list[float]

    @property
    def seconds_per_page(self) -> float:
        return sum(self.seconds) / max(1, len(self.seconds))

    @property
    def segment_seconds_per_page(self) -> float:
        return sum(self.segment_seconds) / max(1, len(self.segment_seconds))


def evaluate_pages(recognizer, pages: Sequence[PageSample], progress: bool = True,
                   desc: str = "pages", recognise: str = "lines") -> PageEvaluation:
    """Read every page whole (level ``page``; ``recognise``: whole lines or word crops, see
    :class:`htr.page.PageReader`) and score it.

    A page's time counts loading, segmentation, the network and decoding; segmentation is also
    timed on its own (a second pass over the loaded page).
    """
    from .page import PageReader
    from .segment import LineSegmenter

    reader = PageReader(recognizer, recognise=recognise)
    segmenter = LineSegmenter()
    found, found_drawn = Detection(0, 0, 0), Detection(0, 0, 0)
    hypotheses, seconds, segment_seconds = [], [], []
    for page in tqdm(pages, desc=desc, disable=not progress, leave=False, unit="page"):
        start = time.perf_counter()
        grey = load_image(page.image)
        result = reader.read(grey, "page")
        seconds.append(time.perf_counter() - start)
        hypotheses.append(result.text)
        start = time.perf_counter()
        segmenter.find_lines(grey)
        segment_seconds.append(time.perf_counter() - start)
        boxes = [line.box for line in result.lines]
        found += detection(boxes, page.line_boxes())
        found_drawn += detection(boxes, [line.box for line in page.lines])
    return PageEvaluation(found, found_drawn, [p.text for p in pages], hypotheses, seconds,
                          segment_seconds)
