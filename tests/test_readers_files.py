"""Readers of data sets on disk: IAM's own layout, a user's folder + labels.tsv, PAGE-XML and ALTO,
and corpus lines drawn in handwriting fonts.

Each test builds a tiny data set in tmp_path (images drawn with PIL) and reads it back.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from htr.errors import DataError
from htr.readers import open_data, pagexml
from htr.readers.folder import read_folder
from htr.readers.fonts import glyphs, handwriting_fonts, read_font_lines
from htr.readers.iam import read_iam_lines, read_iam_words
from htr.readers.pagexml import (PageLine, crop_box, crop_polygon, letter_of, read_alto,
                                 read_page_lines, read_pagexml, unstrike)

PAPER = 230  # a slightly grey page, so that "painted with paper" is not just "white"
INK = 20


def draw_line(path: Path, size: tuple[int, int] = (60, 20)) -> None:
    """A small image with a few dark pen strokes on light paper, like a line of handwriting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("L", size, 255)
    pen = ImageDraw.Draw(image)
    w, h = size
    for x in range(4, w - 8, 12):
        pen.line([(x, h - 5), (x + 4, 4), (x + 8, h - 5)], fill=INK, width=2)
    image.save(path)


# --- IAM ----------------------------------------------------------------------------------------

LINES_TXT = """\
#--- lines.txt ---------------------------------------------------------------#
# format: a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
#
a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-03 err 156 23 430 1290 1883 70 M Ps|tomorrow|.|Mr.|Michael|Foot|has
a01-000x-00 ok 154 19 408 746 1661 89 it|'s|a|start|.
b02-010-01 ok 170 12 400 900 1500 80 (|1|)|word
"""
FORMS_TXT = """\
# form writer ...
a01-000u 000 2 prt 7 5 52 36
a01-000x 003 2 prt 7 5 52 36
b02-010 007 3 all 9 9 69 69
"""


def make_iam(root: Path, forms: bool = True) -> Path:
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "lines.txt").write_text(LINES_TXT)
    if forms:
        (root / "ascii" / "forms.txt").write_text(FORMS_TXT)
    for line_id in ("a01-000u-00", "a01-000u-03", "a01-000x-00", "b02-010-01"):
        form = "-".join(line_id.split("-")[:2])
        draw_line(root / "lines" / form[:3] / form / f"{line_id}.png")
    aachen = root / "splits" / "aachen" / "lines"
    aachen.mkdir(parents=True)
    (aachen / "tr.lst").write_text("a01-000u-00\na01-000u-03\n")
    (aachen / "va.lst").write_text("")
    (aachen / "te.lst").write_text("a01-000x-00\n")
    return root


def test_iam_lines_texts_writers_and_splits(tmp_path):
    samples = read_iam_lines(make_iam(tmp_path / "iam"))

    assert [s.id for s in samples] == ["a01-000u-00", "a01-000u-03", "a01-000x-00", "b02-010-01"]
    assert [s.text for s in samples] == [
        "A MOVE to stop Mr. Gaitskell from",
        "M Ps tomorrow. Mr. Michael Foot has",  # an "err" line is kept: its text is right
        "it's a start.",
        "(1) word",
    ]
    assert [s.group for s in samples] == ["000", "000", "003", "007"]  # writer ids, forms.txt
    assert [s.split for s in samples] == ["train", "train", "test", None]  # b02 is in no list
    image = samples[0].load(None)
    assert image.dtype == np.uint8 and image.shape == (20, 60) and image.min() < 60


def test_iam_without_forms_groups_copies_of_one_text(tmp_path):
    samples = read_iam_lines(make_iam(tmp_path / "iam", forms=False))
    # a01-000u and a01-000x are two writers' copies of text a01-000: they must stay together.
    assert [s.group for s in samples] == ["a01-000", "a01-000", "a01-000", "b02-010"]


def test_iam_original_split_lists_when_asked(tmp_path):
    root = make_iam(tmp_path / "iam")
    original = root / "splits" / "original" / "lines"
    original.mkdir(parents=True)
    for name, ids in {"tr": "", "va1": "a01-000u-00", "va2": "b02-010-01", "te": ""}.items():
        (original / f"{name}.lst").write_text(ids + "\n")
    samples = read_iam_lines(root, splits="original")
    assert [s.split for s in samples] == ["val", None, None, "val"]
    assert all(s.split is None for s in read_iam_lines(root, splits="none"))


