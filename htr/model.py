"""The network: CNN + bidirectional LSTM (or 1-D convolutions) + per-frame scores over the
charset, trained with CTC.

Written in backend-neutral Keras 3 (``keras.layers``, ``keras.ops``, ``keras.losses.CTC``) so the
same code trains under JAX or PyTorch on a GPU machine and the saved ``.keras`` file loads in
TensorFlow on a CPU. The input is one fixed height and any width, so one model reads a single word
or a whole line. The output is logits; :func:`htr.decode` applies the softmax.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelError
from .text import Charset

if TYPE_CHECKING:
    import keras

# Keras (so TensorFlow) is imported inside the functions that build, load or save a network: the
# configuration, the file names and :func:`read_model_dir` serve readers that run the network in
# ONNX Runtime, and a 4-second TensorFlow import would be most of a short command's time.

#: Time steps per input column: the CNN halves the width twice.
WIDTH_REDUCTION = 4


@dataclass(frozen=True)
class ModelConfig:
    """Size and shape of the network. ``conv`` lists the filters of each 3x3 conv block; pooling
    halves height and width after the first two blocks and only the height after some later ones.

    ``sequence`` is what reads along the line: ``"lstm"``, ``lstm_layers`` bidirectional LSTMs of
    ``lstm_units`` each way, or ``"conv"``, ``conv1d_layers`` residual depthwise-separable 1-D
    convolutions of width ``conv1d_kernel`` frames and ``2 * lstm_units`` channels (a BiLSTM's
    output width), which on 2 CPU cores train 1.6-2.2x (median 1.9x) and read about 3x as fast
    (``bench/bench_training.py``) and export to TFLite without Flex ops. ``separable`` makes
    every conv block but the first depthwise-separable; ``column_pool`` max-pools each column's
    remaining rows into one feature vector instead of stacking them (Retsinas et al. 2022).

    ``residual_lstm_layers`` more bidirectional LSTMs (``"lstm"`` only) each add their reading
    to what the layers below read, through a projection (``x + W·BiLSTM(x)``): capacity a trained
    network can grow by without starting again (``W`` starts at zero, so a network grown by
    :func:`add_residual_lstm_layers` reads exactly as before until it is trained).

    ``read_shifts`` is how the trained network is best read, not its shape: each line goes
    through it once per shift, moved that many rows down (negative: up), and the readings' logits
    are averaged (:func:`htr.runtimes.batched_probabilities`); empty, the line is read once as it
    is. Set in a model folder's ``config.json`` once measured (``python -m htr evaluate
    --read-shifts``, which also overrides it, as ``read --read-shifts`` does).
    ``wordbeam_gap_offset`` is the shift of the logits of the CTC blank and the space that word
    beam search reads the network with (:func:`htr.wordbeam.word_beam_search`'s ``gap_offset``;
    greedy reads the weights as they are), measured by ``python -m htr blank-offset --decoder
    wordbeam``; ``wordbeam_word_gap_offset`` the same shift for an image read as one word (given
    as a word, or a crop ``auto`` finds no wider than one), measured with ``--level word``
    (None: the lines' shift). Single words want a smaller shift than lines: a line's letters
    dropped inside a lexicon word cost more than a word image's spaces and letters invented."""

    height: int = 40
    conv: tuple[int, ...] = (32, 64, 96, 96, 128, 128)
    pool_height_after: tuple[int, ...] = (0, 1, 3, 5)  # block indices followed by pooling
    lstm_units: int = 192
    lstm_layers: int = 2
    dropout: float = 0.25
    sequence: str = "lstm"
    conv1d_layers: int = 4
    conv1d_kernel: int = 7
    separable: bool = False
    column_pool: bool = False
    residual_lstm_layers: int = 0
    read_shifts: tuple[int, ...] = ()
    wordbeam_gap_offset: float = 0.0
    wordbeam_word_gap_offset: float | None = None

    @property
    def words_gap_offset(self) -> float:
        """The shift word beam search reads an image of one word with: ``wordbeam_word_gap_offset``,
        or the lines' where the folder sets none."""
        if self.wordbeam_word_gap_offset is None:
            return self.wordbeam_gap_offset
        return self.wordbeam_word_gap_offset

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**fields)


