"""Reading word and line images with a trained model: load once, then read in batches."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .decode import DECODERS, DEFAULT_DECODER, LEXICON_DECODERS, Calibration, greedy_decode, softmax
from .errors import ModelError
from .image import PREPROCESS_THREADS, ImageSource, load_image, pad_batch, preprocess
from .model import WIDTH_REDUCTION, ModelConfig, load_model_dir
from .results import Page, Recognition
from .text import Charset

#: The model that ships with the project, used when no other is named.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"
#: The lexicon a model folder ships for the ``wordbeam`` decoder.
LEXICON_FILE = "lexicon.npz"


class Recognizer:
    """A loaded model with its charset: turns word or line images into text.

    >>> recognizer = Recognizer.load()                      # doctest: +SKIP
    >>> [r.text for r in recognizer.read(["line.png"])]     # doctest: +SKIP
    """

    def __init__(self, model, charset: Charset, config: ModelConfig, lexicon=None,
                 beam_width: int = 25, decoder: str | None = None, calibration=None) -> None:
        self.model = model
        self.charset = charset
        self.config = config
        self.lexicon = lexicon  # None: greedy decoding
        self.beam_width = beam_width
        #: The decoder's name: ``greedy``, ``beam`` or ``wordbeam``.
        self.decoder = decoder or ("greedy" if lexicon is None else "wordbeam")
        self.calibration = calibration  # None: the decoder's confidences as they come
        self.directory: Path | None = None  # the model folder, when loaded from one
        self._beam = None  # the beam decoder (its prefix tree), built once
        if self.decoder == "beam" and lexicon is not None:
            from .beam import BeamDecoder

            self._beam = BeamDecoder(charset, lexicon, beam_width)
        self._page_reader = None  # made on first use: segmenters are cheap, but made once

    @classmethod
    def load(cls, path: str | Path | None = None, decoder: str | None = None,
             lexicon: str | Path | None = None, beam_width: int = 25) -> "Recognizer":
        """Load a model folder (the shipped default model when ``path`` is None) and its decoder.

        Decoders (:data:`htr.decode.DECODERS`): ``greedy`` (best path), ``beam`` (CTC prefix beam
        search with a word language model) and ``wordbeam`` (word beam search); None means
        :data:`htr.decode.DEFAULT_DECODER`. The lexicon decoders read the folder's ``lexicon.npz``
        (for the default decoder, the shipped model's when the folder has none), or ``lexicon``:
        another built lexicon (``.npz``) or a plain word list, one word a line (names, a domain's
        vocabulary). Word and line confidences go through the folder's ``calibration.json`` when
        it has a table for the decoder fitted on these weights.
        """
        directory = Path(path or DEFAULT_MODEL)
        model, charset, config = load_model_dir(directory)
        recognizer = cls(model, charset, config, beam_width=beam_width)
        recognizer.directory = directory
        return recognizer.with_decoder(decoder, lexicon)

    def with_decoder(self, decoder: str | None = None, lexicon: str | Path | None = None,
                     beam_width: int | None = None) -> "Recognizer":
        """This recognizer's model (shared, not loaded again) with another decoder: see
        :meth:`load` for ``decoder`` and ``lexicon``. A web app keeps one per decoder."""
        explicit = decoder is not None
        decoder = decoder or DEFAULT_DECODER
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
        directory = self.directory or DEFAULT_MODEL
        beam_width = beam_width or self.beam_width
        words = None
        if decoder in LEXICON_DECODERS:
            source = Path(lexicon) if lexicon else directory / LEXICON_FILE
            if not explicit and not lexicon and not source.is_file():  # English suits any model
                source = DEFAULT_MODEL / LEXICON_FILE
            if not source.is_file():
                raise ModelError(f"{source}: no lexicon for the {decoder} decoder (build one with "
                                 f"python -m htr.lexicon build --out {directory / LEXICON_FILE})")
            words = _load_lexicon(source.resolve(), source.stat().st_mtime_ns)
            words.trie  # built now, not on the first line read
        other = type(self)(self.model, self.charset, self.config, words, beam_width, decoder,
                           Calibration.load(directory, decoder) if self.directory else None)
        other.directory = self.directory
        return other

    def decode(self, probs: np.ndarray) -> Recognition:
        """Text of one ``(frames, classes)`` probability matrix with this recognizer's decoder,
        its confidences calibrated where the model folder has a calibration for it."""
        if self.decoder == "greedy" or self.lexicon is None:
            rec = greedy_decode(probs, self.charset)
        elif self.decoder == "beam":
            rec = self._beam.decode(probs)
        else:
            from .wordbeam import word_beam_search

            rec = word_beam_search(probs, self.charset, self.lexicon, beam_width=self.beam_width)
        return self.calibration.apply(rec) if self.calibration is not None else rec

    @property
    def height(self) -> int:
        return self.config.height

    @property
    def frame_width(self) -> int:
        """Input columns per output frame (character positions map back to the image by it)."""
        return WIDTH_REDUCTION

    def read(self, images: Sequence[ImageSource], batch_size: int = 32) -> list[Recognition]:
        """Read word or line images (paths, bytes, arrays or PIL images), in the given order.

        Raises :class:`htr.errors.ImageError` for the first image that cannot be loaded; use
        :func:`load_image` yourself first to read the good ones of a mixed set.
        """
        with ThreadPoolExecutor(PREPROCESS_THREADS) as pool:
            inputs = list(pool.map(lambda im: preprocess(load_image(im), self.height), images))
        return [self.decode(p) for p in self.probabilities(inputs, batch_size)]

    def read_page(self, image: ImageSource, level: str = "auto", layout=None) -> Page:
        """Read a page, line or word image into a :class:`Page` (lines, words, boxes, text,
        confidences, in the image's pixels). ``level``: one of :data:`htr.page.LEVELS`;
        ``auto`` decides from the image. ``layout``: read along the lines of a PAGE-XML or ALTO
        file instead (:func:`htr.readers.pagexml.read_layout`). See :class:`htr.page.PageReader`."""
        if self._page_reader is None:
            from .page import PageReader

            self._page_reader = PageReader(self)
        return self._page_reader.read(image, level, layout)

    def probabilities(self, inputs: Sequence[np.ndarray], batch_size: int = 32) -> list[np.ndarray]:
        """Per-frame class probabilities ``(frames, classes)`` of preprocessed images.

        Images are batched with neighbours of similar width, so little is spent on padding.
        """
        order = sorted(range(len(inputs)), key=lambda i: inputs[i].shape[1])
        out: list[np.ndarray | None] = [None] * len(inputs)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            logits = np.asarray(self.model.predict_on_batch(pad_batch([inputs[i] for i in chunk])))
            for row, i in enumerate(chunk):
                frames = -(-inputs[i].shape[1] // WIDTH_REDUCTION)
                out[i] = softmax(logits[row, :frames])
        return out  # type: ignore[return-value]


@functools.lru_cache(maxsize=4)
def _load_lexicon(source: Path, mtime_ns: int):
    """A lexicon file, loaded once per process however many decoders use it (read-only;
    ``mtime_ns`` makes a rewritten file load afresh)."""
    from .lexicon import Lexicon

    return Lexicon.load(source) if source.suffix == ".npz" else Lexicon.from_words(source)
