"""The network: shapes, saving with its charset, and the JAX -> TensorFlow round trip."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from htr.errors import ModelError
from htr.model import (CHARSET_FILE, WIDTH_REDUCTION, ModelConfig, add_residual_lstm_layers,
                       average_snapshots, build_model, compile_model, load_model_dir,
                       save_model_dir, shift_blank_logit, widen_charset)
from htr.text import Charset

ROOT = Path(__file__).resolve().parent.parent
SMALL = ModelConfig(height=32, conv=(8, 8, 16, 16), pool_height_after=(0, 1, 2, 3), lstm_units=16,
                    lstm_layers=1)
#: The same without LSTMs: separable convolutions, column pooling, residual 1-D convolutions.
SMALL_CONV = ModelConfig(height=32, conv=(8, 8, 16, 16), pool_height_after=(0, 1, 2, 3),
                         lstm_units=16, sequence="conv", conv1d_layers=2, separable=True,
                         column_pool=True)


@pytest.mark.parametrize("config", [SMALL, SMALL_CONV], ids=["lstm", "conv"])
def test_one_model_reads_any_width_with_a_frame_per_four_columns(config):
    model = build_model(11, config)
    for width in (32, 96, 640):
        out = model.predict_on_batch(np.zeros((2, 32, width, 1), np.float32))
        assert out.shape == (2, width // WIDTH_REDUCTION, 11)


def test_unknown_sequence_layers_are_refused():
    with pytest.raises(ValueError, match="sequence"):
        build_model(5, ModelConfig(sequence="transformer"))


@pytest.mark.parametrize("config", [SMALL, SMALL_CONV], ids=["lstm", "conv"])
def test_ctc_training_step_lowers_the_loss(config):
    model = compile_model(build_model(5, config), learning_rate=1e-2)
    rng = np.random.default_rng(0)
    x = rng.random((4, 32, 64, 1)).astype(np.float32)
    y = np.array([[1, 2, 0], [3, 4, 0], [1, 1, 2], [4, 0, 0]], np.int32)
    first = float(model.train_on_batch(x, y))
    for _ in range(15):
        last = float(model.train_on_batch(x, y))
    assert np.isfinite(first) and last < first


@pytest.mark.parametrize("config", [SMALL, SMALL_CONV], ids=["lstm", "conv"])
def test_model_folder_round_trip_gives_identical_outputs(tmp_path, config):
    charset = Charset("abc")
    model = build_model(charset.num_classes, config)
    save_model_dir(tmp_path, model, charset, config)
    loaded, loaded_charset, loaded_config = load_model_dir(tmp_path)
    x = np.random.default_rng(1).random((1, 32, 128, 1)).astype(np.float32)
    assert np.allclose(model.predict_on_batch(x), loaded.predict_on_batch(x), atol=1e-5)
    assert loaded_charset == charset and loaded_config == config


def test_model_folder_with_a_foreign_charset_is_refused(tmp_path):
    charset = Charset("abc")
    save_model_dir(tmp_path, build_model(charset.num_classes, SMALL), charset, SMALL)
    Charset("abcdef").save(tmp_path / CHARSET_FILE)
    with pytest.raises(ModelError, match="outputs"):
        load_model_dir(tmp_path)
    with pytest.raises(ModelError, match="missing"):
        load_model_dir(tmp_path / "nothing-here")


def test_snapshots_of_one_network_average_weight_by_weight(tmp_path):
    charset = Charset("abc")
    first, second = (build_model(charset.num_classes, SMALL) for _ in range(2))
    save_model_dir(tmp_path / "epoch1", first, charset, SMALL)
    second.save_weights(tmp_path / "epoch-2.weights.h5")  # as training keeps each epoch's
    model, avg_charset, config = average_snapshots(tmp_path / "epoch1",
                                                   [tmp_path / "epoch1", tmp_path / "epoch-2.weights.h5"])
    assert avg_charset == charset and config == SMALL
    for mean, a, b in zip(model.get_weights(), first.get_weights(), second.get_weights()):
        assert np.allclose(mean, (a + b) / 2, atol=1e-6)
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])

    other = ModelConfig(height=32, conv=(8, 16), pool_height_after=(0, 1), lstm_units=8, lstm_layers=1)
    save_model_dir(tmp_path / "other", build_model(charset.num_classes, other), charset, other)
    with pytest.raises(ModelError, match="not a snapshot of this network"):
        average_snapshots(tmp_path / "epoch1", [tmp_path / "epoch1", tmp_path / "other"])


def test_shifting_the_blank_logit_moves_the_blank_score_alone():
    model = build_model(5, SMALL)
    x = np.random.default_rng(2).random((2, 32, 96, 1)).astype(np.float32)
    before = np.asarray(model.predict_on_batch(x))
    after = np.asarray(shift_blank_logit(model, -1.5).predict_on_batch(x))
    assert np.allclose(after[..., Charset.BLANK], before[..., Charset.BLANK] - 1.5, atol=1e-5)
    assert np.allclose(after[..., 1:], before[..., 1:], atol=1e-6)


def test_a_widened_charset_reads_the_old_characters_exactly_as_before():
    old, new = Charset("abe "), Charset("abeé« ")
    model = build_model(old.num_classes, SMALL)
    x = np.random.default_rng(3).random((2, 32, 96, 1)).astype(np.float32)
    before = np.asarray(model.predict_on_batch(x))
    after = np.asarray(widen_charset(model, SMALL, old, new).predict_on_batch(x))
    assert after.shape[-1] == new.num_classes
    for c in [" ", "a", "b", "e"]:  # every old character keeps its scores, the blank too
        assert np.allclose(after[..., new.encode(c)[0]], before[..., old.encode(c)[0]], atol=1e-5)
    assert np.allclose(after[..., Charset.BLANK], before[..., Charset.BLANK], atol=1e-5)
    # é starts as a less likely e; « (no base letter) starts flat, below every old character
    e, e_acute, guillemet = (new.encode(c)[0] for c in "eé«")
    assert np.allclose(after[..., e_acute], after[..., e] - 3.0, atol=1e-5)
    assert np.ptp(after[..., guillemet]) < 1e-5
    with pytest.raises(ModelError, match="lacks"):
        widen_charset(model, SMALL, new, old)


def test_a_network_grown_by_a_residual_lstm_layer_reads_as_before_until_trained(tmp_path):
    charset = Charset("ab ")
    model = build_model(charset.num_classes, SMALL)
    x = np.random.default_rng(4).random((2, 32, 64, 1)).astype(np.float32)
    grown, config = add_residual_lstm_layers(model, SMALL, 1)
    assert config.residual_lstm_layers == 1 and grown.count_params() > model.count_params()
    assert np.allclose(grown.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5)
    # One training step moves the new layer off zero, and its folder loads as the grown network.
    compile_model(grown).fit(x, np.array([[1, 2], [2, 0]], "int32"), epochs=1, verbose=0)
    assert np.abs(grown.get_layer("res_project0").get_weights()[0]).max() > 0
    save_model_dir(tmp_path, grown, charset, config)
    loaded, _, loaded_config = load_model_dir(tmp_path)
    assert loaded_config == config
    assert np.allclose(loaded.predict_on_batch(x), grown.predict_on_batch(x), atol=1e-5)
    with pytest.raises(ModelError, match="LSTMs"):
        add_residual_lstm_layers(build_model(charset.num_classes, SMALL_CONV), SMALL_CONV, 1)


JAX_TRAIN = """
import json, sys, numpy as np, keras
from htr.model import ModelConfig, build_model, compile_model, save_model_dir
from htr.text import Charset
assert keras.backend.backend() == "jax"
config = ModelConfig(**json.loads(sys.argv[2]))
charset = Charset("ab")
model = compile_model(build_model(charset.num_classes, config))
x = np.random.default_rng(0).random((2, 32, 64, 1)).astype("float32")
model.fit(x, np.array([[1, 2], [2, 0]], "int32"), epochs=1, verbose=0)
save_model_dir(sys.argv[1], model, charset, config)
np.save(sys.argv[1] + "/x.npy", x)
np.save(sys.argv[1] + "/y.npy", np.asarray(model.predict_on_batch(x)))
"""


@pytest.mark.slow
def test_model_trained_under_jax_loads_in_tensorflow(tmp_path):
    """The GPU machine trains under JAX; users run TensorFlow on a CPU: same file, same output."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.to_dict().items()}
    subprocess.run([sys.executable, "-c", JAX_TRAIN, str(tmp_path), json.dumps(config)],
                   env=env, check=True, timeout=300)
    model, charset, _ = load_model_dir(tmp_path)
    import keras
    assert keras.backend.backend() == "tensorflow"
    out = model.predict_on_batch(np.load(tmp_path / "x.npy"))
    assert np.allclose(out, np.load(tmp_path / "y.npy"), atol=1e-4)


def test_model_folder_holds_weights_without_optimiser_state(tmp_path):
    charset = Charset("abc")
    model = compile_model(build_model(charset.num_classes, SMALL))
    model.train_on_batch(np.zeros((1, 32, 64, 1), np.float32), np.array([[1, 2]], np.int32))
    save_model_dir(tmp_path / "trained", model, charset, SMALL)
    save_model_dir(tmp_path / "fresh", build_model(charset.num_classes, SMALL), charset, SMALL)
    trained, fresh = (tmp_path / d / "model.keras" for d in ("trained", "fresh"))
    assert trained.stat().st_size < 1.2 * fresh.stat().st_size
    loaded, _, _ = load_model_dir(tmp_path / "trained")
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), model.get_weights()))
