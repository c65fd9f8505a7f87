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

The result's characters carry frame spans from a forced (Viterbi) alignment of the chosen text, and
each character's confidence is the smaller of its own best frame probability and the posterior of
its word among the final beams (so a word the lexicon had to guess at reads as uncertain).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from .charlm import SpellingModel
from .lexicon import CAP, LOWER, UPPER, Lexicon
from .results import CharSpan, Recognition
from .text import Charset

# Label kinds.
_BLANK, _LETTER, _APOS, _SPACE, _STOP, _OTHER = range(6)
# Case states of a word being read: nothing yet, lower, one capital, Capitalised, UPPER, broken.
_C0, _CL, _CU1, _CCAP, _CUU, _CBAD = range(6)
_CASE_NEXT = np.array([  # [state, is_upper]
    [_CL, _CU1], [_CL, _CBAD], [_CCAP, _CUU], [_CCAP, _CBAD], [_CBAD, _CUU], [_CBAD, _CBAD]], np.int64)
_CASE_PATTERN = np.array([LOWER, LOWER, CAP, CAP, UPPER, LOWER], np.int64)
# Beam modes.
_BETWEEN, _INWORD, _FREE = 0, 1, 2
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
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
BEAM_WIDTH = 100
SCORE_MARGIN = 8.0
#: Lines :func:`word_beam_search_many` searches side by side at most (memory: their
#: probabilities, padded to the longest, are copied into one array).
LINES_TOGETHER = 64


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
                     lm_weight: float = 0.5, oov_logp: float = -10.0, oov_char_logp: float = OOV_CHAR_LOGP,
                     punct_logp: float = -1.0, case_weight: float = 1.0, word_bonus: float = 2.5,
                     prune: float = 3e-3, max_chars: int = 12,
                     spelling_weight: float = SPELLING_WEIGHT,
                     margin: float | None = SCORE_MARGIN) -> Recognition:
    """Decode one ``(frames, classes)`` probability matrix with word beam search.

    ``lm_weight`` scales the language model's log-probabilities against the network's;
    ``oov_logp`` is the (unscaled) log-probability of an out-of-vocabulary word and
    ``oov_char_logp`` the price of each of its letters; ``punct_logp`` the price of a non-word,
    non-space character (digits, punctuation); ``case_weight`` scales the case model (mid-sentence
    only: a word may always start a line or sentence with a capital); ``word_bonus`` is added per
    word (against the language model's bias for fewer, longer words). In each frame only the
    ``max_chars`` likeliest characters above ``prune`` probability are tried.
    ``spelling_weight`` scales the lexicon's spelling model (:mod:`htr.charlm`) in the score of
    an out-of-vocabulary word (0: letters priced flat by ``oov_char_logp`` alone).
    Of the ``beam_width`` best beams, those more than ``margin`` below the best are dropped
    too (None: none is).
    """
    return word_beam_search_many([probs], charset, lexicon, beam_width, lm_weight, oov_logp,
                                 oov_char_logp, punct_logp, case_weight, word_bonus, prune,
                                 max_chars, spelling_weight, margin)[0]


