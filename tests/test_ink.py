"""Pen strokes rendered as ink (htr.ink) and the IAM-OnDB reader, on small hand-made fixtures."""

from __future__ import annotations

import io
import pickle
import tarfile
import time
import warnings

import cv2
import numpy as np
import pytest

from htr import ink
from htr.errors import DataError
from htr.ink import MAX_ASPECT, parse_strokes, render_strokes
from htr.readers import READERS, iam_ondb
from htr.readers.iam_ondb import read_iam_ondb, read_iam_ondb_words

# --------------------------------------------------------------------------------------------
# Fixtures: hand-written-looking strokes


def zigzag(x0: float, n: int = 4, width: float = 30.0, height: float = 10.0) -> np.ndarray:
    """One pen-down stroke like a small 'mmm': n humps from x0 to x0 + width, y between 0 and height."""
    xs = np.linspace(x0, x0 + width, 2 * n + 1)
    ys = np.where(np.arange(2 * n + 1) % 2 == 0, height, 0.0)
    # densify like a digitiser (a point every unit of length or so)
    t = np.linspace(0, 2 * n, 20 * n + 1)
    return np.stack([np.interp(t, np.arange(2 * n + 1), xs),
                     np.interp(t, np.arange(2 * n + 1), ys)], axis=1).astype(np.float32)


def ink_columns(image: np.ndarray) -> np.ndarray:
    """Columns with ink: clearly darker than the paper around them (which may be unevenly lit)."""
    smooth = cv2.blur(image.astype(np.float32), (3, 3))  # sensor noise is no ink
    paper = np.median(smooth, axis=0)
    contrast = float(np.median(image)) - float(image.min())
    return (smooth < paper - 0.2 * contrast).any(axis=0)