def test_iam_words_skip_bad_segmentation_and_broken_images(tmp_path):
    root = make_iam(tmp_path / "iam")
    (root / "ascii" / "words.txt").write_text(
        "# comment\n"
        "a01-000u-00-00 ok 154 408 768 27 51 AT A\n"
        "a01-000u-00-01 ok 154 507 766 213 48 NN MOVE\n"
        "a01-000u-00-02 err 154 796 764 70 50 TO to\n"      # box does not hold the word
        "a01-000u-00-03 ok 154 919 757 143 37 VB stop\n"    # empty image file
        "a01-000x-00-00 ok 154 408 768 27 51 PPS it\n")     # image missing
    words = root / "words" / "a01"
    for word_id in ("a01-000u-00-00", "a01-000u-00-01", "a01-000u-00-02"):
        draw_line(words / "a01-000u" / f"{word_id}.png", (30, 20))
    (words / "a01-000u" / "a01-000u-00-03.png").write_bytes(b"")

    with pytest.warns(UserWarning, match=r"2 words left out.*a01-000u-00-03, a01-000x-00-00"):
        samples = read_iam_words(root)

    assert [(s.id, s.text, s.split, s.group) for s in samples] == [
        ("a01-000u-00-00", "A", "train", "000"),  # a word takes the split of its line
        ("a01-000u-00-01", "MOVE", "train", "000"),
    ]


def test_iam_without_lines_txt_says_what_is_missing(tmp_path):
    with pytest.raises(DataError, match="lines.txt"):
        read_iam_lines(tmp_path)


# --- a folder with labels.tsv ----------------------------------------------------------------

def test_folder_tolerates_bom_header_and_blank_lines_and_uses_writers(tmp_path):
    for name in ("c04-110-00", "c04-110-01", "d06-020-00"):
        draw_line(tmp_path / "images" / f"{name}.png")
    (tmp_path / "labels.tsv").write_text(
        "\ufefffile\ttext\n"
        "images/c04-110-00.png\tit 's a start .\n"
        "\n"
        "images/c04-110-01.png\t\" Bella Marie \" ( Parlophone )\n"
        "images/d06-020-00.png\tHello\n", encoding="utf-8")
    (tmp_path / "writers.tsv").write_text(
        "file\twriter\tsegmentation\n"
        "images/c04-110-00.png\t168\terr\n"
        "images/c04-110-01.png\t168\tok\n")

    samples = read_folder(tmp_path)

    assert [s.text for s in samples] == ["it's a start.", '"Bella Marie" (Parlophone)', "Hello"]
    # writers.tsv names the writer; a file it leaves out falls back to its form (name less -NN).
    assert [s.group for s in samples] == ["168", "168", "d06-020"]
    assert samples[0].id == "images/c04-110-00" and samples[0].split is None


def test_folder_groups_by_subfolder_or_name(tmp_path):
    flat, nested, names = tmp_path / "flat", tmp_path / "nested", tmp_path / "names"
    for f in ("a-01.png", "a-02.png", "b_03.png"):
        draw_line(flat / f)
    (flat / "labels.tsv").write_text("a-01.png\tone\na-02.png\ttwo\nb_03.png\tthree\n")
    for f in ("writer1/x.png", "writer1/y.png", "writer2/x.png"):
        draw_line(nested / f)
    (nested / "labels.tsv").write_text("writer1/x.png\tone\nwriter1/y.png\ttwo\nwriter2/x.png\tx\n")
    for f in ("img_01.png", "img_02.png"):
        draw_line(names / f)
    (names / "labels.tsv").write_text("img_01.png\tANNA\nimg_02.png\tBOB\n")

    assert [s.group for s in read_folder(flat)] == ["a", "a", "b"]
    assert [s.group for s in read_folder(nested)] == ["writer1", "writer1", "writer2"]
    # Stripping the number would make one group of everything: each file is its own instead.
    assert [s.group for s in read_folder(names)] == ["img_01", "img_02"]


