"""The recognition network in other runtimes: exported to ONNX and TFLite, and read back with
ONNX Runtime and LiteRT (TFLite) through the same contract as :class:`htr.Recognizer`.

What is exported is the network up to its per-frame scores (logits); preprocessing
(:func:`htr.image.preprocess`) and decoding (:mod:`htr.decode`, :mod:`htr.wordbeam`) stay in our
code, and a model card beside each file (``FILE.card.json`` and ``FILE.card.md``) says what goes
in and what comes out.

- ONNX (tf2onnx, opset :data:`ONNX_OPSET`): any batch and any width; tf2onnx turns each Keras LSTM
  into ONNX's own ``LSTM`` op. ``float16`` converts the weights and arithmetic to half precision
  (inputs and outputs stay float32); ``int8`` is ONNX Runtime's dynamic quantisation (int8
  weights, activations quantised on the fly): smaller, but slower on a PC (its convolutions
  become ``ConvInteger``). ``int8-static`` (:data:`STATIC_INT8`) is the fast one: the
  convolutions run in int8 with their activations' ranges measured beforehand on calibration
  lines (:func:`calibration_inputs`), and the LSTMs quantise their activations on the fly; the
  shipped model's own ``model.onnx`` is such a file.
- TFLite (``tf.lite.TFLiteConverter``): built-in operators only (no Flex ops, so it runs in any
  LiteRT, a phone's included). With a batch of one the converter can lower the LSTMs' tensor
  lists to built-in ops (a ``WHILE`` loop of fully connected layers), which it cannot with a
  variable batch; so the TFLite file reads **one line at a time, of any width**. ``float16``
  stores half-precision weights (computed in float32); ``int8`` is dynamic-range quantisation
  (int8 weights, float activations; no representative data set needed).

:class:`OnnxNetwork` and :class:`TFLiteNetwork` load a file and answer ``predict_on_batch`` (what
a Recognizer asks of its Keras model) and ``probabilities`` (what :meth:`Recognizer.probabilities`
answers), so our decoders read their output unchanged. :func:`onnx_file_for` finds the ONNX file
of a model folder's weights for ``Recognizer.load(..., backend="onnx")``.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cache import cache_dir as shared_cache_dir
from .errors import DataError, ModelError
from .files import write_atomically
from .text import Charset

if TYPE_CHECKING:
    from .model import ModelConfig

# htr.model (Keras, so TensorFlow) is imported where it is used: the command line imports this
# module for its choices before it quiets TensorFlow's start-up chatter.

#: The files :func:`export_network` writes.
FORMATS = ("onnx", "tflite")
#: Ways to make an exported file smaller (None: float32 as trained), needing no data.
QUANTIZATIONS = ("float16", "int8")
#: ONNX only: int8 convolutions calibrated on line images, int8 LSTM weights. On 2 cores it
#: reads a batch of 32 lines about twice as fast as float32 (README, "Other runtimes").
STATIC_INT8 = "int8-static"
#: The convolution stack's operators quantised statically: with the ReLUs and the pooling
#: between the convolutions quantised too, each convolution's int8 output feeds the next one
#: directly (with the convolutions alone, converting to and from float between them took a
#: quarter of the network's time and bought 7% instead of 32%).
STATIC_INT8_OPS = ("Conv", "Relu", "MaxPool")
#: Runtimes a :class:`htr.Recognizer` reads with (:func:`default_backend` picks one when none
#: is named).
BACKENDS = ("tensorflow", "onnx")
#: The environment variable that picks a Recognizer's backend when none is named.
BACKEND_ENV = "HTR_BACKEND"
#: ONNX opset of exported files: ONNX Runtime 1.16 and later read it, and it has the LSTM op.
ONNX_OPSET = 17
#: A model folder's ONNX file (exported by ``python -m htr export --format onnx``).
ONNX_FILE = "model.onnx"
#: Name of the exported network's input and output.
INPUT_NAME, OUTPUT_NAME = "image", "logits"


def card_path(path: str | Path, suffix: str = ".json") -> Path:
    """The model card beside an exported file: ``FILE.card.json`` (or ``.md``)."""
    path = Path(path)
    return path.with_name(f"{path.name}.card{suffix}")


def read_card(path: str | Path) -> dict:
    """The JSON model card of an exported file ({} when it has none)."""
    card = card_path(path)
    return json.loads(card.read_text()) if card.is_file() else {}


def export_network(fmt: str, output: str | Path, model_dir: str | Path | None = None,
                   quantize: str | None = None, calibration: Calibration | None = None) -> Path:
    """Write the network of ``model_dir`` (the shipped model when None) to ``output`` in ``fmt``
    (:data:`FORMATS`), optionally quantised (:data:`QUANTIZATIONS`, or :data:`STATIC_INT8` for
    ONNX with ``calibration``, the lines whose activations set its ranges), with its model card
    beside it. Returns ``output``. Needs TensorFlow (and tf2onnx for ONNX)."""
    from .decode import model_fingerprint
    from .model import MODEL_FILE, load_model_dir
    from .recognizer import DEFAULT_MODEL

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if quantize not in (None, *QUANTIZATIONS, STATIC_INT8):
        raise ValueError(f"unknown quantisation {quantize!r}: choose one of "
                         f"{', '.join((*QUANTIZATIONS, STATIC_INT8))}")
    if quantize == STATIC_INT8 and fmt != "onnx":
        raise ValueError(f"{STATIC_INT8} is for ONNX only")
    if (quantize == STATIC_INT8) != (calibration is not None):
        raise ValueError(f"calibration lines go with {STATIC_INT8} quantisation, and it needs them")
    if calibration is not None and not calibration.inputs:
        raise ValueError("no calibration lines")
    directory = Path(model_dir or DEFAULT_MODEL)
    model, charset, config = load_model_dir(directory)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "onnx":
        data = _onnx_bytes(model, config, quantize, calibration)
    else:
        data = _tflite_bytes(model, config, quantize)
    write_atomically(output, data)  # a backend that finds the file never finds half of it
    card = _card(fmt, quantize, output, directory, model_fingerprint(directory / MODEL_FILE),
                 charset, config, calibration)
    card_path(output).write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n")
    card_path(output, ".md").write_text(_card_markdown(card))
    return output


def _inference_function(model, shape: tuple, name: str):
    """The Keras network as a TensorFlow function of one image batch of ``shape`` (None: any
    size), in inference mode, and its input's spec."""
    import tensorflow as tf

    spec = tf.TensorSpec(shape, tf.float32, name=name)
    return tf.function(lambda image: model(image, training=False)), spec


