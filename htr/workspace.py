"""The workspace: pages whose reading a person corrected, kept as ground truth for training.

A workspace is a folder (never under the web app's ``static/``)::

    WORKSPACE/index.sqlite3      the index: one row per page (name, version, counts, model, ...)
    WORKSPACE/pages/ID.xml       the corrected page as PAGE-XML (htr.export.page_xml)
    WORKSPACE/pages/ID.png|jpg   its page image, the one the XML's coordinates are in

``WORKSPACE/pages`` (or ``WORKSPACE`` itself) is therefore a training folder that
:func:`htr.readers.pagexml.read_pagexml` reads (``train.py --data pagexml:WORKSPACE``): one sample
per line, the corrected text as its label, each page its own group (so that a validation split by
group is a split by page). :meth:`Workspace.export_zip` packs the same files for another machine.

Every write is atomic: files are written to a temporary name in the same folder and moved over
the old one (``os.replace``), and the index changes in one SQLite transaction, taken before the
files are touched (``BEGIN IMMEDIATE``: writers from several threads or processes queue). Each
page has a version, 1 when it is first saved and one more at every change; a change names the
version it was made from, and one made from an older version is refused with :class:`Conflict`
rather than silently overwriting what another tab or person saved meanwhile.

The index keeps, per line, the text as the model read it beside the corrected text
(:meth:`Workspace.corrections`, :meth:`Workspace.corrected_words`): what a person typed is
what a lexicon should learn.
"""

from __future__ import annotations

import io
import json
import re
import secrets
import sqlite3
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import HTRError, ImageError
from .files import write_atomically

#: The index's file name inside the workspace folder.
INDEX_NAME = "index.sqlite3"
#: The folder, inside the workspace, that holds the PAGE-XML files and their images.
PAGES_DIR = "pages"
#: Page ids: a few random bytes in hex (never a path: checked before any file is named by one).
PAGE_ID = re.compile(r"[0-9a-f]{12}")
#: The most lines a page may have, and characters a line: bounds on what a client may send.
MAX_LINES = 2000
MAX_LINE_CHARS = 2000
MAX_SIDE = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    image TEXT NOT NULL,
    xml TEXT NOT NULL,
    version INTEGER NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    lines INTEGER NOT NULL,
    corrected INTEGER NOT NULL,
    model TEXT,
    source TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_source ON pages (source);