def runs(mask: np.ndarray, bridge: int = 3) -> list[tuple[int, int]]:
    """(start, end) of each run of True, bridging breaks of up to ``bridge`` columns (a hairline)."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    out: list[tuple[int, int]] = []
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist()):
        if out and a - out[-1][1] <= bridge:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


TWO_WORDS = [zigzag(0.0), zigzag(60.0)]  # two strokes with a gap as wide as a word between them


# --------------------------------------------------------------------------------------------
# Rendering


def test_canonical_rendering_is_a_clean_grey_line_image():
    image = render_strokes(TWO_WORDS, None, height=64)
    assert image.dtype == np.uint8 and image.ndim == 2
    assert image.shape[0] == 64 and image.shape[1] > 2 * 64  # wide like the writing
    assert image.min() < 40  # dark ink
    assert np.median(image) == 255  # on white paper
    assert (image[:, :2] == 255).all() and (image[:, -2:] == 255).all()  # a margin left and right
    assert np.array_equal(image, render_strokes(TWO_WORDS, None, height=64))  # deterministic


def test_randomised_rendering_follows_its_seed():
    a = render_strokes(TWO_WORDS, np.random.default_rng(7))
    b = render_strokes(TWO_WORDS, np.random.default_rng(7))
    c = render_strokes(TWO_WORDS, np.random.default_rng(8))
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    for seed in range(20):
        image = render_strokes(TWO_WORDS, np.random.default_rng(seed))
        assert image.dtype == np.uint8 and image.shape[0] == 80
        paper, ink = np.percentile(image, 90), image.min()
        assert paper - ink > 60, f"seed {seed}: ink barely visible"


def test_pen_up_gaps_stay_paper():
    # Two strokes: the columns between them are blank paper ...
    groups = runs(ink_columns(render_strokes(TWO_WORDS, None)))
    assert len(groups) == 2
    gap = groups[1][0] - groups[0][1]
    assert gap > 20
    # ... while the same words written without lifting the pen are joined across the gap.
    a, b = TWO_WORDS
    stroke = np.linspace(a[-1], b[0], 30)  # the pen moves on from one word to the next
    joined = [np.concatenate([a, stroke, b])]
    assert len(runs(ink_columns(render_strokes(joined, None)))) == 1


def test_gaps_stay_paper_under_random_rendering():
    for seed in range(12):
        groups = runs(ink_columns(render_strokes(TWO_WORDS, np.random.default_rng(seed))))
        assert len(groups) == 2, f"seed {seed}"


def test_one_point_stroke_is_a_dot():
    word = render_strokes([zigzag(0.0)], None)
    dotted = [zigzag(0.0), np.array([[40.0, -4.0]], np.float32)]  # a full stop after the word
    groups = runs(ink_columns(render_strokes(dotted, None)))
    assert len(groups) == 2
    assert 1 <= groups[1][1] - groups[1][0] <= 6  # a dot a few pixels wide
    assert word.shape[1] < render_strokes(dotted, None).shape[1]


def test_repeated_points_and_a_stroke_that_never_moves():
    stroke = zigzag(0.0)
    doubled = np.repeat(stroke, 2, axis=0)  # every point twice, as a slow digitiser reports
    assert np.array_equal(render_strokes([stroke], None), render_strokes([doubled], None))
    still = [zigzag(0.0), np.full((5, 2), [40.0, 5.0], np.float32)]
    assert len(runs(ink_columns(render_strokes(still, None)))) == 2


def test_outlier_point_is_dropped():
    clean = zigzag(0.0)
    glitch = np.insert(clean, 40, [[5000.0, -3000.0]], axis=0)  # the sensor jumps far away once
    expected = render_strokes([clean, zigzag(60.0)], None)
    assert np.array_equal(render_strokes([glitch, zigzag(60.0)], None), expected)
    lone = [clean, zigzag(60.0), np.array([[-9000.0, 8000.0]], np.float32)]  # a stray stroke
    assert np.array_equal(render_strokes(lone, None), expected)


def test_empty_and_degenerate_input():
    blank = render_strokes([], None, height=48)
    assert blank.shape == (48, 48) and (blank == 255).all()
    nan = render_strokes([np.array([[np.nan, 1.0]], np.float32)], np.random.default_rng(0))
    assert nan.dtype == np.uint8 and nan.shape[0] == 80
    dash = render_strokes([np.array([[0.0, 0.0], [50.0, 0.0]])], None)  # no height at all
    assert dash.shape[0] == 80 and dash.min() < 128
    with pytest.raises(ValueError):
        render_strokes(TWO_WORDS, None, height=4)


def test_very_long_line_is_bounded_and_straightened():
    # 150 words drifting down the board: drawn level, no wider than MAX_ASPECT heights.
    words = [zigzag(60.0 * i) + [0.0, 1.5 * i] for i in range(150)]
    image = render_strokes(words, None)
    assert image.shape[1] <= MAX_ASPECT * 80
    rows = np.flatnonzero((image < 128).any(axis=1))
    assert rows[-1] - rows[0] < 40  # the drift was taken out, not squeezed into the height


def test_parse_strokes_reads_points_per_stroke():
    xml = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<WhiteboardCaptureSession><StrokeSet>
  <Stroke colour="black" start_time="1.0" end_time="1.1">
    <Point x="1073" y="1058" time="1.00"/><Point x="1072" y="1085" time="1.01"/>
  </Stroke>
  <Stroke colour="black" start_time="1.2" end_time="1.2"><Point x="5" y="6" time="1.2"/></Stroke>
  <Stroke colour="black" start_time="1.3" end_time="1.3"></Stroke>
</StrokeSet></WhiteboardCaptureSession>"""
    strokes = parse_strokes(xml)
    assert [s.tolist() for s in strokes] == [[[1073, 1058], [1072, 1085]], [[5, 6]]]
    # other attribute orders are read as well
    swapped = xml.replace(b'x="5" y="6" time="1.2"', b'time="1.2" y="6" x="5"')
    assert [s.tolist() for s in parse_strokes(swapped)] == [s.tolist() for s in strokes]
    with pytest.raises(ValueError):
        parse_strokes(b"<WhiteboardCaptureSession><StrokeSet><Stroke>")
    with pytest.raises(ValueError):
        parse_strokes(b"not xml at all")


# --------------------------------------------------------------------------------------------
# The IAM-OnDB reader on a tiny fake copy of the two archives


def stroke_xml(*strokes: np.ndarray) -> bytes:
    out = ['<?xml version="1.0" encoding="ISO-8859-1"?>\n<WhiteboardCaptureSession>\n<StrokeSet>']
    for s in strokes:
        out.append('<Stroke colour="black" start_time="0" end_time="1">')
        out += [f'<Point x="{int(x) + 1000}" y="{int(y) + 900}" time="0.5"/>' for x, y in s]
        out.append("</Stroke>")
    out.append("</StrokeSet>\n</WhiteboardCaptureSession>\n")
    return "\n".join(out).encode("latin-1")


def form_text(*lines: str) -> bytes:
    return ("OCR:\n\nthe printed prompt , ignored\n\nCSR:\n\n" + "\n".join(lines) + "\n").encode()


