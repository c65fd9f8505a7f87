"""Decoding the network's per-frame scores into text: greedy (best-path) CTC decoding; the
lexicon-aware word beam search lives in :mod:`htr.wordbeam`."""

from __future__ import annotations

import numpy as np

from .results import CharSpan, Recognition
from .text import Charset

#: Decoders by name: best path here, or word beam search over a lexicon (:mod:`htr.wordbeam`).
DECODERS = ("greedy", "wordbeam")


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