"""


class WorkspaceError(HTRError):
    """A workspace request that cannot be done; ``code`` is stable for programs."""

    code = "invalid_page"


class PageNotFound(WorkspaceError):
    """No page of that id in the workspace."""

    code = "not_found"


class InvalidPage(WorkspaceError):
    """A page, line or image that cannot be stored (malformed, wrong size, no such line)."""

    code = "invalid_page"


class Conflict(WorkspaceError):
    """The page changed since the version the change was made from: ``current`` is its version
    now, ``expected`` the one the change named."""

    code = "conflict"

    def __init__(self, page_id: str, current: int, expected: int) -> None:
        self.page_id, self.current, self.expected = page_id, current, expected
        super().__init__(
            f"This page was saved elsewhere (version {current}) after the version {expected} "
            f"these corrections were made from: reload it to see version {current}, then make "
            "your corrections again. Nothing was overwritten.")


@dataclass(frozen=True)
class PageInfo:
    """One page of the workspace as its index lists it."""

    id: str
    name: str
    image: str        # file name under pages/
    xml: str          # file name under pages/
    version: int
    created: str      # ISO 8601, UTC
    updated: str
    lines: int        # lines on the page
    corrected: int    # lines whose text differs from what the model read
    model: str | None  # the model that read it
    source: str | None  # where it came from, e.g. "job:ID:N" for a page of a job's document

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "version": self.version,
                "created": self.created, "updated": self.updated, "lines": self.lines,
                "corrected": self.corrected, "model": self.model, "source": self.source,
                "image": self.image, "xml": self.xml}


@dataclass(frozen=True)
class StoredPage:
    """A page of the workspace: its index row and the page (the read result's dict, with each
    line's corrected ``text`` and the ``original`` text the model read)."""

    info: PageInfo
    page: dict

    def to_page(self):
        """The corrected page as a :class:`htr.results.Page` (for :mod:`htr.export`)."""
        from .documents import page_from_dict

        return replace(page_from_dict(self.page), language=self.page.get("language"))


class Workspace:
    """A workspace folder and its index (created on the first save; reading an empty or missing
    workspace lists no pages). Safe to share between threads and processes: every call opens
    its own SQLite connection."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.pages_dir = self.root / PAGES_DIR
        self.index = self.root / INDEX_NAME

    # --- reading ------------------------------------------------------------------------------

    def list(self) -> list[PageInfo]:
        """Every page, most recently changed first."""
        if not self.index.is_file():
            return []
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM pages ORDER BY updated DESC, id").fetchall()
        return [PageInfo(*row) for row in rows]

    def get(self, page_id: str) -> StoredPage:
        """One page with its corrected lines, or :class:`PageNotFound`."""
        _check_id(page_id)
        if not self.index.is_file():
            raise PageNotFound(f"There is no page {page_id} in the workspace.")
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_COLUMNS}, data FROM pages WHERE id = ?",
                             (page_id,)).fetchone()
        if row is None:
            raise PageNotFound(f"There is no page {page_id} in the workspace.")
        return StoredPage(PageInfo(*row[:-1]), json.loads(row[-1]))

    def find(self, source: str) -> PageInfo | None:
        """The page saved from ``source`` (e.g. ``job:ID:N``), if there is one."""
        if not self.index.is_file():
            return None
        with closing(self._connect()) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM pages WHERE source = ? ORDER BY created "
                             "DESC LIMIT 1", (source,)).fetchone()
        return PageInfo(*row) if row else None

    def image_path(self, page_id: str) -> Path:
        """The page image's file."""
        return self.pages_dir / self.get(page_id).info.image

    def source_page(self, page_id: str):
        """The corrected page as :func:`htr.export.export` takes it (with its image)."""
        from .export import SourcePage

        stored = self.get(page_id)
        return SourcePage(stored.to_page(), stored.info.image,
                          (self.pages_dir / stored.info.image).read_bytes())

    def corrections(self) -> list[tuple[str, int, str, str]]:
        """Every corrected line: (page id, line number from 1, text as read, corrected text)."""
        out = []
        for info in self.list():
            for n, line in enumerate(self.get(info.id).page["lines"], 1):
                if line["text"] != line["original"]:
                    out.append((info.id, n, line["original"], line["text"]))
        return out

    def corrected_words(self) -> Counter:
        """The words people typed: every word of a corrected line that the model's reading of
        that line did not have, with how often it was typed (for a lexicon)."""
        words: Counter = Counter()
        for _, _, original, text in self.corrections():
            read = Counter(original.split())
            for word in text.split():
                if read[word] > 0:
                    read[word] -= 1
                else:
                    words[word] += 1
        return words

    # --- writing ------------------------------------------------------------------------------

    def save(self, page: dict, image, *, name: str = "page", source: str | None = None
             ) -> PageInfo:
        """Store a new page: ``page`` is a read result's dict (as ``/api/v1/read`` gives it:
        width, height, lines with box, polygon, baseline, text, words, ...; a line may carry
        ``original``, the text the model read, when ``text`` is already corrected) and
        ``image`` the page image its coordinates are in (file bytes, a path or a grey array).
        Returns the new page's index row (version 1)."""
        data = clean_page(page)
        image_bytes, suffix = _image_file(image, data["width"], data["height"])
        self._create()
        written: list[Path] = []
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                page_id = self._new_id(db)
                image_name, xml_name = page_id + suffix, page_id + ".xml"
                for file, content in ((image_name, image_bytes),
                                      (xml_name, _page_xml(data, image_name))):
                    write_atomically(self.pages_dir / file, content)
                    written.append(self.pages_dir / file)
                now = _now()
                db.execute(
                    "INSERT INTO pages (id, name, image, xml, version, created, updated, lines, "
                    "corrected, model, source, data) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                    (page_id, _clean_name(name), image_name, xml_name, now, now,
                     len(data["lines"]), _corrected(data), data.get("model"), source,
                     json.dumps(data, ensure_ascii=False)))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                for path in written:  # no file without its row in the index
                    path.unlink(missing_ok=True)
                raise
        return self.get(page_id).info

    def replace(self, page_id: str, page: dict, version: int) -> PageInfo:
        """Replace a page's lines (geometry and text) with ``page``'s, made from ``version``.
        A line's ``original`` is kept from the stored line at the same place when the page
        still has as many lines, else taken from the line (or its text)."""
        def change(old: dict) -> dict:
            new = clean_page(page)
            if new["width"] != old["width"] or new["height"] != old["height"]:
                raise InvalidPage(f"The page is {new['width']}x{new['height']} pixels but its "
                                  f"image is {old['width']}x{old['height']}: the lines must be "
                                  "in the stored image's pixels.")
            if len(new["lines"]) == len(old["lines"]):
                for line, before, given in zip(new["lines"], old["lines"], page["lines"]):
                    if "original" not in given:
                        line["original"] = before["original"]
                        _mark(line)
            return new
        return self._update(page_id, version, change)

    def set_lines(self, page_id: str, texts: Sequence[str], version: int) -> PageInfo:
        """Set every line's corrected text (one text per line, in order), made from ``version``."""
        texts = list(texts)

        def change(old: dict) -> dict:
            if len(texts) != len(old["lines"]):
                raise InvalidPage(f"{len(texts)} texts were sent for a page of "
                                  f"{len(old['lines'])} lines: send one text per line.")
            for line, text in zip(old["lines"], texts):
                _set_text(line, text)
            return old
        return self._update(page_id, version, change)

    def correct_line(self, page_id: str, number: int, text: str, version: int) -> PageInfo:
        """Set line ``number``'s (from 1) corrected text, made from ``version``."""
        def change(old: dict) -> dict:
            if not isinstance(number, int) or not 1 <= number <= len(old["lines"]):
                raise InvalidPage(f"There is no line {number}: the page has "
                                  f"{len(old['lines'])} lines, numbered from 1.")
            _set_text(old["lines"][number - 1], text)
            return old
        return self._update(page_id, version, change)

    def delete(self, page_id: str, version: int) -> None:
        """Remove a page (its files and its row), named with the version it was seen at: a
        page changed since is not removed (:class:`Conflict`)."""
        _check_id(page_id)
        with self._locked_page(page_id, version) as (db, (_, image_name, xml_name, _)):
            db.execute("DELETE FROM pages WHERE id = ?", (page_id,))
            # The XML goes first: an image left behind by a crash is no training sample.
            for name in (xml_name, image_name):
                (self.pages_dir / name).unlink(missing_ok=True)
            db.execute("COMMIT")

    def export_zip(self) -> bytes:
        """The workspace as a training set: a ZIP of every page's PAGE-XML beside its image
        (unpacked, a folder ``pagexml:FOLDER`` reads)."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for info in sorted(self.list(), key=lambda i: i.id):
                zf.write(self.pages_dir / info.xml, info.xml)
                zf.write(self.pages_dir / info.image, info.image, zipfile.ZIP_STORED)
        return out.getvalue()

    def export_to(self, folder: str | Path) -> Path:
        """The workspace as a training set in ``folder`` (created): PAGE-XML files and images."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(io.BytesIO(self.export_zip())) as zf:
            zf.extractall(folder)
        return folder

    # --- internals ----------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are begun and ended here, explicitly.
        db = sqlite3.connect(self.index, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    def _create(self) -> None:
        self.pages_dir.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode = WAL")  # readers never wait for a writer
            db.executescript(_SCHEMA)

    def _new_id(self, db: sqlite3.Connection) -> str:
        from .readers.pagexml import letter_of

        while True:
            # The id is the files' stem: one the PAGE reader takes as its own letter (no
            # trailing page number to strip), so that every page is its own group.
            page_id = secrets.token_hex(6)
            if letter_of(page_id) == page_id and not db.execute(
                    "SELECT 1 FROM pages WHERE id = ?", (page_id,)).fetchone():
                return page_id

    def _update(self, page_id: str, version: int, change) -> PageInfo:
        _check_id(page_id)
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidPage("Name the version the change was made from: an integer, as the "
                              "page's last save or GET gave it.")
        with self._locked_page(page_id, version) as (db, (current, image_name, xml_name, data)):
            new = change(json.loads(data))
            xml_path = self.pages_dir / xml_name
            before = xml_path.read_bytes()
            write_atomically(xml_path, _page_xml(new, image_name))
            try:
                db.execute("UPDATE pages SET version = ?, updated = ?, lines = ?, "
                           "corrected = ?, data = ? WHERE id = ?",
                           (current + 1, _now(), len(new["lines"]), _corrected(new),
                            json.dumps(new, ensure_ascii=False), page_id))
                db.execute("COMMIT")
            except BaseException:
                write_atomically(xml_path, before)  # the file goes back with the index
                raise
        return self.get(page_id).info

    @contextmanager
    def _locked_page(self, page_id: str, version: int) -> Iterator[tuple[sqlite3.Connection, tuple]]:
        """A write transaction on the index and the page's row (version, image, xml, data), once
        the page is known to be there at ``version`` (else :class:`PageNotFound`,
        :class:`Conflict`); rolled back when the body raises, which must commit itself."""
        if not self.index.is_file():
            raise PageNotFound(f"There is no page {page_id} in the workspace.")
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT version, image, xml, data FROM pages WHERE id = ?",
                                 (page_id,)).fetchone()
                if row is None:
                    raise PageNotFound(f"There is no page {page_id} in the workspace.")
                if version != row[0]:
                    raise Conflict(page_id, row[0], version)
                yield db, row
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise


