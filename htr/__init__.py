"""htr: read handwriting from images, offline, with a CNN + BiLSTM + CTC network.

Pipeline stages, one module each: :mod:`htr.image` (load and preprocess), :mod:`htr.model` (the
network), :mod:`htr.decode`, :mod:`htr.wordbeam`, :mod:`htr.beam` and :mod:`htr.lexicon` (CTC
decoding), :mod:`htr.segment` (lines of a page; :mod:`htr.ink_mask`, its ink mask;
:mod:`htr.linemask`, the small network that tells it where lines run), :mod:`htr.words` (words
of a line), :mod:`htr.linecut` (one line cut out of an image), :mod:`htr.page` (a page read into
one result), :mod:`htr.results` (result types: Page -> Line -> Word), :mod:`htr.recognizer` (load a
model and read images, ``read_page``), :mod:`htr.readers` (data sets),
:mod:`htr.augment` and :mod:`htr.training` (training), :mod:`htr.metrics` and
:mod:`htr.evaluate` (scoring), :mod:`htr.text` (labels and charset).
"""

from __future__ import annotations

from .errors import DataError, HTRError, ImageError, ModelError
from .image import load_image, preprocess
from .results import Line, Page, Recognition, Word
from .text import Charset, normalize_text

__all__ = ["Charset", "DataError", "HTRError", "ImageError", "Line", "ModelError", "Page",
           "Recognition", "Recognizer", "Word", "load_image", "normalize_text", "preprocess"]


def __getattr__(name: str):
    # The recognizer pulls in TensorFlow: import it only when asked for.
    if name == "Recognizer":
        from .recognizer import Recognizer

        return Recognizer
    raise AttributeError(f"module 'htr' has no attribute {name!r}")
