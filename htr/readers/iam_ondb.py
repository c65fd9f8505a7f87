"""IAM-OnDB: online handwriting (pen strokes on a whiteboard) rendered as offline line images.

``root`` holds ``lineStrokes.tar.xz`` (``lineStrokes/a01/a01-000/a01-000u-01.xml``: one text line
as pen strokes) and ``ascii.tar.xz`` (``ascii/a01/a01-000/a01-000u.txt``: the form's text; the
k-th non-empty line after ``CSR:`` belongs to stroke file ``a01-000u-NN.xml`` with NN = k). The
unpacked folders ``lineStrokes/`` and ``ascii/`` are read as well.

The first call parses the strokes (about a minute for the 445 MB of XML) and keeps them in one
compressed ``.npz`` in ``cache_dir``; later calls load that file in about a second. Every
:class:`Sample` renders its strokes on demand with :func:`htr.ink.render_strokes`: canonical for
``rng=None``, randomised pen, ink and paper for a generator.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import re
import tarfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import cache_dir as shared_cache_dir
from ..errors import DataError
from ..files import write_atomically
from ..ink import (DEFAULT_HEIGHT, MARK_HEIGHT, MARK_WIDTH, MIN_GAP_BODIES, MIN_GAP_RATIO,
                   PUNCT_HEIGHT, PUNCT_WIDTH, WIDTH_BAND, WIDTH_SLACK, _frame, assign_words,
                   clean_strokes, parse_strokes, render_strokes)
from ..text import normalize_text
from .base import Sample

SOURCE = "iam-ondb"
WORDS_SOURCE = "iam-ondb-words"
STROKES_ARCHIVE = "lineStrokes.tar.xz"
ASCII_ARCHIVE = "ascii.tar.xz"
#: Bump when the cache layout or the parsing changes: old cache files are then ignored.
CACHE_VERSION = 1
#: IAM-OnDB marks a word it could not transcribe (scribbled, crossed out) with "#".
UNREADABLE = "#"

_STROKE_FILE = re.compile(r"(?:^|/)([^/]+)-(\d+)\.xml$")
_TEXT_FILE = re.compile(r"(?:^|/)([^/]+)\.txt$")
_GROUP = re.compile(r"^(.+?-\d+)[a-z]*$")


def default_cache_dir() -> Path:
    return shared_cache_dir("iam-ondb")


def read_iam_ondb(root: str | Path, cache_dir: str | Path | None = None, *,
                  keep_unreadable: bool = False, progress: bool = True) -> list[Sample]:
    """Every paired text line of IAM-OnDB as a :class:`Sample` (id ``a01-000u-01``).

    ``group`` is the form group (``a01-000``: all copies ``a01-000u``, ``a01-000x``, ... together),
    ``split`` is None (IAM-OnDB has no split lists; split by group). Forms whose number of text
    lines differs from their number of stroke files are skipped with one warning, as are empty
    texts and, unless ``keep_unreadable``, lines with a word marked unreadable (``#``).
    Raises :class:`DataError` when the archives are missing or unreadable.
    """
    store, cache = _open_store(root, cache_dir, progress)
    if store.skipped_forms:
        warnings.warn(f"IAM-OnDB: skipped {store.skipped_forms} form(s) whose text lines do not "
                      f"match their stroke files ({', '.join(store.skipped_names[:5])}"
                      f"{', ...' if store.skipped_forms > 5 else ''})", stacklevel=2)
    samples = []
    for i, (line_id, raw) in enumerate(zip(store.ids, store.texts)):
        text = normalize_text(str(raw))
        if not text or store.num_points(i) == 0:
            continue
        if not keep_unreadable and UNREADABLE in text:
            continue
        samples.append(Sample(id=str(line_id), text=text, group=form_group(str(line_id)),
                              load=InkLoader(str(cache), i), split=None, source=SOURCE))
    return samples


def _open_store(root: str | Path, cache_dir: str | Path | None,
                progress: bool) -> tuple["StrokeStore", Path]:
    """The stroke store of the archives in ``root`` and its cache file (parsed on first use)."""
    root = Path(root).expanduser()
    strokes_src, ascii_src = _sources(root)
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    cache = cache_dir / f"strokes-{_cache_key(strokes_src, ascii_src)}.npz"
    store = _load_store(cache)
    if store is None:
        store = _parse_archives(strokes_src, ascii_src, progress)
        _save_store(store, cache)
        with _LOCK:
            _STORES[str(cache)] = store
    return store, cache


def read_iam_ondb_words(root: str | Path, cache_dir: str | Path | None = None, *,
                        keep_unreadable: bool = False, progress: bool = True) -> list[Sample]:
    """Single words cut from IAM-OnDB's lines, one :class:`Sample` each (id ``a01-000u-01-03``:
    the third word of line ``a01-000u-01``).

    A line's strokes are cut at the spaces between its words by :func:`htr.ink.assign_words`;
    lines whose cut is not clear-cut (nearly half of them) are left out whole, as are lines the
    line reader leaves out. ``text`` is the word as in the line's normalised text split at
    spaces (punctuation stays with its word: ``Gaitskell,``), ``group`` the line's form group
    (the words of a validation line are validation words), ``source`` "iam-ondb-words". Each
    sample draws only its word's strokes, at the size and angle of its line. The cut of every
    line is kept in a cache file next to the strokes' (computing it takes about half a minute).
    """
    store, cache = _open_store(root, cache_dir, progress)
    if store.skipped_forms:
        warnings.warn(f"IAM-OnDB: skipped {store.skipped_forms} form(s) whose text lines do not "
                      f"match their stroke files ({', '.join(store.skipped_names[:5])}"
                      f"{', ...' if store.skipped_forms > 5 else ''})", stacklevel=2)
    cuts = _load_cuts(store, cache, progress)
    texts = {i: normalize_text(str(store.texts[i])) for i in np.unique(cuts.line).tolist()}
    if any(len(texts[i].split(" ")) != n for i, n in zip(cuts.line.tolist(), cuts.num_words)):
        cuts = _load_cuts(store, cache, progress, again=True)  # cut with another normalisation
        texts = {i: normalize_text(str(store.texts[i])) for i in np.unique(cuts.line).tolist()}
    samples = []
    for k in range(len(cuts.line)):
        i = int(cuts.line[k])
        text = texts[i]
        if not keep_unreadable and UNREADABLE in text:
            continue
        line_id = str(store.ids[i])
        pos = int(cuts.pos[k])
        word = text.split(" ")[pos]
        pieces = tuple(int(j) for j in cuts.pieces[cuts.piece_starts[k]:cuts.piece_starts[k + 1]])
        loader = WordInkLoader(str(cache), i, pieces, int(cuts.num_pieces[k]),
                               float(cuts.body[k]), float(cuts.angle[k]))
        samples.append(Sample(id=f"{line_id}-{pos + 1:02d}", text=word, group=form_group(line_id),
                              load=loader, split=None, source=WORDS_SOURCE))
    return samples


def form_group(line_id: str) -> str:
    """``a01-000u-01`` -> ``a01-000``: the lines of every copy of one text, which a split keeps together."""
    form = line_id.rsplit("-", 1)[0] if line_id.count("-") >= 2 else line_id
    m = _GROUP.match(form)
    return m.group(1) if m else form


# --------------------------------------------------------------------------------------------
# The parsed strokes, shared by every sample of a process


class StrokeStore:
    """All lines' strokes in three flat arrays: points (int16, relative to each line's corner),
    where each stroke starts, and where each line's strokes start."""

    def __init__(self, points: np.ndarray, stroke_starts: np.ndarray, line_starts: np.ndarray,
                 ids: np.ndarray, texts: np.ndarray, skipped_names: list[str]) -> None:
        self.points = points
        self.stroke_starts = stroke_starts
        self.line_starts = line_starts
        self.ids = ids
        self.texts = texts
        self.skipped_names = skipped_names

    @property
    def skipped_forms(self) -> int:
        return len(self.skipped_names)

    def __len__(self) -> int:
        return len(self.ids)

    def num_points(self, index: int) -> int:
        s0, s1 = self.line_starts[index], self.line_starts[index + 1]
        return int(self.stroke_starts[s1] - self.stroke_starts[s0])

    def strokes(self, index: int) -> list[np.ndarray]:
        s0, s1 = int(self.line_starts[index]), int(self.line_starts[index + 1])
        starts = self.stroke_starts[s0:s1 + 1]
        pts = self.points[starts[0]:starts[-1]].astype(np.float32)
        return np.split(pts, starts[1:-1] - starts[0])