def test_folder_missing_images_are_named(tmp_path):
    draw_line(tmp_path / "ok.png")
    (tmp_path / "labels.tsv").write_text("ok.png\tfine\nnope.png\ttypo\nlost/gone.jpg\tgone\n")
    with pytest.raises(DataError, match=r"2 of 3 listed images not found.*nope\.png, lost/gone"):
        read_folder(tmp_path)


def test_folder_images_are_read_only_when_loaded(tmp_path):
    draw_line(tmp_path / "a.png")
    (tmp_path / "labels.tsv").write_text("a.png\tword\n")
    sample = read_folder(tmp_path)[0]
    Image.new("L", (7, 5), 0).save(tmp_path / "a.png")  # changed after listing
    assert sample.load(None).shape == (5, 7)


# --- PAGE-XML --------------------------------------------------------------------------------

PAGE_2013 = """<?xml version="1.0" encoding="UTF-8"?>
<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15">
  <Page imageFilename="JDH_9_001.jpg" imageWidth="200" imageHeight="160">
    <ReadingOrder><OrderedGroup id="ro" caption="Regions reading order">
      <RegionRefIndexed index="1" regionRef="r1"/>
      <RegionRefIndexed index="0" regionRef="r2"/>
    </OrderedGroup></ReadingOrder>
    <TextRegion id="r1">
      <Coords points="5,105 195,105 195,158 5,158"/>
      <TextLine id="r1l1" custom="readingOrder {index:0;}">
        <Coords points="10,110 120,110 120,140 10,140"/>
        <Baseline points="12,135 118,135"/>
        <TextEquiv><Unicode>the end .</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="r1l2" custom="readingOrder {index:1;}">
        <Coords points="10,145 60,145 60,155 10,155"/>
        <TextEquiv><Unicode> </Unicode></TextEquiv>
      </TextLine>
    </TextRegion>
    <TextRegion id="r2">
      <Coords points="5,5 195,5 195,100 5,100"/>
      <TextLine id="r2l2" custom="readingOrder {index:1;}">
        <Coords points="10,60 190,60 190,90 10,90"/>
        <Baseline points="12,85 188,85"/>
        <TextEquiv><Unicode>second line</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="r2l1" custom="readingOrder {index:0;}">
        <Coords points="10,20 150,10 150,40 10,50"/>
        <Baseline points="12,42 148,32"/>
        <Word id="w1"><Coords points="10,20 40,20 40,40 10,40"/>
          <TextEquiv><Unicode>not this</Unicode></TextEquiv></Word>
        <TextEquiv index="1"><Unicode>nor this</Unicode></TextEquiv>
        <TextEquiv index="0"><Unicode>Dear Sir ,</Unicode></TextEquiv>
      </TextLine>
    </TextRegion>
  </Page>
</PcGts>
"""


def make_page(folder: Path) -> Path:
    """A 200x160 page: a slanted line at the top with a neighbour's descender poking into its
    box (but not its polygon), a straight line under it, and a short one near the bottom."""
    folder.mkdir(parents=True, exist_ok=True)
    page = Image.new("L", (200, 160), PAPER)
    pen = ImageDraw.Draw(page)
    pen.line([(20, 38), (140, 26)], fill=INK, width=3)  # ink of line r2l1, inside its polygon
    pen.rectangle([(12, 6), (15, 9)], fill=INK)  # a descender of the line above: outside it
    pen.line([(20, 80), (180, 80)], fill=INK, width=3)
    pen.line([(20, 130), (110, 130)], fill=INK, width=3)
    page.save(folder / "JDH_9_001.jpg", quality=95)
    (folder / "JDH_9_001.xml").write_text(PAGE_2013, encoding="utf-8")
    return folder / "JDH_9_001.xml"


def test_page_lines_follow_reading_order(tmp_path):
    lines = read_page_lines(make_page(tmp_path))
    # ReadingOrder puts region r2 first; within it, the readingOrder indices put r2l1 first.
    assert [line.id for line in lines] == ["r2l1", "r2l2", "r1l1", "r1l2"]
    first = lines[0]
    assert first.text == "Dear Sir ,"  # the line's index-0 TextEquiv, not its words'
    assert first.polygon == [(10, 20), (150, 10), (150, 40), (10, 50)]
    assert first.baseline == [(12, 42), (148, 32)]
    assert first.box == (10, 10, 151, 51)
    assert lines[3].baseline is None and first.image == tmp_path / "JDH_9_001.jpg"


