"""CTC prefix beam search with a word language model, through ``pyctcdecode``.

``pyctcdecode`` (a well-kept pure-Python implementation of CTC prefix beam search with shallow
fusion of a word language model) does the search; the language model it consults is the same
:class:`htr.lexicon.Lexicon` the word beam search uses (its word bigrams, unigram prefix tree and
case model), through :class:`LexiconLM`, an adapter to pyctcdecode's ``AbstractLanguageModel``.
So ``beam`` needs no KenLM binary or ARPA file: the model folder's ``lexicon.npz`` serves both
lexicon decoders, and a user's own word list (``--lexicon names.txt``) works the same way.

Unlike word beam search, a beam's words are not confined to the lexicon while they are read: every
character sequence may go on, and a word that is not in the lexicon only pays an out-of-vocabulary
price when it ends (``lm_weight * oov_logp + oov_char_logp * letters``) and, while it is being read,
once its prefix leaves the lexicon's prefix tree.

pyctcdecode treats a white-space separated token as its word; the adapter splits such a token into
words and the characters between them (``"Hello,`` is a quote, the word ``Hello`` and a comma),
scoring each word with the bigram model and each other character with ``punct_logp``.

The result's characters carry frame spans from a forced alignment of the chosen text, and each
character's confidence is the smaller of its best frame probability and the posterior of its word
among the final beams, as in :mod:`htr.wordbeam`.

``pyctcdecode`` declares ``numpy<2`` but runs on numpy 2: the lock overrides that bound
(``requirements-overrides.txt``) and installs it with the rest.
"""

from __future__ import annotations

import logging

import numpy as np

from .lexicon import Lexicon, case_pattern
from .results import Recognition
from .text import Charset

try:
    from pyctcdecode.alphabet import Alphabet
    from pyctcdecode.decoder import BeamSearchDecoderCTC
    from pyctcdecode.language_model import AbstractLanguageModel
except ImportError:  # pragma: no cover - reported when a beam decoder is built
    AbstractLanguageModel = object  # type: ignore[assignment,misc]
    BeamSearchDecoderCTC = None  # type: ignore[assignment,misc]

# pyctcdecode warns at import that kenlm is missing; the adapter below does not need it.
logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
logging.getLogger("pyctcdecode.language_model").setLevel(logging.ERROR)
logging.getLogger("pyctcdecode.decoder").setLevel(logging.ERROR)


class LexiconLM(AbstractLanguageModel):  # type: ignore[misc,valid-type]
    """pyctcdecode language model over a :class:`Lexicon`'s word bigrams (natural logs).

    A known word scores ``lm_weight * (log P(word | previous) + case_weight * log P(case | word))
    + word_bonus``, an unknown (or better as unknown) one ``lm_weight * oov_logp + oov_char_logp *
    letters + word_bonus``, other characters ``punct_logp`` each. The state is the context id of the
    previous word (the lexicon's ``bos`` at a line or sentence start, ``unk`` after an unknown word).
    """

    def __init__(self, lexicon: Lexicon, lm_weight: float = 0.5, oov_logp: float = -10.0,
                 oov_char_logp: float = -1.0, punct_logp: float = -1.0, case_weight: float = 1.0,
                 word_bonus: float = 2.5) -> None:
        self.lexicon = lexicon
        self.w, self.oov, self.oov_char = lm_weight, oov_logp, oov_char_logp
        self.punct, self.case_w, self.bonus = punct_logp, case_weight, word_bonus
        self._partial: dict[str, float] = {}
        self._nodes: dict[str, int] = {"": 0}  # prefix tree node of each (lower-case) prefix

    @property
    def order(self) -> int:
        return 2

    def get_start_state(self) -> int:
        return self.lexicon.bos

    def _free(self, letters: int) -> float:
        return self.w * self.oov + self.oov_char * letters + self.bonus

    def score_partial_token(self, partial_token: str) -> float:
        """Optimistic score of the word being read: the best unigram below its prefix in the tree
        (or the unknown word's price, whichever is better); 0 before its first letter."""
        s = self._partial.get(partial_token)
        if s is not None:
            return s
        toks = list(_split(partial_token))
        s = 0.0
        for kind, tok in toks[:-1]:  # finished parts: unigram-scored words, characters
            s += self._word_unigram(tok) if kind == "w" else self.punct * len(tok)
        if toks:
            kind, tok = toks[-1]
            if kind == "w":
                node = self._node(tok.lower())
                best = self._free(len(tok))
                if node >= 0:
                    best = max(best, self.w * float(self.lexicon.trie.lookahead[node]) + self.bonus)
                s += best
            else:
                s += self.punct * len(tok)
        if len(self._partial) > 200000:
            self._partial.clear()
        self._partial[partial_token] = s
        return s

    def _node(self, prefix: str) -> int:
        """Prefix tree node of a lower-case prefix (-1: none), one tree step from its parent's."""
        node = self._nodes.get(prefix)
        if node is None:
            parent = self._node(prefix[:-1])
            trie = self.lexicon.trie
            letter = trie.char_index.get(prefix[-1], -1)
            node = -1 if parent < 0 or letter < 0 else int(
                trie.children(np.array([parent]), np.array([letter]))[0])
            if len(self._nodes) > 500000:
                self._nodes = {"": 0}
            self._nodes[prefix] = node
        return node

    def _word_unigram(self, word: str) -> float:
        i = self.lexicon.word_id(word)
        free = self._free(len(word))
        return free if i is None else max(free, self.w * float(self.lexicon.unigram[i]) + self.bonus)

    def score(self, prev_state: int, word: str, is_last_word: bool = False) -> tuple[float, int]:
        lex = self.lexicon
        prev = lex.bos if prev_state is None else int(prev_state)
        total = 0.0
        for kind, tok in _split(word):
            if kind == "p":
                total += self.punct * len(tok)
                if any(c in ".!?" for c in tok):
                    prev = lex.bos
                continue
            i = lex.word_id(tok)
            free = self._free(len(tok))
            if i is None:
                total += free
                prev = lex.unk
                continue
            lp = float(lex.bigram_logp(np.array([prev]), np.array([i]))[0])
            pat = case_pattern(tok)
            cl = lex.case_logp[i]
            if pat is None:
                case_lp = float(cl.min())
            else:
                case_lp = float(cl[pat])  # at a line's start too (htr.wordbeam_kernel._finish)
            total += max(self.w * (lp + self.case_w * case_lp) + self.bonus, free)
            prev = i
        return total, prev


