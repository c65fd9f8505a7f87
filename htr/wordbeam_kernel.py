"""Word beam search (:mod:`htr.wordbeam`) compiled by numba: one line's beams in plain loops.

:func:`candidates` picks each frame's characters worth trying; :func:`search_line` walks the
line's frames as :func:`htr.wordbeam.word_beam_search` defines the search (its module doc says
what a beam is and how it is scored) and returns the final beams as events (each a character and
the event before it) with their posteriors; :func:`best_reading` gives the best beam's labels and
its words' posteriors among all final beams, and :func:`align_line` the frames of each of its
characters. The arithmetic is that of the NumPy code they replaced, operation for operation and
in the same precisions (the look-ahead in float32 as the prefix tree stores it), so that the same
beams survive; NumPy's and the C library's ``log`` may differ in the last bit, and where more
than 16 characters pass in a frame, exact ties among them are ordered by label (NumPy's sort
left them in any order), so a tie at a cut could (in principle) fall the other way.

The functions hold no Python objects and let go of Python's lock (``nogil``), so that a page's
lines are searched on several threads at once. They are compiled on first use and kept in
numba's on-disk cache, from which a later process loads them in about 0.3 s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .lexicon import CAP, LOWER, UPPER

# Beam modes.
_BETWEEN, _INWORD, _FREE = 0, 1, 2
# The lexicon's case pattern of each case state of htr.wordbeam (nothing yet, lower, one capital,
# Capitalised, UPPER, broken).
_CASE_PATTERN = np.array([LOWER, LOWER, CAP, CAP, UPPER, LOWER], np.int64)
# A text's hash: the hash of the text before its last character, mixed with that character.
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True)
def _children(edge_keys, edge_child, first_edge, num_letters, node, letter):
    """The prefix tree's child of ``node`` by ``letter`` (-1: none). A node's edges are a short
    run of the sorted edge keys (``first_edge[node]`` on), read in turn."""
    if letter < 0:
        return -1
    q = node * num_letters + letter
    for i in range(first_edge[node], first_edge[node + 1]):
        if edge_keys[i] >= q:
            return np.int64(edge_child[i]) if edge_keys[i] == q else -1
    return -1


@njit(cache=True, nogil=True)
def _free_score(wlen, spelt, w_oov, oov_char, bonus, spelling_w):
    """Score of an out-of-vocabulary word (``htr.wordbeam._WordScorer.free``)."""
    return w_oov + oov_char * wlen + bonus + spelling_w * spelt


@njit(cache=True, nogil=True)
def _finish(mode, node, case, wlen, prev, spell_state, spelt, trie_word, backoff, unigram_p,
            bigram_keys, bigram_prob, case_logp, n_words, unk, spell_logp, spell_end,
            use_spelling, lm_w, w_oov, oov_char, case_w, bonus, spelling_w):
    """Score and context id of a word that ends (``htr.wordbeam._WordScorer.finish``)."""
    wid = np.int64(trie_word[node]) if mode == _INWORD else -1
    if use_spelling:
        spelt = spelt + np.float64(spell_logp[spell_state, spell_end])
    score = _free_score(wlen, spelt, w_oov, oov_char, bonus, spelling_w)
    if wid < 0:
        return score, unk
    p = np.float64(backoff[prev]) * unigram_p[wid]
    nk = len(bigram_keys)
    if nk:
        q = prev * (n_words + 2) + wid
        i = np.searchsorted(bigram_keys, q)
        if i >= nk:
            i = nk - 1
        if bigram_keys[i] == q:
            p = p + np.float64(bigram_prob[i])
    lp = np.log(max(p, 1e-30))
    pat = _CASE_PATTERN[case]
    # The case model's odds hold at a line's start too: they come from running text, where
    # sentences start with capitals, and a line or a word cut from one mostly starts mid-sentence.
    case_lp = np.float64(case_logp[wid, pat])
    known = lm_w * (lp + case_w * case_lp) + bonus
    return max(known, score), wid


@njit(cache=True, nogil=True)
def _rescale(pb, pnb, n):
    """The first ``n`` beams' probabilities divided by their largest sum (where it is above 0),
    so that they stay within floating point however long the line."""
    s = 0.0
    for b in range(n):
        s = max(s, pb[b] + pnb[b])
    if s > 0:
        for b in range(n):
            pb[b] = pb[b] / s
            pnb[b] = pnb[b] / s


@njit(cache=True, nogil=True)
def search_line(y, cands, n_cands, letter, forbid, t_mode, t_intree, t_case, t_wc, t_keeplen,
                t_ends, t_stop, t_cost, edge_keys, edge_child, first_edge, num_letters, trie_word,
                lookahead, backoff, unigram_p, bigram_keys, bigram_prob, case_logp, n_words,
                spell_next, spell_logp, spell_other, spell_end, use_spelling, width, margin, lm_w,
                oov_logp, oov_char, case_w, bonus, spelling_w, la_w, la_bonus):
    """Word beam search of one line's ``(frames, classes)`` probabilities ``y``.

    ``cands[t, :n_cands[t]]`` are the characters tried at frame ``t``; the tables are
    :class:`htr.wordbeam._Tables`' (transitions indexed by ``((mode * 6 + case) * classes +
    label) * 2 + in_tree``), the prefix tree's, the lexicon's and the spelling model's arrays.
    ``la_w`` and ``la_bonus`` are the language-model weight and word bonus in the look-ahead
    table's precision. ``margin`` is ``inf`` for none.

    Returns ``(ev_char, ev_parent, final_events, posteriors)``: the events (character, and the
    event before it, -1 at the start of the line) and the final beams' last events and
    posteriors, best first.
    """
    T, L = y.shape
    W = width
    bos, unk = n_words, n_words + 1
    w_oov = lm_w * oov_logp
    K_max = cands.shape[1]
    cap = W * (K_max + 1) + 1  # beams kept plus every extension of them
    # The beams: state columns, text hash, last event, probabilities (scaled per frame), scores;
    # within a frame their extensions follow them in the same arrays.
    last = np.zeros(cap, np.int64)
    mode = np.zeros(cap, np.int64)
    node = np.zeros(cap, np.int64)
    case = np.zeros(cap, np.int64)
    wlen = np.zeros(cap, np.int64)
    prev = np.zeros(cap, np.int64)
    sstate = np.zeros(cap, np.int64)
    h = np.zeros(cap, np.uint64)
    ev = np.full(cap, -1, np.int64)
    pb = np.zeros(cap)
    pnb = np.zeros(cap)
    lm = np.zeros(cap)
    la = np.zeros(cap)
    sp = np.zeros(cap)
    prev[0] = bos
    pb[0] = 1.0
    B = 1
    # Work arrays of a frame.
    tot = np.empty(cap)
    pb_c = np.empty(cap)
    pnb_c = np.empty(cap)
    add = np.empty(cap)
    score = np.empty(cap)
    origin = np.empty(cap, np.int64)  # a new beam's beam before it
    keep = np.empty(cap, np.bool_)
    # The hash table of a frame's beams (at most the width): a power of two, at least twice that.
    bits = 1
    while (1 << bits) < 2 * W:
        bits += 1
    slots, mask, shift = 1 << bits, (1 << bits) - 1, np.uint64(64 - bits)
    slot_beam = np.empty(slots, np.int64)
    ev_char = np.zeros(T * W + 1, np.int64)
    ev_parent = np.zeros(T * W + 1, np.int64)
    events = 0
    for t in range(T):
        y0 = y[t, 0]
        for b in range(B):
            tot[b] = pb[b] + pnb[b]
            pnb_c[b] = pnb[b] * y[t, last[b]]  # the empty text has pnb = 0
            pb_c[b] = tot[b] * y0
        K = n_cands[t]
        if K == 0:
            pb[:B], pnb[:B] = pb_c[:B], pnb_c[:B]
            _rescale(pb, pnb, B)
            continue
        # Extensions; one that gives the text of a beam already there merges into it.
        for i in range(slots):
            slot_beam[i] = -1
        for b in range(B):  # the beams by their text's hash (open addressing)
            i = np.int64(h[b] >> shift)
            while slot_beam[i] >= 0:
                i = (i + 1) & mask
            slot_beam[i] = b
        for b in range(B):
            add[b] = 0.0
        X = 0
        for b in range(B):
            lb = last[b]
            for k in range(K):
                c = cands[t, k]
                p = y[t, c] * (pb[b] if c == lb else tot[b])
                if not p > 0 or forbid[lb, c]:
                    continue
                nh = (h[b] ^ np.uint64(c)) * _HASH_MUL + np.uint64(1)
                i = np.int64(nh >> shift)
                m = slot_beam[i]
                while m >= 0 and h[m] != nh:
                    i = (i + 1) & mask
                    m = slot_beam[i]
                if m >= 0:
                    add[m] += p
                    continue
                j = B + X  # the new beams follow the old ones in the same arrays
                origin[j], ev[j], last[j], h[j] = b, ev[b], c, nh  # ev: its parent's, for now
                pb_c[j], pnb_c[j] = 0.0, p
                X += 1
        for b in range(B):
            pnb_c[b] = pnb_c[b] + add[b]
            score[b] = np.log(pb_c[b] + pnb_c[b]) + lm[b] + la[b]
        # The new beams' states and scores.
        for j in range(B, B + X):
            b, c = origin[j], last[j]
            m, nd, cs, wl, pv, ss = mode[b], node[b], case[b], wlen[b], prev[b], sstate[b]
            lt = letter[c]
            child = _children(edge_keys, edge_child, first_edge, num_letters, nd, lt)
            code = ((m * 6 + cs) * L + c) * 2 + (1 if child >= 0 else 0)
            nm = t_mode[code]
            mode[j] = nm
            nn = child if t_intree[code] else 0
            node[j] = nn
            case[j] = t_case[code]
            nw = wl * t_keeplen[code] + t_wc[code]
            wlen[j] = nw
            keeps, wc = t_keeplen[code] != 0, t_wc[code] != 0
            if use_spelling:  # the word's letters so far, through the spelling model
                st = ss if keeps else 0
                col = spell_other if lt < 0 else lt
                sstate[j] = spell_next[st, col] if wc else 0
                nsp = (sp[b] if keeps else 0.0) + (np.float64(spell_logp[st, col]) if wc else 0.0)
            else:
                sstate[j] = 0
                nsp = 0.0
            sp[j] = nsp
            nlm = lm[b] + t_cost[code]
            stop = t_stop[code]
            npv = bos if stop else pv
            if t_ends[code]:
                wscore, wid = _finish(m, nd, cs, wl, pv, ss, sp[b], trie_word, backoff, unigram_p,
                                      bigram_keys, bigram_prob, case_logp, n_words, unk,
                                      spell_logp, spell_end, use_spelling, lm_w, w_oov, oov_char,
                                      case_w, bonus, spelling_w)
                nlm += wscore
                npv = bos if stop else wid
            lm[j] = nlm
            prev[j] = npv
            # Look-ahead: the best the word being read could still score (0 between words).
            if nm == _BETWEEN:
                nla = 0.0
            else:
                free = _free_score(nw, nsp, w_oov, oov_char, bonus, spelling_w)
                if nm == _INWORD:
                    nla = max(np.float64(la_w * lookahead[nn] + la_bonus), free)
                else:
                    nla = free
            la[j] = nla
            score[j] = np.log(pnb_c[j]) + nlm + nla
        # Keep the width best (ties at the cut: the earlier) within the margin of the best.
        N = B + X
        top = -np.inf
        for i in range(N):
            top = max(top, score[i])
        floor = top - margin
        for i in range(N):
            keep[i] = score[i] >= floor
        if N > W:
            cut = -np.partition(-score[:N], W - 1)[W - 1]
            room = W
            for i in range(N):
                if score[i] > cut:
                    room -= 1
            for i in range(N):
                if score[i] > cut:
                    continue
                if score[i] == cut and room > 0:
                    room -= 1
                else:
                    keep[i] = False
        # The kept beams moved down in place (a kept beam never moves up), old ones first; a
        # new one kept becomes an event.
        nb = 0
        for i in range(N):
            if not keep[i]:
                continue
            if i < B:
                ev[nb] = ev[i]
            else:
                ev_char[events], ev_parent[events] = last[i], ev[i]
                ev[nb] = events
                events += 1
            last[nb], mode[nb], node[nb], case[nb] = last[i], mode[i], node[i], case[i]
            wlen[nb], prev[nb], sstate[nb], h[nb] = wlen[i], prev[i], sstate[i], h[i]
            lm[nb], la[nb], sp[nb] = lm[i], la[i], sp[i]
            pb[nb], pnb[nb] = pb_c[i], pnb_c[i]
            nb += 1
        B = nb
        _rescale(pb, pnb, B)
    # The final beams: the words still open at the line's end finished, best first.
    final = np.empty(B)
    for b in range(B):
        f = lm[b]
        if mode[b] != _BETWEEN:
            f += _finish(mode[b], node[b], case[b], wlen[b], prev[b], sstate[b], sp[b], trie_word,
                         backoff, unigram_p, bigram_keys, bigram_prob, case_logp, n_words, unk,
                         spell_logp, spell_end, use_spelling, lm_w, w_oov, oov_char, case_w, bonus,
                         spelling_w)[0]
        final[b] = f + np.log(pb[b] + pnb[b])
    rank = np.argsort(-final, kind="mergesort")
    best = final[rank[0]]
    post = np.exp(final[rank] - best)
    post /= post.sum()
    return ev_char[:events], ev_parent[:events], ev[:B][rank], post


@njit(cache=True, nogil=True)
def align_line(probs, labels):
    """Forced CTC alignment (Viterbi) of ``labels`` to ``(frames, classes)`` probabilities (see
    :func:`htr.wordbeam.align`): per label its first frame, the frame after its last and its best
    probability over them; and False where the sequence cannot fit."""
    T = probs.shape[0]
    L = len(labels)
    S = 2 * L + 1
    start = np.zeros(L, np.int64)
    end = np.zeros(L, np.int64)
    best_p = np.zeros(L)
    ext = np.zeros(S, np.int64)
    for j in range(L):
        ext[2 * j + 1] = labels[j]
    skip = np.zeros(S, np.bool_)
    for j in range(1, L):
        skip[2 * j + 1] = labels[j] != labels[j - 1]
    alpha = np.full(S, -np.inf)
    alpha[0] = np.log(probs[0, ext[0]])
    if S > 1:
        alpha[1] = np.log(probs[0, ext[1]])
    back = np.zeros((T, S), np.int8)
    for t in range(1, T):
        # Downwards: each state reads itself and the two before it, not yet updated.
        for s in range(S - 1, -1, -1):
            a0 = alpha[s]
            a1 = alpha[s - 1] if s >= 1 else -np.inf
            a2 = alpha[s - 2] if s >= 2 and skip[s] else -np.inf
            if a1 > a0:
                best, step = a1, 1
            else:
                best, step = a0, 0
            if a2 > best:
                best, step = a2, 2
            back[t, s] = step
            alpha[s] = best + np.log(probs[t, ext[s]])
    s = S - 1 if alpha[S - 1] >= alpha[S - 2] else S - 2
    if not np.isfinite(alpha[s]):
        return start, end, best_p, False
    seen = np.zeros(L, np.bool_)
    for t in range(T - 1, -1, -1):
        if s % 2 == 1:
            j = s // 2
            if not seen[j]:
                seen[j] = True
                end[j] = t + 1
                best_p[j] = probs[t, labels[j]]
            else:
                best_p[j] = max(best_p[j], probs[t, labels[j]])
            start[j] = t
        s -= back[t, s]
    return start, end, best_p, True


@njit(cache=True, nogil=True)
def _labels_of(ev_char, ev_parent, event):
    """The labels of the text that ends at ``event``, in reading order."""
    n, e = 0, event
    while e >= 0:
        n += 1
        e = ev_parent[e]
    out = np.empty(n, np.int64)
    e = event
    for i in range(n - 1, -1, -1):
        out[i] = ev_char[e]
        e = ev_parent[e]
    return out


@njit(cache=True, nogil=True)
def _words_of(labels, space):
    """(start, end) of each of a label sequence's words, split at every ``space`` as
    ``str.split(" ")`` splits (an empty word after a final space)."""
    n_words = 1
    for c in labels:
        if c == space:
            n_words += 1
    spans = np.empty((n_words, 2), np.int64)
    k, start = 0, 0
    for i in range(len(labels)):
        if labels[i] == space:
            spans[k, 0], spans[k, 1] = start, i
            k += 1
            start = i + 1
    spans[k, 0], spans[k, 1] = start, len(labels)
    return spans


@njit(cache=True, nogil=True)
def _same_word(a, sa, b, sb):
    if sa[1] - sa[0] != sb[1] - sb[0]:
        return False
    for i in range(sa[1] - sa[0]):
        if a[sa[0] + i] != b[sb[0] + i]:
            return False
    return True


@njit(cache=True, nogil=True)
def word_posteriors(best, beams, lengths, post, space):
    """The posterior of each word of the label sequence ``best`` (words split at every
    ``space``): the share of the final beams (``beams[f, :lengths[f]]``, with posteriors
    ``post``) that read that word as often as ``best`` has by then (its k-th occurrence), so
    that a beam that splits an earlier word otherwise still counts."""
    words = _words_of(best, space)
    n = len(words)
    occurrence = np.ones(n, np.int64)
    for j in range(n):
        for i in range(j):
            if _same_word(best, words[i], best, words[j]):
                occurrence[j] += 1
    out = np.zeros(n)
    for f in range(len(lengths)):
        labels = beams[f, :lengths[f]]
        theirs = _words_of(labels, space)
        for j in range(n):
            count = 0
            for i in range(len(theirs)):
                if _same_word(best, words[j], labels, theirs[i]):
                    count += 1
            if count >= occurrence[j]:
                out[j] += post[f]
    return out


@njit(cache=True, nogil=True)
def best_reading(ev_char, ev_parent, finals, post, space):
    """The best final beam's labels (trailing spaces dropped) and their
    :func:`word_posteriors` among the final beams (``finals``: their last events)."""
    n = len(finals)
    lengths = np.zeros(n, np.int64)
    for f in range(n):
        e = finals[f]
        while e >= 0:
            lengths[f] += 1
            e = ev_parent[e]
    beams = np.full((n, max(1, lengths.max())), -1, np.int64)
    for f in range(n):
        beams[f, :lengths[f]] = _labels_of(ev_char, ev_parent, finals[f])
    end = lengths[0]
    while end > 0 and beams[0, end - 1] == space:
        end -= 1
    best = beams[0, :end].copy()
    return best, word_posteriors(best, beams, lengths, post, space)


@njit(cache=True, nogil=True)
def candidates(y, prune, max_chars):
    """Per frame of ``(frames, classes)`` probabilities, the characters worth trying: those above
    ``prune`` in label order, or where there are more than ``max_chars`` of them, the
    ``max_chars`` likeliest, likeliest first (ties: the lower label); and how many there are."""
    T, L = y.shape
    K = max(1, max_chars)
    out = np.full((T, K), -1, np.int64)
    count = np.zeros(T, np.int64)
    above = np.empty(L, np.int64)
    for t in range(T):
        n = 0
        for c in range(1, L):
            if y[t, c] > prune:
                above[n] = c
                n += 1
        if n <= max_chars:
            out[t, :n] = above[:n]
            count[t] = n
        else:
            order = np.argsort(-y[t, above[:n]], kind="mergesort")
            for k in range(max_chars):
                out[t, k] = above[order[k]]
            count[t] = max_chars
    return out, count
