"""Augmentation makes a line look like another photo of another hand, and never loses the text."""

import os

import cv2
import numpy as np
import pytest
from conftest import SHIPPED_FIXTURES

from htr.augment import augment, preview_grid
from htr.image import preprocess, preprocess_with_geometry

HEIGHT = 64  # network input height used for the ink checks
SEEDS = range(40)


def handwriting(text: str, height: int, width: int, scale: float, paper: int = 250) -> np.ndarray:
    """A synthetic handwritten image: script-font text, dark ink on light paper."""
    img = np.full((height, width), paper, np.uint8)
    cv2.putText(img, text, (12, int(height * 0.68)), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, scale, 25, 2,
                cv2.LINE_AA)
    return img


@pytest.fixture(scope="module")
def line() -> np.ndarray:
    return handwriting("The quick brown fox jumps over the lazy dog", 96, 1500, 1.9)


@pytest.fixture(scope="module")
def word() -> np.ndarray:
    return handwriting("hello", 64, 200, 1.4)


def ink_pixels(grey: np.ndarray) -> int:
    """How much ink the network would see: dark pixels after the shared preprocessing."""
    return int((preprocess(grey, HEIGHT) > 0.5).sum())


# ------------------------------------------------------------------------------------- augment


def test_same_seed_gives_the_same_image(line):
    a = augment(line, np.random.default_rng(7))
    b = augment(line, np.random.default_rng(7))
    assert np.array_equal(a, b)


def test_different_seeds_give_different_images(line):
    outs = [augment(line, np.random.default_rng(seed)) for seed in range(6)]
    for i in range(len(outs)):
        for j in range(i + 1, len(outs)):
            assert outs[i].shape != outs[j].shape or not np.array_equal(outs[i], outs[j])


def test_one_generator_gives_a_new_variant_each_call(word):
    rng = np.random.default_rng(0)
    first, second = augment(word, rng), augment(word, rng)
    assert first.shape != second.shape or not np.array_equal(first, second)


@pytest.mark.parametrize("name", ["line", "word"])
def test_output_is_uint8_grey_of_about_the_same_size(name, request):
    image = request.getfixturevalue(name)
    h, w = image.shape
    for seed in SEEDS:
        out = augment(image, np.random.default_rng(seed))
        assert out.dtype == np.uint8 and out.ndim == 2
        assert 0.95 * h <= out.shape[0] <= 1.15 * h, (seed, out.shape)
        assert 0.8 * w <= out.shape[1] <= 1.35 * w, (seed, out.shape)


@pytest.mark.parametrize("name", ["line", "word"])
def test_ink_survives_augmentation_and_preprocessing(name, request):
    image = request.getfixturevalue(name)
    before = ink_pixels(image)
    ratios = [ink_pixels(augment(image, np.random.default_rng(seed))) / before for seed in SEEDS]
    # Pens get thicker or thinner and the writing wider or narrower, but the text never fades
    # away or floods into a blot.
    assert min(ratios) > 0.4, ratios
    assert max(ratios) < 1.8, ratios
    assert 0.75 < float(np.median(ratios)) < 1.25, ratios


@pytest.mark.parametrize("name", ["drawn", "line-hooker-JDH_2_16_56_001_r1l17.png",
                                  "line-iam-ondb-f01-017z-04.png"])
def test_the_writing_is_not_cut_off(name, line):
    """The span of writing that preprocessing keeps (in the image's pixels) shrinks or grows only
    with the augmentation's x scale and slant: no end of the line is cut away. (The fitted
    width is no measure of that: a taller band of the page makes the same writing narrower.)"""
    image = line if name == "drawn" else cv2.imread(os.path.join(SHIPPED_FIXTURES, name), cv2.IMREAD_GRAYSCALE)
    x0, _, x1, _ = preprocess_with_geometry(image, HEIGHT)[1].ink_box
    for seed in SEEDS:
        a0, _, a1, _ = preprocess_with_geometry(augment(image, np.random.default_rng(seed)), HEIGHT)[1].ink_box
        assert 0.8 * (x1 - x0) <= a1 - a0 <= 1.3 * (x1 - x0), (seed, x1 - x0, a1 - a0)