def test_pagexml_crops_lines_and_paints_out_the_neighbours(tmp_path):
    make_page(tmp_path / "letters")
    samples = read_pagexml(tmp_path)

    # The untranscribed line is left out; text is normalised; the group is the letter.
    assert [s.text for s in samples] == ["Dear Sir,", "second line", "the end."]
    assert samples[0].id == "letters/JDH_9_001_r2l1"
    assert {s.group for s in samples} == {"letters/JDH_9"}

    crop = samples[0].load(None)
    x0, y0, x1, y1 = crop_box((10, 10, 151, 51), (200, 160))
    assert (x0, y0, x1, y1) == (5, 5, 156, 56)  # the polygon's box plus a small margin
    assert crop.shape == (y1 - y0, x1 - x0)
    assert np.all(np.abs(crop[6 - y0:10 - y0, 12 - x0:16 - x0].astype(int) - PAPER) < 8)
    assert crop[32 - y0, 80 - x0] < 80  # the line's own ink is kept

    plain = read_pagexml(tmp_path, mask=False)[0].load(None)
    assert plain.shape == crop.shape and plain[6 - y0:10 - y0, 12 - x0:16 - x0].max() < 80


def test_pagexml_old_schema_point_children_and_image_by_stem(tmp_path):
    make_page(tmp_path)
    Image.new("L", (100, 60), PAPER).save(tmp_path / "JDH_9_002.png")
    (tmp_path / "JDH_9_002.xml").write_text(
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2010-03-19">'
        '<Page imageFilename="scan-0002.tif"><TextRegion id="r"><TextLine id="l">'
        '<Coords><Point x="10" y="10"/><Point x="90" y="10"/><Point x="90" y="40"/>'
        '<Point x="10" y="40"/></Coords><TextEquiv><Unicode>page two</Unicode></TextEquiv>'
        '</TextLine></TextRegion></Page></PcGts>')
    (tmp_path / "mets.xml").write_text("<mets><fileSec/></mets>")  # not PAGE: passed over

    samples = read_pagexml(tmp_path)
    assert [s.id for s in samples][-1] == "JDH_9_002_l"
    assert {s.group for s in samples} == {"JDH_9"}  # two pages, one letter
    assert samples[-1].load(None).shape == (30 + 2 * 4 + 1, 80 + 2 * 4 + 1)


def test_a_note_written_down_the_margin_is_turned_to_read_left_to_right(tmp_path):
    page = Image.new("L", (100, 200), PAPER)
    ImageDraw.Draw(page).line([(50, 20), (50, 60)], fill=INK, width=3)  # ink near the start
    page.save(tmp_path / "note_001.png")
    (tmp_path / "note_001.xml").write_text(
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        '<Page imageFilename="note_001.png"><TextRegion id="r"><TextLine id="v">'
        '<Coords points="40,10 70,10 70,180 40,180"/><Baseline points="45,15 45,175"/>'
        '<TextEquiv><Unicode>down the margin</Unicode></TextEquiv>'
        '</TextLine></TextRegion></Page></PcGts>')
    [sample] = read_pagexml(tmp_path)
    image = sample.load(None)
    assert image.shape == (31 + 2 * 4, 171 + 2 * 4)  # wide, not tall
    ink_columns = np.flatnonzero(image.min(axis=0) < 80)
    assert ink_columns.max() < image.shape[1] // 2  # the start of the writing is on the left


def test_thin_polygon_is_replaced_by_a_band_round_its_baseline():
    thin = PageLine(id="l", text="x", polygon=[(0, 96), (100, 96), (100, 100), (0, 100)],
                    baseline=[(0, 100), (100, 100)], box=(0, 96, 101, 101), image=Path("p.jpg"))
    band = crop_polygon(thin, spacing=40.0)
    assert band == [(0, 70), (100, 70), (100, 114), (0, 114)]  # 0.75 above, 0.35 below
    assert crop_polygon(thin, spacing=None) is thin.polygon


