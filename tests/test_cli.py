"""``python -m htr read``: good files are read, bad ones are named with a reason, exit status tells."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from conftest import draw_text

ROOT = Path(__file__).resolve().parent.parent


def htr(*args: str, **environ: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **environ}
    return subprocess.run([sys.executable, "-m", "htr", *args], capture_output=True, text=True,
                          env=env, timeout=120)


@pytest.fixture
def images(tmp_path):
    good = tmp_path / "word.png"
    cv2.imwrite(str(good), draw_text("hello"))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good.read_bytes()[:60])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    return good, corrupt, empty, text


@pytest.mark.slow
def test_read_reports_each_bad_file_and_still_reads_the_good_one(tiny_model_dir, images):
    good, corrupt, empty, text = images
    run = htr("read", str(corrupt), str(good), str(empty), str(text),
              "--model", str(tiny_model_dir), "--format", "json")
    assert run.returncode == 1
    results = json.loads(run.stdout)
    assert [r["file"] for r in results] == [str(good)]
    assert set(results[0]) == {"file", "width", "height", "level", "lines", "language", "insights"}
    assert results[0]["language"] == "en"  # the one lexicon there is (the shipped English one)
    assert all(0 <= line["confidence"] <= 1 for line in results[0]["lines"])
    errors = run.stderr.strip().splitlines()
    assert len(errors) == 3
    assert f"{corrupt}: corrupt or truncated" in errors[0]
    assert f"{empty}: empty file" in errors[1]
    assert f"{text}: not an image" in errors[2]


@pytest.mark.slow
def test_read_of_good_files_exits_zero_with_one_line_each(tiny_model_dir, images):
    good = images[0]
    run = htr("read", str(good), str(good), "--model", str(tiny_model_dir))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{good}\t") for line in lines)


def test_missing_model_folder_is_a_clear_error(tmp_path, images):
    run = htr("read", str(images[0]), "--model", str(tmp_path / "no-model"))
    assert run.returncode == 2
    assert "not a model folder" in run.stderr


@pytest.mark.slow
def test_wordbeam_decoder_reads_with_a_user_word_list(tiny_model_dir, images, tmp_path):
    words = tmp_path / "names.txt"
    words.write_text("hello\nworld\n")
    run = htr("read", str(images[0]), "--model", str(tiny_model_dir), "--decoder", "wordbeam",
              "--lexicon", str(words), "--format", "json")
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)) == 1


def test_wordbeam_without_a_lexicon_says_how_to_build_one(tiny_model_dir, images):
    run = htr("read", str(images[0]), "--model", str(tiny_model_dir), "--decoder", "wordbeam")
    assert run.returncode == 2
    assert "no lexicon for the wordbeam decoder" in run.stderr and "htr.lexicon build" in run.stderr


def test_average_writes_a_model_folder_that_reads_like_its_snapshots(tiny_model_dir, images, tmp_path):
    out = tmp_path / "averaged"
    result = htr("average", str(tiny_model_dir), str(tiny_model_dir), "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "the mean of 2 snapshots" in result.stdout
    good = str(images[0])
    assert (htr("read", "--model", str(out), "--decoder", "greedy", good).stdout
            == htr("read", "--model", str(tiny_model_dir), "--decoder", "greedy", good).stdout)
    missing = htr("average", str(tiny_model_dir), str(tmp_path / "nope.keras"), "--output", str(out))
    assert missing.returncode == 2 and "nope.keras" in missing.stderr


@pytest.mark.slow
def test_blank_offset_writes_the_shift_it_measured_best(tmp_path):
    import shutil

    from htr.recognizer import DEFAULT_MODEL, Recognizer

    if not (DEFAULT_MODEL / "model.keras").is_file():
        pytest.skip("no shipped model in models/default")
    model = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL, model)
    data = f"folder:{ROOT / 'tests' / 'fixtures' / 'shipped'}"
    run = htr("blank-offset", "--model", str(model), "--data", data, "--split", "all",
              "--offsets=-0.5,-1,-2", "--write")
    assert run.returncode == 0, run.stderr
    best = run.stdout.split("lowest mean CER")[1].split("offset ")[1].split()[0]
    row = next(line for line in run.stdout.splitlines() if line.split()[0] == f"{float(best):.2f}")
    # The sweep measures the Keras weights it shifts (the folder's int8 ONNX file reads a little
    # differently, and goes stale once they are shifted).
    after = htr("evaluate", "--model", str(model), "--data", data, "--decoder", "greedy",
                HTR_BACKEND="tensorflow")
    assert after.returncode == 0, after.stderr
    assert after.stdout.splitlines()[1].split()[3] == row.split()[1]  # the CER it promised
    chosen = htr("blank-offset", "--model", str(model), "--data", data, "--split", "all",
                 "--offsets=-1", "--write=0.5")
    assert chosen.returncode == 0, chosen.stderr
    assert "blank logit shifted by 0.5" in chosen.stdout
    again = htr("blank-offset", "--model", str(model), "--data", data, "--split", "all",
                "--offsets=-0.5")
    row = next(line for line in again.stdout.splitlines() if line.split()[0] == "-0.50")
    assert row.split()[1] == next(line for line in chosen.stdout.splitlines()
                                  if line.split()[0] == "0.00").split()[1]  # +0.5 then -0.5
    for bad in ("--offsets=-1,x", "--write=lots"):
        run = htr("blank-offset", "--model", str(model), "--data", data, bad)
        assert run.returncode == 2 and bad.split("=")[0] in run.stderr
    # Word beam search's shift goes into config.json; the weights (and their calibration) stay.
    weights = (model / "model.keras").read_bytes()
    run = htr("blank-offset", "--model", str(model), "--data", data, "--split", "all",
              "--decoder", "wordbeam", "--offsets=-1", "--write=-1")
    assert run.returncode == 0, run.stderr
    assert "(all split, wordbeam, read as lines)" in run.stdout
    assert json.loads((model / "config.json").read_text())["wordbeam_gap_offset"] == -1.0
    assert (model / "model.keras").read_bytes() == weights
    row = next(line for line in run.stdout.splitlines() if line.split()[0] == "-1.00")
    after = htr("evaluate", "--model", str(model), "--data", data, "--split", "all")
    assert after.returncode == 0, after.stderr
    assert after.stdout.splitlines()[1].split()[3] == row.split()[1]  # read as it measured
    # Images read as one word get a shift of their own; until measured, the lines'.
    config = json.loads((model / "config.json").read_text())
    config.pop("wordbeam_word_gap_offset", None)
    (model / "config.json").write_text(json.dumps(config))
    assert Recognizer.load(model, "wordbeam").reading_words().wordbeam_gap_offset == -1.0
    run = htr("blank-offset", "--model", str(model), "--data", data, "--split", "all",
              "--decoder", "wordbeam", "--level", "word", "--offsets=-0.5", "--write=-0.5")
    assert run.returncode == 0, run.stderr
    assert "read as words" in run.stdout and "reads words" in run.stdout
    config = json.loads((model / "config.json").read_text())
    assert (config["wordbeam_gap_offset"], config["wordbeam_word_gap_offset"]) == (-1.0, -0.5)
    assert Recognizer.load(model, "wordbeam").reading_words().wordbeam_gap_offset == -0.5


def test_evaluate_at_level_auto_says_what_each_crop_was_taken_for():
    data = f"folder:{ROOT / 'tests' / 'fixtures' / 'shipped'}"
    run = htr("evaluate", "--data", data, "--split", "all", "--decoder", "greedy", "--level", "auto")
    assert run.returncode == 0, run.stderr
    header, row, taken = run.stdout.splitlines()[:3]
    n = int(row.split()[2])
    counts = dict((kind, int(count)) for count, kind in
                  (part.split() for part in taken.split("taken for:")[1].split(",")))
    assert sum(counts.values()) == n and "pages" not in counts  # the fixtures are crops


@pytest.mark.slow
def test_read_shifts_can_be_turned_off_and_a_bad_value_is_a_clear_error(tiny_model_dir, images):
    once = htr("read", str(images[0]), "--model", str(tiny_model_dir), "--read-shifts", "none")
    shifted = htr("read", str(images[0]), "--model", str(tiny_model_dir), "--read-shifts=-1,1")
    assert once.returncode == 0 and shifted.returncode == 0, once.stderr + shifted.stderr
    bad = htr("read", str(images[0]), "--read-shifts", "up")
    assert bad.returncode == 2
    assert "'up': give whole numbers of rows" in bad.stderr