def _frozen_function(model, batch: int | None):
    """The Keras network as a TensorFlow function of one image batch, its weights made
    constants: given the variables, the TFLite converter wrote a 73 KB file whose variables were
    never filled (``convert_variables_to_constants_v2`` is what tf2onnx itself uses)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    function, spec = _inference_function(model, (batch, model.input_shape[1], None, 1), INPUT_NAME)
    return function, spec, convert_variables_to_constants_v2(function.get_concrete_function(spec))


def keras_to_onnx(model, shape: tuple, name: str = INPUT_NAME):
    """A Keras image network as an ONNX model (tf2onnx, opset :data:`ONNX_OPSET`), its input
    ``name`` of ``shape`` (None: any size); the recognizer's export and the line network's
    (:func:`htr.linemask_training.export_onnx`) both go through it."""
    import tf2onnx

    function, spec = _inference_function(model, shape, name)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=ONNX_OPSET)
    return proto


def _onnx_bytes(model, config: ModelConfig, quantize: str | None,
                calibration: Calibration | None = None) -> bytes:
    proto = keras_to_onnx(model, (None, model.input_shape[1], None, 1))
    _rename_output(proto, OUTPUT_NAME)
    if quantize == STATIC_INT8:
        return _static_int8(proto, calibration, config.read_shifts)
    if quantize == "float16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        proto = convert_float_to_float16(proto, keep_io_types=True)
    elif quantize == "int8":
        return _dynamic_int8(proto.SerializeToString())
    return proto.SerializeToString()


@dataclass(frozen=True)
class Calibration:
    """Line images (preprocessed network inputs) that set a statically quantised network's
    activation ranges, and what they were taken from (for the model card)."""

    inputs: tuple[np.ndarray, ...]
    source: str
    #: The export command's options that draw the same lines.
    options: str = ""


def calibration_inputs(specs: Sequence[str], height: int, per_set: int = 64, seed: int = 0
                       ) -> Calibration:
    """:class:`Calibration` lines: ``per_set`` line images of each data set (``KIND:PATH``),
    drawn at random (seeded) from its **training** split, so that the validation sets stay
    unseen, and preprocessed as the recognizer preprocesses them."""
    from .image import preprocess
    from .readers import DataSpec, open_data
    from .readers.base import split_of

    inputs, names = [], []
    rng = np.random.default_rng(seed)
    for text in specs:
        spec = DataSpec.parse(text)
        samples = [s for s in open_data(spec) if split_of(s) == "train"]
        if not samples:
            raise DataError(f"{spec.name}: no training lines to calibrate on")
        picked = rng.choice(len(samples), min(per_set, len(samples)), replace=False)
        inputs += [preprocess(samples[i].image(), height) for i in sorted(picked)]
        names.append(f"{spec.name} ({len(picked)})")
    return Calibration(tuple(inputs), "training lines of " + ", ".join(names),
                       " ".join(f"--calibrate {t}" for t in specs) + f" --calibrate-lines {per_set}")


def _static_int8(proto, calibration: Calibration, read_shifts: Sequence[int]) -> bytes:
    """``proto`` with its convolution stack quantised statically and its LSTMs dynamically
    (:func:`quantize_onnx`). The calibration lines are batched, padded and shifted as
    :func:`batched_probabilities` feeds the network, so the ranges are those it will meet."""
    shifts = tuple(read_shifts) or (0,)
    copies = [shift_rows(x, shifts[i % len(shifts)]) for i, x in enumerate(calibration.inputs)]
    batches = [batch for _, batch in padded_batches(copies, 16)]
    return quantize_onnx(proto.SerializeToString(), batches, STATIC_INT8_OPS, ("LSTM",))


def quantize_onnx(model: bytes, batches: Sequence[np.ndarray], static_ops: Sequence[str],
                  dynamic_ops: Sequence[str] = ()) -> bytes:
    """An ONNX network (one input) quantised to int8: the ``static_ops`` with int8 weights per
    channel and uint8 activations whose ranges are the extremes met on ``batches`` (its
    inputs, as it will be fed), the ``dynamic_ops`` with int8 weights, their activations
    quantised on the fly (ONNX Runtime's QDQ static and dynamic quantisation)."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    name = onnx.load_from_string(model).graph.input[0].name

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(batches)

        def get_next(self) -> dict | None:
            batch = next(self.left, None)
            return None if batch is None else {name: np.asarray(batch, np.float32)}

    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared, static = (Path(tmp) / f"{n}.onnx" for n in ("plain", "prepared", "static"))
        plain.write_bytes(model)
        quant_pre_process(plain, prepared, skip_symbolic_shape=True)  # shapes for the quantiser
        quantize_static(prepared, static, Batches(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=list(static_ops), per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        quantised = static.read_bytes()
    return _dynamic_int8(quantised, dynamic_ops) if dynamic_ops else quantised


def _dynamic_int8(model: bytes, ops: Sequence[str] | None = None) -> bytes:
    """An ONNX network with int8 weights in its ``ops`` (None: every kind ONNX Runtime
    quantises), their activations quantised on the fly (dynamic quantisation)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        plain, quantised = Path(tmp) / "plain.onnx", Path(tmp) / "int8.onnx"
        plain.write_bytes(model)
        quantize_dynamic(plain, quantised, weight_type=QuantType.QInt8,
                         op_types_to_quantize=None if ops is None else list(ops))
        return quantised.read_bytes()


def _rename_output(proto, name: str) -> None:
    """Call the graph's one output ``name`` (tf2onnx names it after a TensorFlow tensor)."""
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
        node.input[:] = [name if i == old else i for i in node.input]
    proto.graph.output[0].name = name


def _tflite_bytes(model, config: ModelConfig, quantize: str | None) -> bytes:
    import tensorflow as tf

    _, _, frozen = _frozen_function(model, 1)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], model)
    # Built-in operators only: a file that needs Flex (TensorFlow) ops is refused here rather
    # than shipped to a phone runtime that cannot read it.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def _card(fmt: str, quantize: str | None, output: Path, directory: Path, fingerprint: str,
          charset: Charset, config: ModelConfig, calibration: Calibration | None = None) -> dict:
    from .model import MODEL_FILE, WIDTH_REDUCTION

    batch = "any" if fmt == "onnx" else 1
    return {
        "file": output.name,
        "format": fmt,
        "runtime": "ONNX Runtime (onnxruntime)" if fmt == "onnx"
                   else "LiteRT / TensorFlow Lite, built-in operators only",
        "opset": ONNX_OPSET if fmt == "onnx" else None,
        "quantization": quantize or "none (float32)",
        **({"calibration": f"{len(calibration.inputs)} {calibration.source}, each shifted by "
                           f"one of the model's row shifts {list(config.read_shifts)} in turn "
                           "and batched as the recognizer batches lines"}
           if calibration is not None else {}),
        "source": {"model_folder": directory.name, "weights": MODEL_FILE,
                   "weights_sha256_16": fingerprint},
        "input": {
            "name": INPUT_NAME, "dtype": "float32", "layout": "NHWC",
            "shape": [batch, config.height, "width", 1],
            "height": config.height,
            "width": "any (one line or word); htr.image.preprocess makes it a multiple of 32",
            "batch": batch,
            "values": "grey image with ink = 1.0 and paper = 0.0, as htr.image.preprocess makes "
                      "it: lighting corrected, a tilted line sheared level, cut to its ink and "
                      f"scaled to {config.height} rows; lines of a batch are zero padded on the "
                      "right (blank paper)",
        },
        "output": {
            "name": OUTPUT_NAME, "dtype": "float32",
            "shape": [batch, "frames", charset.num_classes],
            "frames": f"One frame per {WIDTH_REDUCTION} input columns: a line of content width w "
                      f"(before padding) keeps its first ceil(w / {WIDTH_REDUCTION}) frames",
            "values": "logits (not normalised): apply a softmax over the last axis",
            "blank_index": Charset.BLANK,
        },
        "charset": {
            "classes": charset.num_classes,
            "blank": Charset.BLANK,
            "chars": "".join(charset.chars),
            "mapping": "class 0 is the CTC blank; class i >= 1 is chars[i - 1]",
        },
        "read_shifts": list(config.read_shifts),
        "decoding": _decoding_note(output.name, config.read_shifts, config.wordbeam_gap_offset,
                                   config.words_gap_offset),
        "made_by": f"python -m htr export --format {fmt}"
                   + (f" --quantize {quantize}" if quantize else "")
                   + (f" {calibration.options}" if calibration is not None else "")
                   + f" --output {output.name}",
    }