def _split(token: str):
    """A white-space free token as ("w", word) and ("p", other characters) parts, in order."""
    pos = 0
    for m in _WORD.finditer(token):
        if m.start() > pos:
            yield "p", token[pos:m.start()]
        yield "w", m.group(0)
        pos = m.end()
    if pos < len(token):
        yield "p", token[pos:]


# The lexicon's word pattern (letters with inner apostrophes); a trailing apostrophe is kept with
# the word while it is being read, so that ``don'`` is still a prefix of ``don't``.
import re  # noqa: E402

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]*)*")
del re


class BeamDecoder:
    """CTC prefix beam search (pyctcdecode) over a charset, with a :class:`LexiconLM` when given a
    lexicon (else plain prefix beam search). Build once, decode many.

    In each frame only characters with log-probability at least ``token_min_logp`` (and the best)
    are tried; beams more than ``-beam_prune_logp`` below the best are dropped. -5 (pyctcdecode's
    default) keeps the beam under 40 ms a line on the validation sets; -6 reads IAM-OnDB a little
    better (WER 20.6% against 21.4%) at 1.5 times the time."""

    def __init__(self, charset: Charset, lexicon: Lexicon | None = None, beam_width: int = 25,
                 token_min_logp: float = -5.0, beam_prune_logp: float = -10.0, **lm_params) -> None:
        if BeamSearchDecoderCTC is None:
            raise ImportError("the beam decoder needs pyctcdecode, which the lock installs: "
                              "make setup (or pip install --no-deps --require-hashes "
                              "-r requirements.lock)")
        self.charset = charset
        self.beam_width = int(beam_width)
        self.token_min_logp = token_min_logp
        self.beam_prune_logp = beam_prune_logp
        labels = [""] + list(charset.chars)  # class 0 is CTC's blank
        self.lm = LexiconLM(lexicon, **lm_params) if lexicon is not None else None
        self._decoder = BeamSearchDecoderCTC(Alphabet(labels, False), self.lm)

    def __call__(self, probs: np.ndarray) -> Recognition:
        return self.decode(probs)

    def decode(self, probs: np.ndarray) -> Recognition:
        from .wordbeam import reading_of_beams

        if probs.ndim != 2 or probs.shape[1] != self.charset.num_classes:
            raise ValueError(f"expected (frames, {self.charset.num_classes}) probabilities, "
                             f"got {probs.shape}")
        if len(probs) == 0:
            return Recognition("", 0.0, ())
        logp = np.log(np.clip(np.asarray(probs, np.float64), 1e-15, 1.0))
        # Log-probabilities already: pyctcdecode's own log-softmax leaves them as they are.
        beams = self._decoder.decode_beams(logp, beam_width=self.beam_width,
                                           beam_prune_logp=self.beam_prune_logp,
                                           token_min_logp=self.token_min_logp)
        texts = [b[0] for b in beams]
        scores = np.array([b[4] for b in beams], np.float64)
        post = np.exp(scores - scores.max())
        post /= post.sum()
        return reading_of_beams(probs, self.charset, texts, post)

    def __del__(self) -> None:  # pyctcdecode keeps its language models in a class-level registry
        try:
            self._decoder.cleanup()
        except Exception:
            pass


def beam_decode(probs: np.ndarray, charset: Charset, lexicon: Lexicon | None = None,
                beam_width: int = 25, **params) -> Recognition:
    """One-off :class:`BeamDecoder` decoding (build a decoder once to read many lines)."""
    return BeamDecoder(charset, lexicon, beam_width, **params).decode(probs)