#: Presets for ``train.py --size``: measured trade-offs between speed on 2 cores and accuracy.
SIZES: dict[str, ModelConfig] = {
    "small": ModelConfig(conv=(16, 32, 48, 48, 64, 64), lstm_units=96),
    "medium": ModelConfig(),
    "large": ModelConfig(height=48, conv=(32, 64, 128, 128, 192, 192), lstm_units=256, lstm_layers=3),
    # No LSTM: separable convolutions, column pooling and 4 residual 1-D convolutions.
    "fast": ModelConfig(sequence="conv", separable=True, column_pool=True),
    # The same, wider and deeper: the capacity the conv-only network's speed pays for.
    "fast-large": ModelConfig(conv=(48, 96, 160, 160, 256, 256), lstm_units=256, sequence="conv",
                              conv1d_layers=6, separable=True, column_pool=True),
}


def build_model(num_classes: int, config: ModelConfig = ModelConfig()) -> keras.Model:
    """Build the CRNN for ``num_classes`` outputs (charset plus the CTC blank at index 0)."""
    import keras
    from keras import layers

    if config.sequence not in ("lstm", "conv"):
        raise ValueError(f"unknown sequence layers {config.sequence!r}: 'lstm' or 'conv'")
    inputs = keras.Input(shape=(config.height, None, 1), name="image")
    x = inputs
    height = config.height
    for i, filters in enumerate(config.conv):
        conv = layers.SeparableConv2D if config.separable and i else layers.Conv2D
        x = conv(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
        if i in config.pool_height_after:
            # Only the first two poolings reduce the width: that keeps enough frames per character.
            pool = (2, 2) if i in config.pool_height_after[:2] else (2, 1)
            x = layers.MaxPooling2D(pool, name=f"pool{i}")(x)
            height //= 2
    if config.column_pool:  # (batch, h, w, c) -> (batch, w, c): the strongest row per column
        x = layers.MaxPooling2D((height, 1), name="column_pool")(x)
        height = 1
    # (batch, h, w, c) -> (batch, w, h * c): one feature vector per column.
    x = layers.Permute((2, 1, 3), name="columns")(x)
    x = layers.Reshape((-1, height * config.conv[-1]), name="frames")(x)
    width = config.lstm_units * 2
    x = layers.Dense(width, activation="relu", name="project")(x)
    x = layers.Dropout(config.dropout, name="drop_in")(x)
    if config.sequence == "lstm":
        for i in range(config.lstm_layers):
            x = layers.Bidirectional(layers.LSTM(config.lstm_units, return_sequences=True),
                                     name=f"bilstm{i}")(x)
            x = layers.Dropout(config.dropout, name=f"drop{i}")(x)
        for i in range(config.residual_lstm_layers):
            y = layers.Bidirectional(layers.LSTM(config.lstm_units, return_sequences=True),
                                     name=f"res_bilstm{i}")(x)
            # From zero: a network grown by this layer reads as before until trained.
            y = layers.Dense(width, kernel_initializer="zeros", name=f"res_project{i}")(y)
            y = layers.Dropout(config.dropout, name=f"res_drop{i}")(y)
            x = layers.Add(name=f"res_add{i}")([x, y])
    else:
        for i in range(config.conv1d_layers):
            y = layers.SeparableConv1D(width, config.conv1d_kernel, padding="same", use_bias=False,
                                       name=f"seq{i}")(x)
            y = layers.BatchNormalization(name=f"seq_bn{i}")(y)
            y = layers.Activation("relu", name=f"seq_relu{i}")(y)
            y = layers.Dropout(config.dropout, name=f"drop{i}")(y)
            x = layers.Add(name=f"seq_add{i}")([x, y])
    # Float32 logits under a mixed (bfloat16) policy: the softmax and CTC need the range.
    logits = layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name="crnn")