_STORES: dict[str, StrokeStore] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class InkLoader:
    """``Sample.load`` of one IAM-OnDB line: picklable (a cache path and an index), so samples can
    go to worker processes, which load the shared stroke store once on first use."""

    cache: str
    index: int

    def strokes(self) -> list[np.ndarray]:
        store = _load_store(Path(self.cache))
        if store is None:
            raise DataError(f"IAM-OnDB stroke cache {self.cache} is gone; read the data set again")
        return store.strokes(self.index)

    def __call__(self, rng: np.random.Generator | None = None) -> np.ndarray:
        return render_strokes(self.strokes(), rng)


@dataclass(frozen=True)
class WordInkLoader:
    """``Sample.load`` of one word cut from an IAM-OnDB line: the line (cache path and index),
    which of its cleaned strokes (:func:`htr.ink.clean_strokes`) are the word's, and the line's
    body height as drawn and its angle (:func:`htr.ink.ink_frame`), so that the word is drawn at
    the size and angle it has in its line's canonical rendering."""

    cache: str
    index: int
    pieces: tuple[int, ...]
    num_pieces: int  # how many cleaned strokes the line had when it was cut (a consistency check)
    body: float
    angle: float

    def strokes(self) -> list[np.ndarray]:
        line = clean_strokes(InkLoader(self.cache, self.index).strokes())
        if len(line) != self.num_pieces:
            raise DataError(f"IAM-OnDB word cache of {self.cache} does not match its strokes "
                            f"(the stroke cleaning changed?); delete the words-*.npz cache files")
        return [line[j] for j in self.pieces]

    def __call__(self, rng: np.random.Generator | None = None) -> np.ndarray:
        return render_strokes(self.strokes(), rng, body=self.body, angle=self.angle)