def test_blank_paper_stays_blank_without_dark_borders():
    paper = np.full((96, 600), 235, np.uint8)
    for seed in SEEDS:
        out = augment(paper, np.random.default_rng(seed)).astype(np.float32)
        level = float(np.median(out))
        # Shadows, grain and noise are allowed; black corners from rotation or slant are not.
        assert out.min() > 0.45 * level, seed
        border = np.concatenate([out[:2].ravel(), out[-2:].ravel(), out[:, :2].ravel(), out[:, -2:].ravel()])
        assert (border < 0.6 * level).mean() < 0.01, seed


def test_geometry_pads_with_the_paper_colour_not_black(line):
    grey_paper = handwriting("slanted", 96, 400, 1.6, paper=180)
    for seed in SEEDS:
        out = augment(grey_paper, np.random.default_rng(seed), strength=1.0)
        corners = np.array([out[0, 0], out[0, -1], out[-1, 0], out[-1, -1]], np.float32)
        assert corners.min() > 0.45 * float(np.median(out)), (seed, corners)


def test_strength_zero_leaves_the_image_unchanged(line):
    out = augment(line, np.random.default_rng(3), strength=0.0)
    assert np.array_equal(out, line)
    assert out is not line


def test_a_weak_strength_changes_little(line):
    for seed in range(10):
        out = augment(line, np.random.default_rng(seed), strength=0.1)
        assert abs(out.shape[0] - line.shape[0]) <= 2
        assert abs(out.shape[1] - line.shape[1]) <= 0.05 * line.shape[1]


def test_the_input_is_not_modified(line):
    copy = line.copy()
    for seed in range(10):
        augment(line, np.random.default_rng(seed))
    assert np.array_equal(line, copy)


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32)])
def test_only_uint8_grey_is_accepted(bad):
    with pytest.raises(ValueError):
        augment(bad, np.random.default_rng(0))


# -------------------------------------------------------------------------------- preview_grid


def test_preview_grid_stacks_captioned_rows_at_the_requested_width(line, word):
    images = [line, word, augment(line, np.random.default_rng(1))]
    plain = preview_grid(images, None, columns=1, width=900)
    captioned = preview_grid(images, ["truth | prediction", "hello | hallo", "augmented"], columns=1,
                             width=900)
    for grid in (plain, captioned):
        assert grid.ndim == 2 and grid.dtype == np.uint8 and grid.shape[1] == 900
    # Each row gains a caption strip, and the captions put dark text into it.
    assert captioned.shape[0] > plain.shape[0] + 3 * 15
    assert (captioned < 100).sum() > (plain < 100).sum()


def test_preview_grid_caption_is_drawn_under_its_image(word):
    grid = preview_grid([word], ["hello | hello"], width=400)
    rows_with_ink = np.flatnonzero((grid < 100).sum(axis=1))
    # The word fills the top; the caption's text sits below it.
    assert rows_with_ink.max() > 64 + 4


def test_preview_grid_columns_make_it_shorter(word):
    images = [word] * 6
    one = preview_grid(images, ["x"] * 6, columns=1, width=600)
    three = preview_grid(images, ["x"] * 6, columns=3, width=600)
    assert three.shape[1] == one.shape[1] == 600
    assert three.shape[0] < one.shape[0] / 2


def test_preview_grid_handles_non_ascii_captions_and_network_inputs(line):
    network_input = preprocess(line, HEIGHT)  # float32, ink = 1
    grid = preview_grid([network_input], ["Grüße | Größe — ½"], width=800)
    assert grid.dtype == np.uint8 and grid.shape[1] == 800
    image_band, caption_band = grid[:HEIGHT + 8], grid[HEIGHT + 8:]
    assert (image_band < 100).any()  # the ink is shown dark
    assert (caption_band < 128).any()  # the caption was drawn


def test_preview_grid_rejects_mismatched_captions(word):
    with pytest.raises(ValueError):
        preview_grid([word, word], ["only one"])
