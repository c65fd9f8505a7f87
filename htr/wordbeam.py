"""Word beam search: CTC decoding constrained by a lexicon and scored by a word bigram model.

After Scheidl, Fischer and Sablatnig, "Word Beam Search: A Connectionist Temporal Classification
Decoding Algorithm" (ICFHR 2018). A beam (a candidate text) is either *between words*, where any
non-word character may follow (space, punctuation, digits) or a word may start, or *inside a word*,
where the next letter must continue a word of the lexicon's prefix tree. When a word ends (a
non-word character follows, or the line ends) the bigram model scores it. CTC blanks and repeated
characters are handled as in prefix beam search.

Out-of-vocabulary escape
    A word that leaves the prefix tree (or breaks the case patterns ``lower``, ``Capital``,
    ``UPPER``) does not die: it goes on as a *free word* of any letters, whose language-model score
    is ``lm_weight * oov_logp + oov_char_logp * length + spelling_weight * log P(spelling)`` in
    place of its bigram score (a lexicon word scores the better of the two), where ``P(spelling)``
    is the lexicon's character n-gram of how words are spelt (:mod:`htr.charlm`): ``Tomkins`` is
    a likelier new word than ``Tcmkins``. A clearly written name pays that price once and
    survives, because every lexicon word near it would need several improbable characters; an
    ambiguous non-word (``tbe``, with ``h``/``b`` nearly tied) pays more than the lexicon word one
    cheap character away (``the``), and is pulled to it. The state of a beam is a function of its
    text alone (in the tree while its word is a prefix of a lexicon word, free once it is not; the
    spelling model's state is that of the word's last letters), so beams with the same text merge
    exactly.

While a word is in the tree, its beam carries the best unigram score of the words below its node
(language-model look-ahead), so that word prefixes compete fairly before they end.

The search of a line's frames is compiled (:mod:`htr.wordbeam_kernel`); this module makes its
tables, shares a page's lines among threads and turns the final beams into a reading.

The result's characters carry frame spans from a forced (Viterbi) alignment of the chosen text, and
each character's confidence is the smaller of its own best frame probability and the posterior of
its word among the final beams (so a word the lexicon had to guess at reads as uncertain).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .charlm import SpellingModel
from .decode import gap_classes, with_logit_offset
from .lexicon import Lexicon
from .results import CharSpan, Recognition
from .text import Charset
from .wordbeam_kernel import (_BETWEEN, _FREE, _INWORD, align_line, best_reading, candidates,
                              search_line, word_posteriors)

# Label kinds.
_BLANK, _LETTER, _APOS, _SPACE, _STOP, _OTHER = range(6)
# Case states of a word being read: nothing yet, lower, one capital, Capitalised, UPPER, broken.
_C0, _CL, _CU1, _CCAP, _CUU, _CBAD = range(6)
_CASE_NEXT = np.array([  # [state, is_upper]
    [_CL, _CU1], [_CL, _CBAD], [_CCAP, _CUU], [_CCAP, _CBAD], [_CBAD, _CUU], [_CBAD, _CBAD]], np.int64)
#: Weight of the spelling model of out-of-vocabulary words (:mod:`htr.charlm`; 0 turns it off)
#: and the price of each of such a word's letters besides it: the best mean CER of 15 pairs on
#: 300 validation lines of each of six sets (``bench/bench_spelling.py``; README, "Decoders").
SPELLING_WEIGHT = 0.35
OOV_CHAR_LOGP = 0.0
#: Beams kept per line and frame, and how far below its line's best (in log-probability, the
#: language model's score included) a beam may fall and stay. A wide beam reads better, and the
#: margin spares most of its cost: on 300 validation lines of each set (the photo step's weights,
#: wordbeam CER, ms a line decoded 25 lines together), 25 beams and no margin (before 2026-12-06) ->
#: 100 and 8: Hooker 21.80 -> 20.94%, Copiste (French) 12.70 -> 11.92%, IAM forms 10.19 -> 9.95%,
#: IAM-OnDB 4.92 -> 4.75%, words 6.19 -> 5.78%, IAM lines 6.74 -> 6.65%, the capitals 19.01 ->
#: 20.00%; 4.4 -> 6.5 ms (100 beams and no margin: 8.4 ms, the same text but for 0.04 points).
#: 200 since the search was compiled (2026-12-06): on the full validation sets (README,
#: "Decoders") Hooker 20.09 -> 19.97%, IAM forms 9.72 -> 9.55%, Copiste 11.42 -> 11.29%, the
#: capitals 22.67 -> 22.57%, IAM-OnDB 4.76 -> 4.74%, IAM lines 6.79 -> 6.81%, words 6.89 -> 6.90%;
#: 0.92 -> 1.5 ms a line decoded 25 together (a wider margin, 10 or 12, changed nothing).
BEAM_WIDTH = 200
SCORE_MARGIN = 8.0
#: The language model's weight against the network, and the (unweighted) log-probability of a
#: word the lexicon lacks. Chosen 2026-12-07 on the **training** split (300 lines of each of six
#: sets, the shipped int8 network, 16 settings of the weight, the word bonus and the price; 0.5
#: and -10 before): mean CER 8.51 -> 8.20%. The training lines' texts are in the lexicon's corpus
#: (the Hooker letters', IAM's), which favours a strong language model, so the pair was checked
#: on 300 validation lines of each set, in two halves by writer, letter or text: 10.73 -> 10.47%
#: and 11.58 -> 11.05%; the full sets are in the README's "Decoders".
LM_WEIGHT = 0.65
OOV_LOGP = -14.0


class _Tables:
    """What the decoder needs to know about each label of a charset, given a lexicon's tree: label
    kinds, letters in the tree's alphabet and the transition tables of the beam states."""

    def __init__(self, charset: Charset, lexicon: Lexicon, punct_logp: float) -> None:
        n = charset.num_classes
        trie = lexicon.trie
        kind = np.full(n, _OTHER, np.int64)
        kind[0] = _BLANK
        self.letter = np.full(n, -1, np.int64)  # index in the tree's alphabet
        upper = np.full(n, -1, np.int64)  # 1 upper, 0 lower, -1 caseless
        cost = np.zeros(n, np.float64)  # score of a non-word character
        for i, c in enumerate(charset.chars, 1):
            if c == "'":
                kind[i] = _APOS
                self.letter[i] = trie.char_index.get("'", -1)
            elif c.isalpha():
                kind[i] = _LETTER
                self.letter[i] = trie.char_index.get(c.lower(), -1)
                upper[i] = 1 if c != c.lower() else (0 if c != c.upper() else -1)
            elif c.isspace():
                kind[i] = _SPACE
            elif c in ".!?":
                kind[i] = _STOP
            if kind[i] not in (_LETTER, _SPACE):
                cost[i] = punct_logp
        self.kind = kind
        self.chars = np.array([""] + list(charset.chars), dtype=object)
        # No space at the start of a line (after the empty text's "label" 0), nor two in a row.
        self.forbid = (kind[None, :] == _SPACE) & ((kind[:, None] == _BLANK) | (kind[:, None] == _SPACE))
        # Transitions, indexed by ((mode * 6 + case) * n + label) * 2 + (the tree has the letter).
        m, cs, c, f = (a.ravel() for a in np.meshgrid(np.arange(3), np.arange(6), np.arange(n),
                                                      np.arange(2), indexing="ij"))
        k, up, f = kind[c], upper[c], f.astype(bool)
        # An apostrophe belongs to the word when the tree goes on with it, or in a free word.
        wc = (k == _LETTER) | ((k == _APOS) & (((m == _INWORD) & f) | (m == _FREE)))
        cs0 = np.where(m == _BETWEEN, _C0, cs)
        ncs = np.where(up < 0, cs0, _CASE_NEXT[cs0, np.maximum(up, 0)])
        in_tree = wc & (m != _FREE) & f & (ncs != _CBAD)
        self.t_intree = in_tree
        self.t_mode = np.where(wc, np.where(in_tree, _INWORD, _FREE), _BETWEEN)
        self.t_case = np.where(wc, ncs, _C0)
        self.t_wc = wc.astype(np.int64)
        self.t_keeplen = (wc & (m != _BETWEEN)).astype(np.int64)
        self.t_ends = ~wc & (m != _BETWEEN)  # a word ends where a non-word character follows it
        self.t_stop = k == _STOP
        self.t_cost = np.where(wc, 0.0, cost[c])
        self._arguments: dict[bool, tuple] = {}

    def arguments(self, lexicon: Lexicon, spelling: SpellingModel | None) -> tuple:
        """What :func:`htr.wordbeam_kernel.search_line` reads besides a line's probabilities and
        the weights, in its order: these tables, and the lexicon's tree, words and spelling model
        (the lexicon these tables were made for; kept with them)."""
        if (spelling is not None) not in self._arguments:
            trie = lexicon.trie
            if spelling is None:
                spell = (np.zeros((1, 2), np.int32), np.zeros((1, 2), np.float32), 0, 1)
            else:
                spell = (np.ascontiguousarray(spelling.next_state), np.ascontiguousarray(spelling.logp),
                         spelling.other, spelling.end)
            c = np.ascontiguousarray
            self._arguments[spelling is not None] = (
                self.letter, self.forbid, self.t_mode, self.t_intree, self.t_case, self.t_wc,
                self.t_keeplen, self.t_ends, self.t_stop, self.t_cost, c(trie.edge_keys, np.int64),
                c(trie.edge_child),
                np.searchsorted(trie.edge_keys, np.arange(len(trie.word) + 1) * trie.num_letters),
                trie.num_letters, c(trie.word), c(trie.lookahead), c(lexicon.backoff),
                c(lexicon._unigram_p), c(lexicon.bigram_keys), c(lexicon.bigram_prob),
                c(lexicon.case_logp), len(lexicon.words), *spell)
        return self._arguments[spelling is not None]

    @classmethod
    def of(cls, charset: Charset, lexicon: Lexicon, punct_logp: float) -> "_Tables":
        cache = lexicon.__dict__.setdefault("_wordbeam_tables", {})
        key = (tuple(charset.chars), float(punct_logp))
        if key not in cache:
            if len(cache) > 8:
                cache.clear()
            cache[key] = cls(charset, lexicon, punct_logp)
        return cache[key]