class WordCuts:
    """Every accepted word of every line in flat arrays: its line index, its position among the
    line's ``num_words`` words, its cleaned strokes (``pieces[piece_starts[k]:piece_starts[k +
    1]]``), how many cleaned strokes its line has, and its line's body height as drawn and its
    angle."""

    FIELDS = ("line", "pos", "num_words", "pieces", "piece_starts", "num_pieces", "body", "angle")

    def __init__(self, **arrays: np.ndarray) -> None:
        for name in self.FIELDS:
            setattr(self, name, arrays[name])


#: Bump when the code of the word cut changes (its parameters are part of the cache's name).
WORDS_VERSION = 1
_CUTS: dict[str, WordCuts] = {}


def _cuts_file(cache: Path) -> Path:
    params = "|".join(str(v) for v in (WORDS_VERSION, MIN_GAP_RATIO, MIN_GAP_BODIES, WIDTH_BAND,
                                       WIDTH_SLACK, MARK_WIDTH, MARK_HEIGHT, PUNCT_WIDTH,
                                       PUNCT_HEIGHT))
    tag = hashlib.sha1(params.encode()).hexdigest()[:8]
    return cache.with_name(f"words-{cache.stem.removeprefix('strokes-')}-{tag}.npz")


def _load_cuts(store: StrokeStore, cache: Path, progress: bool, again: bool = False) -> WordCuts:
    """The word cut of every line: from memory, from its cache file, or (``again``) computed."""
    path = _cuts_file(cache)
    key = str(path)
    with _LOCK:
        cuts = None if again else _CUTS.get(key)
    if cuts is not None:
        return cuts
    if path.is_file() and not again:
        try:
            with np.load(path, allow_pickle=False) as z:
                cuts = WordCuts(**{name: z[name] for name in WordCuts.FIELDS})
        except (OSError, KeyError, ValueError, EOFError):
            cuts = None  # broken: cut again
    if cuts is None:
        cuts = _cut_lines(store, progress)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            data = io.BytesIO()
            np.savez_compressed(data, **{name: getattr(cuts, name) for name in WordCuts.FIELDS})
            write_atomically(path, data.getvalue())
        except OSError as exc:
            warnings.warn(f"IAM-OnDB: could not write the word cache {path} ({exc})", stacklevel=3)
    with _LOCK:
        _CUTS[key] = cuts
    return cuts


