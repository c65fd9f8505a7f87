"""Read the IAM Handwriting Database (offline) in its own layout: line and word samples with
writer groups and the standard split lists.

Expected under ``root``: ``lines.txt`` / ``words.txt`` / ``forms.txt`` (directly or in ``ascii/``),
images in ``lines/a01/a01-000u/a01-000u-00.png`` and ``words/a01/a01-000u/a01-000u-00-00.png``,
optionally ``splits/aachen/lines/{tr,va,te}.lst`` or ``splits/original/lines/{tr,va1,va2,te}.lst``.
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

#: Split list file stem -> Sample.split. Aachen's lists are the ones most papers report on.
SPLIT_LISTS = {
    "aachen": {"tr": "train", "va": "val", "te": "test"},
    "original": {"tr": "train", "va1": "val", "va2": "val", "te": "test"},
}
# If a line were in two lists, the stricter one wins: a test line must never be trained on.
_SPLIT_RANK = {"train": 0, "val": 1, "test": 2}


def read_iam_lines(root: Path, *, splits: str = "auto", source: str | None = None) -> list[Sample]:
    """One sample per row of ``lines.txt``: text = its ``|``-joined words, normalised.

    Rows marked ``err`` are kept: for lines, the mark is about IAM's word segmentation, and the
    line's image and text are right. Rows whose image is missing or empty are left out, with one
    warning giving their count. ``splits``: "auto" (Aachen lists, else the original ones),
    "aachen", "original" or "none". Group: the writer (``forms.txt``), else the form group.
    """
    root = Path(root)
    rows = [(line_id, words.replace("|", " "))
            for line_id, _status, words in _rows(_find(root, "lines.txt"), 9)]
    return _samples(root, "lines", rows, splits, source)


def read_iam_words(root: Path, *, splits: str = "auto", source: str | None = None) -> list[Sample]:
    """One sample per correctly segmented row of ``words.txt`` (rows marked ``err`` are left out:
    their box does not hold the word). Word ids take the split of their line. Missing or empty
    image files (IAM ships a couple) are left out with one warning. Otherwise as
    :func:`read_iam_lines`.
    """
    root = Path(root)
    rows = [(word_id, text) for word_id, status, text in _rows(_find(root, "words.txt"), 9)
            if status != "err"]
    return _samples(root, "words", rows, splits, source)


def form_of(item_id: str) -> str:
    """``a01-000u-00-00`` -> ``a01-000u``: the form a line or word was written on."""
    return "-".join(item_id.split("-")[:2])


def form_group(form_id: str) -> str:
    """``a01-000u`` -> ``a01-000``: every copy of one printed text (copied by several writers)."""
    return re.sub(r"[a-z]+$", "", form_id)


# --- internals -----------------------------------------------------------------------------------

def _find(root: Path, name: str) -> Path:
    for candidate in (root / name, root / "ascii" / name):
        if candidate.is_file():
            return candidate
    raise DataError(f"{root}: no {name} (looked for {root / name} and {root / 'ascii' / name})")


def _rows(path: Path, min_fields: int) -> list[tuple[str, str, str]]:
    """(id, segmentation status, text) of each row. The text is everything after the 8th field:
    it may hold spaces (``M Ps|tomorrow``)."""
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split(" ", min_fields - 1)
        if len(fields) < min_fields:
            raise DataError(f"{path}:{n}: expected {min_fields} space-separated fields, "
                            f"got {raw!r}")
        out.append((fields[0], fields[1], fields[-1]))
    return out


def _samples(root: Path, kind: str, rows: list[tuple[str, str]], splits: str,
             source: str | None) -> list[Sample]:
    image_dir = root / kind
    if not image_dir.is_dir():
        raise DataError(f"{root}: no {kind}/ folder of images "
                        f"(expected {image_dir}/a01/a01-000u/...)")
    writers = _writers(root)
    split_of = _split_lists(root, splits)
    source = source if source is not None else root.name
    samples: list[Sample] = []
    broken: list[str] = []
    for item_id, raw_text in rows:
        form = form_of(item_id)
        path = image_dir / form.split("-")[0] / form / f"{item_id}.png"
        try:
            ok = path.stat().st_size > 0
        except OSError:
            ok = False
        if not ok:
            broken.append(item_id)
            continue
        text = normalize_text(raw_text)
        if not text:
            continue
        samples.append(Sample(
            id=item_id, text=text, group=writers.get(form) or form_group(form),
            load=functools.partial(_load_file, str(path)),
            split=split_of.get("-".join(item_id.split("-")[:3])), source=source))
    if broken:
        # IAM's words set has a couple of empty files (e.g. r06-022-03-05); one note, not one each.
        warnings.warn(f"{image_dir}: {len(broken)} {kind} left out, image missing or empty "
                      f"(first: {', '.join(broken[:5])})", stacklevel=3)
    if not samples and rows:
        raise DataError(f"{image_dir}: none of the {len(rows)} {kind} listed has an image")
    return samples


def _writers(root: Path) -> dict[str, str]:
    """Form id -> writer id from ``forms.txt``; empty when there is none (groups fall back to
    the form group)."""
    try:
        path = _find(root, "forms.txt")
    except DataError:
        return {}
    out = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = raw.split()
        if len(fields) >= 2 and not raw.startswith("#"):
            out[fields[0]] = fields[1]
    return out


def _split_lists(root: Path, which: str) -> dict[str, str]:
    """Line id -> "train"/"val"/"test" from the first set of split lists found."""
    if which == "none":
        return {}
    names = list(SPLIT_LISTS) if which == "auto" else [which]
    for name in names:
        if name not in SPLIT_LISTS:
            raise ValueError(f"unknown IAM split lists {which!r}; use auto, "
                             f"{', '.join(SPLIT_LISTS)} or none")
        folder = root / "splits" / name / "lines"
        files = {stem: folder / f"{stem}.lst" for stem in SPLIT_LISTS[name]}
        if not any(f.is_file() for f in files.values()):
            if which != "auto":
                listed = ", ".join(f.name for f in files.values())
                raise DataError(f"{folder}: no split lists ({listed})")
            continue
        out: dict[str, str] = {}
        for stem, f in files.items():
            if not f.is_file():
                continue
            split = SPLIT_LISTS[name][stem]
            for line_id in f.read_text(encoding="utf-8").split():
                if _SPLIT_RANK[split] >= _SPLIT_RANK.get(out.get(line_id, "train"), 0):
                    out[line_id] = split
        return out
    return {}


def _load_file(path: str, rng: np.random.Generator | None = None) -> np.ndarray:
    """Read the image when the sample is used (rng unused: a scan has one canonical version)."""
    return load_image(path)
