"""Word lexicon and word bigram language model for lexicon-aware decoding (:mod:`htr.wordbeam`).

A :class:`Lexicon` holds case-folded words (letters, with apostrophes inside: ``don't``), each with

* a unigram log-probability: the language's word frequencies from ``wordfreq`` (English, or
  French with elided forms: :func:`_french_elisions`) mixed with the counts of a text corpus (for
  English the IAM corpus: LOB sentences, the texts of IAM and IAM-OnDB);
* a case model: how likely the word is written ``lower``, ``Capitalised`` or ``UPPER`` (from IAM
  counts, smoothed towards the corpus-wide shares), so that names prefer their capital;
* a word bigram model ``P(word | previous word)`` from the IAM corpus, interpolated absolute
  discounting (Kneser-Ney style discount, wordfreq-backed unigram as the lower order).

Every line of the IAM test lists (both ``splits/*/lines/te.lst``) is left out, and with it every
line of a form group that has a test line (the copies ``a01-003u``, ``a01-003x`` ... of a form carry
the same text), so the language model never learns a sentence it will be scored on.

The decoder walks a character prefix tree (:class:`PrefixTree`) of the words; it is built from the
word list when first needed, and it also lets a possessive ``'s`` (``'`` after a final ``s``)
follow any word, scored as the word itself.

Build the shipped lexicon once into the model folder::

    python -m htr.lexicon build --out models/default/lexicon.npz \
        --exclude-val iam-ondb:../shared/data/iam-ondb --corpus pagexml:../shared/data/hooker

(IAM-OnDB's texts are IAM's: its validation form groups are left out of the corpus as well, so
that the shipped lexicon never learnt a validation sentence; the Hooker letters' training-split
transcriptions join the corpus, their validation letters left out.)

A user's own lexicon (names, domain words) comes from a list or a file, one word a line, with an
optional tab-separated count: :meth:`Lexicon.from_words`; :meth:`Lexicon.with_words` adds such words
to a built lexicon.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .text import normalize_text

#: The IAM text corpus, beside the project (``../shared/data/iam-ascii``).
DEFAULT_IAM = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "iam-ascii"

#: A word: letters, with apostrophes inside (``don't``, ``o'clock``). Hyphens, digits and other
#: punctuation separate words, as they do in the decoder.
WORD_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_TOKEN_RE = re.compile(r"([^\W\d_]+(?:'[^\W\d_]+)*)|([.!?])")

LOWER, CAP, UPPER = 0, 1, 2
#: Languages a lexicon can be built for (wordfreq's codes); a reader's ``language`` may also be
#: ``auto``: each reading picks the lexicon it fits best (:meth:`htr.Recognizer.choose_language`).
LANGUAGES = ("en", "fr")
LANGUAGE_CHOICES = ("auto", *LANGUAGES)
LANGUAGE_NAMES = {"en": "English", "fr": "French"}
#: A word's log-probability under a lexicon that lacks it, when choosing a language: about a
#: word met once in 30 million.
UNKNOWN_WORD_LOGP = -17.0
#: Letters that only one of the languages writes (French accents, ligature and guillemets), for
#: :func:`best_language`, and what each word (or guillemet) written with one adds to that
#: language's fit, in nats. Until 2026-12-06 one such letter decided outright; but the network
#: also writes one now and then in an English line it misreads (``at a`` -> ``et à``), and on the
#: full validation sets (each line read twice) ``auto`` lost 0.48 points against English given
#: on IAM forms, 0.20 on Hooker and 0.06 on IAM lines, 0.18 against French on Copiste. With 2
#: nats a mark: 0.20 / 0.14 / 0.02 / 0.21 (1 nat: Copiste 0.27; 5: IAM forms 0.29; no weight at
#: all: Copiste 0.34); ``README``, "English and French".
MARKED_WORD_LOGP = 2.0
LANGUAGE_MARKS = {"fr": "àâçéèêëîïôùûüœÀÂÇÉÈÊËÎÏÔÙÛÜŒ«»"}
#: French elided articles and pronouns (``l'``, ``qu'``), and how many of the most frequent words
#: beginning with a vowel or h are listed with each.
FRENCH_ELISIONS = ("l", "d", "j", "qu", "s", "c", "n", "m", "t", "jusqu", "lorsqu", "puisqu")
ELIDED_WORDS = 8000

FORMAT = "htr-lexicon/1"


def case_pattern(word: str) -> int | None:
    """LOWER, CAP (first letter capital, the rest lower; also a single capital), UPPER, or None
    for mixed case (``McDonald``)."""
    letters = [c for c in word if c.lower() != c.upper()]
    if not letters:
        return LOWER
    if all(c.islower() for c in letters):
        return LOWER
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return CAP
    if all(c.isupper() for c in letters):
        return UPPER
    return None


def iam_corpus_lines(iam_dir: str | Path = DEFAULT_IAM, exclude_groups: Iterable[str] = ()) -> list[str]:
    """Normalised text of the IAM lines usable for a language model: every line of both test lists
    left out, with every line of a form group (``a01-003``) that has a test line, and the groups
    in ``exclude_groups`` (e.g. a validation split's IAM-OnDB form groups)."""
    iam_dir = Path(iam_dir)
    test: set[str] = set()
    for lst in sorted(iam_dir.glob("splits/*/lines/te.lst")):
        test.update(x.strip() for x in lst.read_text().split() if x.strip())
    if not test:
        raise FileNotFoundError(f"{iam_dir}: no splits/*/lines/te.lst test lists found")
    banned = {t[:7] for t in test} | set(exclude_groups)
    lines = []
    for raw in (iam_dir / "lines.txt").read_text(encoding="utf-8").splitlines():
        if not raw or raw.startswith("#"):
            continue
        fields = raw.split(" ")
        line_id = fields[0]
        if line_id in test or line_id[:7] in banned:
            continue
        lines.append(normalize_text(" ".join(fields[8:]).replace("|", " ")))
    return lines


def training_lines(spec: str) -> list[str]:
    """Texts of a data set's training split only (``KIND:PATH`` as in training): a domain's own
    words and phrases for the language model, its validation items left out."""
    from .readers import open_data, split_of

    return [s.text for s in open_data(spec) if split_of(s) == "train" and s.text]


def tokenize(text: str) -> list[str | None]:
    """Words of ``text`` in order, with None for a sentence end (``. ! ?``)."""
    return [m.group(1) if m.group(1) else None for m in _TOKEN_RE.finditer(text)]


class Lexicon:
    """Words with unigram, case and bigram log-probabilities; see the module's doc."""

    def __init__(self, words: Sequence[str], unigram: np.ndarray, case_logp: np.ndarray | None = None,
                 bigram_keys: np.ndarray | None = None, bigram_prob: np.ndarray | None = None,
                 backoff: np.ndarray | None = None, meta: dict | None = None) -> None:
        self.words: list[str] = list(words)
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("a lexicon's words must be unique")
        v = len(self.words)
        self.unigram = np.asarray(unigram, np.float32)
        if case_logp is None:
            case_logp = np.tile(np.log(np.array([0.85, 0.13, 0.02], np.float32)), (v, 1))
        self.case_logp = np.asarray(case_logp, np.float32)
        self.bigram_keys = np.zeros(0, np.int64) if bigram_keys is None else np.asarray(bigram_keys, np.int64)
        self.bigram_prob = np.zeros(0, np.float32) if bigram_prob is None else np.asarray(bigram_prob, np.float32)
        self.backoff = np.ones(v + 2, np.float32) if backoff is None else np.asarray(backoff, np.float32)
        self.meta = dict(meta or {})
        self._unigram_p = np.exp(self.unigram.astype(np.float64))
        self._trie: PrefixTree | None = None
        if self.unigram.shape != (v,) or self.case_logp.shape != (v, 3) or self.backoff.shape != (v + 2,):
            raise ValueError("lexicon arrays do not match its words")

    # -- ids -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return self.word_id(word) is not None

    @property
    def bos(self) -> int:
        """Context id of a line or sentence start."""
        return len(self.words)

    @property
    def unk(self) -> int:
        """Context id after an out-of-vocabulary word."""
        return len(self.words) + 1

    def word_id(self, word: str) -> int | None:
        """Id of a word, case-insensitively; a possessive ``'s`` / final ``'`` maps to its word."""
        w = word.lower()
        i = self.index.get(w)
        if i is None and w.endswith("'s"):
            i = self.index.get(w[:-2])
        if i is None and w.endswith("s'"):
            i = self.index.get(w[:-1])
        return i

    # -- scores ----------------------------------------------------------------------------------
    def bigram_logp(self, prev: np.ndarray, word: np.ndarray) -> np.ndarray:
        """``log P(word | prev)`` for arrays of context ids (word ids, :attr:`bos`, :attr:`unk`)
        and word ids."""
        prev = np.asarray(prev, np.int64)
        word = np.asarray(word, np.int64)
        p = self.backoff[prev] * self._unigram_p[word]
        if len(self.bigram_keys):
            q = prev * (len(self.words) + 2) + word
            idx = np.searchsorted(self.bigram_keys, q)
            idx = np.minimum(idx, len(self.bigram_keys) - 1)
            p = p + np.where(self.bigram_keys[idx] == q, self.bigram_prob[idx], 0.0)
        return np.log(np.maximum(p, 1e-30))

    def score_text(self, text: str) -> float:
        """Language-model log-probability of a text's words (out-of-vocabulary words skipped)."""
        prev, total = self.bos, 0.0
        for tok in tokenize(text):
            if tok is None:
                prev = self.bos
                continue
            i = self.word_id(tok)
            if i is None:
                prev = self.unk
                continue
            total += float(self.bigram_logp(np.array([prev]), np.array([i]))[0])
            prev = i
        return total

    @property
    def trie(self) -> "PrefixTree":
        """The words' prefix tree, built on first use (or given: :mod:`htr.lexicon_cache`)."""
        if self._trie is None:
            self._trie = PrefixTree(self.words, self.unigram)
        return self._trie

    @trie.setter
    def trie(self, tree: "PrefixTree") -> None:
        self._trie = tree

    @property
    def has_trie(self) -> bool:
        """Whether the prefix tree has been made (or given) already."""
        return self._trie is not None

    # -- building --------------------------------------------------------------------------------
    @classmethod
    def build(cls, size: int = 50000, iam_dir: str | Path | None = DEFAULT_IAM,
              exclude_groups: Iterable[str] = (), extra_words: Iterable[str] = (),
              wordfreq_weight: float = 0.7, discount: float = 0.75, case_prior_strength: float = 4.0,
              iam_lines: Sequence[str] | None = None, extra_lines: Sequence[str] = (),
              language: str = "en") -> "Lexicon":
        """The ``size`` most frequent words of ``language`` (wordfreq: ``en`` or ``fr``) plus every
        word of the corpus, with the corpus's bigrams. The corpus is IAM's (test lines left out,
        see :func:`iam_corpus_lines`) for English, none by default for French.

        ``iam_lines`` replaces the corpus with given (normalised) lines; ``iam_dir=None`` and no
        ``iam_lines`` gives a wordfreq-only lexicon without bigrams. ``extra_lines`` are more corpus
        lines (e.g. the training transcriptions of a domain's data set: :func:`training_lines`).
        French words that begin with a vowel or h also come elided (``l'homme``, ``qu'il``):
        the decoder reads ``l'homme`` as one word, while wordfreq counts ``l`` and ``homme``.
        """
        if language not in LANGUAGES:
            raise ValueError(f"no lexicon for language {language!r}: choose one of {', '.join(LANGUAGES)}")
        try:
            import wordfreq
        except ImportError:
            raise ImportError("building a lexicon needs wordfreq: pip install wordfreq") from None

        lines = list(iam_lines) if iam_lines is not None else (
            iam_corpus_lines(iam_dir, exclude_groups) if iam_dir is not None else [])
        lines += [normalize_text(x) for x in extra_lines]
        vocab: dict[str, None] = {}
        top = [w for w in wordfreq.top_n_list(language, size, wordlist="best") if WORD_RE.fullmatch(w)]
        for w in top:
            vocab[w.lower()] = None
        freq = {w: wordfreq.word_frequency(w, language) for w in vocab}
        if language == "fr":
            for w, f in _french_elisions(top[:ELIDED_WORDS], wordfreq).items():
                if w not in vocab:
                    vocab[w], freq[w] = None, f
        corpus = [tokenize(line) for line in lines]
        for toks in corpus:
            for t in toks:
                if t is not None and _base(t.lower(), vocab) not in vocab:
                    vocab[t.lower()] = None
        for w in extra_words:
            w = w.strip()
            if w and WORD_RE.fullmatch(w):
                vocab.setdefault(w.lower(), None)
        words = list(vocab)
        index = {w: i for i, w in enumerate(words)}
        v = len(words)

        # Unigram: wordfreq's frequencies mixed with the corpus's.
        wf = np.array([freq.get(w) or wordfreq.word_frequency(w, language) for w in words], np.float64)
        wf = np.maximum(wf, 1e-9)
        wf /= wf.sum()
        counts = np.zeros(v, np.float64)
        case_counts = np.zeros((v, 3), np.float64)
        bigrams: Counter[tuple[int, int]] = Counter()
        for toks in corpus:
            prev = v  # bos
            for t in toks:
                if t is None:
                    prev = v
                    continue
                i = index[_base(t.lower(), index)]
                counts[i] += 1
                pat = case_pattern(t)
                if pat is not None:
                    case_counts[i, pat] += 1
                bigrams[(prev, i)] += 1
                prev = i
        n_tokens = counts.sum()
        if n_tokens > 0:
            uni = wordfreq_weight * wf + (1 - wordfreq_weight) * counts / n_tokens
        else:
            uni = wf
        unigram = np.log(uni / uni.sum())

        # Case: per word counts smoothed towards the corpus-wide shares.
        prior = case_counts.sum(0) + np.array([1.0, 0.2, 0.02])
        prior /= prior.sum()
        case_p = (case_counts + case_prior_strength * prior) / (case_counts.sum(1, keepdims=True)
                                                                 + case_prior_strength)
        case_logp = np.log(case_p)

        # Bigram: interpolated absolute discounting over the wordfreq-backed unigram.
        ctx_total = np.zeros(v + 2, np.float64)
        ctx_types = np.zeros(v + 2, np.float64)
        for (a, _), c in bigrams.items():
            ctx_total[a] += c
            ctx_types[a] += 1
        keys = np.array([a * (v + 2) + b for a, b in bigrams], np.int64)
        cnt = np.array(list(bigrams.values()), np.float64)
        ctx = keys // (v + 2)
        prob = np.maximum(cnt - discount, 0) / np.maximum(ctx_total[ctx], 1)
        backoff = np.where(ctx_total > 0, discount * ctx_types / np.maximum(ctx_total, 1), 1.0)
        keep = prob > 0
        keys, prob = keys[keep], prob[keep]
        order = np.argsort(keys)
        meta = {"format": FORMAT, "language": language, "wordfreq_size": size, "corpus_lines": len(lines),
                "corpus_tokens": int(n_tokens), "bigrams": int(len(keys)), "discount": discount}
        return cls(words, unigram, case_logp, keys[order], prob[order], backoff, meta)

    @classmethod
    def from_words(cls, words: Iterable[str] | str | Path) -> "Lexicon":
        """A lexicon of one's own words: a list, or a text file with one word a line and an optional
        tab-separated count (``Zbigniew<TAB>3``). Words are equally likely unless counted; no
        bigrams. A word's written case sets its case model (``Zbigniew`` prefers a capital)."""
        entries = _read_entries(words)
        counts: dict[str, float] = {}
        cases: dict[str, np.ndarray] = {}
        for w, c in entries:
            key = w.lower()
            counts[key] = counts.get(key, 0.0) + c
            pat = case_pattern(w)
            cases.setdefault(key, np.zeros(3))
            if pat is not None:
                cases[key][pat] += c
        if not counts:
            raise ValueError("no words given")
        words_ = list(counts)
        uni = np.array([counts[w] for w in words_], np.float64)
        prior = np.array([0.85, 0.13, 0.02])
        case_p = np.array([(cases[w] + 1.0 * prior) / (cases[w].sum() + 1.0) for w in words_])
        return cls(words_, np.log(uni / uni.sum()), np.log(case_p), meta={"format": FORMAT, "user": True})

    def with_words(self, words: Iterable[str] | str | Path, logp: float | None = None) -> "Lexicon":
        """This lexicon plus more words (e.g. names), each with unigram log-probability ``logp``
        (default: that of a word of middling frequency). Known words keep their scores."""
        entries = _read_entries(words)
        if logp is None:
            logp = float(np.median(self.unigram))
        new = []
        for w, _ in entries:
            key = w.lower()
            if key not in self.index and key not in new:
                new.append(key)
        if not new:
            return self
        v, n = len(self.words), len(new)
        words_ = self.words + new
        unigram = np.concatenate([self.unigram, np.full(n, logp, np.float32)])
        # Renormalise so probabilities still sum to one.
        unigram = unigram - np.log(np.exp(unigram.astype(np.float64)).sum())
        case_new = []
        for w in new:
            pats = [case_pattern(x) for x, _ in entries if x.lower() == w]
            p = np.array([0.85, 0.13, 0.02]) * 1.0
            for pat in pats:
                if pat is not None:
                    p[pat] += 1
            case_new.append(np.log(p / p.sum()))
        case_logp = np.concatenate([self.case_logp, np.array(case_new, np.float32)])
        # Context ids shift: bos/unk move from v, v+1 to v+n, v+n+1.
        old_w = v + 2
        a, b = self.bigram_keys // old_w, self.bigram_keys % old_w
        a = np.where(a >= v, a + n, a)
        keys = a * (v + n + 2) + b
        order = np.argsort(keys)
        backoff = np.concatenate([self.backoff[:v], np.ones(n, np.float32), self.backoff[v:]])
        meta = dict(self.meta, added_words=self.meta.get("added_words", 0) + n)
        return Lexicon(words_, unigram, case_logp, keys[order], self.bigram_prob[order], backoff, meta)

    # -- files -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the lexicon as one compressed ``.npz`` file (a couple of MB for 50k words)."""
        v = len(self.words)
        path = Path(path)
        with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz"
            np.savez_compressed(
                f, words=np.frombuffer("\n".join(self.words).encode("utf-8"), np.uint8),
                unigram=self.unigram.astype(np.float32), case_logp=self.case_logp.astype(np.float16),
                bigram_a=(self.bigram_keys // (v + 2)).astype(np.int32),
                bigram_b=(self.bigram_keys % (v + 2)).astype(np.int32),
                bigram_prob=self.bigram_prob.astype(np.float32), backoff=self.backoff.astype(np.float32),
                meta=np.frombuffer(json.dumps(self.meta).encode("utf-8"), np.uint8))

    @classmethod
    def load(cls, path: str | Path) -> "Lexicon":
        with np.load(Path(path)) as z:
            words = bytes(z["words"]).decode("utf-8").split("\n")
            v = len(words)
            keys = z["bigram_a"].astype(np.int64) * (v + 2) + z["bigram_b"].astype(np.int64)
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path}: not a {FORMAT} file")
            return cls(words, z["unigram"], z["case_logp"].astype(np.float32), keys, z["bigram_prob"],
                       z["backoff"], meta)


def best_language(texts: Iterable[str], lexicons: Mapping[str, "Lexicon"]) -> str:
    """The language (a key of ``lexicons``) whose lexicon fits ``texts`` best: each word scores
    its unigram log-probability in that lexicon, or :data:`UNKNOWN_WORD_LOGP` when the lexicon
    lacks it (misread words, absent from every lexicon, cost them all alike), and each word or
    guillemet written with a letter of :data:`LANGUAGE_MARKS` adds :data:`MARKED_WORD_LOGP` to
    its language: it tells where the words cannot (misread ones), without outweighing words the
    other lexicon knows."""
    texts = list(texts)
    words = [t.lower() for text in texts for t in tokenize(text) if t is not None]

    def fit(language: str, lexicon: Lexicon) -> float:
        ids = (lexicon.word_id(w) for w in words)
        score = sum(UNKNOWN_WORD_LOGP if i is None else float(lexicon.unigram[i]) for i in ids)
        marks = LANGUAGE_MARKS.get(language, "")
        marked = sum(any(ch in marks for ch in w) for w in words)
        marked += sum(text.count(ch) for text in texts for ch in marks if not ch.isalpha())
        return score + MARKED_WORD_LOGP * marked

    scores = {language: fit(language, lexicon) for language, lexicon in lexicons.items()}
    return max(scores, key=scores.get)


def _french_elisions(words: Sequence[str], wordfreq) -> dict[str, float]:
    """``l'homme``, ``d'homme`` ... for each word of ``words`` that begins with a vowel or h, with
    a frequency of freq(prefix) * freq(word) / freq("de"): wordfreq has no counts of the joined
    form, and "de" (the commonest word) scales the prefix's share to about one in a few."""
    scale = wordfreq.word_frequency("de", "fr")
    prefixes = {p: wordfreq.word_frequency(p, "fr") / scale for p in FRENCH_ELISIONS}
    out: dict[str, float] = {}
    for w in words:
        if w[0].lower() in "aeiouyhàâéèêëîïôœû" and "'" not in w:
            f = wordfreq.word_frequency(w, "fr")
            for p, share in prefixes.items():
                out[f"{p}'{w.lower()}"] = f * share
    return out


def _base(word: str, vocab) -> str:
    """The vocabulary form of a lower-case token: ``labour's`` -> ``labour`` when only the
    latter is known."""
    if word in vocab:
        return word
    if word.endswith("'s") and word[:-2] in vocab:
        return word[:-2]
    return word


def _read_entries(words: Iterable[str] | str | Path) -> list[tuple[str, float]]:
    if isinstance(words, (str, Path)):
        words = Path(words).read_text(encoding="utf-8").splitlines()
    out = []
    for raw in words:
        entry, _, count = raw.strip().partition("\t")
        try:
            c = float(count) if count.strip() else 1.0
        except ValueError:
            c = 1.0
        # "Jean-Luc" or "St. Ives" give their words: the decoder reads words between separators.
        out.extend((w, max(c, 1e-6)) for w in WORD_RE.findall(entry))
    return out


class PrefixTree:
    """Character prefix tree of case-folded words, as flat arrays for vectorised look-ups.

    Node 0 is the root. An edge ``(node, letter)`` is found with :meth:`children`. ``word[n]`` is
    the word id ending at node ``n`` (-1: none); ``lookahead[n]`` is the best unigram log-probability
    of any word below ``n``. Every word without an apostrophe also ends, as itself, after ``'s``
    (and after ``'`` when it ends in ``s``): possessives.
    """

    def __init__(self, words: Sequence[str], unigram: np.ndarray) -> None:
        alphabet = sorted({c for w in words for c in w} | {"'", "s"})
        self.alphabet = "".join(alphabet)
        self.char_index = {c: i for i, c in enumerate(alphabet)}
        a = self.num_letters = len(alphabet)
        # Every word, then the possessives of the words without an apostrophe.
        plain = [i for i, w in enumerate(words) if "'" not in w]
        ends_s = [i for i in plain if words[i].endswith("s")]
        forms = list(words) + [words[i] + "'s" for i in plain] + [words[i] + "'" for i in ends_s]
        ids = np.concatenate([np.arange(len(words)), plain, ends_s]).astype(np.int32)
        # Sorted forms as alphabet indices in a (forms, longest) matrix, -1 after the end.
        order = sorted(range(len(forms)), key=forms.__getitem__)
        forms = [forms[i] for i in order]
        form_index = np.array(order, np.int64)
        lengths = np.array([len(f) for f in forms], np.int64)
        f_n, longest = len(forms), int(lengths.max(initial=1))
        cps = np.frombuffer("".join(forms).encode("utf-32-le"), np.uint32)
        letters = np.searchsorted(np.array([ord(c) for c in alphabet], np.uint32), cps)
        codes = np.full((f_n, longest), -1, np.int64)
        starts = np.cumsum(lengths) - lengths
        codes[np.repeat(np.arange(f_n), lengths), np.arange(len(cps)) - np.repeat(starts, lengths)] = letters
        # Nodes in depth-first order: each form adds the nodes past its common prefix with the form
        # before it (lcp), at depths lcp+1 .. length.
        diff = codes[1:] != codes[:-1]
        lcp = np.concatenate([[0], np.where(diff.any(1), diff.argmax(1), longest)])
        n_new = np.maximum(lengths - lcp, 0)
        first = 1 + np.cumsum(n_new) - n_new
        n_nodes = 1 + int(n_new.sum())
        # node[i, d]: the node of form i's first d+1 letters (filled down from the form that made it).
        node = np.empty((f_n, longest), np.int64)
        rows = np.arange(f_n)
        for d in range(longest):
            made = (lcp <= d) & (d < lengths)
            src = np.maximum.accumulate(np.where(made, rows, 0))
            node[:, d] = (first + d - lcp)[src]
        new_rows = np.repeat(rows, n_new)
        new_depth = lcp[new_rows] + np.arange(n_nodes - 1) - np.repeat(first - 1, n_new)  # 0-based
        child = np.arange(1, n_nodes)
        parent = np.where(new_depth == 0, 0, node[new_rows, np.maximum(new_depth - 1, 0)])
        edge_keys = parent * a + codes[new_rows, new_depth]
        order = np.argsort(edge_keys)
        self.edge_keys = edge_keys[order]
        self.edge_child = child[order].astype(np.int32)
        self.parent = np.concatenate([[0], parent]).astype(np.int32)
        self.depth = np.concatenate([[0], new_depth + 1]).astype(np.int32)
        # A node reached by several forms (a word and a possessive) is named by the earliest.
        end_node = node[rows, lengths - 1]
        earliest = np.full(n_nodes, len(ids), np.int64)
        np.minimum.at(earliest, end_node, form_index)
        word = np.full(n_nodes, -1, np.int32)
        has = earliest < len(ids)
        word[has] = ids[earliest[has]]
        self.word = word
        la = np.full(n_nodes, -np.inf, np.float32)
        has = word >= 0
        la[has] = np.asarray(unigram, np.float32)[word[has]]
        for d in range(int(self.depth.max(initial=0)), 0, -1):
            nodes = np.flatnonzero(self.depth == d)
            np.maximum.at(la, self.parent[nodes], la[nodes])
        self.lookahead = la

    #: The arrays that make a built tree (with its alphabet): what :func:`htr.lexicon_cache`
    #: stores.
    ARRAYS = ("edge_keys", "edge_child", "parent", "depth", "word", "lookahead")

    @classmethod
    def from_arrays(cls, alphabet: str, arrays: Mapping[str, np.ndarray]) -> "PrefixTree":
        """A tree built before, from its alphabet and :data:`ARRAYS`."""
        tree = cls.__new__(cls)
        tree.alphabet = alphabet
        tree.char_index = {c: i for i, c in enumerate(alphabet)}
        tree.num_letters = len(alphabet)
        for name in cls.ARRAYS:
            setattr(tree, name, np.asarray(arrays[name]))
        return tree

    def __len__(self) -> int:
        return len(self.parent)

    def children(self, nodes: np.ndarray, letters: np.ndarray) -> np.ndarray:
        """Child node of each (node, letter index) pair, -1 where there is none (or letter < 0)."""
        q = nodes.astype(np.int64) * self.num_letters + letters
        idx = np.searchsorted(self.edge_keys, q)
        idx = np.minimum(idx, len(self.edge_keys) - 1)
        found = (self.edge_keys[idx] == q) & (letters >= 0)
        return np.where(found, self.edge_child[idx], -1)

    def find(self, word: str) -> int:
        """Node of a (case-folded) word or prefix, -1 if absent."""
        node = 0
        for ch in word.lower():
            if ch not in self.char_index:
                return -1
            node = int(self.children(np.array([node]), np.array([self.char_index[ch]]))[0])
            if node < 0:
                return -1
        return node


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m htr.lexicon", description="Build or inspect a lexicon.")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a lexicon and bigram model")
    b.add_argument("--out", type=Path, required=True, help="output file, e.g. models/default/lexicon.npz")
    b.add_argument("--language", choices=LANGUAGES, default="en",
                   help="wordfreq's words of this language (default en); fr: no IAM corpus")
    b.add_argument("--size", type=int, default=50000, help="wordfreq's top N words")
    b.add_argument("--iam", type=Path, help="the iam-ascii folder (English only; default "
                                            f"{DEFAULT_IAM})")
    b.add_argument("--words", type=Path, help="a file of extra words, one a line")
    b.add_argument("--exclude-groups", type=Path,
                   help="a file of IAM form groups (a01-000) to leave out as well, one a line")
    b.add_argument("--corpus", action="append", default=[], metavar="KIND:PATH",
                   help="add this data set's training-split texts to the corpus (e.g. "
                        "pagexml:../shared/data/hooker: the letters' own words and names)")
    b.add_argument("--exclude-val", action="append", default=[], metavar="KIND:PATH",
                   help="leave out the groups of this data set's validation split as well (e.g. "
                        "iam-ondb:../shared/data/iam-ondb, whose texts are IAM's)")
    i = sub.add_parser("info", help="describe a lexicon file")
    i.add_argument("path", type=Path)
    args = p.parse_args(argv)
    if args.command == "build":
        exclude = args.exclude_groups.read_text().split() if args.exclude_groups else []
        if args.exclude_val:
            from .readers import open_data, split_of

            exclude = list(exclude) + sorted({s.group for spec in args.exclude_val
                                              for s in open_data(spec) if split_of(s) == "val"})
        extra = _read_entries(args.words) if args.words else []
        corpus = [line for spec in args.corpus for line in training_lines(spec)]
        if args.iam and args.language != "en":
            p.error("--iam is IAM's English corpus: for --language en only")
        iam = (args.iam or DEFAULT_IAM) if args.language == "en" else None
        lex = Lexicon.build(args.size, iam, exclude_groups=exclude, extra_words=[w for w, _ in extra],
                            extra_lines=corpus, language=args.language)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        lex.save(args.out)
        print(f"{args.out}: {len(lex)} words, {len(lex.bigram_keys)} bigrams, "
              f"{args.out.stat().st_size / 1e6:.2f} MB")
        return 0
    lex = Lexicon.load(args.path)
    print(json.dumps(dict(lex.meta, words=len(lex), trie_nodes=len(lex.trie)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