def _cut_lines(store: StrokeStore, progress: bool) -> WordCuts:
    """Cut every line with text into its words (:func:`htr.ink.assign_words`)."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a requirement
        tqdm = None
    lines, positions, num_words, pieces, counts, num_pieces, bodies, angles = ([] for _ in range(8))
    indices = range(len(store))
    if tqdm is not None:
        indices = tqdm(indices, desc="IAM-OnDB words (first cut)", unit="line",
                       disable=not progress or len(store) < 500, leave=False, mininterval=1.0)
    for i in indices:
        text = normalize_text(str(store.texts[i]))
        if not text or store.num_points(i) == 0:
            continue
        strokes = store.strokes(i)
        cleaned = clean_strokes(strokes)
        measured, body, angle = _frame(strokes, DEFAULT_HEIGHT)
        parts = assign_words(cleaned, text.split(" "), frame=(measured, angle))
        if parts is None:
            continue
        for pos, idx in enumerate(parts):
            lines.append(i)
            positions.append(pos)
            num_words.append(len(parts))
            pieces.append(idx)
            counts.append(len(idx))
            num_pieces.append(len(cleaned))
            bodies.append(body)
            angles.append(angle)
    return WordCuts(
        line=np.array(lines, np.int32), pos=np.array(positions, np.int32),
        num_words=np.array(num_words, np.int32),
        pieces=np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, np.int32),
        piece_starts=np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64),
        num_pieces=np.array(num_pieces, np.int32), body=np.array(bodies, np.float64),
        angle=np.array(angles, np.float64))


def _load_store(cache: Path) -> StrokeStore | None:
    key = str(cache)
    with _LOCK:
        store = _STORES.get(key)
        if store is not None:
            return store
        if not cache.is_file():
            return None
        try:
            with np.load(cache, allow_pickle=False) as z:
                if int(z["version"]) != CACHE_VERSION:
                    return None
                store = StrokeStore(z["points"], z["stroke_starts"], z["line_starts"], z["ids"],
                                    z["texts"], [str(s) for s in z["skipped"]])
        except (OSError, KeyError, ValueError, EOFError):
            return None  # a broken or foreign cache file: parse again
        _STORES[key] = store
        return store


def _save_store(store: StrokeStore, cache: Path) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        data = io.BytesIO()
        np.savez_compressed(data, version=np.int32(CACHE_VERSION), points=store.points,
                            stroke_starts=store.stroke_starts, line_starts=store.line_starts,
                            ids=store.ids, texts=store.texts,
                            skipped=np.array(store.skipped_names, dtype=str))
        write_atomically(cache, data.getvalue())
    except OSError as exc:  # a read-only home must not stop training: parse again next time
        warnings.warn(f"IAM-OnDB: could not write the stroke cache {cache} ({exc})", stacklevel=3)


# --------------------------------------------------------------------------------------------
# Reading the archives (or their unpacked folders)


def _sources(root: Path) -> tuple[Path, Path]:
    if not root.is_dir():
        raise DataError(f"IAM-OnDB folder {root} does not exist (expected {STROKES_ARCHIVE} and "
                        f"{ASCII_ARCHIVE} in it)")
    found = []
    for archive, folder in ((STROKES_ARCHIVE, "lineStrokes"), (ASCII_ARCHIVE, "ascii")):
        if (root / archive).is_file():
            found.append(root / archive)
        elif (root / folder).is_dir():
            found.append(root / folder)
        else:
            raise DataError(f"IAM-OnDB: {root / archive} is missing (the folder needs "
                            f"{STROKES_ARCHIVE} and {ASCII_ARCHIVE}, or their unpacked folders)")
    return found[0], found[1]


def _cache_key(*sources: Path) -> str:
    h = hashlib.sha1(f"v{CACHE_VERSION}".encode())
    for src in sources:
        if src.is_file():
            st = src.stat()
            h.update(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
        else:  # an unpacked folder: its files' names, sizes and times
            for path in sorted(src.rglob("*")):
                if path.is_file():
                    st = path.stat()
                    h.update(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _iter_files(src: Path, suffix: str, progress: bool, desc: str) -> Iterator[tuple[str, bytes]]:
    """(path inside the archive, content) of every file ending in ``suffix``."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a requirement
        tqdm = None
    if src.is_dir():
        paths = sorted(p for p in src.rglob(f"*{suffix}") if p.is_file())
        bar = tqdm(paths, desc=desc, unit="file", disable=not progress or len(paths) < 200,
                   leave=False, mininterval=1.0) if tqdm else paths
        for path in bar:
            yield path.relative_to(src.parent).as_posix(), path.read_bytes()
        return
    try:
        with open(src, "rb") as raw:
            size = src.stat().st_size
            fobj: io.BufferedIOBase = raw
            bar = None
            if tqdm is not None and progress and size > 4 << 20:
                bar = tqdm(total=size, desc=desc, unit="B", unit_scale=True, leave=False,
                           mininterval=1.0)
                fobj = _CountingReader(raw, bar)
            try:
                with tarfile.open(fileobj=fobj, mode="r|*") as tar:
                    for member in tar:
                        if member.isfile() and member.name.endswith(suffix):
                            f = tar.extractfile(member)
                            if f is not None:
                                yield member.name, f.read()
            finally:
                if bar is not None:
                    bar.close()
    except (tarfile.TarError, lzma.LZMAError, EOFError, OSError) as exc:
        raise DataError(f"IAM-OnDB: cannot read {src} ({exc})") from None


