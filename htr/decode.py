"""Decoding the network's per-frame scores into text: greedy (best-path) CTC decoding here; CTC
prefix beam search with a word language model in :mod:`htr.beam`; lexicon-constrained word beam
search in :mod:`htr.wordbeam`. Also the confidence calibration every decoder's output goes through
(:class:`Calibration`)."""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from collections.abc import Sequence
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


def one_word(probs: np.ndarray, charset: Charset) -> np.ndarray:
    """``(frames, classes)`` probabilities given that the image holds one word: no space in it,
    the space's share of each frame spread over the other classes in proportion. Any decoder
    then reads a word image as one word (the 4,620 real IAM words of ``bench/real_words.py``,
    wordbeam: 15.40 -> 13.95% CER; read as lines, some 4% of them came out split in two)."""
    if " " not in charset.chars:
        return probs
    out = np.array(probs, copy=True)
    out[:, charset.chars.index(" ") + 1] = 0.0
    out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-30)
    return out


def with_logit_offset(probs: np.ndarray, offset: float,
                      classes: Sequence[int] = (Charset.BLANK,)) -> np.ndarray:
    """``(frames, classes)`` probabilities as the network would give them with the logits of
    ``classes`` (ids; default the CTC blank's, as :func:`htr.model.shift_blank_logit` shifts it
    in the weights) shifted by ``offset``: their share of each frame scaled by ``exp(offset)``,
    the frame renormalised."""
    if not offset:
        return probs
    out = np.array(probs, np.float64, copy=True)
    out[:, list(classes)] *= np.exp(offset)
    out /= out.sum(axis=1, keepdims=True)
    return out


def gap_classes(charset: Charset) -> tuple[int, ...]:
    """The ids of what the network reads where there is no letter: the CTC blank, and the space
    where the charset has one."""
    return (Charset.BLANK,) + ((charset.chars.index(" ") + 1,) if " " in charset.chars else ())


def reads_as_word(level: str) -> bool:
    """Whether a crop given at ``level`` (``line`` or ``word``) is read as one word
    (:func:`one_word`). Raises ValueError for any other level."""
    if level not in ("line", "word"):
        raise ValueError(f"unknown level {level!r}: choose line or word")
    return level == "word"


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
    """Short SHA-256 of a model's weights file: a calibration table is valid for these weights only.

    Loading a model asks for it several times (the backend's choice, its ONNX file's card, each
    decoder's calibration): the file is hashed once for as long as its size and modification
    time stay the same."""
    path = Path(model_file).resolve()
    st = path.stat()
    return _fingerprint(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=32)