def word_beam_search(probs: np.ndarray, charset: Charset, lexicon: Lexicon, beam_width: int = BEAM_WIDTH,
                     lm_weight: float = LM_WEIGHT, oov_logp: float = OOV_LOGP,
                     oov_char_logp: float = OOV_CHAR_LOGP,
                     punct_logp: float = -1.0, case_weight: float = 1.0, word_bonus: float = 2.5,
                     prune: float = 3e-3, max_chars: int = 12,
                     spelling_weight: float = SPELLING_WEIGHT,
                     margin: float | None = SCORE_MARGIN, gap_offset: float = 0.0) -> Recognition:
    """Decode one ``(frames, classes)`` probability matrix with word beam search.

    ``lm_weight`` scales the language model's log-probabilities against the network's;
    ``oov_logp`` is the (unscaled) log-probability of an out-of-vocabulary word and
    ``oov_char_logp`` the price of each of its letters; ``punct_logp`` the price of a non-word,
    non-space character (digits, punctuation); ``case_weight`` scales the case model (the odds of
    a word's lower, capitalised and upper case in running text); ``word_bonus`` is added per
    word (against the language model's bias for fewer, longer words). In each frame only the
    ``max_chars`` likeliest characters above ``prune`` probability are tried.
    ``spelling_weight`` scales the lexicon's spelling model (:mod:`htr.charlm`) in the score of
    an out-of-vocabulary word (0: letters priced flat by ``oov_char_logp`` alone).
    Of the ``beam_width`` best beams, those more than ``margin`` below the best are dropped
    too (None: none is). ``gap_offset`` shifts the logits of the CTC blank and the space, what
    the network reads where there is no letter (:func:`htr.decode.gap_classes`), before the
    search (a model folder's :attr:`htr.model.ModelConfig.wordbeam_gap_offset`): the network
    drops letters far more often than it invents them, and within a lexicon an invented letter
    costs less than in a best-path reading, so the search gains from trusting the letters more
    than the weights do. The space moves with the blank: a lower blank alone splits words (on the
    validation sets, shifting the blank alone by -0.75 added half as many spaces again to single
    word images, 47 -> 76).
    """
    return word_beam_search_many([probs], charset, lexicon, beam_width, lm_weight, oov_logp,
                                 oov_char_logp, punct_logp, case_weight, word_bonus, prune,
                                 max_chars, spelling_weight, margin, gap_offset)[0]