def word_beam_search_many(probs: Sequence[np.ndarray], charset: Charset, lexicon: Lexicon,
                          beam_width: int = BEAM_WIDTH, lm_weight: float = 0.5, oov_logp: float = -10.0,
                          oov_char_logp: float = OOV_CHAR_LOGP, punct_logp: float = -1.0,
                          case_weight: float = 1.0, word_bonus: float = 2.5, prune: float = 3e-3,
                          max_chars: int = 12, spelling_weight: float = SPELLING_WEIGHT,
                          margin: float | None = SCORE_MARGIN) -> list[Recognition]:
    """:func:`word_beam_search` of several lines (a page's), one reading per matrix in order,
    each the same as alone.

    The lines are searched side by side, frame by frame: the beams of all of them sit in the
    same arrays, so each NumPy call of a frame serves every line (a call costs about as much for
    25 beams as for 600). Nothing is shared between lines: beams merge only with beams of their
    own line, and each line keeps its own ``beam_width`` best beams and its own per-frame scale;
    every sum and product is the one a line alone makes. Only beams whose scores tie exactly at
    the cut may be chosen differently (here the earlier; alone, NumPy's partition's choice):
    none did on 500 validation lines (``bench/check_same_reading.py``).
    """
    if len(probs) > LINES_TOGETHER:
        return [rec for i in range(0, len(probs), LINES_TOGETHER) for rec in word_beam_search_many(
            probs[i:i + LINES_TOGETHER], charset, lexicon, beam_width, lm_weight, oov_logp,
            oov_char_logp, punct_logp, case_weight, word_bonus, prune, max_chars, spelling_weight,
            margin)]
    W = max(1, int(beam_width))
    for p in probs:
        if p.ndim != 2 or p.shape[1] != charset.num_classes:
            raise ValueError(f"expected (frames, {charset.num_classes}) probabilities, got {p.shape}")
    probs = [np.asarray(p, np.float64) for p in probs]
    out: list[Recognition | None] = [Recognition("", 0.0, ()) if not len(p) else None for p in probs]
    lines = [i for i, p in enumerate(probs) if len(p)]
    if not lines:
        return out  # type: ignore[return-value]
    n, L = len(lines), charset.num_classes
    ends_at = np.array([len(probs[i]) for i in lines])
    T = int(ends_at.max())
    tb = _Tables.of(charset, lexicon, punct_logp)
    trie = lexicon.trie
    spelling = SpellingModel.of(lexicon) if spelling_weight else None
    scorer = _WordScorer(lexicon, trie, lm_weight, oov_logp, oov_char_logp, case_weight, word_bonus,
                         spelling, spelling_weight)
    bos = lexicon.bos
    # Per line and frame, the characters worth trying, padded with -1; and the most of any line.
    if n == 1:
        P = probs[lines[0]][None]
    else:
        P = np.zeros((n, T, L))
        for j, i in enumerate(lines):
            P[j, :len(probs[i])] = probs[i]
    cands, n_cands = _candidates(P, prune, max_chars)
    k_at = n_cands.max(0).tolist()
    line_ends = set(ends_at.tolist())
    single = n == 1
    salt = (np.arange(n, dtype=np.uint64) + np.uint64(1)) * np.uint64(0xBF58476D1CE4E5B9)

    # The beams of all lines: line, state columns (last label, mode, tree node, case state, word
    # length, context word id, spelling state), text hash, last event, probabilities (scaled per
    # frame and line) and scores.
    ln = np.arange(n)
    S = np.tile(np.array([[0, _BETWEEN, 0, _C0, 0, bos, 0]], np.int64), (n, 1))
    h = np.zeros(n, np.uint64)
    ev = np.full(n, -1, np.int64)        # index into ev_char / ev_parent: the text, backwards
    pb, pnb = np.ones(n), np.zeros(n)    # P(text, path ends in blank / in a character)
    lm = np.zeros(n)                     # language-model score of finished words and characters
    la = np.zeros(n)                     # look-ahead score of the word being read
    sp = np.zeros(n)                     # spelling log-probability of the word being read
    size = int(ends_at.sum()) * W + 1
    ev_char = np.zeros(size, np.int64)
    ev_parent = np.zeros(size, np.int64)
    n_ev = 0
    finals: list = [None] * n  # per line: its final beams' events and posteriors, best first
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(T + 1):
            if t in line_ends:  # lines that end here: their beams are final
                if single:
                    ln = np.zeros(len(h), np.int64)
                done = ends_at[ln] == t
                for j in np.unique(ln[done]).tolist():
                    b = np.flatnonzero(ln == j)
                    finals[j] = _final_beams(tb, scorer, S[b], ev[b], pb[b], pnb[b], lm[b], sp[b])
                keep = np.flatnonzero(~done)
                ln, S, h, ev, pb, pnb, lm, la, sp = (a[keep] for a in (ln, S, h, ev, pb, pnb, lm, la, sp))
            if t == T:
                break
            # (One line alone needs no line column: the vectorised search of one line, exactly.)
            y = P[0, t] if single else P[:, t]
            last = S[:, 0]
            tot = pb + pnb
            pnb_c = pnb * (y[last] if single else y[ln, last])  # the empty text has pnb = 0
            pb_c = tot * (y[0] if single else y[ln, 0])
            K = k_at[t]
            if K == 0:
                pb, pnb = _scaled(pb_c, pnb_c, ln, n)
                continue
            B = len(h)
            if single:
                bi = np.repeat(np.arange(B), K)
                c = np.tile(cands[0, t, :K], B)
            else:  # each beam with its own line's characters
                kb = n_cands[ln, t]
                bi = np.repeat(np.arange(B), kb)
                c = cands[ln[bi], t, np.arange(len(bi)) - np.repeat(np.cumsum(kb) - kb, kb)]
            lb = last[bi]
            p_ext = (y[c] if single else y[ln[bi], c]) * np.where(c == lb, pb[bi], tot[bi])
            ok = np.flatnonzero((p_ext > 0) & ~tb.forbid[lb, c])
            bi, c, p_ext = bi[ok], c[ok], p_ext[ok]
            n_h = (h[bi] ^ c.astype(np.uint64)) * _HASH_MUL + np.uint64(1)
            # An extension may give the text of a beam of its line already there: merge the
            # two (one extension at most gives a beam's text: its text less the last character,
            # plus it). The same text in two lines has the same hash: beams are looked up by
            # their hash turned by a salt of their line's, or should two of those meet (about
            # never), by rank of hash and line.
            if single:
                order = np.argsort(h)
                match = order[np.minimum(np.searchsorted(h[order], n_h), B - 1)]
                dup = h[match] == n_h
            else:
                key = h ^ salt[ln]
                order = np.argsort(key)
                ks = key[order]
                if (ks[1:] != ks[:-1]).all():
                    match = order[np.minimum(np.searchsorted(ks, n_h ^ salt[ln[bi]]), B - 1)]
                    dup = (h[match] == n_h) & (ln[match] == ln[bi])
                else:
                    order = np.lexsort((ln, h))
                    hs = h[order]
                    pos = np.minimum(np.searchsorted(hs, n_h), B - 1)
                    rank = np.concatenate([[0], np.cumsum(hs[1:] != hs[:-1])]) * n + ln[order]
                    want = rank[pos] - ln[order][pos] + ln[bi]
                    at = np.minimum(np.searchsorted(rank, want), B - 1)
                    match = order[at]
                    dup = (hs[pos] == n_h) & (rank[at] == want)
            if dup.any():
                pnb_c = pnb_c + np.bincount(match[dup], weights=p_ext[dup], minlength=B)
                new = np.flatnonzero(~dup)
                bi, c, p_ext, n_h = bi[new], c[new], p_ext[new], n_h[new]
            new = np.arange(len(c))
            # New states of the extensions (the merged ones need none).
            St = S[bi]
            m, nd, cs, wl, pv, ss = St[:, 1], St[:, 2], St[:, 3], St[:, 4], St[:, 5], St[:, 6]
            child = trie.children(nd, tb.letter[c])
            code = ((m * 6 + cs) * L + c) * 2 + (child >= 0)
            n_mode = tb.t_mode[code]
            n_node = np.where(tb.t_intree[code], child, 0)
            n_wlen = wl * tb.t_keeplen[code] + tb.t_wc[code]
            if spelling is not None:  # the word's letters so far, through the spelling model
                keeps, wc = tb.t_keeplen[code].astype(bool), tb.t_wc[code].astype(bool)
                n_ss, lp = spelling.step(np.where(keeps, ss, spelling.START), tb.letter[c])
                n_ss = np.where(wc, n_ss, spelling.START)
                n_sp = np.where(keeps, sp[bi], 0.0) + np.where(wc, lp, 0.0)
            else:
                n_ss, n_sp = np.zeros(len(c), np.int64), np.zeros(len(c))
            n_lm = lm[bi] + tb.t_cost[code]
            stop = tb.t_stop[code]
            n_prev = np.where(stop, bos, pv)
            ends = np.flatnonzero(tb.t_ends[code])
            if len(ends):
                score, wid = scorer.finish(m[ends], nd[ends], cs[ends], wl[ends], pv[ends],
                                           ss[ends], sp[bi[ends]])
                n_lm[ends] += score
                n_prev[ends] = np.where(stop[ends], bos, wid)
            n_la = scorer.lookahead(n_mode, n_node, n_wlen, n_sp)
            score = np.concatenate([np.log(pb_c + pnb_c) + lm + la, np.log(p_ext) + n_lm + n_la])
            if single:
                count = np.array([len(score)])
                owner = None
            else:
                owner = np.concatenate([ln, ln[bi[new]]])
                count = np.bincount(owner, minlength=n)
            alive = None
            if margin is not None:
                if single:
                    alive = score >= score.max() - margin
                else:
                    top = np.full(n, -np.inf)
                    np.maximum.at(top, owner, score)
                    alive = score >= top[owner] - margin
            if single and len(score) > W:
                best = np.argpartition(-score, W - 1)[:W]
            elif count.max() > W:  # each line's beam_width best, by score (ties: the earlier)
                best = _best_of_each(score, owner, count, W)
            else:
                best = None
            if alive is not None:
                best = np.flatnonzero(alive) if best is None else best[alive[best]]
            if best is None:
                kc, kn = np.arange(B), new
            else:
                kc, kn = best[best < B], new[best[best >= B] - B]
            ne = len(kn)
            ev_char[n_ev:n_ev + ne] = c[kn]
            ev_parent[n_ev:n_ev + ne] = ev[bi[kn]]
            ev = np.concatenate([ev[kc], np.arange(n_ev, n_ev + ne)])
            n_ev += ne
            if not single:
                ln = np.concatenate([ln[kc], ln[bi[kn]]])
            S = np.concatenate([S[kc], np.stack([c[kn], n_mode[kn], n_node[kn], tb.t_case[code[kn]],
                                                 n_wlen[kn], n_prev[kn], n_ss[kn]], 1)])
            h = np.concatenate([h[kc], n_h[kn]])
            lm = np.concatenate([lm[kc], n_lm[kn]])
            la = np.concatenate([la[kc], n_la[kn]])
            sp = np.concatenate([sp[kc], n_sp[kn]])
            pb, pnb = _scaled(np.concatenate([pb_c[kc], np.zeros(ne)]),
                              np.concatenate([pnb_c[kc], p_ext[kn]]), ln, n)
    # The texts of the final beams (their events share the lines' prefixes: each made once).
    chars, parent, char = tb.chars.tolist(), ev_parent[:n_ev].tolist(), ev_char[:n_ev].tolist()
    made: dict[int, str] = {-1: ""}

    def text_of(e: int) -> str:
        path = []
        while e not in made:
            path.append(e)
            e = parent[e]
        for e2 in reversed(path):
            made[e2] = made[parent[e2]] + chars[char[e2]]
        return made[path[0]] if path else made[e]

    readings = []
    for j, (evs, post) in enumerate(finals):
        texts = [text_of(e) for e in evs]
        readings.append((texts[0].rstrip(" "), texts, post))
    labels = [charset.encode(text) for text, _, _ in readings]
    aligned = [align(P[0], labels[0])] if single else align_many(P, ends_at, labels)
    for j, (text, texts, post) in enumerate(readings):
        out[lines[j]] = _recognition(probs[lines[j]], charset, text, texts, post, aligned[j])
    return out  # type: ignore[return-value]


