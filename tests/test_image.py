"""Every kind of jpg/png a user may bring becomes the same kind of network input."""

import io
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import SHIPPED_FIXTURES, draw_text, tilted
from htr.errors import ImageError
from htr.image import (WIDTH_STEP, dilate_ellipse, ink_bounds, line_skew, load_image, normalize_ink,
                       pad_batch, percentiles, preprocess, shear_level, text_band)


def encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture
def word():
    return draw_text("minimum", height=60, paper=255)


def test_colour_grey_alpha_palette_and_16bit_load_as_the_same_grey(word):
    grey = Image.fromarray(word)
    rgba = Image.fromarray(word).convert("RGBA")
    rgba.putalpha(Image.fromarray(np.where(word < 128, 255, 0).astype(np.uint8)))  # ink opaque
    variants = {
        "rgb jpeg": encode(grey.convert("RGB"), "JPEG", quality=95),
        "transparent png": encode(rgba),
        "palette png": encode(grey.convert("P")),
        "16-bit png": encode(Image.fromarray(word.astype(np.uint16) * 257)),
    }
    for name, data in variants.items():
        loaded = load_image(data)
        assert loaded.dtype == np.uint8 and loaded.shape == word.shape, name
        assert np.abs(loaded.astype(int) - word).mean() < 12, name


def test_transparent_background_becomes_white_paper():
    rgba = np.zeros((20, 30, 4), np.uint8)  # fully transparent black
    assert load_image(encode(Image.fromarray(rgba, "RGBA"))).min() == 255


def test_exif_rotation_of_phone_photos_is_applied(word):
    rotated = Image.fromarray(word).rotate(90, expand=True)  # how the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    loaded = load_image(encode(rotated.convert("RGB"), "JPEG", exif=exif, quality=95))
    assert loaded.shape == word.shape


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"hello, I am text pretending to be a png", "not an image"),
])
def test_unreadable_files_name_the_file_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as err:
        load_image(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_truncated_image_is_reported_as_corrupt(tmp_path, word):
    path = tmp_path / "cut.jpg"
    path.write_bytes(encode(Image.fromarray(word), "JPEG")[:300])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(path)


def test_absurdly_large_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (3000, 3000), 255).save(path)
    with pytest.raises(ImageError, match="too large"):
        load_image(path, max_pixels=1_000_000)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_preprocess_fits_height_keeps_aspect_and_makes_ink_one(word):
    x = preprocess(word, 40)
    assert x.shape[0] == 40 and x.shape[1] % WIDTH_STEP == 0 and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    ink_cols = np.flatnonzero(x.max(axis=0) > 0.5)
    ink_width = ink_cols[-1] - ink_cols[0]
    ys, xs = np.nonzero(word < 128)
    expected = (xs.max() - xs.min()) * 40 / ((ys.max() - ys.min()) * 1.2)
    assert 0.75 * expected < ink_width < 1.35 * expected
    assert (x > 0.5).mean() < 0.4  # ink is the minority, paper is zero


def test_uneven_lighting_and_dark_background_are_corrected(word):
    clean = preprocess(word, 40)
    shade = np.linspace(0.45, 1.0, word.shape[1])[None, :]
    shadowed = (word * shade).astype(np.uint8)  # a shadow over the left half of the photo
    inverted = 255 - word  # chalk on a blackboard
    for variant in (shadowed, inverted):
        x = preprocess(variant, 40)
        assert x.shape == clean.shape
        assert np.abs(x - clean).mean() < 0.08


def test_blank_image_preprocesses_to_empty_paper():
    assert preprocess(np.full((50, 200), 240, np.uint8), 40).max() == 0.0


def shipped_ink_rows(name: str) -> np.ndarray:
    """A real line crop from the shipped fixtures, cut to the rows that hold ink."""
    grey = cv2.imread(os.path.join(SHIPPED_FIXTURES, name), cv2.IMREAD_GRAYSCALE)
    rows = np.flatnonzero((grey < 128).any(axis=1))
    return grey[rows[0]:rows[-1] + 1]