class _CountingReader(io.RawIOBase):
    """A file wrapper that moves a progress bar by the bytes read."""

    def __init__(self, raw, bar) -> None:
        self._raw, self._bar = raw, bar

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._bar.update(len(data))
        return data

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        self._bar.update(n or 0)
        return n


def _read_text(data: bytes) -> list[str]:
    """The non-empty lines after ``CSR:`` (what the writer wrote); [] when there is no CSR part."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("CSR:"):
            rest = [line.strip()[4:]] + lines[i + 1:]
            return [s.strip() for s in rest if s.strip()]
    return []


def _parse_archives(strokes_src: Path, ascii_src: Path, progress: bool) -> StrokeStore:
    texts: dict[str, list[str]] = {}
    for name, data in _iter_files(ascii_src, ".txt", progress, "IAM-OnDB texts"):
        m = _TEXT_FILE.search(name)
        if m:
            texts[m.group(1)] = _read_text(data)

    # form -> {line number: (points int16 (n, 2), stroke lengths)}
    forms: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {}
    for name, data in _iter_files(strokes_src, ".xml", progress, "IAM-OnDB strokes (first read)"):
        m = _STROKE_FILE.search(name)
        if not m:
            continue
        try:
            strokes = parse_strokes(data)
        except ValueError as exc:
            warnings.warn(f"IAM-OnDB: skipping {name} ({exc})", stacklevel=4)
            strokes = []
        if strokes:
            pts = np.concatenate(strokes)
            pts = np.clip(np.rint(pts - pts.min(axis=0)), 0, np.iinfo(np.int16).max).astype(np.int16)
            lengths = np.array([len(s) for s in strokes], dtype=np.int64)
        else:
            pts, lengths = np.zeros((0, 2), np.int16), np.zeros(0, np.int64)
        forms.setdefault(m.group(1), {})[int(m.group(2))] = (pts, lengths)

    ids: list[str] = []
    line_texts: list[str] = []
    all_points: list[np.ndarray] = []
    all_lengths: list[np.ndarray] = []
    skipped: list[str] = []
    for form in sorted(forms):
        lines = forms[form]
        form_text = texts.get(form)
        if form_text is None or sorted(lines) != list(range(1, len(form_text) + 1)):
            skipped.append(form)
            continue
        for k in sorted(lines):
            pts, lengths = lines[k]
            ids.append(f"{form}-{k:02d}")
            line_texts.append(form_text[k - 1])
            all_points.append(pts)
            all_lengths.append(lengths)

    points = np.concatenate(all_points) if all_points else np.zeros((0, 2), np.int16)
    lengths = np.concatenate(all_lengths) if all_lengths else np.zeros(0, np.int64)
    stroke_starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    counts = np.array([len(x) for x in all_lengths], dtype=np.int64)
    line_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return StrokeStore(points, stroke_starts, line_starts, np.array(ids, dtype=str),
                       np.array(line_texts, dtype=str), skipped)
