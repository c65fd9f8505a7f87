"""Read transcribed page scans in PAGE-XML (and ALTO) into line samples cropped from the page.

PAGE-XML of any schema year is read by local tag names (``Page``, ``TextRegion``, ``TextLine``,
``Coords``, ``Baseline``, ``TextEquiv``/``Unicode``), so a 2010, 2013 or 2019 export all work.
:func:`read_page_lines` gives the lines of one page in reading order (for segmentation work);
:func:`read_pagexml` turns every transcribed line under a folder into a lazily cropped
:class:`~htr.readers.base.Sample`. :func:`read_alto` does the same for ALTO XML, and
:func:`read_alto_lines` gives one ALTO page's lines. :func:`read_layout` reads either kind of file
as the layout a page is to be read along (``python -m htr read --layout``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from ..image import load_image
from ..orientation import turned_image
from ..text import normalize_text
from .base import Sample

Point = tuple[int, int]
#: (x0, y0, x1, y1) in page pixels, x1/y1 exclusive: ``page[y0:y1, x0:x1]`` is the line.
Box = tuple[int, int, int, int]

# How a line is cut out (chosen by looking at crops of the Hooker letters): Transkribus' polygons
# follow the ink tightly, and a plain box round one takes in a good part of the line above and
# below (slanted cursive with long ascenders and descenders), so the box alone is a poor line image.
# Painting everything outside the polygon with the paper colour gives clean lines, but the polygon
# as drawn shaves off commas, full stops and the tails of descenders at its edge. Hence: grow the
# polygon by a margin of about an eighth of the line's height (7-16 px on Hooker) before masking,
# and grow the crop box by the same margin so that the grown polygon fits in it. What leaks in from
# the neighbours is then a few specks of their ascenders and descenders, not whole words.
#
# Some lines (those added by hand in Transkribus, ids "l", "l_809") carry a polygon that is only a
# thin band along the baseline (about 11 px on Hooker, 5 % of the lines): cut by it, a line loses
# everything above the x-height. On the pages of one letter (JDH_2_16_40) the polygons are shifted
# off their baselines altogether. Such a polygon is replaced, for the crop only, by a band round
# the baseline as high as the page's line spacing suggests (baselines are right on every page seen);
# read_page_lines reports the file as it is.
#
# A few notes are written up or down the margin (JDH_2_16_198_004): their baseline runs vertically,
# and the crop is turned a quarter so that every sample reads left to right.
#: A polygon thinner (area / width) than this fraction of the page's line spacing is "thin".
THIN_FRACTION = 0.35
#: The band put round a thin line's baseline: this much of the line spacing above, and below.
BAND_ABOVE, BAND_BELOW = 0.75, 0.35
#: Margin round a line, as a fraction of its polygon box height, and its least value in pixels.
MARGIN_FRACTION = 0.12
MIN_MARGIN = 4
#: Image suffixes tried, next to the XML, when ``imageFilename`` does not name an existing file.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".JPG", ".PNG", ".TIF")
#: Page images kept decoded: lines are usually loaded page by page, so a few pages suffice.
PAGE_CACHE_SIZE = 4

_INDEX = re.compile(r"readingOrder\s*\{[^}]*?index\s*:\s*(\d+)")
# Letter = file stem less an optional "_dupN" export suffix and the trailing 3-digit page number.
# A page number: three digits after an underscore or a letter (Hooker's ``_001``, ``a001``; not the
# tail of a longer number such as Copiste's text ``0022``), or ``_1``/``_2`` after a number of
# four digits or more (Copiste's ``wikitexte_0051_1``: one text copied on two pages).
_PAGE_SUFFIX = re.compile(r"(?:(?:_|(?<!\d))\d{3}(?:_dup\d+)?|(?<=\d{4})_\d{1,2})$")


@dataclass(frozen=True)
class PageWord:
    """One word of a line as the file gives it: its id (may be ""), text and box."""

    id: str
    text: str
    box: Box


@dataclass(frozen=True)
class PageLine:
    """One text line of a page: its id, raw transcription (stripped, not normalised), outline,
    baseline (None when the file has none), bounding box and the page image it lies on; the id
    of the text region (PAGE ``TextRegion``, ALTO ``TextBlock``) it belongs to and the words the
    file gives for it (PAGE ``Word``, ALTO ``String``; empty when it has none)."""

    id: str
    text: str
    polygon: list[Point]
    baseline: list[Point] | None
    box: Box
    image: Path
    region: str = ""
    words: tuple[PageWord, ...] = ()


# Copiste's scanning batches (``imp_wikitexte_0051_1``, ``oldbatch_wikitexte_0007``): the same
# text was copied by up to three volunteers in different batches, and a text is the unit of its
# split, so the batch is not part of the document's name.
_BATCH_PREFIX = re.compile(r"^(?:imp|oldbatch)_(?=wikitexte_\d)")


# Strike-through marks of the Copiste transcriptions (an eScriptorium project's convention):
# ">mai<" for a crossed-out word that can still be read, "><" for one that cannot; "<>" (in 18
# lines, "com<>te", "<>footballeur") stands for ink left untranscribed.
_STRUCK = re.compile(r">([^<>]*)<")


def unstrike(text: str) -> tuple[str, bool]:
    """``text`` without strike-through marks, the crossed-out words that can be read kept (they
    are on the paper), and whether some ink has no text (crossed out past reading, or left
    untranscribed): such a line should not teach a network."""
    unreadable = "<>" in text or any(not m.group(1).strip() for m in _STRUCK.finditer(text))
    text = _STRUCK.sub(r" \1 ", text.replace("<>", " "))
    return " ".join(text.split()), unreadable


def letter_of(stem: str) -> str:
    """The document (letter) a page file belongs to: the stem less its trailing page number.

    The page number is the last three digits, with or without an underscore before them, and an
    optional ``_dupN`` after them (Transkribus' name for a page exported twice):
    ``JDH_2_16_144_001`` -> ``JDH_2_16_144``, ``JDH_2_16_67a001`` -> ``JDH_2_16_67a``,
    ``JDH_2_16_180_004_dup1`` -> ``JDH_2_16_180``; a page of a longer number's document has a
    one- or two-digit number, and Copiste's batch prefix goes: ``imp_wikitexte_0051_2`` and
    ``wikitexte_0051`` -> ``wikitexte_0051`` (one text, copied by two volunteers).
    A stem without such a number is its own letter (``imp_wikitexte_0022``).
    """
    return _PAGE_SUFFIX.sub("", _BATCH_PREFIX.sub("", stem)) or stem


def read_pagexml(root: Path, *, source: str | None = None, mask: bool = True,
                 photos: bool = False) -> list[Sample]:
    """One sample per transcribed TextLine of every PAGE-XML file under ``root`` (recursively).

    Lines with empty text are left out. The image is the line's polygon box plus
    a margin (:func:`line_margin`), cut from the page when the sample is loaded; page outside the
    polygon grown by that margin is painted with the paper colour (``mask=False``: plain box).
    ``group`` is the letter (:func:`letter_of`), so that no letter crosses the split, prefixed
    with the XML's folder relative to ``root`` when it lies in a sub-folder. XML files that are
    not PAGE-XML (METS, ALTO, ...) are passed over.

    ``photos``: the lines are cut from a synthetic phone photo of their page, flattened back
    (:func:`photographed_page`), not from the scan; their ids end in ``@photo``.
    """
    source = source if source is not None else Path(root).name
    samples: list[Sample] = []
    loader, suffix = (_load_photo_line, "@photo") if photos else (_load_line, "")
    for xml_path, tree, rel, group in _documents(root, "PcGts", "PAGE-XML"):
        lines = _page_lines(tree, xml_path)
        spacing = line_spacing(lines)
        for line in lines:
            text = normalize_text(line.text)
            if not text:
                continue
            polygon = crop_polygon(line, spacing)
            box = line.box if polygon is line.polygon else _box(polygon, (None, None))
            load = functools.partial(loader, str(line.image), box,
                                     tuple(polygon) if mask else None, turns(line))
            samples.append(Sample(id=f"{rel}_{line.id}{suffix}", text=text, group=group,
                                  load=load, source=source))
    return samples


@dataclass(frozen=True)
class PageSample:
    """One transcribed page for page-level evaluation: its image, its lines (reading order) and
    its group (the letter, as in :func:`read_pagexml`). ``image``: the image file, or its bytes
    (a synthetic photo, :func:`htr.photo.photograph`)."""

    id: str
    image: Path | bytes
    lines: list[PageLine]
    group: str

    @property
    def text(self) -> str:
        """The transcribed lines, normalised, joined by newlines in reading order."""
        return "\n".join(t for t in (normalize_text(unstrike(line.text)[0]) for line in self.lines) if t)

    def line_boxes(self) -> list[Box]:
        """The lines' boxes as the reader cuts them out: see :func:`line_boxes`."""
        return line_boxes(self.lines)


def line_boxes(lines: list[PageLine]) -> list[Box]:
    """The boxes of a page's lines as :func:`read_pagexml` cuts them out (:func:`crop_polygon`):
    a polygon that is only a thin band along the baseline, or lies off it, is replaced by a band
    round the baseline; the others keep their own box."""
    spacing = line_spacing(lines)
    boxes = []
    for line in lines:
        poly = crop_polygon(line, spacing)
        boxes.append(line.box if poly is line.polygon else _box(poly, (None, None)))
    return boxes


def read_pagexml_pages(root: Path) -> list[PageSample]:
    """Every PAGE-XML page under ``root`` with at least one transcribed line."""
    pages = []
    for xml_path, tree, rel, group in _documents(root, "PcGts", "PAGE-XML"):
        lines = _page_lines(tree, xml_path)
        if lines and any(normalize_text(line.text) for line in lines):
            pages.append(PageSample(rel, lines[0].image, lines, group))
    return pages


def read_alto_pages(root: Path) -> list[PageSample]:
    """Every ALTO page under ``root`` with at least one transcribed line (as
    :func:`read_pagexml_pages`; lines from :func:`read_alto_lines`, group as in :func:`read_alto`)."""
    pages = []
    for xml_path, _, rel, group in _documents(root, "alto", "ALTO"):
        lines = read_alto_lines(xml_path)
        if lines and any(normalize_text(line.text) for line in lines):
            pages.append(PageSample(rel, lines[0].image, lines, group))
    return pages


def read_page_lines(xml_path: Path | bytes, image: Path | None = None) -> list[PageLine]:
    """Every TextLine of one PAGE-XML file, in reading order, including untranscribed ones.

    Regions follow the page's ``ReadingOrder`` (else their ``custom="readingOrder {index:N;}"``,
    else document order); lines within a region follow their own ``readingOrder`` index, else
    document order. ``image``: the page image, when the caller has it (else the one the file
    names is looked for next to it). ``xml_path`` may also be the file's bytes (an upload),
    with ``image`` given. Raises :class:`DataError` for malformed XML, a file that is not
    PAGE-XML, or a page whose image cannot be found.
    """
    tree, xml_path = _parse_any(xml_path)
    if _local(tree.tag) != "PcGts":
        raise DataError(f"{xml_path}: not PAGE-XML (root element is <{_local(tree.tag)}>)")
    return _page_lines(tree, xml_path, image)


def read_alto_lines(xml_path: Path | bytes, image: Path | None = None) -> list[PageLine]:
    """Every ``TextLine`` of one ALTO file, in document order (ALTO's reading order up to 4.2),
    including untranscribed ones: text = its ``String@CONTENT`` words joined by spaces, box =
    HPOS/VPOS/WIDTH/HEIGHT, polygon = its ``Shape/Polygon`` (else the box's corners), baseline =
    ``BASELINE`` when it is a list of points (ALTO 4.2; a single number, the older form, gives a
    level line across the box), region = its ``TextBlock``'s ID, words = its Strings that have a
    box (the text is every String's).

    Only pixel coordinates are read: ALTO in mm10 or inch1200 is refused with a
    :class:`DataError` rather than read along misplaced lines. ``image`` as in
    :func:`read_page_lines`.
    """
    tree, xml_path = _parse_any(xml_path)
    if _local(tree.tag) != "alto":
        raise DataError(f"{xml_path}: not ALTO (root element is <{_local(tree.tag)}>)")
    unit = next((el.text.strip() for el in tree.iter() if _local(el.tag) == "MeasurementUnit"
                 and el.text), "pixel")
    if unit != "pixel":
        raise DataError(f"{xml_path}: ALTO measured in {unit}; only pixel coordinates are read")
    return _alto_lines(tree, xml_path, image if image is not None else _alto_image(tree, xml_path))


def _alto_lines(tree: ET.Element, xml_path: Path, image: Path) -> list[PageLine]:
    """:func:`read_alto_lines` of a parsed ALTO file whose page image is ``image``."""
    lines = []
    for block in (el for el in tree.iter() if _local(el.tag) == "TextBlock"):
        for line in _children(block, "TextLine"):
            i = len(lines)
            box = _alto_box(line, xml_path, f"TextLine {line.get('ID', i)}")
            x0, y0, x1, y1 = box
            shapes = [p for s in _children(line, "Shape") for p in _children(s, "Polygon")]
            polygon = _points_text(shapes[0].get("POINTS", ""), xml_path,
                                   line.get("ID", str(i))) if shapes else []
            if len(polygon) < 3:
                polygon = [(x0, y0), (x1 - 1, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)]
            base = (line.get("BASELINE") or "").strip()
            if "," in base or " " in base:
                baseline = _points_text(base, xml_path, line.get("ID", str(i)))
            else:
                y = _int_or(base)
                baseline = [(x0, y), (x1 - 1, y)] if y is not None else None
            strings = _children(line, "String")
            # A String without a box still has its text in the line; only boxed ones are words.
            words = tuple(PageWord(s.get("ID", ""), s.get("CONTENT", ""),
                                   _alto_box(s, xml_path, f"String {s.get('ID', '')}"))
                          for s in strings if s.get("HPOS") is not None)
            lines.append(PageLine(id=line.get("ID", f"l{i}"),
                                  text=" ".join(c for c in (s.get("CONTENT", "") for s in strings)
                                                if c).strip(),
                                  polygon=polygon, baseline=baseline or None, box=box,
                                  image=Path(image), region=block.get("ID", ""), words=words))
    return lines


def read_layout(xml_path: Path | bytes, image: Path | None = None) -> list[PageLine]:
    """The lines of a layout made elsewhere (Transkribus, eScriptorium, kraken), in reading
    order: PAGE-XML (any schema year) or ALTO, told apart by the root element. ``xml_path`` and
    ``image`` as in :func:`read_page_lines`."""
    kind = _local(_parse_any(xml_path)[0].tag)
    if kind == "PcGts":
        return read_page_lines(xml_path, image)
    if kind == "alto":
        return read_alto_lines(xml_path, image)
    raise DataError(f"{xml_path}: neither PAGE-XML nor ALTO (root element is <{kind}>)")


def read_alto(root: Path, *, source: str | None = None, mask: bool = True,
              photos: bool = False) -> list[Sample]:
    """One sample per transcribed ALTO ``TextLine`` under ``root`` (recursively), as
    :func:`read_pagexml` cuts them: text = its ``String@CONTENT`` words joined by spaces (a line
    with ink left untranscribed, :func:`unstrike`, is left out), image = the box of its
    ``Shape/Polygon`` (:func:`read_alto_lines`) plus a margin, page outside the polygon painted
    with the paper colour (``mask=False``: the plain HPOS/VPOS/WIDTH/HEIGHT box plus the margin,
    the neighbouring lines' ascenders and descenders in it).

    The page image is ``sourceImageInformation/fileName`` next to the XML, else the XML's stem
    with an image suffix. Group and ``photos`` as in :func:`read_pagexml`.
    """
    source = source if source is not None else Path(root).name
    samples: list[Sample] = []
    loader, suffix = (_load_photo_line, "@photo") if photos else (_load_line, "")
    for xml_path, tree, rel, group in _documents(root, "alto", "ALTO"):
        lines = _alto_lines(tree, xml_path, _alto_image(tree, xml_path))
        spacing = line_spacing(lines)
        for line in lines:
            text, unreadable = unstrike(line.text)
            text = normalize_text(text)
            if not text or unreadable:
                continue
            if mask:
                polygon = crop_polygon(line, spacing)
                box = _box(polygon, (None, None))
            else:
                polygon, box = None, line.box
            load = functools.partial(loader, str(line.image), box,
                                     tuple(polygon) if polygon else None, turns(line))
            samples.append(Sample(id=f"{rel}_{line.id}{suffix}", text=text, group=group,
                                  load=load, source=source))
    return samples


def read_pagexml_photos(root: Path) -> list[Sample]:
    """:func:`read_pagexml`'s lines cut from phone photos of their pages (``photos=True``)."""
    return read_pagexml(root, photos=True)


def read_alto_photos(root: Path) -> list[Sample]:
    """:func:`read_alto`'s lines cut from phone photos of their pages (``photos=True``)."""
    return read_alto(root, photos=True)


def _documents(root: Path, root_tag: str, kind: str) -> Iterator[tuple[Path, ET.Element, str, str]]:
    """Every XML file under ``root`` whose root element is ``root_tag``, with its sample-id prefix
    and its group (the letter, prefixed with its sub-folder so same-named letters stay apart)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (expected {kind} files and their page images)")
    found = 0
    for xml_path in sorted(root.rglob("*.xml")):
        tree = _parse(xml_path)
        if _local(tree.tag) != root_tag:
            continue
        found += 1
        rel = xml_path.relative_to(root).with_suffix("").as_posix()
        group = letter_of(xml_path.stem)
        if xml_path.parent != root:
            group = f"{xml_path.parent.relative_to(root).as_posix()}/{group}"
        yield xml_path, tree, rel, group
    if not found:
        raise DataError(f"{root}: no {kind} files (*.xml with a <{root_tag}> root) found")


# --- parsing ------------------------------------------------------------------------------------

def _alto_box(el: ET.Element, xml_path: Path, what: str) -> Box:
    """An ALTO element's HPOS/VPOS/WIDTH/HEIGHT as a box (x1, y1 exclusive)."""
    try:
        x, y = float(el.get("HPOS", "")), float(el.get("VPOS", ""))
        w, h = float(el.get("WIDTH", "")), float(el.get("HEIGHT", ""))
    except ValueError:
        raise DataError(f"{xml_path}: {what} lacks a numeric HPOS/VPOS/WIDTH/HEIGHT box") from None
    return int(x), int(y), int(np.ceil(x + w)), int(np.ceil(y + h))


def _local(tag: str) -> str:
    """Tag name without its namespace: PAGE's namespace changes with every schema year."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def line_spacing(lines: list[PageLine]) -> float | None:
    """Median vertical distance from each baseline to the nearest one below it that overlaps it
    horizontally; None when no two baselines overlap (a one-line page, no baselines)."""
    bases = []
    for line in lines:
        if line.baseline and len(line.baseline) >= 2 and not turns(line):
            b = np.array(sorted(line.baseline), np.float64)
            if b[-1, 0] > b[0, 0]:
                bases.append(b)
    if len(bases) < 2:
        return None
    # Every baseline's height on one grid of columns (NaN where it does not reach): all pairs
    # are then compared at once, which keeps listing a few hundred pages fast.
    grid = np.linspace(min(b[0, 0] for b in bases), max(b[-1, 0] for b in bases), 128)
    ys = np.full((len(bases), grid.size), np.nan)
    for i, b in enumerate(bases):
        on = (grid >= b[0, 0]) & (grid <= b[-1, 0])
        ys[i, on] = np.interp(grid[on], b[:, 0], b[:, 1])
    below = ys[None, :, :] - ys[:, None, :]  # [i, j]: how far baseline j lies below i
    shared = np.sum(~np.isnan(below), axis=2)
    length = np.sum(~np.isnan(ys), axis=1)
    need = np.maximum(1, 0.25 * np.minimum(length[:, None], length[None, :]))
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.nansum(below, axis=2) / shared
    gap[(shared < need) | ~(gap > 2)] = np.inf  # no overlap, above, or the same line
    nearest = gap.min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    return float(np.median(nearest)) if nearest.size else None


def crop_polygon(line: PageLine, spacing: float | None) -> list[Point]:
    """The outline a line is cut by: its own polygon, unless that is a thin band along the
    baseline (see :data:`THIN_FRACTION`) or misses the baseline (a shifted polygon), when a band
    of :data:`BAND_ABOVE` / :data:`BAND_BELOW` times the line spacing round the baseline replaces
    it. Without a baseline or a spacing there is nothing better: the polygon stays."""
    if not spacing or not line.baseline or len(line.baseline) < 2 or turns(line):
        return line.polygon
    poly = np.array(line.polygon, np.float32).reshape(-1, 1, 2)
    width = max(1, line.box[2] - line.box[0])
    thin = abs(cv2.contourArea(poly)) / width < THIN_FRACTION * spacing
    slack = -0.1 * spacing  # a baseline a little outside its polygon is still its line
    probe = line.baseline[::max(1, len(line.baseline) // 8)]  # a few points tell
    on_line = np.mean([cv2.pointPolygonTest(poly, (float(x), float(y)), True) >= slack
                       for x, y in probe])
    if not thin and on_line >= 0.8:
        return line.polygon
    up, down = int(round(BAND_ABOVE * spacing)), int(round(BAND_BELOW * spacing))
    base = sorted(line.baseline)
    return [(x, y - up) for x, y in base] + [(x, y + down) for x, y in reversed(base)]


def _parse_any(xml: Path | str | bytes) -> tuple[ET.Element, Path]:
    """A file's root element and the path its messages name (``layout.xml`` for bytes)."""
    if isinstance(xml, (bytes, bytearray)):
        import io

        try:
            return ET.parse(io.BytesIO(xml)).getroot(), Path("layout.xml")
        except ET.ParseError as exc:
            raise DataError(f"layout: malformed XML ({exc})") from None
    return _parse(Path(xml)), Path(xml)


def _parse(xml_path: Path) -> ET.Element:
    try:
        return ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise DataError(f"{xml_path}: malformed XML ({exc})") from None
    except OSError as exc:
        raise DataError(f"{xml_path}: cannot read ({exc.strerror or exc})") from None


def _page_lines(tree: ET.Element, xml_path: Path, image: Path | None = None) -> list[PageLine]:
    pages = [el for el in tree.iter() if _local(el.tag) == "Page"]
    if not pages:
        raise DataError(f"{xml_path}: PAGE-XML without a <Page> element")
    page = pages[0]
    image = Path(image) if image is not None else _find_image(xml_path, page.get("imageFilename", ""))
    size = (_int_or(page.get("imageWidth")), _int_or(page.get("imageHeight")))
    lines: list[PageLine] = []
    for region in _regions_in_order(page):
        for line in _sorted_by_custom_index(_children(region, "TextLine")):
            line_id = line.get("id") or f"{region.get('id', 'r')}_l{len(lines)}"
            coords = _children(line, "Coords")
            polygon = _points(coords[0], xml_path, line_id) if coords else []
            if not polygon:
                warnings.warn(f"{xml_path}: TextLine {line_id} has no Coords; left out")
                continue
            base = _children(line, "Baseline")
            baseline = _points(base[0], xml_path, line_id) if base else None
            lines.append(PageLine(id=line_id, text=_line_text(line), polygon=polygon,
                                  baseline=baseline or None, box=_box(polygon, size), image=image,
                                  region=region.get("id", ""),
                                  words=_page_words(line, xml_path, size)))
    return lines


def _regions_in_order(page: ET.Element) -> list[ET.Element]:
    """TextRegions (nested ones included) in the page's reading order; those it does not
    mention follow in document order."""
    regions = [el for el in page.iter() if _local(el.tag) == "TextRegion"]
    order: list[str] = []
    for ro in _children(page, "ReadingOrder"):
        _collect_refs(ro, order)
    if order:
        rank = {rid: i for i, rid in reversed(list(enumerate(order)))}
        return sorted(regions, key=lambda r: rank.get(r.get("id", ""), len(order)))
    return _sorted_by_custom_index(regions)


def _collect_refs(group: ET.Element, out: list[str]) -> None:
    """Region ids of a ReadingOrder group, depth first; an OrderedGroup's members by @index."""
    members = list(group)
    if _local(group.tag).startswith("OrderedGroup"):
        members.sort(key=lambda m: _int_or(m.get("index"), 1 << 30))
    for m in members:
        if m.get("regionRef"):
            out.append(m.get("regionRef", ""))
        _collect_refs(m, out)


def _sorted_by_custom_index(elements: list[ET.Element]) -> list[ET.Element]:
    """Order by ``custom="readingOrder {index:N;}"`` (Transkribus); stable, so elements without
    an index keep document order after the indexed ones."""
    def key(el: ET.Element) -> int:
        m = _INDEX.search(el.get("custom", ""))
        return int(m.group(1)) if m else 1 << 30
    return sorted(elements, key=key)


def _page_words(line: ET.Element, xml_path: Path, size: tuple[int | None, int | None]
                ) -> tuple[PageWord, ...]:
    """The line's ``Word`` elements that have Coords, with their own text."""
    words = []
    for word in _children(line, "Word"):
        coords = _children(word, "Coords")
        polygon = _points(coords[0], xml_path, word.get("id", "")) if coords else []
        if polygon:
            words.append(PageWord(word.get("id", ""), _line_text(word), _box(polygon, size)))
    return tuple(words)


def _line_text(line: ET.Element) -> str:
    """The line's own transcription (not its words'): the TextEquiv with index 0, else the first."""
    equivs = _children(line, "TextEquiv")
    if not equivs:
        return ""
    chosen = next((e for e in equivs if e.get("index") == "0"), equivs[0])
    uni = _children(chosen, "Unicode")
    return (uni[0].text or "").strip() if uni else ""


def _points(el: ET.Element, xml_path: Path, line_id: str) -> list[Point]:
    """``points="x,y x,y ..."`` (2010 schema on) or ``<Point x= y=/>`` children (2009 schema)."""
    try:
        if el.get("points") is not None:
            return _points_text(el.get("points", ""), xml_path, line_id)
        return [(int(round(float(p.get("x", "")))), int(round(float(p.get("y", "")))))
                for p in el if _local(p.tag) == "Point"]
    except ValueError:
        raise DataError(f"{xml_path}: TextLine {line_id} has malformed "
                        f"{_local(el.tag)} points") from None


def _points_text(text: str, xml_path: Path, line_id: str) -> list[Point]:
    """``"x,y x,y ..."`` (PAGE ``points``, ALTO 4.2 ``POINTS`` and ``BASELINE``), or
    ``"x y x y ..."`` (ALTO as eScriptorium writes it, the Copiste pages among them)."""
    try:
        if "," in text:
            pairs = [p.split(",") for p in text.split()]
        else:
            numbers = text.split()
            if len(numbers) % 2:
                raise ValueError(text)
            pairs = list(zip(numbers[::2], numbers[1::2]))
        return [(int(round(float(x))), int(round(float(y)))) for x, y in pairs]
    except ValueError:
        raise DataError(f"{xml_path}: {line_id} has malformed points {text[:40]!r}") from None


def _box(polygon: list[Point], size: tuple[int | None, int | None]) -> Box:
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    x0, y0, x1, y1 = max(0, min(xs)), max(0, min(ys)), max(xs) + 1, max(ys) + 1
    w, h = size
    if w:  # points drawn just past the page edge happen; the box stays on the page
        x1 = min(x1, w)
    if h:
        y1 = min(y1, h)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def _int_or(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(float(value)) if value is not None else default
    except ValueError:
        return default


def _alto_image(tree: ET.Element, xml_path: Path) -> Path:
    """An ALTO file's page image: its ``sourceImageInformation/fileName`` (see :func:`_find_image`)."""
    name = next((el.text.strip() for el in tree.iter() if _local(el.tag) == "fileName"
                 and el.text and el.text.strip()), "")
    return _find_image(xml_path, name)


def _find_image(xml_path: Path, name: str) -> Path:
    """The page image: ``name`` next to the XML (or one folder up, where Transkribus exports
    put ``page/*.xml`` beside the images), else the XML's stem with a usual image suffix."""
    folders = [xml_path.parent, xml_path.parent.parent]
    names = [n for n in dict.fromkeys([name, Path(name).name]) if n]
    candidates = [f / n for f in folders for n in names]
    candidates += [f / (xml_path.stem + s) for f in folders for s in IMAGE_SUFFIXES]
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(f"{xml_path}: page image {name or xml_path.stem + '.*'} not found "
                    f"next to the XML")


# --- loading --------------------------------------------------------------------------------------

def line_margin(box: Box) -> int:
    """Pixels added round a line's box (and its polygon before masking) when it is cut out:
    a fraction of its height (its shorter side, so that a vertical line is measured across)."""
    return max(MIN_MARGIN, int(round(MARGIN_FRACTION * min(box[3] - box[1], box[2] - box[0]))))


def turns(line: PageLine) -> int:
    """Quarter turns (``np.rot90``'s k) that bring a line's writing to horizontal: 1 for a line
    written downwards (a note up the margin of a page), -1 upwards, else 0. PAGE orders a baseline
    in the direction of writing, so its first and last points tell."""
    if not line.baseline or len(line.baseline) < 2:
        return 0
    (xa, ya), (xb, yb) = line.baseline[0], line.baseline[-1]
    if abs(yb - ya) <= abs(xb - xa):
        return 0
    return 1 if yb > ya else -1


def crop_box(box: Box, page_size: tuple[int, int]) -> Box:
    """The part of a ``(width, height)`` page that a line sample shows: its box grown by
    :func:`line_margin` on every side, kept on the page."""
    m = line_margin(box)
    w, h = page_size
    x0, y0 = min(max(0, box[0] - m), w - 1), min(max(0, box[1] - m), h - 1)
    return x0, y0, max(min(w, box[2] + m), x0 + 1), max(min(h, box[3] + m), y0 + 1)


@functools.lru_cache(maxsize=PAGE_CACHE_SIZE)
def _load_page(path: str) -> np.ndarray:
    page = load_image(path)
    page.setflags(write=False)  # shared by every line of the page: nobody may draw on it
    return page


#: The version of the page photos kept in the cache (:func:`_load_photo_page`): raised when
#: :func:`htr.photo.photographed_page` makes them otherwise.
PHOTO_PAGES = 1


@functools.lru_cache(maxsize=PAGE_CACHE_SIZE)
def _load_photo_page(path: str) -> np.ndarray:
    """The page at ``path`` photographed and flattened back (:func:`photographed_page`), one
    photo per page, drawn from its path: made once, then kept as a PNG in the cache
    (``$HTR_CACHE/photo-pages``), since a page photo takes about half a second to make. The
    key holds the image file's content and :data:`PHOTO_PAGES`, so that a changed page, or
    photos made another way, are made again, and a data set copied afresh (new file times, the
    same pages) is not."""
    from ..cache import cache_dir
    from ..photo import photographed_page

    where = str(Path(path).resolve())
    content = hashlib.md5(Path(path).read_bytes()).hexdigest()
    key = hashlib.md5(f"{PHOTO_PAGES}|{where}|{content}".encode()).hexdigest()
    file = cache_dir("photo-pages") / f"{key}.png"
    if file.is_file():
        page = load_image(file)
    else:  # the draw depends on the page's path alone: a changed cache key draws the same photo
        seed = int(hashlib.md5(where.encode("utf-8")).hexdigest()[:8], 16)
        page = photographed_page(load_image(path), np.random.default_rng(seed))
        file.parent.mkdir(parents=True, exist_ok=True)
        part = file.with_name(f"{file.stem}.{os.getpid()}.{threading.get_ident()}.png")
        if not cv2.imwrite(str(part), page):
            raise DataError(f"{file.parent}: could not write a page photo there")
        os.replace(part, file)  # whole or not at all, though two threads make the same page
    page.setflags(write=False)
    return page


def _load_photo_line(path: str, box: Box, polygon: tuple[Point, ...] | None,
                     quarter_turns: int = 0, rng: np.random.Generator | None = None) -> np.ndarray:
    """As :func:`_load_line`, cut from the page's photo (:func:`_load_photo_page`)."""
    return _load_line(path, box, polygon, quarter_turns, rng, page=_load_photo_page(path))


def _load_line(path: str, box: Box, polygon: tuple[Point, ...] | None, quarter_turns: int = 0,
               rng: np.random.Generator | None = None, page: np.ndarray | None = None
               ) -> np.ndarray:
    """Cut one line out of its page (``rng`` is unused: a scan has one canonical version);
    ``page``: the page image already loaded, else the image at ``path``.

    With ``polygon``, page outside the polygon grown by :func:`line_margin` is painted with the
    paper colour (the crop's median), so that the neighbouring lines' ink does not leak in.
    ``quarter_turns`` (see :func:`turns`) then turns a vertical line to horizontal.
    """
    page = _load_page(path) if page is None else page
    x0, y0, x1, y1 = crop_box(box, (page.shape[1], page.shape[0]))
    crop = page[y0:y1, x0:x1].copy()
    if polygon is not None:
        inside = np.zeros(crop.shape, np.uint8)
        pts = np.array(polygon, np.int32) - np.array([x0, y0], np.int32)
        cv2.fillPoly(inside, [pts], 1)
        m = line_margin(box)
        inside = cv2.dilate(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * m + 1,) * 2))
        crop[inside == 0] = np.uint8(np.median(crop))
    return turned_image(crop, quarter_turns)  # (not turned: the crop itself, not a copy)