def test_letter_is_the_file_name_less_its_page_number():
    assert letter_of("JDH_2_16_144_001") == "JDH_2_16_144"
    assert letter_of("JDH_2_16_67a001") == "JDH_2_16_67a"
    assert letter_of("JDH_2_16_180_004_dup1") == "JDH_2_16_180"
    assert letter_of("notes") == "notes"
    # Copiste: a text number is not a page number; one text, copied twice, on one or two pages
    assert letter_of("imp_wikitexte_0022") == "wikitexte_0022"
    assert letter_of("imp_wikitexte_0051_1") == letter_of("imp_wikitexte_0051_2") == "wikitexte_0051"
    assert letter_of("wikitexte_0051") == "wikitexte_0051"


def test_strike_through_marks_keep_readable_words_and_flag_lost_ones():
    assert unstrike("le 2 >mai< mai 2014") == ("le 2 mai mai 2014", False)
    assert unstrike("principal est>< le") == ("principal est le", True)  # crossed out past reading
    assert unstrike("du com<>te Sergueï") == ("du com te Sergueï", True)  # ink left untranscribed
    assert unstrike("a > b") == ("a > b", False)


def test_malformed_xml_names_the_file(tmp_path):
    (tmp_path / "broken_001.xml").write_text("<PcGts><Page")
    with pytest.raises(DataError, match="broken_001.xml"):
        read_pagexml(tmp_path)


def test_alto_lines(tmp_path):
    Image.new("L", (200, 100), PAPER).save(tmp_path / "doc_001.png")
    (tmp_path / "doc_001.xml").write_text(
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description>'
        '<sourceImageInformation><fileName>doc_001.png</fileName></sourceImageInformation>'
        '</Description><Layout><Page><PrintSpace><TextBlock>'
        '<TextLine ID="t1" HPOS="10" VPOS="20" WIDTH="100" HEIGHT="30">'
        '<String CONTENT="Hello"/><SP/><String CONTENT="world"/><String CONTENT="."/></TextLine>'
        '</TextBlock></PrintSpace></Page></Layout></alto>')
    [sample] = read_alto(tmp_path)
    assert (sample.id, sample.text, sample.group) == ("doc_001_t1", "Hello world.", "doc")
    x0, y0, x1, y1 = crop_box((10, 20, 110, 50), (200, 100))
    assert sample.load(None).shape == (y1 - y0, x1 - x0)



def test_alto_lines_are_cut_by_their_outlines_not_their_boxes(tmp_path):
    # The first line's box reaches down into the second line, whose descender-like stroke at
    # x 40-60, y 45-50 lies inside that box but outside the first line's outline.
    page = Image.new("L", (200, 100), PAPER)
    draw = ImageDraw.Draw(page)
    draw.rectangle((20, 25, 100, 35), fill=20)  # the first line's ink
    draw.rectangle((40, 45, 60, 70), fill=20)  # the second line's tall stroke
    page.save(tmp_path / "doc_001.png")
    (tmp_path / "doc_001.xml").write_text(
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Description>'
        '<sourceImageInformation><fileName>doc_001.png</fileName></sourceImageInformation>'
        '</Description><Layout><Page><PrintSpace><TextBlock>'
        '<TextLine ID="t1" HPOS="10" VPOS="20" WIDTH="100" HEIGHT="32" BASELINE="10 35 110 35">'
        '<Shape><Polygon POINTS="10 20 110 20 110 40 10 40"/></Shape><String CONTENT="first"/>'
        '</TextLine><TextLine ID="t2" HPOS="10" VPOS="44" WIDTH="100" HEIGHT="30" BASELINE="10 65 110 65">'
        '<Shape><Polygon POINTS="10 44 110 44 110 72 10 72"/></Shape><String CONTENT="second"/>'
        '</TextLine></TextBlock></PrintSpace></Page></Layout></alto>')
    first = read_alto(tmp_path)[0]
    x0, y0, _, _ = crop_box((10, 20, 111, 41), (200, 100))
    crop = first.load(None)
    assert crop[30 - y0, 50 - x0] < 80  # its own ink
    assert crop.shape[0] < 40 and (crop[45 - y0:, 40 - x0:61 - x0] > 200).all()  # not the next line's

    boxed = read_alto(tmp_path, mask=False)[0].load(None)  # the plain box: the stroke is in it
    assert boxed[49 - y0, 50 - x0] < 80


# --- handwriting fonts ----------------------------------------------------------------------------

needs_fonts = pytest.mark.skipif(not handwriting_fonts(),
                                 reason="no handwriting fonts (make test installs them)")