def test_a_loose_line_crop_is_cut_to_its_own_line():
    # A line cut from a page with a loose box: the lower third of the line above (its
    # descenders) reaches in at the top. It must not shrink the line's own writing.
    above = shipped_ink_rows("line-iam-ondb-a01-020w-02.png")
    line = shipped_ink_rows("line-iam-ondb-l06-637z-04.png")
    width = max(above.shape[1], line.shape[1])
    tail = np.pad(above[-len(above) // 3:], ((0, 0), (0, width - above.shape[1])), constant_values=255)
    gap = np.full((8, width), 255, np.uint8)
    crop = np.vstack([tail, gap, np.pad(line, ((0, 0), (0, width - line.shape[1])), constant_values=255)])
    y0, y1, _, _ = ink_bounds(normalize_ink(crop))
    assert len(tail) <= y0 <= len(tail) + len(gap)  # the tail is cut away, the line kept whole
    assert y1 >= len(crop) - 2


def test_words_and_two_line_form_fields_are_not_cut():
    word = draw_text("Hello", height=60, paper=255)
    assert text_band(word < 128) is None
    label = draw_text("SURNAME AND FIRST NAMES", height=40, paper=255)
    field = np.full((100, label.shape[1]), 255, np.uint8)
    field[:40], field[50:90] = label, label  # a printed row and a written row, equal weight
    assert text_band(field < 128) is None


@pytest.mark.parametrize("degrees", [-5.0, -2.0, 3.0, 6.0])
def test_a_tilted_line_is_measured_and_sheared_level(degrees):
    line = shipped_ink_rows("line-iam-ondb-l06-637z-04.png")
    level = preprocess(line, 40)
    turned = tilted(line, degrees)
    # Counter-clockwise turns lift the right end: the writing runs uphill, a negative skew.
    assert line_skew(normalize_ink(turned)) == pytest.approx(-np.tan(np.radians(degrees)), abs=0.015)
    # Levelled, the line fills the network's height nearly as the level line does (a shear
    # leaves the letters themselves turned) instead of shrinking into a thin diagonal band
    # (unlevelled, a 5 degree turn gives 0.4 of the level width).
    assert preprocess(turned, 40).shape[1] >= 0.75 * level.shape[1]


def test_level_lines_and_words_are_left_alone():
    line = shipped_ink_rows("line-iam-ondb-l06-637z-04.png")
    assert line_skew(normalize_ink(line)) == 0.0
    assert line_skew(normalize_ink(tilted(line, 0.5))) == 0.0  # below a degree: not worth it
    word = draw_text("Hello", height=60, paper=255)
    assert line_skew(normalize_ink(tilted(word, 4.0))) == 0.0  # a word's slant is no skew
    assert line_skew(np.full((40, 400), 255, np.uint8)) == 0.0  # no ink


def test_shearing_keeps_every_column_where_it_was():
    line = shipped_ink_rows("line-iam-ondb-l06-637z-04.png")
    turned = normalize_ink(tilted(line, 4.0))
    level = shear_level(turned, line_skew(turned))
    assert level.shape[1] == turned.shape[1]
    ink_columns = [np.flatnonzero((im < 128).any(axis=0)) for im in (turned, level)]
    assert [c[0] for c in ink_columns] == pytest.approx([ink_columns[0][0]] * 2, abs=1)
    assert [c[-1] for c in ink_columns] == pytest.approx([ink_columns[0][-1]] * 2, abs=1)
    assert shear_level(turned, 0.0) is turned


@pytest.mark.parametrize("shape", [(120, 1400), (31, 200), (5, 300), (300, 2), (1, 1)])
def test_elliptical_dilation_is_opencvs_pixel_for_pixel(shape):
    rng = np.random.default_rng(sum(shape))
    for dtype in (np.uint8, np.float32):
        image = cv2.GaussianBlur((rng.random(shape) * 255).astype(np.uint8), (5, 5), 0).astype(dtype)
        for size in (9, 25, 27, 41, 111):
            element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
            expected = cv2.dilate(image, element)
            got = dilate_ellipse(image, size)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (dtype, size)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_percentiles_are_numpys_to_the_last_bit(dtype):
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 999, 40_000):
        for image in (rng.random((n, 1)) * 255, rng.integers(0, 4, (1, n)), rng.normal(0, 30, (n, 1))):
            image = np.abs(image).astype(dtype) if dtype == np.uint8 else image.astype(dtype)
            for q in ((1.0, 90.0), (0.0, 100.0), (50,), (0.05, 99.99), (33.3, 33.4, 97.0)):
                expected = np.percentile(image, q)
                got = percentiles(image, q)
                assert got.dtype == expected.dtype and np.array_equal(got, expected), (n, q)


def test_ink_normalisation_is_the_same_bit_for_bit_as_numpy_made_it():
    """normalize_ink's compiled loops (htr.image_kernels) against the NumPy they replaced."""
    rng = np.random.default_rng(3)
    page = cv2.GaussianBlur((rng.random((300, 420)) * 60 + 180).astype(np.uint8), (0, 0), 9)
    page = cv2.putText(page, "ink on paper", (20, 160), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 2.2, 40, 4)
    g = page.astype(np.float32)
    k = int(max(9, min(g.shape) // 3)) | 1
    paper = cv2.blur(dilate_ellipse(page, k).astype(np.float32), (k, k))
    flat = g / np.maximum(paper, 1.0)
    lo, hi = np.percentile(flat, (1.0, 90.0))
    expected = np.clip((flat - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    assert np.array_equal(normalize_ink(page), expected)


def test_pad_batch_pads_with_paper_on_the_right():
    batch = pad_batch([np.ones((40, 64), np.float32), np.ones((40, 96), np.float32)])
    assert batch.shape == (2, 40, 96, 1)
    assert batch[0, :, 64:].max() == 0.0 and batch[1].min() == 1.0


def test_every_image_error_has_a_stable_code_for_programs(tmp_path):
    from htr.errors import IMAGE_ERROR_CODES

    cases = {"missing": tmp_path / "nowhere.png", "empty": b"", "not_image": b"plain text",
             "corrupt": _png_bytes()[:len(_png_bytes()) // 2]}
    for code, source in cases.items():
        with pytest.raises(ImageError) as caught:
            load_image(source)
        assert caught.value.code == code and code in IMAGE_ERROR_CODES
    with pytest.raises(ImageError) as caught:
        load_image(_png_bytes(), max_pixels=10)
    assert caught.value.code == "too_large"


def _png_bytes() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (60, 80), dtype=np.uint8)
    Image.fromarray(noise).save(out, "PNG")  # noise: a truncated file cannot decode
    return out.getvalue()