_COLUMNS = "id, name, image, xml, version, created, updated, lines, corrected, model, source"


def _check_id(page_id: str) -> None:
    if not isinstance(page_id, str) or not PAGE_ID.fullmatch(page_id):
        raise PageNotFound(f"There is no page {page_id!r} in the workspace (ids are 12 "
                           "hexadecimal characters).")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean_name(name: str) -> str:
    name = "".join(ch for ch in str(name or "") if ch.isprintable()).strip()[:200]
    return name or "page"


def _page_xml(data: dict, image_name: str) -> bytes:
    from .documents import page_from_dict
    from .export import page_xml

    return page_xml(page_from_dict(data), image_name)


def _corrected(data: dict) -> int:
    return sum(line["text"] != line["original"] for line in data["lines"])


def _mark(line: dict) -> None:
    """A line whose text is not what the model read is ground truth: full confidence, and its
    words (whose boxes were for the words read) are left to the exporters to place along the
    line, unless they still spell its text."""
    if line["text"] != line["original"]:
        line["confidence"] = 1.0
        if " ".join(w["text"] for w in line["words"]) != " ".join(line["text"].split()):
            line["words"] = []


def _set_text(line: dict, text) -> None:
    line["text"] = _clean_text(text)
    _mark(line)


def _clean_text(text) -> str:
    if not isinstance(text, str):
        raise InvalidPage("A line's text must be a string.")
    if len(text) > MAX_LINE_CHARS:
        raise InvalidPage(f"A line's text is {len(text)} characters long; at most "
                          f"{MAX_LINE_CHARS} are kept.")
    return " ".join(text.split())  # one line: newlines and runs of spaces become one space