def compile_model(model: keras.Model, learning_rate: float = 1e-3,
                  optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
    """Attach the optimiser (a new Adam, or ``optimizer`` to keep its state) and the CTC loss
    (labels padded with 0, the blank)."""
    import keras
    # Under TensorFlow, XLA recompiles for every batch shape, which costs more than it saves
    # with variable-width images on a CPU; JAX always compiles.
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate, clipnorm=5.0),
                  loss=keras.losses.CTC(), jit_compile=keras.backend.backend() != "tensorflow")
    return model


MODEL_FILE = "model.keras"
CHARSET_FILE = "charset.json"
CONFIG_FILE = "config.json"


def save_model_dir(directory: str | Path, model: keras.Model, charset: Charset,
                   config: ModelConfig) -> None:
    """Write a model folder: the weights, its charset and its configuration, side by side."""
    import keras
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if getattr(model, "optimizer", None) is not None:
        # Ship the weights alone: the optimiser's state would triple the file for nothing.
        trained, model = model, keras.Model.from_config(model.get_config())
        model.set_weights(trained.get_weights())
    model.save(d / MODEL_FILE)
    charset.save(d / CHARSET_FILE)
    write_model_config(d, config)


def write_model_config(directory: str | Path, config: ModelConfig) -> None:
    """Write a model folder's configuration alone (how its network is read, say), leaving its
    weights, and so their calibration, as they are."""
    (Path(directory) / CONFIG_FILE).write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def read_model_dir(directory: str | Path) -> tuple[Charset, ModelConfig]:
    """The charset and configuration of a model folder written by :func:`save_model_dir`
    (its weights are checked to be there, not loaded); :class:`ModelError` when a file is
    missing."""
    d = Path(directory)
    missing = [f for f in (MODEL_FILE, CHARSET_FILE, CONFIG_FILE) if not (d / f).is_file()]
    if missing:
        raise ModelError(f"{d}: not a model folder (missing {', '.join(missing)})")
    config = ModelConfig.from_dict(json.loads((d / CONFIG_FILE).read_text()))
    return Charset.load(d / CHARSET_FILE), config


def load_model_dir(directory: str | Path) -> tuple[keras.Model, Charset, ModelConfig]:
    """Read a model folder written by :func:`save_model_dir`: ``(model, charset, config)``."""
    import keras
    d = Path(directory)
    charset, config = read_model_dir(d)
    model = keras.saving.load_model(d / MODEL_FILE, compile=False)
    if model.output_shape[-1] != charset.num_classes:
        raise ModelError(f"{d}: model has {model.output_shape[-1]} outputs but the charset "
                         f"needs {charset.num_classes}")
    return model, charset, config


def load_weights_into(model: keras.Model, source: str | Path) -> keras.Model:
    """Put the weights of ``source`` into ``model`` (same network): a model folder, a ``.keras``
    file (a training checkpoint, its optimiser ignored) or a ``.weights.h5`` file."""
    import keras
    path = Path(source)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise ModelError(f"{source}: no such model folder or weights file")
    try:
        if path.name.endswith(".weights.h5"):
            model.load_weights(path)
        else:
            other = keras.saving.load_model(path, compile=False)
            model.set_weights(other.get_weights())
    except ValueError as exc:  # shapes or layer count differ
        raise ModelError(f"{source}: not a snapshot of this network ({exc})") from None
    return model