def _fingerprint(path: Path, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
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

    def _map(self, rec: Recognition) -> Recognition:
        if not rec.chars:
            return replace(rec, confidence=float(self(rec.confidence)))
        mapped = self(np.array([c.confidence for c in rec.chars]))
        chars = tuple(replace(c, confidence=float(m)) for c, m in zip(rec.chars, mapped))
        confidence = float(np.exp(np.mean(np.log(np.maximum(mapped, 1e-9)))))
        return Recognition(rec.text, confidence, chars)

    @classmethod
    def load(cls, directory: str | Path, decoder: str) -> "Calibration | WordConfidence | None":
        """The calibration of ``decoder`` in a model folder, or None: no table for it, or a table
        fitted on other weights (a retrained model needs ``bench/calibration.py --write`` again).
        A table of word-model weights gives a :class:`WordConfidence`."""
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
        if "weights" in table:
            return WordConfidence.from_table(table)
        return cls(table["x"], table["y"])

    def apply(self, rec: Recognition, greedy: Recognition | None = None,
              lexicon=None) -> Recognition:
        """``rec`` with every character's confidence mapped (``greedy`` and ``lexicon`` serve
        :class:`WordConfidence` only)."""
        return self._map(rec)


#: What :class:`WordConfidence` predicts a lexicon decoder's word from (in this order).
WORD_FEATURES = ("bias", "log_odds_word", "log_odds_greedy_min", "greedy_agrees",
                 "greedy_agrees_ignoring_case", "in_lexicon", "log_length", "has_digit",
                 "greedy_in_lexicon", "log_odds_greedy_mean", "log_unigram", "log_odds_posterior",
                 "first_in_line", "last_in_line", "has_punctuation", "starts_upper")
#: The features of a calibration table that does not list its own (fitted before 2026-12-05).
FIRST_WORD_FEATURES = WORD_FEATURES[:10]
#: ``log_unigram`` of a word the lexicon lacks (the rarest shipped words are near -19).
ABSENT_WORD_LOGP = -20.0


def _log_odds(p) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def word_features(rec: Recognition, greedy: Recognition, lexicon) -> np.ndarray:
    """One row of :data:`WORD_FEATURES` per word of a lexicon decoder's reading ``rec``.

    A lexicon decoder's own word confidence ranks its words poorly (AUROC 0.63-0.81 on the
    validation sets): a word it had to guess at from the lexicon can still look certain. What
    the network alone read in the same frames (``greedy``, best path) tells more: whether it
    reads the same word, and how sure it was; so does whether the word is in ``lexicon`` at all
    (a word read outside it is often a misread name or a garbled word), and how common it is (a
    rare word is more often one the lexicon guessed: on 300 validation lines of each of six sets,
    AUROC +0.01 to +0.02 on five of them, 2026-12-05). So, apart from how sure the frames are,
    does the word's share of the decoder's final beams (``WordSpan.posterior``; a word's own
    confidence is the smaller of the two): with it, on the held-out half of the validation words,
    wordbeam's wrong words marked doubtful on the IAM sets went from 41-47% to 56-64%
    (2026-12-06). Last, where the word stands and how it is written: first or last in its line,
    with punctuation in it, with a capital first. A word's attached punctuation and its case
    are what a reading most often gets wrong while the network and the lexicon agree on the
    letters ("television" for "television.", "belgium"), and at a line's ends the network sees
    least context: with them, IAM forms' wrong words marked went from 58.9% to 66.0%, the five
    other sets' stayed at or above 65% (2026-12-07, five seeds averaged).
    """
    rows = []
    words = rec.words()
    for k, w in enumerate(words):
        inside = [c for c in greedy.chars if c.char != " " and (
            w.start <= (c.start + c.end) / 2 <= w.end or w.start <= c.start < w.end)]
        seen = "".join(c.char for c in inside)
        conf = [c.confidence for c in inside]
        i = lexicon.word_id(w.text)  # one look-up: membership and frequency
        rows.append((1.0, w.confidence, min(conf, default=0.0), seen == w.text,
                     seen.lower() == w.text.lower(), i is not None, len(w.text),
                     any(ch.isdigit() for ch in w.text), bool(seen) and seen in lexicon,
                     float(np.mean(conf)) if conf else 0.0,
                     ABSENT_WORD_LOGP if i is None else float(lexicon.unigram[i]),
                     w.confidence if w.posterior is None else w.posterior,
                     k == 0, k == len(words) - 1, any(not ch.isalnum() for ch in w.text),
                     w.text[:1].isupper()))
    if not rows:
        return np.zeros((0, len(WORD_FEATURES)))
    a = np.array(rows, np.float64)
    for k in (1, 2, 9, 11):
        a[:, k] = _log_odds(a[:, k])
    a[:, 6] = np.log(a[:, 6])
    return a


class WordConfidence:
    """The probability that a lexicon decoder's word is right, from :func:`word_features`, by a
    model fitted on validation words (``bench/calibration.py``, :meth:`fit`): logistic, or with
    one small hidden layer between (``hidden``), which sees how the features combine (a word the
    network read the same but outside the lexicon, say) and ranked the validation sets' words
    better (AUROC +0.02 to +0.035 on each line set, 2026-12-06). Every character of a word gets
    its word's probability (a space the smaller of its neighbours'), so that a word's confidence,
    its least confident character's, is the model's; the line's is the geometric mean of its
    characters', as with :class:`Calibration`.

    ``weights``: the output's, one per feature (logistic; ``features`` then include "bias"), or
    with ``hidden`` the output bias and one per hidden unit. ``hidden``: ``mean`` and ``scale``
    of each feature (standardised before the layer), ``weights`` (features x units), ``bias``.
    """

    def __init__(self, weights, features: Sequence[str] = WORD_FEATURES,
                 hidden: dict | None = None) -> None:
        self.weights = np.asarray(weights, np.float64)
        unknown = [f for f in features if f not in WORD_FEATURES]
        self.hidden = None
        if hidden is not None:
            self.hidden = {k: np.asarray(hidden[k], np.float64) for k in ("mean", "scale", "weights", "bias")}
            units = self.hidden["bias"].shape
            shapes_ok = (self.hidden["weights"].shape == (len(features),) + units
                         and self.hidden["mean"].shape == self.hidden["scale"].shape == (len(features),)
                         and self.weights.shape == (units[0] + 1,))
        else:
            shapes_ok = self.weights.shape == (len(features),)
        if unknown or not shapes_ok:
            raise ValueError(f"a word confidence model needs weights for each of its features, "
                             f"which are among: {', '.join(WORD_FEATURES)}")
        # The columns of word_features() its weights are for (older tables have fewer).
        self.columns = [WORD_FEATURES.index(f) for f in features]

    def predict(self, features: np.ndarray) -> np.ndarray:
        """P(right) of each row of :func:`word_features`."""
        x = features[:, self.columns]
        if self.hidden is not None:
            h = self.hidden
            units = np.tanh(((x - h["mean"]) / h["scale"]) @ h["weights"] + h["bias"])
            x = np.hstack([np.ones((len(units), 1)), units])
        return 1.0 / (1.0 + np.exp(-(x @ self.weights)))

    @classmethod
    def fit(cls, features: np.ndarray, right: np.ndarray, hidden: int = 0,
            seed: int = 0, seeds: int = 1) -> "WordConfidence":
        """The model of ``right`` (0/1 per row of :func:`word_features`): logistic for
        ``hidden=0`` (Newton's method), else with a ``hidden``-unit tanh layer (full-batch Adam,
        3,000 steps from ``seed``; a little L2 on both, so that a feature constant on the fit
        words cannot run away).

        ``seeds`` > 1 (hidden layer only): that many fits, from ``seed``, ``seed + 1``, ...,
        whose log-odds are averaged. Which words a single fit marks moves with its seed as much
        as with a change of model (IAM forms' wrong words marked: 55.7-59.8% over seeds), and the
        mean is again one network (the fits' units side by side, their output weights divided by
        ``seeds``), so it is saved and applied as any other."""
        if hidden and seeds > 1:
            fits = [cls.fit(features, right, hidden, seed + k) for k in range(seeds)]
            first = fits[0].hidden
            return cls(np.r_[np.mean([f.weights[0] for f in fits]),
                             np.concatenate([f.weights[1:] for f in fits]) / seeds],
                       [WORD_FEATURES[c] for c in fits[0].columns],
                       {"mean": first["mean"], "scale": first["scale"],
                        "weights": np.hstack([f.hidden["weights"] for f in fits]),
                        "bias": np.concatenate([f.hidden["bias"] for f in fits])})
        x, y = np.asarray(features, np.float64), np.asarray(right, np.float64)
        if not hidden:
            w = np.zeros(x.shape[1])
            for _ in range(50):
                p = 1.0 / (1.0 + np.exp(-(x @ w)))
                hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-2 * np.eye(x.shape[1])
                w -= np.linalg.solve(hessian, x.T @ (p - y) + 1e-2 * w)
            return cls(w)
        inputs = [f for f in WORD_FEATURES if f != "bias"]  # the layer's biases stand for it
        x = x[:, [WORD_FEATURES.index(f) for f in inputs]]
        mean, std = x.mean(0), x.std(0)
        scale = np.where(std > 1e-3, std, 1.0)  # a feature constant on the fit words stays put
        xs = (x - mean) / scale
        rng = np.random.default_rng(seed)
        params = [rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], hidden)), np.zeros(hidden),
                  rng.normal(0, 1 / np.sqrt(hidden), hidden), np.zeros(1)]
        moments = [(np.zeros_like(q), np.zeros_like(q)) for q in params]
        l2, rate = 1e-3, 0.05
        for step in range(1, 3001):
            w1, b1, w2, b2 = params
            h = np.tanh(xs @ w1 + b1)
            g = (1.0 / (1.0 + np.exp(-(h @ w2 + b2))) - y) / len(y)
            gh = np.outer(g, w2) * (1 - h ** 2)
            grads = [xs.T @ gh + l2 * w1, gh.sum(0), h.T @ g + l2 * w2, np.array([g.sum()])]
            for k, (q, grad) in enumerate(zip(params, grads)):
                m, v = moments[k]
                m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad ** 2
                moments[k] = (m, v)
                params[k] = q - rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
        w1, b1, w2, b2 = params
        return cls(np.r_[b2, w2], inputs, {"mean": mean, "scale": scale, "weights": w1, "bias": b1})

    @classmethod
    def from_table(cls, table: dict) -> "WordConfidence":
        """The model of a ``calibration.json`` decoder table (:meth:`table`)."""
        return cls(table["weights"], table.get("features", FIRST_WORD_FEATURES), table.get("hidden"))

    def table(self) -> dict:
        """The model as a ``calibration.json`` decoder table (what :meth:`Calibration.load` reads)."""
        r = lambda a: np.round(a, 5).tolist()  # noqa: E731
        out = {"weights": r(self.weights), "features": [WORD_FEATURES[c] for c in self.columns]}
        if self.hidden is not None:
            out["hidden"] = {k: r(v) for k, v in self.hidden.items()}
        return out

    def apply(self, rec: Recognition, greedy: Recognition | None = None,
              lexicon=None) -> Recognition:
        if greedy is None or lexicon is None:
            raise ValueError("a word confidence model needs the greedy reading and the lexicon")
        if not rec.words():
            return rec
        p = iter(self.predict(word_features(rec, greedy, lexicon)))
        word_p, values = None, []
        for c in rec.chars:
            if c.char == " ":
                word_p = None
                values.append(None)
                continue
            if word_p is None:
                word_p = float(next(p))
            values.append(word_p)
        # A space between two words: the smaller of the two; at an edge: its one neighbour.
        for i, v in enumerate(values):
            if v is None:
                near = [values[j] for j in (i - 1, i + 1) if 0 <= j < len(values) and values[j] is not None]
                values[i] = min(near) if near else 1.0
        chars = tuple(replace(c, confidence=v) for c, v in zip(rec.chars, values))
        confidence = float(np.exp(np.mean(np.log(np.maximum(values, 1e-9)))))
        return replace(rec, confidence=confidence, chars=chars)
