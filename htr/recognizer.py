"""Reading word and line images with a trained model: load once, then read in batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .decode import DECODERS, DEFAULT_DECODER, LEXICON_DECODERS, Calibration, greedy_decode, softmax
from .errors import ModelError
from .image import ImageSource, load_image, pad_batch, preprocess
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
                 beam_width: int = 25) -> None:
        self.model = model
        self.charset = charset
        self.config = config
        self.lexicon = lexicon  # None: greedy decoding
        self.beam_width = beam_width
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
        vocabulary). Word and
        line confidences go through the folder's ``calibration.json`` when it has a table for the
        decoder fitted on these weights.
        """
        explicit = decoder is not None
        decoder = decoder or DEFAULT_DECODER
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
        directory = Path(path or DEFAULT_MODEL)
        model, charset, config = load_model_dir(directory)
        words = None
        if decoder in LEXICON_DECODERS:
            from .lexicon import Lexicon

            source = Path(lexicon) if lexicon else directory / LEXICON_FILE
            if not explicit and not lexicon and not source.is_file():  # English suits any model
                source = DEFAULT_MODEL / LEXICON_FILE
            if not source.is_file():
                raise ModelError(f"{source}: no lexicon for the {decoder} decoder (build one with "
                                 f"python -m htr.lexicon build --out {directory / LEXICON_FILE})")
            words = Lexicon.load(source) if source.suffix == ".npz" else Lexicon.from_words(source)
            words.trie  # built now, not on the first line read
        recognizer = cls(model, charset, config, words, beam_width)
        recognizer._decoder_name = decoder
        recognizer._calibration = Calibration.load(directory, decoder)
        if decoder == "beam":
            from .beam import BeamDecoder

            recognizer._beam = BeamDecoder(charset, words, beam_width)
        return recognizer

    @property
    def decoder(self) -> str:
        """The decoder's name: ``greedy``, ``beam`` or ``wordbeam``."""
        return getattr(self, "_decoder_name", None) or ("greedy" if self.lexicon is None else "wordbeam")

    def decode(self, probs: np.ndarray) -> Recognition:
        """Text of one ``(frames, classes)`` probability matrix with this recognizer's decoder,
        its confidences calibrated where the model folder has a calibration for it."""
        name = self.decoder
        if name == "greedy" or self.lexicon is None:
            rec = greedy_decode(probs, self.charset)
        elif name == "beam":
            beam = getattr(self, "_beam", None)
            if beam is None or beam.beam_width != self.beam_width:
                from .beam import BeamDecoder

                beam = self._beam = BeamDecoder(self.charset, self.lexicon, self.beam_width)
            rec = beam.decode(probs)
        else:
            from .wordbeam import word_beam_search

            rec = word_beam_search(probs, self.charset, self.lexicon, beam_width=self.beam_width)
        calibration = getattr(self, "_calibration", None)
        return calibration.apply(rec) if calibration is not None else rec

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
        inputs = [preprocess(load_image(im), self.height) for im in images]
        return [self.decode(p) for p in self.probabilities(inputs, batch_size)]

    def read_page(self, image: ImageSource, level: str = "auto") -> Page:
        """Read a page, line or word image into a :class:`Page` (lines, words, boxes, text,
        confidences, in the image's pixels). ``level``: one of :data:`htr.page.LEVELS`;
        ``auto`` decides from the image. See :class:`htr.page.PageReader`."""
        if self._page_reader is None:
            from .page import PageReader

            self._page_reader = PageReader(self)
        return self._page_reader.read(image, level)

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