def _decoding_note(name: str, read_shifts: Sequence[int], gap_offset: float = 0.0,
                   word_gap_offset: float | None = None) -> str:
    """The card's word on decoding the file's logits as the model folder decodes them."""
    shifts = tuple(read_shifts)
    twice = (f"The model folder reads each line once per row shift {list(shifts)} (the input "
             "moved that many rows down, blank paper coming in) and takes the softmax of the "
             "readings' mean logits (htr.runtimes.batched_probabilities). " if shifts else "")
    call = f"probabilities(inputs, row_shifts={shifts})" if shifts else "probabilities(inputs)"
    return (twice + "CTC: greedy (argmax per frame, merge repeats, drop blanks) is "
            "htr.decode.greedy_decode; the lexicon decoders are htr.beam and htr.wordbeam "
            "(models/default/lexicon.npz)"
            + (f", word beam search with the blank's and the space's logits shifted by {gap_offset:g} "
               "(config.json's wordbeam_gap_offset)" if gap_offset else "")
            + (f", by {word_gap_offset:g} for an image read as one word (wordbeam_word_gap_offset)"
               if word_gap_offset is not None and word_gap_offset != gap_offset else "")
            + f". In Python: htr.runtimes.load_network('{name}')."
            f"{call} gives what Recognizer.probabilities gives.")