def write_tar_xz(path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


LINE = [np.rint(zigzag(0.0) * 10), np.rint(zigzag(60.0) * 10)]  # in whiteboard units


def make_iam_ondb(root) -> None:
    """Three forms: two copies of text a01-000 (one group) and c03-010z, whose text has three lines
    but only two stroke files (skipped)."""
    root.mkdir()
    line = stroke_xml(*LINE)
    strokes = {
        "lineStrokes/a01/a01-000/a01-000u-01.xml": line,
        "lineStrokes/a01/a01-000/a01-000u-02.xml": line,
        "lineStrokes/a01/a01-000/a01-000x-01.xml": line,
        "lineStrokes/c03/c03-010/c03-010z-01.xml": line,
        "lineStrokes/c03/c03-010/c03-010z-02.xml": line,
    }
    texts = {
        "ascii/a01/a01-000/a01-000u.txt": form_text("A MOVE to stop Mr . Smith", "it 's # here"),
        "ascii/a01/a01-000/a01-000x.txt": form_text("from nominating any more"),
        "ascii/c03/c03-010/c03-010z.txt": form_text("one", "two", "three"),
    }
    write_tar_xz(root / "lineStrokes.tar.xz", strokes)
    write_tar_xz(root / "ascii.tar.xz", texts)


@pytest.fixture
def ondb(tmp_path, monkeypatch):
    monkeypatch.setattr(iam_ondb, "_STORES", {})  # no stroke store left over from another test
    make_iam_ondb(tmp_path / "iam-ondb")
    return tmp_path / "iam-ondb", tmp_path / "cache"


def test_reader_pairs_stroke_files_with_their_text_lines(ondb):
    root, cache = ondb
    with pytest.warns(UserWarning, match=r"skipped 1 form.*c03-010z"):
        samples = read_iam_ondb(root, cache)
    assert [(s.id, s.text, s.group) for s in samples] == [
        ("a01-000u-01", "A MOVE to stop Mr. Smith", "a01-000"),  # text normalised
        ("a01-000x-01", "from nominating any more", "a01-000"),  # another copy, same group
    ]  # a01-000u-02 has an unreadable word (#); c03-010z has 3 text lines for 2 stroke files
    assert all(s.split is None and s.source == "iam-ondb" for s in samples)
    with pytest.warns(UserWarning):
        kept = read_iam_ondb(root, cache, keep_unreadable=True)
    assert [s.text for s in kept][1] == "it's # here"


def test_samples_render_their_strokes(ondb):
    root, cache = ondb
    with pytest.warns(UserWarning):
        sample = read_iam_ondb(root, cache)[0]
    canonical = sample.image()
    assert canonical.dtype == np.uint8 and canonical.shape[0] == 80
    drawn = render_strokes(LINE, None)  # what the XML holds
    assert drawn.shape == canonical.shape
    assert np.abs(drawn.astype(int) - canonical).mean() < 1  # (the cache moved the origin)
    assert np.array_equal(sample.image(np.random.default_rng(3)), sample.load(np.random.default_rng(3)))
    # Samples travel to worker processes: the loader pickles as a cache path and an index.
    clone = pickle.loads(pickle.dumps(sample))
    assert clone == sample
    iam_ondb._STORES.clear()  # as in a fresh process
    assert np.array_equal(clone.image(), canonical)


def test_second_read_uses_the_cache_not_the_archives(ondb, monkeypatch):
    root, cache = ondb
    with pytest.warns(UserWarning):
        first = read_iam_ondb(root, cache)
    assert len(list(cache.glob("*.npz"))) == 1

    def no_archives(*args, **kwargs):
        raise AssertionError("the archives were opened again")

    monkeypatch.setattr(iam_ondb, "_STORES", {})  # a new process: only the cache file is left
    monkeypatch.setattr(tarfile, "open", no_archives)
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="skipped 1 form"):
        second = read_iam_ondb(root, cache)
    assert time.perf_counter() - start < 1.0
    assert [(s.id, s.text, s.group) for s in second] == [(s.id, s.text, s.group) for s in first]
    assert np.array_equal(second[0].image(), first[0].image())


