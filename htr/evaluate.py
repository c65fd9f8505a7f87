"""Scoring a recognizer on labelled samples (CER, WER and speed) and on whole pages (line
detection, page CER and time per page), and measuring a blank-logit shift on samples."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .decode import greedy_decode, one_word, reads_as_word, with_logit_offset
from .image import PREPROCESS_THREADS, load_image, preprocess
from .metrics import Detection, cer, detection, in_reference_order, wer
from .page import CROPS_TOGETHER
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
    """What a recognizer made of a set of samples; with level ``auto``, ``kinds`` counts what
    each image was taken for (``{"line": 300, "word": 8, "page": 3}``)."""

    references: list[str]
    hypotheses: list[str]
    seconds: float
    kinds: Mapping[str, int] | None = None

    @property
    def items_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0


def evaluate(recognizer, samples: Sequence[Sample], batch_size: int = 32, chunk: int = 256,
             progress: bool = True, desc: str = "evaluate", level: str = "line") -> Evaluation:
    """Read every sample's canonical image and compare with its text.

    Images are loaded and preprocessed on two threads while the network runs; the time counts
    loading, preprocessing, the network and decoding, as a user would see it. ``level``:
    ``line``, or ``word`` to read each image as one word (:func:`htr.decode.one_word`, as the
    page reader reads an image given as a word), or ``auto`` to let each image's kind be decided
    from it, as ``python -m htr read`` does by default (:func:`htr.input_kind.classify_input`; an
    image taken for a page is read as one, its lines joined by spaces).
    """
    if level == "auto":
        return _evaluate_auto(recognizer, samples, progress, desc)
    as_word = reads_as_word(level)
    hypotheses: list[str] = []
    start = time.perf_counter()
    words: list[np.ndarray] = []  # word images decoded together, as the page reader does
    for probs in _probabilities(recognizer, samples, batch_size, chunk, progress, desc):
        if not as_word:
            hypotheses.append(recognizer.decode(probs).text)
            continue
        words.append(probs)
        if len(words) == CROPS_TOGETHER:
            hypotheses += [r.text for r in recognizer.decode_words(words)]
            words.clear()
    hypotheses += [r.text for r in recognizer.decode_words(words)]
    return Evaluation([s.text for s in samples], hypotheses, time.perf_counter() - start)


def _evaluate_auto(recognizer, samples: Sequence[Sample], progress: bool, desc: str) -> Evaluation:
    """:func:`evaluate` at level ``auto``: through the page reader, as ``read`` reads files."""
    hypotheses: list[str] = []
    kinds: Counter[str] = Counter()
    start = time.perf_counter()
    pages = recognizer.read_pages((s.image(None) for s in samples), "auto")
    for page in tqdm(pages, total=len(samples), desc=desc, disable=not progress, leave=False, unit="img"):
        if isinstance(page, Exception):  # a sample that cannot be read: the set is broken
            raise page
        kinds[page.level] += 1
        hypotheses.append(" ".join(line.text for line in page.lines))
    return Evaluation([s.text for s in samples], hypotheses, time.perf_counter() - start, dict(kinds))


def blank_offset_sweep(recognizer, sets: Mapping[str, Sequence[Sample]], offsets: Sequence[float],
                       progress: bool = True, level: str = "line") -> dict[float, dict[str, float]]:
    """CER of each named set of samples with the blank's logit shifted by each of ``offsets``
    from the weights', read by ``recognizer``'s decoder: ``{offset: {set: cer}}``. Greedy
    reads the weights as :func:`htr.model.shift_blank_logit` would shift them; word beam search
    reads with each offset as its :attr:`~htr.Recognizer.wordbeam_gap_offset`, the space's
    logit shifted with the blank's (each crop in the language it fits, as ``evaluate`` reads).
    ``level="word"``: each image read as one word (:func:`htr.decode.one_word`), what the
    words' shift (:attr:`~htr.Recognizer.wordbeam_word_gap_offset`) is measured on.

    The network runs once per set; only the decoding is repeated."""
    if recognizer.decoder not in ("greedy", "wordbeam"):
        raise ValueError(f"the blank's offset is measured for greedy or wordbeam, not {recognizer.decoder}")
    table: dict[float, dict[str, float]] = {offset: {} for offset in offsets}
    decoders = [recognizer, *recognizer.by_language.values()]
    kept = recognizer.wordbeam_gap_offset
    for name, samples in sets.items():
        probs = list(_probabilities(recognizer, samples, progress=progress, desc=name))
        if reads_as_word(level):
            probs = [one_word(p, recognizer.charset) for p in probs]
        references = [s.text for s in samples]
        for offset in offsets:
            if recognizer.decoder == "greedy":
                hypotheses = [greedy_decode(with_logit_offset(p, offset), recognizer.charset).text
                              for p in probs]
            else:
                for r in decoders:
                    r.wordbeam_gap_offset = offset
                try:
                    hypotheses = [recs[0].text for recs, _ in recognizer.decode_texts([[p] for p in probs])]
                finally:
                    for r in decoders:
                        r.wordbeam_gap_offset = kept
            table[offset][name] = cer(references, hypotheses)
    return table


def _probabilities(recognizer, samples: Sequence[Sample], batch_size: int = 32, chunk: int = 256,
                   progress: bool = True, desc: str = "evaluate") -> Iterator[np.ndarray]:
    """The network's per-frame probabilities of every sample's canonical image, in order."""
    height = recognizer.height
    with ThreadPoolExecutor(PREPROCESS_THREADS) as pool, \
            tqdm(total=len(samples), desc=desc, disable=not progress, leave=False, unit="img") as bar:
        for i in range(0, len(samples), chunk):
            inputs = list(pool.map(lambda s: preprocess(s.image(None), height), samples[i:i + chunk]))
            yield from recognizer.probabilities(inputs, batch_size)
            bar.update(len(inputs))


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
    def cer_in_reference_order(self) -> float:
        """The page CER with each page's lines read in the reference's order
        (:func:`htr.metrics.in_reference_order`): what misreading, missing and extra lines cost,
        without the lines the reading order put elsewhere."""
        return cer(self.references, [in_reference_order(r, h)
                                     for r, h in zip(self.references, self.hypotheses)])

    @property
    def seconds_per_page(self) -> float:
        return sum(self.seconds) / max(1, len(self.seconds))

    @property
    def segment_seconds_per_page(self) -> float:
        return sum(self.segment_seconds) / max(1, len(self.segment_seconds))


def evaluate_pages(recognizer, pages: Sequence[PageSample], progress: bool = True,
                   desc: str = "pages", recognise: str = "lines",
                   find_sheets: bool = True) -> PageEvaluation:
    """Read every page whole (level ``page``; ``recognise``: whole lines or word crops, see
    :class:`htr.page.PageReader`) and score it. ``find_sheets=False`` reads photos without
    looking for their sheet first (as before :mod:`htr.sheet`), for comparison.

    A page's time counts loading, segmentation, the network and decoding; segmentation (with
    finding and flattening a photo's sheet, :mod:`htr.sheet`) is also timed on its own (a
    second pass over the loaded page).
    """
    from .page import PageReader
    from .segment import LineSegmenter
    from .sheet import find_sheet

    reader = PageReader(recognizer, recognise=recognise, find_sheets=find_sheets)
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
        # As the reader does: a photo's sheet found and flattened first.
        sheet = find_sheet(grey) if find_sheets else None
        segmenter.find_lines(grey if sheet is None else sheet.flatten(grey))
        segment_seconds.append(time.perf_counter() - start)
        boxes = [line.box for line in result.lines]
        found += detection(boxes, page.line_boxes())
        found_drawn += detection(boxes, [line.box for line in page.lines])
    return PageEvaluation(found, found_drawn, [p.text for p in pages], hypotheses, seconds,
                          segment_seconds)
