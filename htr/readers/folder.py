"""Read the layout a user brings: a folder of line (or word) images and a ``labels.tsv`` with
their texts, optionally a ``writers.tsv`` that says who wrote which image.

``labels.tsv``: ``relative/path.png<TAB>text`` per row; a header row ``file<TAB>text``, blank
lines and a UTF-8 byte-order mark are tolerated. ``writers.tsv``: ``file<TAB>writer<TAB>...``
with a header row.
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..image import load_image
from ..text import normalize_text
from .base import Sample

#: First-column names that mark a header row rather than an image.
_HEADER_NAMES = {"file", "filename", "file_name", "path", "image", "img"}
# A trailing line number on a file name: "c04-110-00" -> "c04-110", "page3_12" -> "page3".
_LINE_NUMBER = re.compile(r"[-_]\d{2}$")
#: How many missing files an error message names.
_SHOW = 5


def read_folder(root: Path, *, source: str | None = None) -> list[Sample]:
    """One sample per row of ``root/labels.tsv`` (rows with empty text are left out, with a
    warning).

    Group (the unit kept on one side of the split): the writer from ``writers.tsv`` when it names
    the file; else the file's folder relative to ``root`` when the files lie in several folders;
    else the file name less a trailing ``-NN``/``_NN`` line number (``c04-110-00`` -> ``c04-110``),
    unless that would put every file in one group, when each file is its own group.
    Raises :class:`DataError` when labels.tsv is missing or malformed, or when any listed image
    is missing (naming the first few): a typo in a label file should not pass silently.
    """
    root = Path(root)
    labels = root / "labels.tsv"
    if not labels.is_file():
        raise DataError(f"{root}: no labels.tsv (expected rows of 'relative/path.png<TAB>text')")
    rows = _read_tsv(labels)
    if rows and _is_header(rows[0][1]) and not (root / rows[0][1][0]).is_file():
        rows = rows[1:]
    entries: list[tuple[str, str]] = []
    for n, fields in rows:
        if len(fields) < 2:
            raise DataError(f"{labels}:{n}: expected 'file<TAB>text', got {fields[0]!r} "
                            "(no tab)")
        entries.append((fields[0].strip(), normalize_text("\t".join(fields[1:]))))
    missing = [f for f, _ in entries if not (root / f).is_file()]
    if missing:
        raise DataError(f"{labels}: {len(missing)} of {len(entries)} listed images not found "
                        f"under {root}: {', '.join(missing[:_SHOW])}"
                        + (", ..." if len(missing) > _SHOW else ""))
    empty = [f for f, text in entries if not text]
    if empty:
        warnings.warn(f"{labels}: {len(empty)} rows with empty text left out "
                      f"(first: {', '.join(empty[:_SHOW])})", stacklevel=2)
    entries = [(f, text) for f, text in entries if text]
    if not entries:
        raise DataError(f"{labels}: no labelled images listed")
    groups = _groups(root, [f for f, _ in entries])
    source = source if source is not None else root.name
    return [Sample(id=Path(f).with_suffix("").as_posix(), text=text, group=groups[f],
                   load=functools.partial(_load_file, str(root / f)), source=source)
            for f, text in entries]


def _read_tsv(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank row, split on tabs; utf-8-sig drops a byte-order
    mark left by spreadsheets."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows = []
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.strip():
            rows.append((n, raw.split("\t")))
    return rows


def _is_header(fields: list[str]) -> bool:
    return fields[0].strip().lower() in _HEADER_NAMES


def _groups(root: Path, files: list[str]) -> dict[str, str]:
    writers: dict[str, str] = {}
    table = root / "writers.tsv"
    if table.is_file():
        rows = _read_tsv(table)
        if rows and _is_header(rows[0][1]):
            rows = rows[1:]
        writers = {r[0].strip(): r[1].strip() for _, r in rows if len(r) >= 2 and r[1].strip()}
    folders = {Path(f).parent.as_posix() for f in files}
    if len(folders) > 1:
        # Files sorted into folders: a folder is most likely one writer, form or page.
        fallback = {f: Path(f).parent.as_posix() for f in files}
    else:
        # One folder says nothing; a name like c04-110-03 says which form its line is from.
        fallback = {f: _LINE_NUMBER.sub("", Path(f).stem) or Path(f).stem for f in files}
        if len(files) > 1 and len(set(fallback.values())) == 1:
            # One group would leave nothing to validate on: each file is its own.
            fallback = {f: Path(f).stem for f in files}
    return {f: writers.get(f) or fallback[f] for f in files}


def _load_file(path: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Read the image when the sample is used (rng unused: a file has one canonical version)."""
    return load_image(path)