def test_changed_archive_is_read_again(ondb):
    root, cache = ondb
    with pytest.warns(UserWarning):
        read_iam_ondb(root, cache)
    write_tar_xz(root / "ascii.tar.xz", {  # corrected texts: every form matches its strokes now
        "ascii/a01/a01-000/a01-000u.txt": form_text("A MOVE to stop Mr . Smith", "it 's here"),
        "ascii/a01/a01-000/a01-000x.txt": form_text("new words"),
        "ascii/c03/c03-010/c03-010z.txt": form_text("one", "two"),
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no form skipped: no warning
        samples = read_iam_ondb(root, cache)
    assert [(s.id, s.text) for s in samples] == [
        ("a01-000u-01", "A MOVE to stop Mr. Smith"), ("a01-000u-02", "it's here"),
        ("a01-000x-01", "new words"), ("c03-010z-01", "one"), ("c03-010z-02", "two")]
    assert [s.group for s in samples] == ["a01-000"] * 3 + ["c03-010"] * 2
    assert len(list(cache.glob("*.npz"))) == 2  # one cache file per version of the archives


def test_missing_or_broken_archives_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_iam_ondb(tmp_path / "nowhere", tmp_path / "cache")
    root = tmp_path / "ondb"
    root.mkdir()
    write_tar_xz(root / "ascii.tar.xz", {"ascii/a01/a01-000/a01-000x.txt": form_text("x")})
    with pytest.raises(DataError, match="lineStrokes.tar.xz is missing"):
        read_iam_ondb(root, tmp_path / "cache")
    (root / "lineStrokes.tar.xz").write_bytes(b"this is not an xz archive")
    with pytest.raises(DataError, match="cannot read"):
        read_iam_ondb(root, tmp_path / "cache")


def test_unpacked_folders_are_read_too(ondb, tmp_path):
    root, cache = ondb
    unpacked = tmp_path / "unpacked"
    for archive in ("lineStrokes.tar.xz", "ascii.tar.xz"):
        with tarfile.open(root / archive) as tar:
            tar.extractall(unpacked, filter="data")
    with pytest.warns(UserWarning, match="skipped 1 form"):
        samples = read_iam_ondb(unpacked, cache)
    assert [s.id for s in samples] == ["a01-000u-01", "a01-000x-01"]


# --------------------------------------------------------------------------------------------
# Cutting a line into its words


def word_hi(x0: float = 0.0) -> list[np.ndarray]:
    """'hi': an h (a tall stem and a hump), the i's stem and, written last, its dot above it."""
    h = np.concatenate([np.stack([np.full(23, x0), np.linspace(-12.0, 10.0, 23)], axis=1),
                        zigzag(x0, n=1, width=6.0)[::-1][:11]])
    stem = np.stack([np.full(11, x0 + 9.0), np.linspace(0.0, 10.0, 11)], axis=1)
    return [h, stem, np.array([[x0 + 9.0, -6.0]])]


NOW = zigzag(22.0, n=3, width=25.0)  # 'now', 13 units after the i
MOON = zigzag(62.0, n=4, width=32.0)  # 'moon', 15 units after 'now'


def test_split_words_assigns_strokes_by_position_and_keeps_late_dots():
    strokes = word_hi() + [NOW, MOON]
    words = ink.split_words(strokes, ["hi", "now", "moon"])
    assert words is not None and [len(w) for w in words] == [3, 1, 1]
    assert np.allclose(words[0][2], [[9.0, -6.0]])  # the i-dot
    assert np.allclose(words[1][0], NOW) and np.allclose(words[2][0], MOON)
    # A dot written after the whole line still goes to its word: by place, not by time.
    pieces = ink.clean_strokes(strokes)
    late = [pieces[0], pieces[1], pieces[3], pieces[4], pieces[2]]
    parts = ink.assign_words(late, ["hi", "now", "moon"])
    assert parts is not None and [p.tolist() for p in parts] == [[0, 1, 4], [2], [3]]
    # A word drawn with its line's frame has the size it has in the line; drawn on its own, a
    # short word is blown up (the line was shrunk to fit the h's ascender).
    body, angle = ink.ink_frame(strokes)
    line = render_strokes(strokes, None)
    in_line = line[:, runs(ink_columns(line))[-2][0]:runs(ink_columns(line))[-2][1]]  # 'now'
    alone = render_strokes(words[1], None, body=body, angle=angle)

    def ink_rows(image: np.ndarray) -> int:
        return int(np.ptp(np.flatnonzero((image < 128).any(axis=1))))

    assert abs(ink_rows(alone) - ink_rows(in_line)) <= 1
    assert ink_rows(render_strokes(words[1], None)) > ink_rows(in_line) + 5
    # ink_frame(..., None) is the frame as measured: the line drawn with it is drawn as before.
    assert np.array_equal(render_strokes(strokes, None, body=ink.ink_frame(strokes, None)[0],
                                         angle=angle), line)


def test_split_words_gives_up_when_the_cut_is_not_clear():
    hi, now, moon = word_hi(), [NOW], [MOON]
    assert ink.split_words(hi + now + moon, ["hi", "now", "moon"]) is not None
    # Two words, but spaces of 13 and 15 units: which one is the space between them?
    assert ink.split_words(hi + now + moon, ["hinow", "moon"]) is None
    # More words than groups of ink, or none at all.
    assert ink.split_words(hi + now + moon, ["hi", "now", "mo", "on"]) is None
    assert ink.split_words([], ["hi"]) is None
    assert ink.split_words(hi + now, []) is None
    # Spaces about as wide as the gaps between letters.
    spaced = [zigzag(0.0, n=2, width=10.0), zigzag(14.0, n=2, width=10.0),  # 'no', a gap of 4
              zigzag(29.0, n=2, width=10.0), zigzag(44.0, n=2, width=10.0)]  # 5, then 'on'
    assert ink.split_words(spaced, ["no", "on"]) is None
    # Clear spaces, but a word too wide or too narrow for its letters: the text does not fit.
    assert ink.split_words(hi[:2] + now + moon, ["Il", "now", "moon"]) is not None  # narrow
    assert ink.split_words(hi + now + moon, ["Il", "now", "moon"]) is None  # a dot after an l
    assert ink.split_words(hi + now + moon, ["hi", "now", "m"]) is None
    assert ink.split_words(hi + now + moon, ["interpretation", "now", "moon"]) is None
    # A full stop written nearer the next word than its own: the next word would start with it.
    assert ink.split_words(hi + [np.array([[17.5, 10.0]])] + now + moon,
                           ["hi.", "now", "moon"]) is None
    stop = np.array([[12.0, 10.0]])
    words = ink.split_words(hi + [stop] + now + moon, ["hi.", "now", "moon"])
    assert words is not None and np.allclose(words[0][3], stop)


def test_words_reader_cuts_lines_into_words(ondb, monkeypatch):
    root, cache = ondb
    monkeypatch.setattr(iam_ondb, "_CUTS", {})
    write_tar_xz(root / "ascii.tar.xz", {  # two words a line, as the fixture's strokes show
        "ascii/a01/a01-000/a01-000u.txt": form_text("Mr . Smith", "it #"),
        "ascii/a01/a01-000/a01-000x.txt": form_text("from nominating any more"),  # 4 words
        "ascii/c03/c03-010/c03-010z.txt": form_text("one two", "( three ) four"),
    })
    samples = read_iam_ondb_words(root, cache)
    assert [(s.id, s.text, s.group) for s in samples] == [
        ("a01-000u-01-01", "Mr.", "a01-000"), ("a01-000u-01-02", "Smith", "a01-000"),
        ("c03-010z-01-01", "one", "c03-010"), ("c03-010z-01-02", "two", "c03-010"),
        ("c03-010z-02-01", "(three)", "c03-010"), ("c03-010z-02-02", "four", "c03-010"),
    ]  # a01-000u-02 has an unreadable word; a01-000x has more words than groups of ink
    assert all(s.split is None and s.source == "iam-ondb-words" for s in samples)
    kept = read_iam_ondb_words(root, cache, keep_unreadable=True)
    assert [s.text for s in kept if s.id.startswith("a01-000u-02")] == ["it", "#"]
    # Each word draws its own stroke, at the size it has in the line.
    first, second = samples[0].image(), samples[1].image()
    line = render_strokes(LINE, None)
    assert first.shape[0] == 80 and first.shape[1] < line.shape[1] / 2
    assert len(runs(ink_columns(first))) == 1 and len(runs(ink_columns(second))) == 1
    assert abs(first.shape[1] - second.shape[1]) <= 1  # the two strokes are the same zigzag
    assert np.array_equal(samples[0].image(np.random.default_rng(2)),
                          samples[0].load(np.random.default_rng(2)))
    # Picklable for worker processes, and the cut is cached next to the strokes.
    clone = pickle.loads(pickle.dumps(samples[3]))
    iam_ondb._STORES.clear()
    iam_ondb._CUTS.clear()
    assert np.array_equal(clone.image(), samples[3].image())
    assert len(list(cache.glob("words-*.npz"))) == 1
    again = read_iam_ondb_words(root, cache)
    assert [(s.id, s.text) for s in again] == [(s.id, s.text) for s in samples]
    assert READERS["iam-ondb-words"] == ("iam_ondb", "read_iam_ondb_words")
    # Texts normalised differently from when the lines were cut: cut again, never mislabel.
    normalize = iam_ondb.normalize_text
    monkeypatch.setattr(iam_ondb, "normalize_text", lambda text: normalize(text) + " more")
    assert read_iam_ondb_words(root, cache) == []  # three words now, but two groups of ink
