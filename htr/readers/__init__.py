"""Data readers: each turns one layout of labelled handwriting into :class:`Sample` objects.

A data set is named ``KIND:PATH`` (optionally ``KIND:PATH*WEIGHT`` to repeat it WEIGHT times per
training epoch), e.g. ``iam-ondb:../shared/data/iam-ondb`` or ``folder:my-notes*3``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .base import Sample, group_split, split_of

#: kind -> (module, function) of its reader; imported only when used.
READERS: dict[str, tuple[str, str]] = {
    "iam-lines": ("iam", "read_iam_lines"),
    "iam-words": ("iam", "read_iam_words"),
    "iam-ondb": ("iam_ondb", "read_iam_ondb"),
    "iam-ondb-words": ("iam_ondb", "read_iam_ondb_words"),
    "pagexml": ("pagexml", "read_pagexml"),
    "alto": ("pagexml", "read_alto"),
    "pagexml-photos": ("pagexml", "read_pagexml_photos"),
    "alto-photos": ("pagexml", "read_alto_photos"),
    "folder": ("folder", "read_folder"),
    "fonts": ("fonts", "read_font_lines"),
}


@dataclass(frozen=True)
class DataSpec:
    kind: str
    path: Path
    weight: float = 1.0

    @property
    def name(self) -> str:
        """Short label for tables and logs: the kind and the folder's name."""
        return f"{self.kind}:{self.path.name}"

    @classmethod
    def parse(cls, spec: str) -> "DataSpec":
        kind, sep, rest = spec.partition(":")
        if not sep or kind not in READERS:
            raise DataError(f"{spec!r}: expected KIND:PATH with KIND one of {', '.join(READERS)}")
        weight = 1.0
        if "*" in rest:
            rest, _, w = rest.rpartition("*")
            try:
                weight = float(w)
            except ValueError:
                raise DataError(f"{spec!r}: weight after '*' must be a number") from None
        path = Path(rest).expanduser()
        if not path.exists():
            raise DataError(f"{spec!r}: {path} does not exist")
        return cls(kind, path, weight)


def open_data(spec: str | DataSpec) -> list[Sample]:
    """Read every sample of one data set."""
    spec = spec if isinstance(spec, DataSpec) else DataSpec.parse(spec)
    module, function = READERS[spec.kind]
    reader = getattr(importlib.import_module(f"{__name__}.{module}"), function)
    samples = reader(spec.path)
    if not samples:
        raise DataError(f"{spec.kind}:{spec.path}: no labelled samples found")
    return samples


#: The kinds of data that hold whole pages (their lines' outlines and text): :func:`open_pages`.
PAGE_KINDS = ("pagexml", "alto")


def open_pages(spec: str | DataSpec, split: str = "all", val_fraction: float = 0.1) -> list:
    """The transcribed pages (:class:`~htr.readers.pagexml.PageSample`) of a page-level set,
    those of ``split`` only ("train" or "val", by letter or text as every split:
    :func:`group_split`; "all": every one). Raises :class:`DataError` for a set of other kind."""
    from .pagexml import read_alto_pages, read_pagexml_pages

    spec = spec if isinstance(spec, DataSpec) else DataSpec.parse(spec)
    if spec.kind not in PAGE_KINDS:
        raise DataError(f"{spec.kind}:{spec.path}: whole pages come from "
                        f"{' or '.join(PAGE_KINDS)} data")
    read = read_pagexml_pages if spec.kind == "pagexml" else read_alto_pages
    return [p for p in read(spec.path)
            if split == "all" or group_split(p.group, val_fraction) == split]


__all__ = ["DataSpec", "PAGE_KINDS", "READERS", "Sample", "group_split", "open_data",
           "open_pages", "split_of"]