def _card_markdown(card: dict) -> str:
    i, o, c = card["input"], card["output"], card["charset"]
    return "\n".join([
        f"# {card['file']}: the handwriting recogniser's network ({card['format']})", "",
        f"- Runtime: {card['runtime']}" + (f", opset {card['opset']}" if card["opset"] else ""),
        f"- Quantisation: {card['quantization']}"
        + (f" (activation ranges from {card['calibration']})" if "calibration" in card else ""),
        f"- Made from `{card['source']['model_folder']}/{card['source']['weights']}` "
        f"(SHA-256 {card['source']['weights_sha256_16']}...) by `{card['made_by']}`", "",
        "## Input", "",
        f"`{i['name']}`, {i['dtype']}, {i['layout']} {i['shape']}: batch {i['batch']}, height "
        f"{i['height']}, width {i['width']}.", "", i["values"] + ".", "",
        "## Output", "",
        f"`{o['name']}`, {o['dtype']} {o['shape']}: {o['values']}. {o['frames']}. "
        f"Blank index {o['blank_index']}.", "",
        "## Charset", "",
        f"{c['classes']} classes; {c['mapping']}:", "", "```", c["chars"], "```", "",
        "## Decoding", "", card["decoding"], "",
    ])


#: Blank paper after each batch's widest line: this share of its width, at most
#: :data:`TRAILING_PAPER_MAX` columns. The network was trained on batches padded to the widest of
#: lines of like text length and on to a multiple of 128 columns, so ink was nearly always
#: followed by blank paper (in Model 2's training batches a median of 190-450 columns for
#: images under 1,000 columns wide), and its recurrent layers read backwards from it. A line
#: read with no paper after it was read worse; with this, on 300 validation lines of each set
#: (wordbeam CER): Hooker 28.28% -> 25.23%, Copiste 32.79% -> 28.88%, IAM lines 7.89% -> 6.65%,
#: IAM-OnDB words 7.26% -> 5.96%, Kaggle names 30.59% -> 20.79%. A fixed 256 columns read lines
#: as well but single words and names worse (8.75%, 31.09%), although words were trained with
#: as much paper after them; paper before the ink (none in training) read every set worse.
TRAILING_PAPER = 0.5
TRAILING_PAPER_MAX = 256
#: What one more batch costs the network, in lines of its width: the recurrent layers step
#: through a batch's columns one by one, at a price that hardly grows with the lines side by
#: side (ONNX Runtime on 2 cores, the shipped network: 15 us a column for one line, 6.3 for each
#: of 8 or more). See :func:`width_batches`.
BATCH_SETUP_LINES = 1.3


