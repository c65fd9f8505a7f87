"""The workspace (htr.workspace): pages saved with their image and corrected PAGE-XML, read back
by the training reader (htr.readers.pagexml) as line samples with the corrected text; versions
that refuse a change made from an old one; writes that leave nothing half done; exports that
carry the corrections. No model is loaded: the pages are drawn."""

from __future__ import annotations

import io
import threading
import zipfile

import numpy as np
import pytest
from lxml import etree

from conftest import draw_text
from htr.export import export
from htr.readers.pagexml import read_pagexml, read_pagexml_pages
from htr.workspace import Conflict, InvalidPage, PageNotFound, Workspace

READ = ["the quick brown fax", "jumps over Alise", "the lazy dog"]


def drawn_page(texts=READ):
    """A page image of ``texts`` drawn one under another, and the read result of it as
    /api/v1/read gives it (boxes, polygons, baselines, words), with the texts as read."""
    rows, lines, y = [], [], 20
    images = [draw_text(t, 48) for t in texts]
    width = max(i.shape[1] for i in images) + 40
    page = np.full((20 + sum(i.shape[0] + 20 for i in images), width), 235, np.uint8)
    for text, image in zip(texts, images):
        h, w = image.shape
        page[y:y + h, 20:20 + w] = image
        box = [20, y, 20 + w, y + h]
        words, x = [], 20
        for word in text.split():
            ww = w * len(word) // len(text)
            words.append({"box": [x, y, x + ww, y + h], "text": word, "confidence": 0.4})
            x += ww + w // len(text)
        lines.append({"box": box, "polygon": [[20, y], [19 + w, y], [19 + w, y + h - 1],
                                              [20, y + h - 1]],
                      "baseline": [[20, y + int(h * .75)], [19 + w, y + int(h * .75)]],
                      "text": text, "confidence": 0.6, "words": words})
        y += h + 20
    result = {"width": width, "height": page.shape[0], "level": "page", "lines": lines,
              "text": "\n".join(texts), "decoder": "wordbeam", "model": "default",
              "timings": {"read_ms": 812.5}, "warnings": []}
    return page, result


@pytest.fixture()
def ws(tmp_path):
    return Workspace(tmp_path / "workspace")


def test_a_corrected_page_is_a_training_folder_with_the_corrected_text(ws):
    image, result = drawn_page()
    assert ws.list() == []                      # nothing written before the first save
    assert not ws.root.exists()
    first = ws.save(result, image, name="letter.png")
    assert (first.version, first.lines, first.corrected, first.model) == (1, 3, 0, "default")
    second = ws.correct_line(first.id, 1, "the quick brown fox", version=1)
    assert (second.version, second.corrected) == (2, 1)
    third = ws.correct_line(first.id, 2, "jumps over  Alice\n", version=2)
    assert (third.version, third.corrected) == (3, 2)

    # The training reader, on the workspace folder, gives the corrected lines as samples.
    samples = read_pagexml(ws.root)
    assert [s.text for s in samples] == ["the quick brown fox", "jumps over Alice", "the lazy dog"]
    crop = samples[0].load()
    assert crop.ndim == 2 and crop.shape[0] >= 48 and crop.dtype == np.uint8
    assert np.mean(crop < 128) > 0.01           # the line's ink is in its crop
    # Every page its own group: a validation split by group is a split by page.
    other_image, other = drawn_page(["another page"])
    ws.save(other, other_image, name="p2.png")
    groups = {s.group for s in read_pagexml(ws.root)}
    assert len(groups) == 2
    pages = read_pagexml_pages(ws.root)
    assert sorted(len(p.lines) for p in pages) == [1, 3]

    # The index keeps what was read beside what was typed.
    stored = ws.get(first.id)
    assert [ln["original"] for ln in stored.page["lines"]] == READ
    assert ws.corrections() == [(first.id, 1, "the quick brown fax", "the quick brown fox"),
                                (first.id, 2, "jumps over Alise", "jumps over Alice")]
    assert ws.corrected_words() == {"fox": 1, "Alice": 1}


def test_a_change_made_from_an_old_version_is_refused(ws):
    image, result = drawn_page()
    page = ws.save(result, image)
    ws.set_lines(page.id, ["a", "b", "c"], version=1)           # one tab saves...
    with pytest.raises(Conflict) as caught:                      # ...the other had version 1 too
        ws.set_lines(page.id, ["x", "y", "z"], version=1)
    assert caught.value.current == 2 and "version 2" in str(caught.value)
    assert [ln["text"] for ln in ws.get(page.id).page["lines"]] == ["a", "b", "c"]

    # Many writers at once with the same version: exactly one wins.
    outcomes = []

    def write(k):
        try:
            ws.correct_line(page.id, 3, f"writer {k}", version=2)
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")
    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(outcomes) == ["conflict"] * 5 + ["saved"]
    assert ws.get(page.id).info.version == 3


def test_a_failed_write_leaves_the_page_as_it_was(ws, monkeypatch):
    image, result = drawn_page()
    page = ws.save(result, image)
    xml = (ws.pages_dir / page.xml).read_bytes()
    with pytest.raises(InvalidPage):
        ws.correct_line(page.id, 9, "no such line", version=1)
    with pytest.raises(InvalidPage):
        ws.set_lines(page.id, ["too", "few"], version=1)
    # The disk fails while the new XML is written: the old one stays, the index too, and no
    # temporary file is left where a reader of *.xml could find it.
    import htr.files as module  # where the workspace's files are written

    def full_disk(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(module.os, "replace", full_disk)
    with pytest.raises(OSError):
        ws.correct_line(page.id, 1, "never saved", version=1)
    monkeypatch.undo()
    assert (ws.pages_dir / page.xml).read_bytes() == xml
    assert ws.get(page.id).info.version == 1
    assert sorted(p.name for p in ws.pages_dir.iterdir()) == sorted([page.xml, page.image])
    # A page that does not fit its image is refused before anything is written.
    with pytest.raises(InvalidPage, match="pixels"):
        ws.save(result, image[:-5])
    with pytest.raises(InvalidPage):
        ws.save({"width": 10, "lines": []}, image)
    with pytest.raises(PageNotFound):
        ws.get("../../etc/passwd")
    assert len(ws.list()) == 1


def test_exports_of_a_corrected_page_carry_the_corrected_text(ws, tmp_path):
    image, result = drawn_page()
    page = ws.save(result, image, name="letter.png")
    ws.correct_line(page.id, 1, "the quick brown fox", version=1)
    source = ws.source_page(page.id)
    assert export([source], "text").data.decode().splitlines()[0] == "the quick brown fox"
    root = etree.fromstring(export([source], "page").data)
    unicode = [el.text for el in root.iter("{*}Unicode")]
    assert "the quick brown fox" in unicode and "fox" in unicode and "fax" not in unicode
    alto = export([source], "alto").data.decode()
    assert 'CONTENT="fox"' in alto and 'CONTENT="fax"' not in alto
    # The workspace as a training set: a ZIP that, unpacked, the training reader reads.
    with zipfile.ZipFile(io.BytesIO(ws.export_zip())) as zf:
        assert sorted(zf.namelist()) == sorted([page.xml, page.image])
    folder = ws.export_to(tmp_path / "training")
    assert [s.text for s in read_pagexml(folder)][0] == "the quick brown fox"
