"""The shipped network in other runtimes (htr/runtimes.py): exported to ONNX and TFLite, read back
with ONNX Runtime and LiteRT (``ai_edge_litert``) on the shipped-model fixture lines and words,
and decoded by our own decoders into the text the Keras model reads.

Each file is exported once for the module (about 1.5 s each).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from htr.metrics import cer
from htr.readers.folder import read_folder
from htr.recognizer import DEFAULT_MODEL

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shipped"
# int8 (dynamic-range: int8 weights, float activations) moves the scores a little. Measured
# 2026-12-05 against the Keras model's greedy text: on these 15 fixtures ONNX 1.8%, TFLite 1.5%;
# on 200 IAM and Hooker validation lines (bench/bench_runtimes.py) ONNX 1.24%, TFLite 0.66%. The
# bound leaves room for numerical noise, not for a broken export (which reads ~100% wrong).
INT8_CER_BOUND = 0.05
# The shipped model.onnx (int8-static: int8 convolutions calibrated on training lines, int8 LSTM
# weights) against float32 on 300 validation lines of each of nine sets, wordbeam: -0.21 to +0.20
# points CER, +0.03 on average (README, "Other runtimes"); the same bound as int8's.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DEFAULT_MODEL / "model.keras").is_file(),
                                 reason="no shipped model in models/default")]


@pytest.fixture(scope="module")
def keras_reading():
    """The fixtures preprocessed, and what the Keras model reads in them (greedy), each line
    read once as an exported file reads it."""
    from htr.image import preprocess
    from htr.recognizer import Recognizer

    recognizer = Recognizer.load(decoder="greedy", backend="tensorflow", read_shifts=())
    samples = read_folder(FIXTURES)
    inputs = [preprocess(s.image(), recognizer.height) for s in samples]
    texts = [recognizer.decode(p).text for p in recognizer.probabilities(inputs)]
    return recognizer, samples, inputs, texts


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shipped network exported: ONNX through the command line, the TFLite files through
    the library (the same function)."""
    from htr.cli import main
    from htr.runtimes import export_network

    folder = tmp_path_factory.mktemp("exported")
    files = {"onnx": folder / "htr.onnx"}
    assert main(["export", "--format", "onnx", "--output", str(files["onnx"])]) == 0
    files["tflite"] = export_network("tflite", folder / "htr.tflite")
    for quantize in ("float16", "int8"):
        files[f"tflite-{quantize}"] = export_network("tflite", folder / f"htr-{quantize}.tflite",
                                                     quantize=quantize)
    return files


@pytest.fixture(scope="module")
def static_int8(tmp_path_factory, keras_reading):
    """The shipped network exported as int8-static, its ranges measured on the fixture lines
    (a test's stand-in for the training lines the shipped file was calibrated on)."""
    from htr.runtimes import STATIC_INT8, Calibration, export_network

    calibration = Calibration(tuple(keras_reading[2]), "the shipped-model fixtures")
    path = tmp_path_factory.mktemp("int8-static") / "htr.onnx"
    return export_network("onnx", path, quantize=STATIC_INT8, calibration=calibration)


def read_with(path: Path, keras_reading) -> list[str]:
    from htr.runtimes import load_network

    recognizer, _, inputs, _ = keras_reading
    network = load_network(path, threads=2)
    return [recognizer.decode(p).text for p in network.probabilities(inputs)]


@pytest.mark.parametrize("name", ["onnx", "tflite", "tflite-float16"])
def test_exported_network_reads_the_same_text_as_keras(name, exported, keras_reading):
    texts = keras_reading[3]
    assert read_with(exported[name], keras_reading) == texts
    assert cer([s.text for s in keras_reading[1]], texts) < 0.5  # and Keras reads them at all


def test_int8_tflite_reads_within_its_bound(exported, keras_reading):
    texts = read_with(exported["tflite-int8"], keras_reading)
    assert cer(keras_reading[3], texts) <= INT8_CER_BOUND


def test_quantised_files_are_smaller(exported):
    size = {name: path.stat().st_size for name, path in exported.items()}
    assert size["tflite-float16"] < 0.55 * size["tflite"]
    assert size["tflite-int8"] < 0.3 * size["tflite"]


