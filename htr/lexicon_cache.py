"""A lexicon file's prefix tree and spelling model, built once and kept on disk between runs.

Word beam search needs both (:class:`htr.lexicon.PrefixTree`, :class:`htr.charlm.SpellingModel`).
Building them takes about half a second per language, which every command that reads a few
lines would pay at start-up. :func:`prepare` stores them in ``$HTR_CACHE/lexicons`` (default
``~/.cache/htr/lexicons``), one ``.npz`` per lexicon file content, spelling order and
:data:`VERSION`; a missing, damaged or unwritable cache only means building them again.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from .cache import cache_dir as shared_cache_dir
from .charlm import SpellingModel
from .files import write_atomically
from .lexicon import Lexicon, PrefixTree

#: Raise when PrefixTree or SpellingModel change what they build from the same words: older
#: files are then ignored.
VERSION = 1


def cache_dir() -> Path:
    """``$HTR_CACHE/lexicons`` (default ``~/.cache/htr/lexicons``), outside the repository."""
    return shared_cache_dir("lexicons")


def prepare(lexicon: Lexicon, source: Path, spelling_order: int | None) -> None:
    """Give ``lexicon``, loaded from the file ``source``, its prefix tree and (unless
    ``spelling_order`` is None) its spelling model of that order: from the cache when this file's
    content was prepared before, else built now and stored."""
    if lexicon.has_trie and (spelling_order is None or SpellingModel.kept(lexicon, spelling_order)):
        return  # a lexicon shared by several decoders: prepared by the first
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    path = cache_dir() / f"{digest}-o{spelling_order or 0}-v{VERSION}.npz"
    if _load(lexicon, path, spelling_order):
        return
    tree = lexicon.trie
    arrays = {f"tree_{name}": getattr(tree, name) for name in PrefixTree.ARRAYS}
    arrays["tree_alphabet"] = np.array(tree.alphabet)
    if spelling_order is not None:
        spelling = SpellingModel.of(lexicon, spelling_order)
        arrays.update(spelling_alphabet=np.array(spelling.alphabet),
                      spelling_next_state=spelling.next_state, spelling_logp=spelling.logp)
    data = io.BytesIO()
    np.savez(data, **arrays)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data.getvalue())
    except OSError:
        pass  # a read-only home: built in memory each time, as before


def _load(lexicon: Lexicon, path: Path, spelling_order: int | None) -> bool:
    try:
        with np.load(path, allow_pickle=False) as z:
            tree = PrefixTree.from_arrays(str(z["tree_alphabet"]),
                                          {name: z[f"tree_{name}"] for name in PrefixTree.ARRAYS})
            spelling = None if spelling_order is None else SpellingModel(
                str(z["spelling_alphabet"]), z["spelling_next_state"], z["spelling_logp"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    lexicon.trie = tree
    if spelling is not None:
        SpellingModel.keep(lexicon, spelling, spelling_order)
    return True