def widen_charset(model: keras.Model, config: ModelConfig, old: Charset, new: Charset) -> keras.Model:
    """The same network for a larger charset ``new`` (a superset of ``old``): every layer's
    weights are kept, and each character of ``old`` keeps its row of the output layer, so the
    widened network reads exactly as before until it is trained.

    A new accented letter starts from its base letter's output weights (``é`` from ``e``) with
    its bias 3 lower: the features that see an ``e`` already exist, and fine-tuning only has to
    learn the accent, not the letter; other new characters start from zero weights at the
    lowest bias of the old characters (rarely written until trained)."""
    missing = set(old.chars) - set(new.chars)
    if missing:
        raise ModelError(f"the new charset lacks {''.join(sorted(missing))!r} of the old one")
    wide = build_model(new.num_classes, config)
    for layer in model.layers:
        if layer.name != "logits" and layer.weights:
            wide.get_layer(layer.name).set_weights(layer.get_weights())
    kernel, bias = model.get_layer("logits").get_weights()
    new_kernel = np.zeros((kernel.shape[0], new.num_classes), kernel.dtype)
    new_bias = np.full(new.num_classes, bias[1:].min(), bias.dtype)
    new_kernel[:, Charset.BLANK], new_bias[Charset.BLANK] = kernel[:, Charset.BLANK], bias[Charset.BLANK]
    for c in new.chars:
        j = new.encode(c)[0]
        if c in old.chars:
            i = old.encode(c)[0]
            new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i]
            continue
        base = unicodedata.normalize("NFD", c)[0]
        if base != c and base in old.chars:
            i = old.encode(base)[0]
            new_kernel[:, j], new_bias[j] = kernel[:, i], bias[i] - 3.0
    wide.get_layer("logits").set_weights([new_kernel, new_bias])
    return wide


def add_residual_lstm_layers(model: keras.Model, config: ModelConfig, count: int
                             ) -> tuple[keras.Model, ModelConfig]:
    """``model`` with ``count`` more residual BiLSTM layers on top of its sequence layers (see
    :class:`ModelConfig`), and the grown configuration. Every layer it had keeps its weights and
    each new layer's projection starts at zero, so the grown network reads exactly as ``model``
    until training moves it: a way to more capacity that keeps what hours of training learnt."""
    if config.sequence != "lstm":
        raise ModelError("residual LSTM layers go on a network whose sequence layers are LSTMs")
    if count < 1:
        raise ModelError(f"cannot add {count} layers")
    grown_config = replace(config, residual_lstm_layers=config.residual_lstm_layers + count)
    grown = build_model(model.output_shape[-1], grown_config)
    for layer in model.layers:
        if layer.weights:
            grown.get_layer(layer.name).set_weights(layer.get_weights())
    return grown, grown_config


def shift_blank_logit(model: keras.Model, offset: float) -> keras.Model:
    """Add ``offset`` to the CTC blank's bias in the output layer (in place), which multiplies the
    blank's odds against every character by ``exp(offset)`` in every frame.

    A CTC network that does not fit its data well learns to play safe with the blank: on new
    writers it drops characters far more often than it invents them (run 9., greedy: 10 deletions
    for every insertion on the IAM validation lines, 29 on Hooker's). A negative offset trades
    some of those deletions for insertions; :func:`htr.evaluate.blank_offset_sweep` measures
    where the trade pays off (it does not on form fields in capitals, which gain insertions)."""
    layer = model.get_layer("logits")
    kernel, bias = layer.get_weights()
    bias = bias.copy()
    bias[Charset.BLANK] += offset
    layer.set_weights([kernel, bias])
    return model


def average_snapshots(reference: str | Path, snapshots: Sequence[str | Path]
                      ) -> tuple[keras.Model, Charset, ModelConfig]:
    """The element-wise mean of the weights of ``snapshots`` of one network, e.g. the last epochs
    of a fine-tuning run at a low learning rate: when those epochs wander about one basin, the
    mean lies nearer its middle and can read better than any of them; while a run still
    improves, the early epochs pull the mean back (both measured in the shipped model's card).
    ``reference`` is a model folder of that network: its charset and configuration go with the
    result. Batch-norm statistics are averaged like the weights."""
    if not snapshots:
        raise ModelError("no snapshots to average")
    model, charset, config = load_model_dir(reference)
    dtypes = [w.dtype for w in model.get_weights()]
    total = None
    for source in snapshots:
        weights = [w.astype(np.float64) for w in load_weights_into(model, source).get_weights()]
        total = weights if total is None else [t + w for t, w in zip(total, weights)]
    model.set_weights([(t / len(snapshots)).astype(d) for t, d in zip(total, dtypes)])
    return model, charset, config
