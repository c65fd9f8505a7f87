"""Reading word and line images with a trained model: load once, then read in batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .decode import greedy_decode, softmax
from .image import ImageSource, load_image, pad_batch, preprocess
from .model import WIDTH_REDUCTION, ModelConfig, load_model_dir
from .results import Recognition
from .text import Charset

#: The model that ships with the project, used when no other is named.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default"


class Recognizer:
    """A loaded model with its charset: turns word or line images into text.

    >>> recognizer = Recognizer.load()                      # doctest: +SKIP
    >>> [r.text for r in recognizer.read(["line.png"])]     # doctest: +SKIP
    """

    def __init__(self, model, charset: Charset, config: ModelConfig) -> None:
        self.model = model
        self.charset = charset
        self.config = config

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Recognizer":
        """Load a model folder (the shipped default model when ``path`` is None)."""
        return cls(*load_model_dir(path or DEFAULT_MODEL))

    @property
    def height(self) -> int:
        return self.config.height

    def read(self, images: Sequence[ImageSource], batch_size: int = 32) -> list[Recognition]:
        """Read word or line images (paths, bytes, arrays or PIL images), in the given order.

        Raises :class:`htr.errors.ImageError` for the first image that cannot be loaded; use
        :func:`load_image` yourself first to read the good ones of a mixed set.
        """
        inputs = [preprocess(load_image(im), self.height) for im in images]
        return [greedy_decode(p, self.charset) for p in self.probabilities(inputs, batch_size)]

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
