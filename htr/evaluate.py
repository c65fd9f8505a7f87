"""Scoring a recognizer on labelled samples: CER, WER and speed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tqdm import tqdm

from .image import preprocess
from .metrics import cer, wer
from .readers.base import Sample


@dataclass(frozen=True)
class Evaluation:
    """What a recognizer made of a set of samples."""

    references: list[str]
    hypotheses: list[str]
    seconds: float

    @property
    def n(self) -> int:
        return len(self.references)

    @property
    def cer(self) -> float:
        return cer(self.references, self.hypotheses)

    @property
    def wer(self) -> float:
        return wer(self.references, self.hypotheses)

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
