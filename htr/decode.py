"""Decoding the network's per-frame scores into text: greedy (best-path) CTC decoding here; CTC
prefix beam search with a word language model in :mod:`htr.beam`; lexicon-constrained word beam
search in :mod:`htr.wordbeam`. Also the confidence calibration every decoder's output goes through
(:class:`Calibration`)."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from .results import CharSpan, Recognition
from .text import Charset

#: Decoders by name: best path here, CTC prefix beam search with a word language model
#: (:mod:`htr.beam`), or word beam search over a lexicon (:mod:`htr.wordbeam`).
DECODERS = ("greedy", "beam", "wordbeam")
#: The decoder a :class:`htr.Recognizer` and ``python -m htr`` use unless told otherwise
#: (chosen on the validation sets: ``bench/bench_decoders.py``).
DEFAULT_DECODER = "wordbeam"
#: Decoders that need a lexicon (a model folder's ``lexicon.npz`` or the user's word list).
LEXICON_DECODERS = ("beam", "wordbeam")
#: A model folder's confidence calibration tables (``bench/calibration.py --write``).
CALIBRATION_FILE = "calibration.json"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities over the last axis, computed stably."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def greedy_decode(probs: np.ndarray, charset: Charset) -> Recognition:
    """Best-path decoding of one ``(frames, classes)`` probability matrix.

    Takes the most likely class per frame, merges repeats and drops blanks. A character's
    confidence is the highest probability among its frames; the item's confidence is the
    geometric mean of its characters' (1.0 for an empty reading made of confident blanks,
    else the blank frames' mean probability).
    """
    if probs.ndim != 2 or probs.shape[1] != charset.num_classes:
        raise ValueError(f"expected (frames, {charset.num_classes}) probabilities, got {probs.shape}")
    best = probs.argmax(axis=1)
    best_p = probs[np.arange(len(best)), best]
    # A new character starts where the best class changes to a non-blank.
    starts = np.flatnonzero((best != Charset.BLANK) & np.r_[True, best[1:] != best[:-1]])
    spans = []
    for s in starts:
        e = s + 1
        while e < len(best) and best[e] == best[s]:
            e += 1
        spans.append(CharSpan(charset.chars[best[s] - 1], int(s), int(e), float(best_p[s:e].max())))
    if spans:
        confidence = float(np.exp(np.mean(np.log([max(c.confidence, 1e-9) for c in spans]))))
    else:
        confidence = float(best_p.mean()) if len(best_p) else 0.0
    return Recognition("".join(c.char for c in spans), confidence, tuple(spans))


def model_fingerprint(model_file: str | Path) -> str:
    """Short SHA-256 of a model's weights file: a calibration table is valid for these weights only."""
    h = hashlib.sha256()
    with open(model_file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


class Calibration:
    """A monotone map from a decoder's raw confidence to the probability that a word is right.

    Fitted on validation words (``bench/calibration.py``): a word's raw confidence is its least
    confident character's; the map, piecewise linear through ``(x, y)`` with ``y`` non-decreasing,
    is applied to every character's confidence, so that a word's confidence (the smallest of its
    characters') becomes the calibrated one. A line's confidence is then the geometric mean of its
    calibrated characters.
    """

    def __init__(self, x, y) -> None:
        self.x = np.asarray(x, np.float64)
        self.y = np.maximum.accumulate(np.clip(np.asarray(y, np.float64), 0.0, 1.0))
        if self.x.ndim != 1 or self.x.shape != self.y.shape or len(self.x) < 2 or np.any(np.diff(self.x) < 0):
            raise ValueError("a calibration needs two or more increasing x with a y each")

    def __call__(self, confidence):
        return np.interp(confidence, self.x, self.y)

    def apply(self, rec: Recognition) -> Recognition:
        if not rec.chars:
            return replace(rec, confidence=float(self(rec.confidence)))
        mapped = self(np.array([c.confidence for c in rec.chars]))
        chars = tuple(replace(c, confidence=float(m)) for c, m in zip(rec.chars, mapped))
        confidence = float(np.exp(np.mean(np.log(np.maximum(mapped, 1e-9)))))
        return Recognition(rec.text, confidence, chars)

    @classmethod
    def load(cls, directory: str | Path, decoder: str) -> "Calibration | None":
        """The calibration of ``decoder`` in a model folder, or None: no table for it, or a table
        fitted on other weights (a retrained model needs ``bench/calibration.py --write`` again)."""
        path = Path(directory) / CALIBRATION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        table = data.get("decoders", {}).get(decoder)
        if not table:
            return None
        model_file = Path(directory) / "model.keras"
        if data.get("model") and model_file.is_file() and model_fingerprint(model_file) != data["model"]:
            warnings.warn(f"{path} was fitted on other weights than {model_file}: confidences left "
                          "uncalibrated (python bench/calibration.py --write fits it again)", stacklevel=2)
            return None
        return cls(table["x"], table["y"])