def test_tflite_file_uses_builtin_operators_only(exported):
    from ai_edge_litert.interpreter import Interpreter

    ops = {op["op_name"] for op in Interpreter(model_path=str(exported["tflite"]))._get_ops_details()}
    assert "WHILE" in ops and "FULLY_CONNECTED" in ops  # the LSTMs, lowered to built-in ops
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops


@pytest.mark.parametrize("name", ["onnx", "tflite-int8"])
def test_model_card_says_how_to_feed_and_decode(name, exported, keras_reading):
    recognizer = keras_reading[0]
    card = json.loads(exported[name].with_name(exported[name].name + ".card.json").read_text())
    assert card["charset"]["chars"] == "".join(recognizer.charset.chars)
    assert card["charset"]["blank"] == card["output"]["blank_index"] == 0
    assert card["input"]["height"] == recognizer.height == 40
    assert card["input"]["batch"] == ("any" if name == "onnx" else 1)
    assert card["output"]["shape"][-1] == recognizer.charset.num_classes
    assert card["quantization"] == ("none (float32)" if name == "onnx" else "int8")
    assert "softmax" in card["output"]["values"]
    # The shipped model reads each line a row up and a row down: the card says how.
    assert card["read_shifts"] == [-1, 1] and "row_shifts=(-1, 1)" in card["decoding"]
    assert exported[name].with_name(exported[name].name + ".card.md").read_text().startswith("# ")


def test_an_exported_file_read_at_the_models_row_shifts_reads_what_the_model_folder_reads(
        exported, keras_reading):
    from htr.decode import greedy_decode
    from htr.recognizer import Recognizer
    from htr.runtimes import load_network

    _, samples, inputs, _ = keras_reading
    folder = Recognizer.load(decoder="greedy", backend="tensorflow")  # its read_shifts: (-1, 1)
    probs = load_network(exported["onnx"]).probabilities(inputs, row_shifts=folder.read_shifts)
    assert ([greedy_decode(p, folder.charset).text for p in probs]
            == [r.text for r in folder.read([s.image() for s in samples])])


def test_static_int8_export_reads_within_its_bound_and_says_how_it_was_calibrated(
        static_int8, exported, keras_reading):
    texts = read_with(static_int8, keras_reading)
    assert cer(keras_reading[3], texts) <= INT8_CER_BOUND
    card = json.loads(static_int8.with_name(static_int8.name + ".card.json").read_text())
    assert card["quantization"] == "int8-static"
    assert card["calibration"].startswith(f"{len(keras_reading[2])} the shipped-model fixtures")
    assert static_int8.stat().st_size < 0.4 * exported["onnx"].stat().st_size


def test_static_int8_needs_its_calibration_lines(tmp_path):
    from htr.runtimes import STATIC_INT8, Calibration, export_network

    with pytest.raises(ValueError, match="needs them"):
        export_network("onnx", tmp_path / "a.onnx", quantize=STATIC_INT8)
    with pytest.raises(ValueError, match="ONNX only"):
        export_network("tflite", tmp_path / "a.tflite", quantize=STATIC_INT8,
                       calibration=Calibration((), "nothing"))


def test_export_command_refuses_int8_static_without_calibration_data(capsys, tmp_path):
    from htr.cli import main

    out = str(tmp_path / "a.onnx")
    assert main(["export", "--format", "onnx", "--quantize", "int8-static", "--output", out]) == 2
    assert main(["export", "--format", "onnx", "--calibrate", "folder:.", "--output", out]) == 2
    assert "--calibrate KIND:PATH go together" in capsys.readouterr().err
    assert not (tmp_path / "a.onnx").exists()


def test_shipped_model_reads_with_its_own_onnx_file_by_default(keras_reading, tmp_path, monkeypatch):
    """The default model ships ``model.onnx``, exported from its own weights (a retrained
    ``model.keras`` without a new export fails here) and quantised (int8-static): it is the
    default backend, nothing is exported into the cache, and it reads what the Keras model reads
    within the int8 bound."""
    from htr.recognizer import DEFAULT_MODEL, Recognizer
    from htr.runtimes import BACKEND_ENV, STATIC_INT8, read_card, shipped_onnx_file

    monkeypatch.setenv("HTR_CACHE", str(tmp_path))
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert shipped_onnx_file(DEFAULT_MODEL) == DEFAULT_MODEL / "model.onnx"
    assert read_card(DEFAULT_MODEL / "model.onnx")["quantization"] == STATIC_INT8
    keras = keras_reading[0].with_decoder()  # the default decoder, on the loaded Keras model
    onnx = Recognizer.load(read_shifts=())  # as the Keras model reads here: each line once
    assert onnx.backend == "onnx" and onnx.model.path == DEFAULT_MODEL / "model.onnx"
    assert not (tmp_path / "runtimes").exists()
    images = [s.image() for s in keras_reading[1]]
    assert cer([r.text for r in keras.read(images)],
               [r.text for r in onnx.read(images)]) <= INT8_CER_BOUND


