"""Reading word and line images with a trained model: load once, then read in batches."""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .charlm import DEFAULT_ORDER
from .decode import (DECODERS, DEFAULT_DECODER, LEXICON_DECODERS, Calibration, greedy_decode,
                     one_word, reads_as_word)
from .errors import ImageError, ModelError
from .image import PREPROCESS_THREADS, ImageSource, load_image, preprocess
from .lexicon import LANGUAGE_CHOICES, LANGUAGE_NAMES, best_language
from .lexicon_cache import prepare
from .model import WIDTH_REDUCTION, ModelConfig, load_model_dir
from .results import Page, Recognition
from .runtimes import BACKENDS, batched_probabilities, default_backend
from .text import Charset
from .wordbeam import SPELLING_WEIGHT

#: The model that ships with the project, used when no other is named.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"
#: The lexicon a model folder ships for each language of the lexicon decoders (English's keeps
#: the name it had when it was the only one).
LEXICON_FILES = {"en": "lexicon.npz", "fr": "lexicon-fr.npz"}
LEXICON_FILE = LEXICON_FILES["en"]
DEFAULT_LANGUAGE = "auto"


class Recognizer:
    """A loaded model with its charset: turns word or line images into text.

    >>> recognizer = Recognizer.load()                      # doctest: +SKIP
    >>> [r.text for r in recognizer.read(["line.png"])]     # doctest: +SKIP
    """

    def __init__(self, model, charset: Charset, config: ModelConfig, lexicon=None,
                 beam_width: int | None = None, decoder: str | None = None, calibration=None,
                 language: str | None = None) -> None:
        self.model = model
        self.charset = charset
        self.config = config
        self.lexicon = lexicon  # None: greedy decoding
        #: The lexicon's language (``en``, ``fr``), ``auto`` (one recognizer per language in
        #: :attr:`by_language`, chosen per reading), or None (greedy, or a lexicon of one's own).
        self.language = language
        self.by_language: dict[str, Recognizer] = {}
        #: Beams of the lexicon decoders (None: each decoder's own default,
        #: :data:`htr.wordbeam.BEAM_WIDTH` and :class:`htr.beam.BeamDecoder`'s).
        self.beam_width = beam_width
        #: The decoder's name: ``greedy``, ``beam`` or ``wordbeam``.
        self.decoder = decoder or ("greedy" if lexicon is None else "wordbeam")
        self.calibration = calibration  # None: the decoder's confidences as they come
        self.directory: Path | None = None  # the model folder, when loaded from one
        #: What runs the network (:data:`htr.runtimes.BACKENDS`): ``model`` is the Keras model,
        #: or an :class:`htr.runtimes.OnnxNetwork` answering like it.
        self.backend = BACKENDS[0]
        self._beam = None  # the beam decoder (its prefix tree), built once
        if self.decoder == "beam" and lexicon is not None:
            from .beam import BeamDecoder

            self._beam = BeamDecoder(charset, lexicon, **self._beams())
        self._page_reader = None  # made on first use: segmenters are cheap, but made once
        #: The rows each line is read shifted by, its readings averaged (the model folder's
        #: :attr:`htr.model.ModelConfig.read_shifts`; ``()`` reads each line once, faster).
        self.read_shifts: tuple[int, ...] = tuple(config.read_shifts)
        #: The blank's and the space's logit shift word beam search reads with (the model folder's
        #: :attr:`htr.model.ModelConfig.wordbeam_gap_offset`).
        self.wordbeam_gap_offset: float = config.wordbeam_gap_offset
        #: The same shift for images read as one word (:meth:`reading_words`; None: the lines').
        self.wordbeam_word_gap_offset: float | None = config.wordbeam_word_gap_offset

    @classmethod
    def load(cls, path: str | Path | None = None, decoder: str | None = None,
             lexicon: str | Path | None = None, beam_width: int | None = None,
             language: str | None = None, backend: str | None = None,
             read_shifts: Sequence[int] | None = None,
             wordbeam_gap_offset: float | None = None,
             wordbeam_word_gap_offset: float | None = None) -> "Recognizer":
        """Load a model folder (the shipped default model when ``path`` is None) and its decoder.

        Decoders (:data:`htr.decode.DECODERS`): ``greedy`` (best path), ``beam`` (CTC prefix beam
        search with a word language model) and ``wordbeam`` (word beam search); None means
        :data:`htr.decode.DEFAULT_DECODER`. The lexicon decoders read the folder's ``lexicon.npz``
        (for the default decoder, the shipped model's when the folder has none), or ``lexicon``:
        another built lexicon (``.npz``) or a plain word list, one word a line (names, a domain's
        vocabulary). Word and line confidences go through the folder's ``calibration.json`` when
        it has a table for the decoder fitted on these weights. ``language`` (:data:`htr.lexicon.LANGUAGE_CHOICES`,
        None for :data:`DEFAULT_LANGUAGE`) picks the lexicon of that language
        (:data:`LEXICON_FILES`), or with ``auto`` lets each reading pick among those the folder has.
        ``backend`` (:data:`htr.runtimes.BACKENDS`; None: :func:`htr.runtimes.default_backend`,
        which is ``onnx`` for a folder that ships its own ONNX file, as the default model does)
        runs the network in TensorFlow (the Keras model) or in ONNX Runtime (the folder's
        ``model.onnx`` when it was exported from these weights, else one exported once into a
        cache: :func:`htr.runtimes.onnx_file_for`); both read the same text. ``read_shifts``
        replaces the folder's :attr:`htr.model.ModelConfig.read_shifts` (``()``: read each line
        once), ``wordbeam_gap_offset`` and ``wordbeam_word_gap_offset`` its
        :attr:`htr.model.ModelConfig.wordbeam_gap_offset` and ``wordbeam_word_gap_offset``.
        """
        directory = Path(path or DEFAULT_MODEL)
        backend = backend or default_backend(directory)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        if backend == "onnx":
            from .runtimes import load_onnx_dir

            model, charset, config = load_onnx_dir(directory)
        else:
            model, charset, config = load_model_dir(directory)
        recognizer = cls(model, charset, config, beam_width=beam_width)
        recognizer.directory, recognizer.backend = directory, backend
        if read_shifts is not None:
            recognizer.read_shifts = tuple(read_shifts)
        if wordbeam_gap_offset is not None:
            recognizer.wordbeam_gap_offset = float(wordbeam_gap_offset)
        if wordbeam_word_gap_offset is not None:
            recognizer.wordbeam_word_gap_offset = float(wordbeam_word_gap_offset)
        return recognizer.with_decoder(decoder, lexicon, language=language)

    def with_decoder(self, decoder: str | None = None, lexicon: str | Path | None = None,
                     beam_width: int | None = None, language: str | None = None) -> "Recognizer":
        """This recognizer's model (shared, not loaded again) with another decoder: see
        :meth:`load` for ``decoder``, ``lexicon`` and ``language``. A web app keeps one per
        decoder and language."""
        explicit = decoder is not None
        decoder = decoder or DEFAULT_DECODER
        if decoder not in DECODERS:
            raise ValueError(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
        language = language or DEFAULT_LANGUAGE
        if language not in LANGUAGE_CHOICES:
            raise ValueError(f"unknown language {language!r}: choose one of {', '.join(LANGUAGE_CHOICES)}")
        directory = self.directory or DEFAULT_MODEL
        beam_width = beam_width or self.beam_width
        calibration = Calibration.load(directory, decoder) if self.directory else None
        if decoder not in LEXICON_DECODERS or lexicon:
            words = None
            if decoder in LEXICON_DECODERS:
                source = Path(lexicon)
                if not source.is_file():
                    raise ModelError(f"{source}: no such lexicon file")
                words = self._prepared_lexicon(source, decoder)
            return self._sharing(words, beam_width, decoder, calibration, None)
        available = [lang for lang in LEXICON_FILES if self._lexicon_file(lang, explicit) is not None]
        if language == "auto" and len(available) > 1:
            auto = self._sharing(None, beam_width, decoder, calibration, "auto")
            auto.by_language = {lang: self._with_lexicon(decoder, beam_width, calibration, lang, explicit)
                                for lang in available}
            return auto
        if language == "auto":  # one lexicon or none: nothing to choose from
            language = available[0] if available else "en"
        return self._with_lexicon(decoder, beam_width, calibration, language, explicit)

    def _with_lexicon(self, decoder: str, beam_width: int | None, calibration, language: str,
                      explicit: bool) -> "Recognizer":
        source = self._lexicon_file(language, explicit)
        if source is None:
            target = (self.directory or DEFAULT_MODEL) / LEXICON_FILES[language]
            name = LANGUAGE_NAMES.get(language, language)
            raise ModelError(f"{target}: no lexicon for the {decoder} decoder in {name} (build one "
                             f"with python -m htr.lexicon build --language {language} --out {target})")
        return self._sharing(self._prepared_lexicon(source, decoder), beam_width, decoder,
                             calibration, language)

    @staticmethod
    def _prepared_lexicon(source: Path, decoder: str):
        """The lexicon file ``source``, loaded once per process, with what ``decoder`` needs of
        it made now, not on the first line read: its prefix tree and, for word beam search, its
        spelling model (0.5 s for the English lexicon; read from a disk cache after the first
        run, :mod:`htr.lexicon_cache`)."""
        source = source.resolve()
        words = _load_lexicon(source, source.stat().st_mtime_ns)
        prepare(words, source, DEFAULT_ORDER if decoder == "wordbeam" and SPELLING_WEIGHT else None)
        return words

    def _lexicon_file(self, language: str, explicit: bool) -> Path | None:
        """The folder's lexicon of ``language``; for English, the shipped model's when the folder
        has none and no decoder was named (English words suit any model's charset)."""
        source = (self.directory or DEFAULT_MODEL) / LEXICON_FILES[language]
        if not source.is_file() and language == "en" and not explicit:
            source = DEFAULT_MODEL / LEXICON_FILE
        return source if source.is_file() else None

    def _sharing(self, words, beam_width: int | None, decoder: str, calibration,
                 language: str | None) -> "Recognizer":
        other = type(self)(self.model, self.charset, self.config, words, beam_width, decoder,
                           calibration, language)
        other.directory, other.backend = self.directory, self.backend
        other.read_shifts = self.read_shifts
        other.wordbeam_gap_offset = self.wordbeam_gap_offset
        other.wordbeam_word_gap_offset = self.wordbeam_word_gap_offset
        return other

    def reading_words(self) -> "Recognizer":
        """This recognizer as it reads images of one word (given as words, or crops ``auto``
        finds no wider than one): word beam search with the words' shift of the blank's and the
        space's logits (:attr:`wordbeam_word_gap_offset`), sharing the model and lexicons; itself
        where the shift is the lines'."""
        offset = self.wordbeam_word_gap_offset
        if offset is None or offset == self.wordbeam_gap_offset:
            return self
        words = copy.copy(self)  # cheap: the model, lexicons and decoders are shared
        words.wordbeam_gap_offset = offset
        words.by_language = {lang: r.reading_words() for lang, r in self.by_language.items()}
        words._page_reader = None
        return words

    def in_language(self, language: str | None) -> "Recognizer":
        """This recognizer reading in ``language`` (``en``, ``fr``; ``auto`` or None: as it is),
        sharing its model and lexicons: what a server does with a request's ``language=``.
        Raises :class:`ValueError` for a language this recognizer has no lexicon for."""
        if language in (None, "auto") or language == self.language or self.lexicon is None and not self.by_language:
            return self  # greedy (and a word list of one's own) reads without a language
        if language in self.by_language:
            return self.by_language[language]
        have = ", ".join(["auto", *self.by_language] if self.by_language else [self.language or "none"])
        raise ValueError(f"no {language!r} lexicon loaded for the {self.decoder} decoder: choose one of {have}")

    def choose_language(self, probs: Sequence[np.ndarray]) -> str | None:
        """The language whose lexicon fits the greedy reading of ``probs`` (one text's lines)
        best (:func:`htr.lexicon.best_language`); this recognizer's own language unless it is
        ``auto``."""
        if not self.by_language:
            return self.language
        return self._fitting_language([greedy_decode(p, self.charset) for p in probs])

    def _fitting_language(self, greedy: Sequence[Recognition]) -> str:
        return best_language((g.text for g in greedy),
                             {lang: r.lexicon for lang, r in self.by_language.items()})

    def decode_text(self, probs: Sequence[np.ndarray], as_word: bool = False
                    ) -> tuple[list[Recognition], str | None]:
        """Decode the lines of one text (a page's, or one crop) with one language: an ``auto``
        recognizer picks it first (:meth:`choose_language`); ``as_word``: an image of one word
        (:meth:`reading_words`). Returns the readings and the language read in (None without a
        lexicon)."""
        return self.decode_texts([probs], [as_word])[0]

    def decode_texts(self, texts: Sequence[Sequence[np.ndarray]],
                     as_words: Sequence[bool] | None = None
                     ) -> list[tuple[list[Recognition], str | None]]:
        """:meth:`decode_text` of several texts, each in the language it fits, the same as one
        by one; the lines of all the texts read in one language are decoded side by side
        (:meth:`decode_many`), so a folder of line images costs one word beam search.
        ``as_words``: for each text, whether it is an image of one word, decoded as
        :meth:`reading_words` decodes it (default: none is); an ``auto`` recognizer reads the
        word images of one call in the one language that fits them all."""
        sizes = [len(t) for t in texts]
        words = [False] * len(texts) if as_words is None else [bool(w) for w in as_words]
        # The best path of each line serves twice: to choose the language, and to weigh the
        # words' confidence (WordConfidence).
        greedy = [[greedy_decode(p, self.charset) for p in t] for t in texts] if self.by_language else None
        languages = ([self._fitting_language(g) for g in greedy] if greedy is not None
                     else [self.language] * len(texts))
        if greedy is not None and sum(words) > 1:
            # Images of one word read together share one language, chosen from them all: a word
            # alone says little of its own (Copiste's French words each choosing: 21.3% CER,
            # 15.2% read in French; real IAM words 14.4%, 13.8% in English).
            pooled = self._fitting_language([g for t, w in zip(greedy, words) if w for g in t])
            languages = [pooled if w else language for language, w in zip(languages, words)]
        keys = list(zip(languages, words))
        out: list[tuple[list[Recognition], str | None]] = [([], None)] * len(texts)
        for key in dict.fromkeys(keys):  # each language, lines and words apart
            language, word = key
            chosen = [i for i, k in enumerate(keys) if k == key]
            reader = self.by_language.get(language, self)
            reader = reader.reading_words() if word else reader
            recs = reader.decode_many([p for i in chosen for p in texts[i]], None if greedy is None
                                      else [g for i in chosen for g in greedy[i]])
            for i, part in zip(chosen, _split(recs, [sizes[i] for i in chosen])):
                out[i] = (part, language)
        return out

    def decode_many(self, probs: Sequence[np.ndarray],
                    greedy: Sequence[Recognition] | None = None) -> list[Recognition]:
        """:meth:`decode` of several matrices, in order, each the same as alone; word beam search
        decodes them side by side (:func:`htr.wordbeam.word_beam_search_many`), several times
        faster than one by one. ``greedy``: their best-path readings, when already made."""
        if self.by_language:
            return [self.decode(p) for p in probs]
        if self.decoder == "wordbeam" and self.lexicon is not None:
            from .wordbeam import word_beam_search_many

            recs = word_beam_search_many(probs, self.charset, self.lexicon, **self._wordbeam_options())
        else:
            recs = [self._decode_raw(p) for p in probs]
        return [self._calibrated(rec, p, g) for rec, p, g in
                zip(recs, probs, greedy if greedy is not None else [None] * len(recs))]

    def decode(self, probs: np.ndarray) -> Recognition:
        """Text of one ``(frames, classes)`` probability matrix with this recognizer's decoder,
        its confidences calibrated where the model folder has a calibration for it (``auto``:
        in the language this one reading fits best)."""
        if self.by_language:
            return self.decode_text([probs])[0][0]
        return self._calibrated(self._decode_raw(probs), probs)

    def _decode_raw(self, probs: np.ndarray) -> Recognition:
        """This recognizer's decoder on one matrix, its confidences as the decoder gives them."""
        if self.decoder == "greedy" or self.lexicon is None:
            return greedy_decode(probs, self.charset)
        if self.decoder == "beam":
            return self._beam.decode(probs)
        from .wordbeam import word_beam_search

        return word_beam_search(probs, self.charset, self.lexicon, **self._wordbeam_options())

    def _beams(self) -> dict:
        """The beam width given to a lexicon decoder: none where it is to take its own."""
        return {} if self.beam_width is None else {"beam_width": self.beam_width}

    def _wordbeam_options(self) -> dict:
        """Word beam search's keywords: the beam width, and the blank's and the space's shift
        the model folder measured for it (:attr:`htr.model.ModelConfig.wordbeam_gap_offset`)."""
        return {**self._beams(), "gap_offset": self.wordbeam_gap_offset}

    def _calibrated(self, rec: Recognition, probs: np.ndarray,
                    greedy: Recognition | None = None) -> Recognition:
        if self.calibration is None:
            return rec
        # The word model weighs what the network alone read in the same frames (best path).
        if self.decoder == "greedy" or self.lexicon is None:
            greedy = rec
        elif greedy is None:
            greedy = greedy_decode(probs, self.charset)
        return self.calibration.apply(rec, greedy, self.lexicon)

    @property
    def height(self) -> int:
        return self.config.height

    @property
    def frame_width(self) -> int:
        """Input columns per output frame (character positions map back to the image by it)."""
        return WIDTH_REDUCTION

    def read(self, images: Sequence[ImageSource], batch_size: int = 32,
             level: str = "line") -> list[Recognition]:
        """Read word or line images (paths, bytes, arrays or PIL images), in the given order.
        ``level="word"``: each image is one word, read with no space in it
        (:func:`htr.decode.one_word`), and with ``auto`` all in the language that fits them all
        (:meth:`decode_texts`).

        Raises :class:`htr.errors.ImageError` for the first image that cannot be loaded; use
        :func:`load_image` yourself first to read the good ones of a mixed set.
        """
        as_word = reads_as_word(level)
        with ThreadPoolExecutor(PREPROCESS_THREADS) as pool:
            inputs = list(pool.map(lambda im: preprocess(load_image(im), self.height), images))
        probs = self.probabilities(inputs, batch_size)
        return self.decode_words(probs) if as_word else self.decode_many(probs)

    def decode_words(self, probs: Sequence[np.ndarray]) -> list[Recognition]:
        """Images of one word each, from their probabilities (:meth:`probabilities`): each read
        with no space in it (:func:`htr.decode.one_word`) and the words' shift
        (:meth:`reading_words`), all in the one language that fits them all
        (:meth:`decode_texts`)."""
        return [recs[0] for recs, _ in self.decode_texts(
            [[one_word(p, self.charset)] for p in probs], [True] * len(probs))]

    def read_page(self, image: ImageSource, level: str = "auto", layout=None) -> Page:
        """Read a page, line or word image into a :class:`Page` (lines, words, boxes, text,
        confidences, in the image's pixels). ``level``: one of :data:`htr.page.LEVELS`;
        ``auto`` decides from the image. ``layout``: read along the lines of a PAGE-XML or ALTO
        file instead (:func:`htr.readers.pagexml.read_layout`). See :class:`htr.page.PageReader`."""
        if self._page_reader is None:
            from .page import PageReader

            self._page_reader = PageReader(self)
        return self._page_reader.read(image, level, layout)

    def read_pages(self, images: Iterable[ImageSource],
                   level: str = "auto") -> Iterator[Page | ImageError]:
        """:meth:`read_page` of many images, one result per image in order (a page, or the
        :class:`~htr.errors.ImageError` of one that cannot be loaded); line and word images go
        through the network together (:meth:`htr.page.PageReader.read_many`)."""
        if self._page_reader is None:
            from .page import PageReader

            self._page_reader = PageReader(self)
        return self._page_reader.read_many(images, level)

    def probabilities(self, inputs: Sequence[np.ndarray], batch_size: int = 32) -> list[np.ndarray]:
        """Per-frame class probabilities ``(frames, classes)`` of preprocessed images.

        Images are batched with neighbours of similar width, so little is spent on padding, and
        read with blank paper after them, as the network was trained
        (:func:`htr.runtimes.width_batches`, :data:`htr.runtimes.TRAILING_PAPER`), once per
        shift of :attr:`read_shifts`.
        """
        return batched_probabilities(self.model, inputs, batch_size, self.read_shifts)


@functools.lru_cache(maxsize=4)
def _load_lexicon(source: Path, mtime_ns: int):
    """A lexicon file, loaded once per process however many decoders use it (read-only;
    ``mtime_ns`` makes a rewritten file load afresh)."""
    from .lexicon import Lexicon

    return Lexicon.load(source) if source.suffix == ".npz" else Lexicon.from_words(source)


def _split(items: list, sizes: Sequence[int]) -> list[list]:
    """``items`` cut into consecutive parts of ``sizes``."""
    ends = np.cumsum([0, *sizes])
    return [items[a:b] for a, b in zip(ends[:-1], ends[1:])]