def padded_width(width: int) -> int:
    """The width a batch whose widest line is ``width`` columns wide is read at
    (:data:`TRAILING_PAPER`)."""
    return width + min(int(TRAILING_PAPER * width), TRAILING_PAPER_MAX)


def width_batches(widths: Sequence[int], batch_size: int = 32,
                  setup: float = BATCH_SETUP_LINES) -> list[list[int]]:
    """Indices of ``widths`` grouped into batches, narrowest first, so that reading every batch
    at its :func:`padded_width` costs least: a batch of ``n`` lines read at width ``w`` is priced
    ``w * (setup + n)``, and the cheapest cut of the sorted widths into runs of at most
    ``batch_size`` is found exactly (dynamic programming). Padded to the widest of them all,
    42% of the network's work on a page's lines went on padding (12 Hooker pages)."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    w = [padded_width(widths[i]) for i in order]
    n = len(w)
    cost, cut = [0.0] + [float("inf")] * n, [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - batch_size), end):
            c = cost[start] + w[end - 1] * (setup + end - start)
            if c < cost[end]:
                cost[end], cut[end] = c, start
    batches, end = [], n
    while end:
        batches.append(order[cut[end]:end])
        end = cut[end]
    return batches[::-1]


def batched_probabilities(network, inputs: Sequence[np.ndarray], batch_size: int = 32,
                          row_shifts: Sequence[int] = ()) -> list[np.ndarray]:
    """Per-frame probabilities of preprocessed images from any network with
    ``predict_on_batch``: batched as :meth:`htr.Recognizer.probabilities` batches them
    (:func:`width_batches`, zero padded to the batch's :func:`padded_width`), so every runtime
    reads the same padded inputs and gives the same text.

    ``row_shifts`` (:attr:`htr.model.ModelConfig.read_shifts`): each image is read once per
    shift, moved that many rows down (up where negative), and the probabilities are the softmax
    of the mean of those readings' logits (the normalised geometric mean of their probabilities);
    empty, each image is read once as it is."""
    from .decode import softmax
    from .model import WIDTH_REDUCTION

    shifts = tuple(row_shifts) or (0,)
    # Every shifted copy is batched with the others: copies of one image share its width.
    copies = [shift_rows(x, d) for d in shifts for x in inputs]
    logits_of: list[np.ndarray | None] = [None] * len(copies)
    for chunk, batch in padded_batches(copies, batch_size):
        logits = np.asarray(network.predict_on_batch(batch))
        for row, i in enumerate(chunk):
            frames = -(-copies[i].shape[1] // WIDTH_REDUCTION)
            logits_of[i] = logits[row, :frames]
    n = len(inputs)
    return [softmax(np.mean([logits_of[k * n + i] for k in range(len(shifts))], axis=0))
            for i in range(n)]


def padded_batches(images: Sequence[np.ndarray], batch_size: int
                   ) -> Iterator[tuple[list[int], np.ndarray]]:
    """Preprocessed images batched as the network reads them: with images of their width
    (:func:`width_batches`), each batch zero padded to its :func:`padded_width`. Yields each
    batch's image indices and the batch."""
    from .image import pad_batch

    for chunk in width_batches([x.shape[1] for x in images], batch_size):
        batch = [images[i] for i in chunk]
        yield chunk, pad_batch(batch, padded_width(max(x.shape[1] for x in batch)))


def shift_rows(image: np.ndarray, rows: int) -> np.ndarray:
    """A network input moved ``rows`` rows down (up where negative), blank paper (0) coming in
    at the other edge; the image itself for 0."""
    if rows == 0:
        return image
    out = np.zeros_like(image)
    if rows > 0:
        out[rows:] = image[:-rows]
    else:
        out[:rows] = image[-rows:]
    return out


class OnnxNetwork:
    """An exported ONNX file read with ONNX Runtime (CPU), answering like the Keras model."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3  # its warnings about unused initialisers are noise here
        # Idle threads sleep instead of spinning: on a machine busy with other work, spinning
        # threads took the cores from the ones working (measured: 22 against 35 lines/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
            raise ModelError(f"{self.path}: not an ONNX model ONNX Runtime can read ({exc})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.num_classes = self.session.get_outputs()[0].shape[-1]

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        """Logits ``(n, frames, classes)`` of a ``(n, height, width, 1)`` float32 batch."""
        return self.session.run(None, {self.input_name: np.asarray(batch, np.float32)})[0]

    def probabilities(self, inputs: Sequence[np.ndarray], batch_size: int = 32,
                      row_shifts: Sequence[int] = ()) -> list[np.ndarray]:
        """What :meth:`htr.Recognizer.probabilities` gives, from this file (with the model
        folder's ``read_shifts`` as ``row_shifts``: the file's card names them)."""
        return batched_probabilities(self, inputs, batch_size, row_shifts)


class TFLiteNetwork:
    """An exported TFLite file read with LiteRT (``ai_edge_litert``), answering like the Keras
    model. The file reads one image at a time (see the module's docstring): a batch is read row
    by row, each row at the batch's padded width, so that it reads what the Keras model reads."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such TFLite file")
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        except ValueError as exc:
            raise ModelError(f"{self.path}: not a TFLite model LiteRT can read ({exc})") from None
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self.num_classes = int(self.interpreter.get_output_details()[0]["shape"][-1])
        self._shape: tuple[int, ...] | None = None

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        """Logits ``(n, frames, classes)`` of a ``(n, height, width, 1)`` float32 batch."""
        batch = np.asarray(batch, np.float32)
        shape = (1, *batch.shape[1:])
        if shape != self._shape:  # a new width: the interpreter plans its tensors again
            self.interpreter.resize_tensor_input(self._input, shape)
            self.interpreter.allocate_tensors()
            self._shape = shape
        rows = []
        for row in batch:
            self.interpreter.set_tensor(self._input, row[None])
            self.interpreter.invoke()
            rows.append(self.interpreter.get_tensor(self._output)[0])
        return np.stack(rows)

    def probabilities(self, inputs: Sequence[np.ndarray], batch_size: int = 32,
                      row_shifts: Sequence[int] = ()) -> list[np.ndarray]:
        """What :meth:`htr.Recognizer.probabilities` gives, from this file (with the model
        folder's ``read_shifts`` as ``row_shifts``: the file's card names them)."""
        return batched_probabilities(self, inputs, batch_size, row_shifts)


def load_network(path: str | Path, threads: int | None = None) -> OnnxNetwork | TFLiteNetwork:
    """An exported file's runner, by its extension (``.onnx`` or ``.tflite``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return OnnxNetwork(path, threads)
    if suffix == ".tflite":
        return TFLiteNetwork(path, threads)
    raise ModelError(f"{path}: not an exported network (.onnx or .tflite)")


def cache_dir() -> Path:
    """Where networks exported on first use are kept (:func:`cached_export`): ``$HTR_CACHE/runtimes`` (default
    ``~/.cache/htr/runtimes``), outside the repository."""
    return shared_cache_dir("runtimes")


def default_backend(directory: str | Path) -> str:
    """The backend a model folder is read with when none is named: the ``HTR_BACKEND``
    environment variable, else ``onnx`` when the folder ships a ``model.onnx`` exported from its
    own weights (:func:`shipped_onnx_file`) and ONNX Runtime is installed, else ``tensorflow``.

    Both read the same text; ONNX Runtime runs the network faster and, above all, spares a
    command the 3-5 s TensorFlow import. A folder without its own ONNX file (a fine-tuned hand,
    a training run's) reads with TensorFlow rather than wait for an export."""
    named = os.environ.get(BACKEND_ENV)
    if named:
        return named
    if shipped_onnx_file(directory) is not None:
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is not None:
            return "onnx"
    return "tensorflow"


def shipped_onnx_file(directory: str | Path) -> Path | None:
    """The folder's own ``model.onnx`` when its card says it was exported from the folder's
    weights (``model.keras``), else None."""
    from .decode import model_fingerprint
    from .model import MODEL_FILE

    directory = Path(directory)
    weights, shipped = directory / MODEL_FILE, directory / ONNX_FILE
    if shipped.is_file() and weights.is_file() and \
            read_card(shipped).get("source", {}).get("weights_sha256_16") == model_fingerprint(weights):
        return shipped
    return None


def onnx_file_for(directory: str | Path) -> Path:
    """The ONNX file of a model folder's weights: the folder's own ``model.onnx`` when its card
    says it was exported from these weights, else one exported now into :func:`cache_dir`
    (once per weights; needs TensorFlow and tf2onnx; a folder without its weights is refused)."""
    return shipped_onnx_file(directory) or cached_export(directory, "onnx")


#: One export into the cache at a time in a process (a conversion holds the network and a few
#: hundred MB; two web requests for the same file must not both write it).
_EXPORTING = threading.Lock()


def cached_export(directory: str | Path, fmt: str, quantize: str | None = None) -> Path:
    """The network of a model folder in ``fmt`` (optionally quantised), exported once per
    weights, format and quantisation into :func:`cache_dir`, its card beside it: for the ONNX
    backend (:func:`onnx_file_for`) and the app's downloads."""
    from .decode import model_fingerprint
    from .model import MODEL_FILE

    directory = Path(directory)
    weights = directory / MODEL_FILE
    if not weights.is_file():
        raise ModelError(f"{directory}: not a model folder (missing {MODEL_FILE})")
    path = cache_dir() / f"{model_fingerprint(weights)}{'-' + quantize if quantize else ''}.{fmt}"
    with _EXPORTING:
        if not path.is_file() or not card_path(path).is_file():
            export_network(fmt, path, directory, quantize)
    return path


def load_onnx_dir(directory: str | Path, threads: int | None = None
                  ) -> tuple[OnnxNetwork, Charset, ModelConfig]:
    """A model folder read with ONNX Runtime: ``(network, charset, config)``, as
    :func:`htr.model.load_model_dir` gives the Keras model (which is not loaded)."""
    from .model import read_model_dir

    directory = Path(directory)
    charset, config = read_model_dir(directory)
    network = OnnxNetwork(onnx_file_for(directory), threads)
    if network.num_classes != charset.num_classes:
        raise ModelError(f"{network.path}: {network.num_classes} outputs but the charset of "
                         f"{directory} needs {charset.num_classes}")
    return network, charset, config