def _scaled(pb: np.ndarray, pnb: np.ndarray, ln: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``pb`` and ``pnb`` divided by their line's largest ``pb + pnb`` (where it is above 0)."""
    if n == 1:
        scale = (pb + pnb).max()
        return (pb / scale, pnb / scale) if scale > 0 else (pb, pnb)
    scale = np.zeros(n)
    np.maximum.at(scale, ln, pb + pnb)
    s = scale[ln]
    return np.where(s > 0, pb / s, pb), np.where(s > 0, pnb / s, pnb)


def _best_of_each(score: np.ndarray, owner: np.ndarray, count: np.ndarray, width: int) -> np.ndarray:
    """Indices, in order, of the ``width`` best ``score`` of each line (``owner``: each score's
    line; ``count``: the scores of each line), ties at the cut going to the earlier. Each line's
    cut is found by a partition of its scores (a linear selection), not a sort of them all."""
    n = len(count)
    table = np.full((n, int(count.max())), -np.inf)
    table[owner, _place_in_line(owner, count)] = score
    cut = np.full(n, -np.inf)
    full = count > width
    cut[full] = -np.partition(-table[full], width - 1, axis=1)[:, width - 1]
    above = score > cut[owner]
    tied = np.flatnonzero(score == cut[owner])
    if not len(tied):
        return np.flatnonzero(above)
    # Of the scores at the cut, the earliest, as many as the line has room for.
    room = width - np.bincount(owner[above], minlength=n)
    tied_owner = owner[tied]
    rank = _place_in_line(tied_owner, np.bincount(tied_owner, minlength=n))
    keep = above.copy()
    keep[tied[rank < room[tied_owner]]] = True
    return np.flatnonzero(keep)


def _place_in_line(owner: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Each item's place among its line's items, in order (``count``: the items of each line).
    The lines are grouped by a stable sort of 16-bit integers (a radix sort)."""
    grouped = np.argsort(owner.astype(np.int16), kind="stable")
    place = np.empty(len(owner), np.int64)
    place[grouped] = np.arange(len(owner)) - (np.cumsum(count) - count)[owner[grouped]]
    return place


def _final_beams(tb, scorer, S, ev, pb, pnb, lm, sp) -> tuple[list[int], np.ndarray]:
    """The final beams of one line, best first: their last events and posteriors."""
    # Finish the words still open at the end of the line.
    final = lm.copy()
    open_ = np.flatnonzero(S[:, 1] != _BETWEEN)
    if len(open_):
        So = S[open_]
        final[open_] += scorer.finish(So[:, 1], So[:, 2], So[:, 3], So[:, 4], So[:, 5], So[:, 6],
                                      sp[open_])[0]
    final += np.log(pb + pnb)
    order = np.argsort(-final)
    post = np.exp(final[order] - final[order].max())
    post /= post.sum()
    return ev[order].tolist(), post


def _candidates(P: np.ndarray, prune: float, max_chars: int) -> tuple[np.ndarray, np.ndarray]:
    """Per line and frame of ``P`` (lines, frames, classes), the characters worth trying: those
    above ``prune`` probability in label order, or where there are more than ``max_chars`` of
    them, the ``max_chars`` likeliest, likeliest first; padded with -1. And how many there are."""
    n, T, _ = P.shape
    K = max(1, max_chars)
    cands = np.full((n, T, K), -1, np.int64)
    above = P[:, :, 1:] > prune
    count = above.sum(2)
    j, t, k = np.nonzero(above)
    small = np.int16 if above.shape[2] < 2 ** 15 else np.int64  # the running count, compact
    pos = np.cumsum(above, 2, dtype=small)[j, t, k] - 1
    few = count[j, t] <= max_chars
    cands[j[few], t[few], pos[few]] = k[few] + 1
    for j, t in zip(*np.nonzero(count > max_chars)):
        cs = np.flatnonzero(above[j, t]) + 1
        cands[j, t, :max_chars] = cs[np.argsort(-P[j, t, cs])[:max_chars]]
    return cands, np.minimum(count, max_chars)


class _WordScorer:
    """Language-model scores of finished words and of words being read (vectorised)."""

    def __init__(self, lexicon: Lexicon, trie, lm_weight: float, oov_logp: float,
                 oov_char_logp: float, case_weight: float, word_bonus: float,
                 spelling: SpellingModel | None = None, spelling_weight: float = 0.0) -> None:
        self.lexicon, self.trie = lexicon, trie
        self.w, self.oov, self.oov_char, self.case_w = lm_weight, oov_logp, oov_char_logp, case_weight
        self.bonus = word_bonus
        self.spelling, self.spelling_w = spelling, spelling_weight

    def free(self, wlen: np.ndarray, spelt: np.ndarray) -> np.ndarray:
        """Score of an out-of-vocabulary word of ``wlen`` letters whose spelling scored ``spelt``."""
        return self.w * self.oov + self.oov_char * wlen + self.bonus + self.spelling_w * spelt

    def lookahead(self, mode: np.ndarray, node: np.ndarray, wlen: np.ndarray,
                  spelt: np.ndarray) -> np.ndarray:
        """Optimistic score of the word being read (0 between words)."""
        free = self.free(wlen, spelt)
        tree = self.w * self.trie.lookahead[node] + self.bonus
        return np.where(mode == _INWORD, np.maximum(tree, free), np.where(mode == _FREE, free, 0.0))

    def finish(self, mode, node, case, wlen, prev, spell_state, spelt) -> tuple[np.ndarray, np.ndarray]:
        """Score and context id of each word that ends here."""
        wid = np.where(mode == _INWORD, self.trie.word[node], -1)
        known = wid >= 0
        if self.spelling is not None:
            spelt = spelt + self.spelling.end_logp(spell_state)
        score = self.free(wlen, spelt)
        out_id = np.full(len(mode), self.lexicon.unk, np.int64)
        if known.any():
            w, pv = wid[known], prev[known]
            lp = self.lexicon.bigram_logp(pv, w)
            pat = _CASE_PATTERN[case[known]]
            cl = self.lexicon.case_logp[w]
            case_lp = cl[np.arange(len(w)), pat].astype(np.float64)
            # At a line or sentence start a capital is as good as the word's usual case.
            start = (pv == self.lexicon.bos) & (pat == CAP)
            case_lp = np.where(start, np.maximum(case_lp, cl[:, LOWER]), case_lp)
            score[known] = np.maximum(self.w * (lp + self.case_w * case_lp) + self.bonus, score[known])
            out_id[known] = w
        return score, out_id


def align(probs: np.ndarray, labels: list[int]) -> list[tuple[int, int, float]]:
    """Forced CTC alignment (Viterbi) of a label sequence: per label ``(start, end, best prob)``
    over the frames it is aligned to; [] if the sequence cannot fit."""
    T, L = len(probs), len(labels)
    if L == 0:
        return []
    ext = np.zeros(2 * L + 1, np.int64)
    ext[1::2] = labels
    S = len(ext)
    with np.errstate(divide="ignore"):
        lp = np.log(probs[:, ext])
    skip = np.zeros(S, bool)
    skip[3::2] = np.asarray(labels[1:]) != np.asarray(labels[:-1])
    skip_pen = np.where(skip, 0.0, -np.inf)
    pad = np.full(S + 2, -np.inf)  # alpha, after two cells that stay -inf
    pad[2] = lp[0, 0]
    pad[3] = lp[0, 1]
    back = np.zeros((T, S), np.int8)
    for t in range(1, T):
        a0, a1, a2 = pad[2:], pad[1:-1], pad[:-2] + skip_pen
        b1 = a1 > a0
        best = np.where(b1, a1, a0)
        b2 = a2 > best
        back[t] = np.where(b2, 2, b1)
        pad[2:] = np.where(b2, a2, best) + lp[t]
    alpha = pad[2:]
    s = S - 1 if alpha[S - 1] >= alpha[S - 2] else S - 2
    if not np.isfinite(alpha[s]):
        return []
    state = np.zeros(T, np.int64)
    for t in range(T - 1, -1, -1):
        state[t] = s
        s -= int(back[t, s])
    spans: list[tuple[int, int, float]] = []
    for j in range(L):
        frames = np.flatnonzero(state == 2 * j + 1)
        p = float(probs[frames, labels[j]].max()) if len(frames) else 0.0
        start = int(frames[0]) if len(frames) else 0
        end = int(frames[-1]) + 1 if len(frames) else 0
        spans.append((start, end, p))
    return spans


def align_many(P: np.ndarray, frames: np.ndarray, labels: list[list[int]]) -> list[list[tuple[int, int, float]]]:
    """:func:`align` of several lines at once, each the same as alone: ``P`` (lines, frames,
    classes) holds line ``i``'s probabilities in its first ``frames[i]`` frames (the rest is
    padding), ``labels[i]`` its label sequence."""
    n = len(labels)
    out: list[list[tuple[int, int, float]]] = [[] for _ in range(n)]
    todo = [i for i in range(n) if labels[i]]
    if not todo:
        return out
    if len(todo) < n:
        for i, spans in zip(todo, align_many(P[todo], frames[todo], [labels[i] for i in todo])):
            out[i] = spans
        return out
    # The Viterbi recursion of all lines in step: a line's states past its own 2 L + 1 stay
    # -inf and feed none of its own (a state reads only itself and the two before it).
    sizes = np.array([2 * len(lab) + 1 for lab in labels])
    S, T = int(sizes.max()), int(frames.max())
    ext = np.zeros((n, S), np.int64)
    skip = np.zeros((n, S), bool)
    for i, lab in enumerate(labels):
        ext[i, 1:2 * len(lab):2] = lab
        skip[i, 3:2 * len(lab):2] = np.asarray(lab[1:]) != np.asarray(lab[:-1])
    beyond = np.arange(S) >= sizes[:, None]

    def lp(t: int) -> np.ndarray:  # (line, state): log-probabilities of frame t
        out = np.log(np.take_along_axis(P[:, t], ext, axis=1))
        out[beyond] = -np.inf
        return out

    skip_pen = np.where(skip, 0.0, -np.inf)
    pad = np.full((n, S + 2), -np.inf)  # alpha, after two cells that stay -inf
    with np.errstate(divide="ignore"):
        first = lp(0)
    pad[:, 2] = first[:, 0]
    pad[:, 3] = first[:, 1]
    back = np.zeros((T, n, S), np.int8)
    alpha = np.empty((n, S))
    ending = frames - 1
    for i in np.flatnonzero(ending == 0):
        alpha[i] = pad[i, 2:]
    ends = set(ending.tolist())
    with np.errstate(divide="ignore"):
        for t in range(1, T):
            a0, a1, a2 = pad[:, 2:], pad[:, 1:-1], pad[:, :-2] + skip_pen
            b1 = a1 > a0
            best = np.where(b1, a1, a0)
            b2 = a2 > best
            back[t] = np.where(b2, 2, b1)
            pad[:, 2:] = np.where(b2, a2, best) + lp(t)
            if t in ends:
                done = np.flatnonzero(ending == t)
                alpha[done] = pad[done, 2:]
    rows = np.arange(n)
    last = alpha[rows, sizes - 1]
    s = np.where(last >= alpha[rows, sizes - 2], sizes - 1, sizes - 2)
    ok = np.isfinite(alpha[rows, s])
    state = np.zeros((T, n), np.int64)
    for t in range(T - 1, -1, -1):
        on = np.flatnonzero(t < frames)
        state[t, on] = s[on]
        s[on] -= back[t, on, s[on]]
    for i in np.flatnonzero(ok):
        st = state[:frames[i], i]
        fr = np.flatnonzero(st % 2 == 1)
        lab = st[fr] // 2
        L = len(labels[i])
        first = np.searchsorted(lab, np.arange(L))
        if len(fr) == 0 or np.any(np.diff(np.r_[first, len(fr)]) <= 0):  # a label without frames
            out[i] = align(P[i, :frames[i]], labels[i])
            continue
        p = np.maximum.reduceat(P[i, fr, np.asarray(labels[i])[lab]], first)
        out[i] = [(int(a), int(b) + 1, float(q)) for a, b, q in
                  zip(fr[first], fr[np.r_[first[1:], len(fr)] - 1], p)]
    return out


def _recognition(probs, charset: Charset, text: str, texts: list[str], post: np.ndarray,
                 spans: list[tuple[int, int, float]] | None = None) -> Recognition:
    """The reading of ``text`` (``spans``: its :func:`align`, when made already)."""
    if not text:
        return Recognition("", float(probs[:, 0].mean()), ())
    if spans is None:
        spans = align(probs, charset.encode(text))
    if not spans:  # cannot happen for a text the search found; be safe
        spans = [(0, 0, 0.0)] * len(text)
    # Posterior of each white-space separated word: the share of the final beams that also read
    # it (its k-th occurrence, so that a beam that splits an earlier word differently still counts).
    words = text.split(" ")
    counts = [Counter(t.split(" ")) for t in texts]
    seen: Counter[str] = Counter()
    word_post = []
    for w in words:
        seen[w] += 1
        word_post.append(float(sum(p for cnt, p in zip(counts, post) if cnt[w] >= seen[w])))
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