def word_beam_search_many(probs: Sequence[np.ndarray], charset: Charset, lexicon: Lexicon,
                          beam_width: int = BEAM_WIDTH, lm_weight: float = LM_WEIGHT,
                          oov_logp: float = OOV_LOGP,
                          oov_char_logp: float = OOV_CHAR_LOGP, punct_logp: float = -1.0,
                          case_weight: float = 1.0, word_bonus: float = 2.5, prune: float = 3e-3,
                          max_chars: int = 12, spelling_weight: float = SPELLING_WEIGHT,
                          margin: float | None = SCORE_MARGIN, gap_offset: float = 0.0
                          ) -> list[Recognition]:
    """:func:`word_beam_search` of several lines (a page's), one reading per matrix in order,
    each the same as alone.

    Each line is searched by the compiled frame loop (:func:`htr.wordbeam_kernel.search_line`),
    which lets go of Python's lock, so that the lines are shared among threads, one per core.
    """
    W = max(1, int(beam_width))
    for p in probs:
        if p.ndim != 2 or p.shape[1] != charset.num_classes:
            raise ValueError(f"expected (frames, {charset.num_classes}) probabilities, got {p.shape}")
    gaps = gap_classes(charset)
    probs = [np.ascontiguousarray(with_logit_offset(p, gap_offset, gaps), np.float64) for p in probs]
    out: list[Recognition | None] = [Recognition("", 0.0, ()) if not len(p) else None for p in probs]
    lines = [i for i, p in enumerate(probs) if len(p)]
    if not lines:
        return out  # type: ignore[return-value]
    tb = _Tables.of(charset, lexicon, punct_logp)
    spelling = SpellingModel.of(lexicon) if spelling_weight else None
    model = tb.arguments(lexicon, spelling)
    space = _space_label(charset)
    la_type = lexicon.trie.lookahead.dtype.type  # the look-ahead is summed in its table's precision
    weights = (spelling is not None, W, np.inf if margin is None else float(margin),
               float(lm_weight), float(oov_logp), float(oov_char_logp), float(case_weight),
               float(word_bonus), float(spelling_weight), la_type(lm_weight), la_type(word_bonus))

    def read(i: int) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, float]]]:
        cands, n_cands = candidates(probs[i], prune, max_chars)
        ev_char, ev_parent, finals, post = search_line(probs[i], cands, n_cands, *model, *weights)
        labels, word_post = best_reading(ev_char, ev_parent, finals, post, space)
        return labels, word_post, align(probs[i], labels)

    if len(lines) == 1:
        readings = [read(lines[0])]
    else:  # the compiled search lets go of Python's lock: lines on all cores at once
        readings = list(_pool().map(read, lines))
    chars = tb.chars.tolist()
    for i, (labels, word_post, spans) in zip(lines, readings):
        text = "".join([chars[c] for c in labels.tolist()])
        out[i] = _recognition(probs[i], charset, text, word_post.tolist(), spans)
    return out  # type: ignore[return-value]


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """The threads that search a page's lines (one per core this process may use)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, len(os.sched_getaffinity(0))),
                                   thread_name_prefix="wordbeam")
    return _POOL


def _forget_pool() -> None:
    global _POOL
    _POOL = None  # a forked child has none of its parent's threads: it makes its own


os.register_at_fork(after_in_child=_forget_pool)


def align(probs: np.ndarray, labels: list[int]) -> list[tuple[int, int, float]]:
    """Forced CTC alignment (Viterbi) of a label sequence: per label ``(start, end, best prob)``
    over the frames it is aligned to; [] if the sequence cannot fit."""
    if not len(labels):
        return []
    start, end, p, ok = align_line(np.ascontiguousarray(probs, np.float64), np.asarray(labels, np.int64))
    return list(zip(start.tolist(), end.tolist(), p.tolist())) if ok else []


def forced_reading(probs: np.ndarray, charset: Charset, text: str) -> Recognition:
    """A known ``text`` (a transcription) read into ``probs``: its characters placed on the
    frames by forced alignment (:func:`align`), each word's posterior 1 (the text is given, not
    found). Raises ValueError when the text cannot be aligned (more characters than frames)."""
    text = text.strip(" ")
    spans = align(probs, charset.encode(text)) if text else []
    if text and not spans:
        raise ValueError(f"{text!r} does not fit {len(probs)} frames")
    return _recognition(probs, charset, text, [1.0] * len(text.split(" ")), spans or None)


def reading_of_beams(probs: np.ndarray, charset: Charset, texts: Sequence[str],
                     post: np.ndarray) -> Recognition:
    """The reading of a decoder's final beams, given as ``texts`` (best first) with their
    posteriors ``post``: the best text, its characters' frames and each word's posterior among
    the beams (:func:`htr.wordbeam_kernel.word_posteriors`)."""
    text = texts[0].strip(" ")
    encoded = [charset.encode(t) for t in texts]
    beams = np.full((len(texts), max(1, max(map(len, encoded)))), -1, np.int64)
    for f, labels in enumerate(encoded):
        beams[f, :len(labels)] = labels
    word_post = word_posteriors(np.array(charset.encode(text), np.int64), beams,
                                np.array([len(e) for e in encoded], np.int64),
                                np.asarray(post, np.float64), _space_label(charset))
    return _recognition(probs, charset, text, word_post.tolist())


def _space_label(charset: Charset) -> int:
    """The label of a space (-1: the charset has none)."""
    return charset.chars.index(" ") + 1 if " " in charset.chars else -1


def _recognition(probs, charset: Charset, text: str, word_post: list[float],
                 spans: list[tuple[int, int, float]] | None = None) -> Recognition:
    """The reading of ``text``, ``word_post`` the posterior of each of its words (split at every
    space) among the decoder's final beams (``spans``: its :func:`align`, when made already)."""
    if not text:
        return Recognition("", float(probs[:, 0].mean()), ())
    if spans is None:
        spans = align(probs, charset.encode(text))
    if not spans:  # cannot happen for a text the search found; be safe
        spans = [(0, 0, 0.0)] * len(text)
    words = text.split(" ")
    chars = []
    wi = 0
    for ch, (s, e, p) in zip(text, spans):
        if ch == " ":
            wi += 1
            chars.append(CharSpan(ch, s, e, p))
        else:
            chars.append(CharSpan(ch, s, e, min(p, word_post[wi])))
    confidence = float(np.exp(np.mean(np.log([max(c.confidence, 1e-9) for c in chars]))))
    return Recognition(text, confidence, tuple(chars), tuple(p for w, p in zip(words, word_post) if w))