def make_corpus(root: Path) -> Path:
    """An IAM text corpus: lines.txt and a test list naming one line of form group a01-000."""
    (root / "splits" / "aachen" / "lines").mkdir(parents=True)
    (root / "lines.txt").write_text(
        "# id ok grey components x y w h text\n"
        "a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from\n"
        "a01-000x-01 ok 154 19 408 746 1661 89 nominating|any|more|Labour|life|Peers\n"
        "c03-003-02 ok 154 19 408 746 1661 89 Though|they|may|gather|some|Left-wing|support|,\n")
    (root / "splits" / "aachen" / "lines" / "te.lst").write_text("a01-000x-01\n")
    return root


@needs_fonts
def test_font_lines_leave_out_test_lines_and_draw_what_the_label_says(tmp_path):
    samples = read_font_lines(make_corpus(tmp_path / "iam-ascii"))

    # a01-000x-01 is on a test list: its whole form group (a01-000u-00 too) stays out.
    assert [s.text for s in samples] == ["Though they may gather some Left-wing support,",
                                         "THOUGH THEY MAY GATHER SOME LEFT-WING SUPPORT,"]
    assert all(s.split == "train" for s in samples)  # fonts are not writers: never validated on
    for sample in samples:
        fonts = sample.load.args[1]
        if sample.text != sample.text.upper():
            assert all(set("abcemnorsuvwxz") <= glyphs(f) for f in fonts)  # no caps-only font
    canonical = samples[0].image()
    assert np.array_equal(canonical, samples[0].image())  # rng None: one canonical drawing
    drawn = samples[0].image(np.random.default_rng(1))
    assert drawn.dtype == np.uint8 and drawn.ndim == 2
    for image in (canonical, drawn):
        ink = image < image.max() - 60
        rows, cols = np.nonzero(ink)
        # Ink on the page, none touching the edge (no cut-off descenders or swashes).
        assert ink.mean() > 0.02
        assert rows.min() > 0 and cols.min() > 0
        assert rows.max() < image.shape[0] - 1 and cols.max() < image.shape[1] - 1


def test_font_lines_without_fonts_say_what_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install fonts-dkg-handwriting"):
        read_font_lines(make_corpus(tmp_path / "iam-ascii"), fonts=[])


def test_photographed_lines_are_cut_where_the_scan_has_them_and_kept_for_the_next_run():
    fixture = Path(__file__).parent / "fixtures" / "hooker"
    scans = open_data(f"pagexml:{fixture}")
    photos = open_data(f"pagexml-photos:{fixture}")
    assert [p.text for p in photos] == [s.text for s in scans]
    assert photos[3].id == scans[3].id + "@photo"

    scan, photo = scans[3].load(None), photos[3].load(None)
    assert photo.shape == scan.shape  # flattened back onto the scan's own pixels
    # The same writing, blurred and coded: the crops differ, yet their ink lies in one place.
    assert np.abs(photo.astype(int) - scan.astype(int)).mean() > 5
    assert np.corrcoef(photo.ravel(), scan.ravel())[0, 1] > 0.9
    # The page is photographed once; the next run cuts its lines from that same photo.
    pagexml._load_photo_page.cache_clear()
    assert np.array_equal(open_data(f"pagexml-photos:{fixture}")[3].load(None), photo)


def test_a_page_photo_is_made_again_when_the_page_changes_not_when_its_file_time_does(tmp_path):
    from htr.cache import cache_dir

    folder = shutil.copytree(Path(__file__).parent / "fixtures" / "hooker", tmp_path / "hooker")
    photos = cache_dir("photo-pages")
    first = open_data(f"pagexml-photos:{folder}")[0]
    first.load(None)
    made = set(photos.iterdir())
    page = next(folder.glob("*.jpg"))
    os.utime(page, (1e9, 1e9))  # copied afresh: a new time, the same page
    pagexml._load_photo_page.cache_clear()
    open_data(f"pagexml-photos:{folder}")[0].load(None)
    assert set(photos.iterdir()) == made
    cv2.imwrite(str(page), 255 - cv2.imread(str(page)))  # a different page
    pagexml._load_photo_page.cache_clear()
    open_data(f"pagexml-photos:{folder}")[0].load(None)
    assert len(set(photos.iterdir()) - made) == 1