def test_a_folder_without_its_own_onnx_file_reads_with_tensorflow(tiny_model_dir, tmp_path,
                                                                  monkeypatch):
    """A fine-tuned or freshly trained folder has no ONNX file: it reads with TensorFlow rather
    than wait for an export; so does the shipped folder once its ONNX file is stale."""
    import shutil

    from htr.recognizer import DEFAULT_MODEL
    from htr.runtimes import BACKEND_ENV, default_backend

    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert default_backend(tiny_model_dir) == "tensorflow"
    stale = tmp_path / "stale"
    shutil.copytree(tiny_model_dir, stale)
    shutil.copy(DEFAULT_MODEL / "model.onnx", stale)
    shutil.copy(DEFAULT_MODEL / "model.onnx.card.json", stale)
    assert default_backend(stale) == "tensorflow"
    monkeypatch.setenv(BACKEND_ENV, "onnx")
    assert default_backend(tiny_model_dir) == "onnx"


def test_read_command_does_not_import_tensorflow_for_the_shipped_model(tmp_path):
    """TensorFlow's import is most of a short command's time: reading with the shipped model's
    ONNX file does without it."""
    import subprocess
    import sys

    line = FIXTURES / "line-hooker-JDH_2_16_65_003_tr_3_tl_1.png"
    code = ("import sys; from htr.cli import main; code = main(['read', sys.argv[1], '--level', 'line']); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules); sys.exit(code)")
    env = {k: v for k, v in os.environ.items() if k != "HTR_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code, str(line)], capture_output=True, text=True,
                         env={**env, "HTR_CACHE": str(tmp_path)}, cwd=Path(__file__).parent.parent,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "than they can" in out.stdout and out.stdout.strip().endswith("False False")


def test_read_command_reads_with_either_backend(capsys, tmp_path, monkeypatch):
    from htr.cli import main

    monkeypatch.setenv("HTR_CACHE", str(tmp_path))
    line = str(FIXTURES / "line-hooker-JDH_2_16_65_003_tr_3_tl_1.png")
    texts = []
    for backend in ("tensorflow", "onnx"):  # float32 weights; the shipped int8-static file
        assert main(["read", line, "--level", "line", "--backend", backend]) == 0
        texts.append(capsys.readouterr().out)
    assert all("than they can" in text for text in texts)
    assert cer([texts[0]], [texts[1]]) <= INT8_CER_BOUND


def test_onnx_backend_exports_a_folder_without_its_file_into_the_cache(tiny_model_dir, tmp_path,
                                                                       monkeypatch):
    from conftest import draw_text
    from htr.image import preprocess
    from htr.recognizer import Recognizer
    from htr.runtimes import cache_dir

    monkeypatch.setenv("HTR_CACHE", str(tmp_path))
    monkeypatch.setenv("HTR_BACKEND", "onnx")  # what the app's HTR_BACKEND setting sets
    onnx = Recognizer.load(tiny_model_dir, decoder="greedy")
    assert onnx.backend == "onnx" and onnx.model.path.parent == cache_dir()
    assert onnx.model.path.with_name(onnx.model.path.name + ".card.json").is_file()
    keras = Recognizer.load(tiny_model_dir, decoder="greedy", backend="tensorflow")
    inputs = [preprocess(draw_text(text), keras.height) for text in ("hello", "a longer line of words")]
    for a, b in zip(onnx.probabilities(inputs), keras.probabilities(inputs)):
        assert a.shape == b.shape and abs(a - b).max() < 1e-4


def test_unknown_backend_is_refused(tiny_model_dir):
    from htr.recognizer import Recognizer

    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        Recognizer.load(tiny_model_dir, backend="torch")


@pytest.mark.parametrize("name", ["htr.onnx", "htr.tflite", "htr.keras"])
def test_a_file_that_is_not_an_exported_network_is_refused(name, tmp_path):
    from htr.errors import ModelError
    from htr.runtimes import load_network

    path = tmp_path / name
    path.write_bytes(b"not a network")
    with pytest.raises(ModelError, match=name):
        load_network(path)


def test_a_network_without_lstms_exports_to_tflite_with_builtin_operators(tmp_path):
    """The conv-only network (``train.py --size fast``) converts for phones like the shipped one
    and gives the Keras model's scores."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from htr.model import ModelConfig, build_model, save_model_dir
    from htr.image import pad_batch
    from htr.runtimes import export_network, load_network, padded_width
    from htr.text import Charset

    charset = Charset("abcdefghij ")
    config = ModelConfig(height=40, conv=(8, 8, 16, 16), pool_height_after=(0, 1, 2, 3),
                         lstm_units=16, sequence="conv", conv1d_layers=2, separable=True,
                         column_pool=True)
    model = build_model(charset.num_classes, config)
    save_model_dir(tmp_path / "fast", model, charset, config)
    path = export_network("tflite", tmp_path / "fast.tflite", model_dir=tmp_path / "fast")
    ops = {op["op_name"] for op in Interpreter(model_path=str(path))._get_ops_details()}
    assert not any("FLEX" in op.upper() for op in ops)
    x = np.random.default_rng(0).random((40, 160)).astype(np.float32)  # a preprocessed line
    probs = load_network(path).probabilities([x])[0]
    # Read as every runtime reads a line: with blank paper after it.
    logits = model.predict_on_batch(pad_batch([x], padded_width(160)))[0, :40]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True), atol=1e-4)


def test_lines_are_batched_with_lines_of_their_width_and_read_with_paper_after_them():
    from htr.runtimes import padded_width, width_batches

    widths = [1000, 120, 980, 130, 1020, 110]  # a page's long lines and three short ones
    assert width_batches(widths) == [[5, 1, 3], [2, 0, 4]]  # narrowest first, short ones apart
    assert width_batches([400, 410, 420]) == [[0, 1, 2]]  # alike: one batch
    assert all(len(b) <= 2 for b in width_batches(widths, batch_size=2))
    assert sorted(i for b in width_batches(widths, batch_size=2) for i in b) == list(range(6))
    assert padded_width(100) == 150  # a word: half its width of paper after it
    assert padded_width(2000) == 2256  # a line: at most 256 columns


def test_a_line_read_at_row_shifts_gets_the_mean_of_its_shifted_readings(keras_reading):
    """The shipped model reads each line a row up and a row down (its ``read_shifts``) and
    decodes the softmax of the two readings' mean logits. (With float32 weights: the shipped
    int8-static file quantises its LSTMs' inputs by each batch's range, so a line read alone
    and read beside another differ in the last digits.)"""
    import numpy as np

    from htr.image import pad_batch
    from htr.recognizer import Recognizer
    from htr.runtimes import padded_width, shift_rows

    inputs = keras_reading[2]
    recognizer = Recognizer.load(decoder="greedy", backend="tensorflow")
    assert recognizer.read_shifts == (-1, 1)
    x = inputs[0]
    both = recognizer.probabilities([x])[0]
    logits = [recognizer.model.predict_on_batch(pad_batch([shift_rows(x, d)], padded_width(x.shape[1])))[0]
              for d in (-1, 1)]
    mean = np.mean(logits, axis=0)[:len(both)]
    expected = np.exp(mean - mean.max(1, keepdims=True))
    np.testing.assert_allclose(both, expected / expected.sum(1, keepdims=True), atol=1e-5)


def test_shift_rows_moves_the_ink_and_brings_in_blank_paper():
    import numpy as np

    from htr.runtimes import shift_rows

    line = np.zeros((6, 8), np.float32)
    line[2:4, 1:7] = 1.0  # a stroke in rows 2-3
    assert np.array_equal(np.nonzero(shift_rows(line, -1).any(1))[0], [1, 2])
    assert np.array_equal(np.nonzero(shift_rows(line, 2).any(1))[0], [4, 5])
    assert shift_rows(line, 0) is line and shift_rows(line, 1).shape == line.shape