def _ints(value, n: int | None, what: str) -> list[int]:
    if not isinstance(value, (list, tuple)) or (n is not None and len(value) != n) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= MAX_SIDE * 4
            for v in value):
        raise InvalidPage(f"{what} must be {'a list of numbers' if n is None else f'{n} numbers'}.")
    return [int(round(v)) for v in value]


def _points(value, what: str) -> list[list[int]]:
    if not isinstance(value, (list, tuple)) or len(value) > 10_000:
        raise InvalidPage(f"{what} must be a list of [x, y] points.")
    return [_ints(p, 2, f"Each point of {what}") for p in value]


def _confidence(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        return 0.0
    return float(value)


def clean_page(page) -> dict:
    """A read result's dict checked and reduced to what the workspace keeps: size, level,
    language, sheet, turn, the reader's name (model, decoder) and the lines (geometry, text, the
    text as read, confidence, words, ids). Raises :class:`InvalidPage` with what is wrong."""
    if not isinstance(page, dict):
        raise InvalidPage("The page must be a JSON object, as /api/v1/read gives it.")
    width, height = page.get("width"), page.get("height")
    for what, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= MAX_SIDE:
            raise InvalidPage(f"The page's {what} must be a whole number of pixels, 1 to "
                              f"{MAX_SIDE}.")
    lines = page.get("lines")
    if not isinstance(lines, list) or len(lines) > MAX_LINES:
        raise InvalidPage(f"The page's lines must be a list (at most {MAX_LINES}).")
    out_lines = []
    for n, line in enumerate(lines, 1):
        if not isinstance(line, dict):
            raise InvalidPage(f"Line {n} must be a JSON object.")
        text = _clean_text(line.get("text", ""))
        original = line.get("original", text)
        original = _clean_text(original) if original is not None else text
        words = line.get("words", [])
        if not isinstance(words, list) or not all(isinstance(w, dict) for w in words):
            raise InvalidPage(f"Line {n}'s words must be a list of objects.")
        out = {"box": _ints(line.get("box"), 4, f"Line {n}'s box"),
               "polygon": _points(line.get("polygon", []), f"line {n}'s polygon"),
               "baseline": _points(line.get("baseline", []), f"line {n}'s baseline"),
               "text": text, "original": original,
               "confidence": _confidence(line.get("confidence")),
               "words": [{"box": _ints(w.get("box"), 4, f"A box of line {n}'s words"),
                          "text": _clean_text(w.get("text", "")),
                          "confidence": _confidence(w.get("confidence"))} for w in words]}
        for key in ("id", "region"):
            if isinstance(line.get(key), str) and line[key]:
                out[key] = line[key][:200]
        _mark(out)
        out_lines.append(out)
    data = {"width": width, "height": height, "lines": out_lines,
            "level": page.get("level") if page.get("level") in ("page", "line", "word") else "page"}
    for key in ("language", "model", "decoder"):
        if isinstance(page.get(key), str) and page[key]:
            data[key] = page[key][:200]
    if page.get("sheet") is not None:
        data["sheet"] = _points(page["sheet"], "the sheet")
    if page.get("turned") in (90, 180, 270):  # read turned the right way up (htr.orientation)
        data["turned"] = page["turned"]
    read_ms = (page.get("timings") or {}).get("read_ms") if isinstance(page.get("timings"), dict) \
        else None
    if isinstance(read_ms, (int, float)) and not isinstance(read_ms, bool) and read_ms >= 0:
        data["timings"] = {"read_ms": float(read_ms)}  # how long the reading took, as shown
    return data


def _image_file(image, width: int, height: int) -> tuple[bytes, str]:
    """The page image as the file to store, and its suffix: PNG and JPEG bytes as they came
    when they show the page upright at its size; anything else (a grey array, an image whose
    EXIF turns it) as a PNG of the page the coordinates are in. Raises :class:`InvalidPage`
    when the image cannot be read or is not the page's size."""
    from PIL import Image

    from .image import load_image

    if isinstance(image, (str, Path)):
        image = Path(image).read_bytes()
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
        try:
            grey = load_image(data, max_pixels=MAX_SIDE * 1000)
        except ImageError as exc:
            raise InvalidPage(f"The page image cannot be read: {exc.reason}.") from None
        if grey.shape != (height, width):
            raise InvalidPage(f"The image is {grey.shape[1]}x{grey.shape[0]} pixels but the page "
                              f"is {width}x{height}: send the image the page was read from.")
        with Image.open(io.BytesIO(data)) as pil:
            upright = pil.size == (width, height) and pil.getexif().get(0x0112, 1) == 1
            kind = pil.format
        if upright and kind in ("PNG", "JPEG"):
            return data, ".png" if kind == "PNG" else ".jpg"
        image = grey
    if isinstance(image, np.ndarray):
        if image.shape[:2] != (height, width):
            raise InvalidPage(f"The image is {image.shape[1]}x{image.shape[0]} pixels but the "
                              f"page is {width}x{height}.")
        out = io.BytesIO()
        Image.fromarray(image).save(out, "PNG")
        return out.getvalue(), ".png"
    raise InvalidPage("The page image must be PNG or JPEG bytes, a path or an array.")
