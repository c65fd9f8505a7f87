"""How words are spelt: a character n-gram model of the letters of words, for words that are not
in the lexicon.

Word beam search (:mod:`htr.wordbeam`) lets a word leave the lexicon (a name, an old spelling)
at a price per letter. A flat price makes every string of letters as likely as any other, so the
decoder cannot tell ``Tomkins`` from ``Tcmkins`` once both are out of the lexicon. This model
gives each letter of such a word its probability given the letters before it in the word, and
the word's end its probability given its last letters: an interpolated Kneser-Ney character
n-gram (Chen and Goodman 1998), trained on the lexicon's own words, each spelling counted once
(types, not tokens: what a new word looks like, not how often ``the`` is written).

Being built from the words, it needs no file of its own: a lexicon (shipped, French, or a user's
word list) brings its spelling model with it (:meth:`SpellingModel.of`, built once per lexicon:
0.4-0.5 s and 23 MB for the 51,000 words of the shipped English lexicon).

For the vectorised search the model is a finite automaton with dense tables: a state is the
longest history (up to ``order - 1`` symbols, the word's start a symbol of its own) seen in
training; ``next_state[s, a]`` and ``logp[s, a]`` give, for every state and letter, where the
model goes and the letter's log-probability. Letters the words never use share one column
(``other``) whose probability comes from the uniform floor of the lowest order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Longest history is ``order - 1`` symbols; 5 was the best of 3..6 on the validation lines'
#: out-of-lexicon words (see the model card).
DEFAULT_ORDER = 5
#: Kneser-Ney discount for every order (type counts are small: most are 1 or 2).
DEFAULT_DISCOUNT = 0.75


class SpellingModel:
    """A character n-gram over the letters of words; see the module's doc.

    ``alphabet`` is the letters' order (a letter's index is its column); column ``len(alphabet)``
    is any other letter and ``len(alphabet) + 1`` the end of the word. State 0 is a word's start.
    """

    START = 0

    def __init__(self, alphabet: str, next_state: np.ndarray, logp: np.ndarray) -> None:
        self.alphabet = alphabet
        self.index = {c: i for i, c in enumerate(alphabet)}
        self.other = len(alphabet)
        self.end = len(alphabet) + 1
        self.next_state = np.asarray(next_state, np.int32)
        self.logp = np.asarray(logp, np.float32)

    def __len__(self) -> int:
        return len(self.next_state)

    # -- use ---------------------------------------------------------------------------------------
    def step(self, states: np.ndarray, letters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For arrays of states and letter indices (-1: a letter outside the alphabet), the next
        states and the letters' log-probabilities."""
        col = np.where(letters < 0, self.other, letters)
        return self.next_state[states, col], self.logp[states, col]

    def end_logp(self, states: np.ndarray) -> np.ndarray:
        """Log-probability that the word ends after each state."""
        return self.logp[states, self.end]

    def score(self, word: str) -> float:
        """Log-probability of a whole (case-folded) word, its end included."""
        state, total = np.array([self.START]), 0.0
        for ch in word.lower():
            state, lp = self.step(state, np.array([self.index.get(ch, -1)]))
            total += float(lp[0])
        return total + float(self.end_logp(state)[0])

    @classmethod
    def of(cls, lexicon, order: int = DEFAULT_ORDER) -> "SpellingModel":
        """The spelling model of a :class:`htr.lexicon.Lexicon`'s words in its prefix tree's
        alphabet, built on first use and kept with the lexicon."""
        kept = cls._kept(lexicon)
        if order not in kept:
            kept[order] = cls.train(lexicon.words, lexicon.trie.alphabet, order)
        return kept[order]

    @classmethod
    def keep(cls, lexicon, model: "SpellingModel", order: int = DEFAULT_ORDER) -> None:
        """Keep ``model`` (built before, e.g. read from :mod:`htr.lexicon_cache`) as the
        lexicon's spelling model of ``order``: :meth:`of` then answers it."""
        cls._kept(lexicon)[order] = model

    @classmethod
    def kept(cls, lexicon, order: int = DEFAULT_ORDER) -> "SpellingModel | None":
        """The lexicon's spelling model of ``order`` if it has been made, else None."""
        return cls._kept(lexicon).get(order)

    @staticmethod
    def _kept(lexicon) -> dict:
        return lexicon.__dict__.setdefault("_spelling_models", {})

    # -- training ----------------------------------------------------------------------------------
    @classmethod
    def train(cls, words: Sequence[str], alphabet: str, order: int = DEFAULT_ORDER,
              discount: float = DEFAULT_DISCOUNT) -> "SpellingModel":
        """Interpolated Kneser-Ney over the distinct case-folded ``words`` (letters outside
        ``alphabet`` count as ``other``)."""
        a = len(alphabet)
        if order < 1 or not a:
            raise ValueError("a spelling model needs an order of 1 or more and an alphabet")
        if float(a + 4) ** (order + 1) >= 2 ** 62:  # histories are numbers (below)
            raise ValueError(f"order {order} is too high for {a} letters")
        other, end, bow = a, a + 1, a + 2
        n_sym = a + 2  # symbols predicted: letters, other, end
        h_max = order - 1
        # A history is a number whose digits are its symbols + 1 (base M), oldest first: the
        # empty history is 0, and histories of different lengths never share a number.
        M = a + 4
        text = sorted({w.lower() for w in words})
        codes = np.frombuffer("".join(text).encode("utf-32-le"), np.uint32)
        letters = np.array(sorted(ord(c) for c in alphabet), np.uint32)
        by_code = np.array([alphabet.index(chr(c)) for c in letters], np.int64)
        pos = np.minimum(np.searchsorted(letters, codes), len(letters) - 1)
        idx = np.where(letters[pos] == codes, by_code[pos], other)
        lengths = np.fromiter((len(w) for w in text), np.int64, len(text))
        # The words one after another, each as bow, its letters, end: a flat symbol array.
        seq_len = lengths + 2
        starts = np.cumsum(seq_len) - seq_len
        seq = np.empty(int(seq_len.sum()), np.int64)
        seq[starts] = bow
        seq[starts + seq_len - 1] = end
        inner = np.ones(len(seq), bool)
        inner[starts] = inner[starts + seq_len - 1] = False
        seq[inner] = idx
        offset = np.arange(len(seq)) - np.repeat(starts, seq_len)  # position in its word
        at = np.flatnonzero(offset >= 1)  # positions predicted
        sym, off = seq[at], offset[at]
        # (order, history, symbol) -> count: raw counts for the longest histories and those
        # that start at the word's start; the others count distinct symbols before them.
        grams: list[tuple[np.ndarray, np.ndarray]] = []
        hist = np.zeros(len(at), np.int64)
        for k in range(0, h_max + 1):
            if k:
                hist = hist + (seq[at - k] + 1) * M ** (k - 1) * (off >= k)
            valid = off >= k
            raw = valid & ((k == h_max) | (off == k))
            key = hist[raw] * M + sym[raw]
            grams.append(np.unique(key, return_counts=True))
            cont = valid & ~raw
            if cont.any():
                left = seq[at[cont] - k - 1]
                grams.append(np.unique(np.unique((hist[cont] * M + sym[cont]) * M + left) // M,
                                       return_counts=True))
        g_key = np.concatenate([g[0] for g in grams])
        g_cnt = np.concatenate([g[1] for g in grams]).astype(np.float64)
        g_hist, g_sym = g_key // M, g_key % M
        # States: the histories seen, shortest first (a history's lower order is its number
        # less its oldest digit, which comes earlier), the empty one always.
        hist_keys = np.unique(np.concatenate([[0], g_hist]))
        hist_len = np.zeros(len(hist_keys), np.int64)
        for k in range(1, h_max + 1):
            hist_len[hist_keys >= M ** (k - 1)] = k
        order_ = np.lexsort((hist_keys, hist_len))
        hist_keys, hist_len = hist_keys[order_], hist_len[order_]
        sorted_keys = np.argsort(hist_keys)

        def state_of(keys: np.ndarray) -> np.ndarray:
            i = sorted_keys[np.minimum(np.searchsorted(hist_keys[sorted_keys], keys), len(hist_keys) - 1)]
            return np.where(hist_keys[i] == keys, i, -1)

        row = state_of(g_hist)
        total = np.bincount(row, g_cnt, len(hist_keys))
        types = np.bincount(row, minlength=len(hist_keys)).astype(np.float64)
        P = np.zeros((len(hist_keys), n_sym), np.float64)
        for k in range(0, h_max + 1):
            s = np.flatnonzero(hist_len == k)
            lower = (np.full((len(s), n_sym), 1.0 / n_sym) if k == 0
                     else P[state_of(hist_keys[s] % M ** (k - 1))])
            seen = total[s] > 0
            gamma = np.where(seen, discount * types[s] / np.maximum(total[s], 1e-12), 1.0)
            P[s] = lower * gamma[:, None]
            e = np.flatnonzero(hist_len[row] == k)
            np.add.at(P, (row[e], g_sym[e]), np.maximum(g_cnt[e] - discount, 0.0) / total[row[e]])
        # Where each (state, letter or other) goes: the longest suffix of history + letter that
        # is a state (the empty history always is).
        cand = hist_keys[:, None] * M + (np.arange(a + 1) + 1)[None, :]
        if h_max:
            cand = cand % M ** h_max
        else:
            cand = np.zeros_like(cand)
        nxt = np.full(cand.shape, -1, np.int64)
        for k in range(h_max, -1, -1):
            todo = nxt < 0
            if not todo.any():
                break
            nxt[todo] = state_of(cand[todo] % M ** k)
        # The word's start first: state 0 is the history (bow,).
        start = int(state_of(np.array([bow + 1]))[0]) if h_max else 0
        perm = np.concatenate([[start], np.delete(np.arange(len(hist_keys)), start)])
        inverse = np.argsort(perm)
        return cls(alphabet, inverse[nxt[perm]], np.log(P[perm]).astype(np.float32))
