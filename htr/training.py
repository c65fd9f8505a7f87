"""Training the recognizer: batches that keep both cores busy, per-epoch validation by writer or
document, the best checkpoint, early stopping, resuming, and the model card with its plots.

``train.py`` is a thin command line over :func:`train`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import keras
import numpy as np

from .augment import augment, preview_grid
from .distill import attach_teacher, load_teacher
from .errors import DataError, ModelError
from .evaluate import evaluate
from .image import pad_batch, preprocess
from .model import (CHARSET_FILE, CONFIG_FILE, MODEL_FILE, WIDTH_REDUCTION, ModelConfig,
                    add_residual_lstm_layers, build_model, compile_model, load_model_dir,
                    save_model_dir, widen_charset)
from .readers import DataSpec, Sample, open_data, split_of
from .recognizer import Recognizer
from .text import Charset

#: Training batches are padded to a multiple of this width, so the graph is traced for few shapes.
BATCH_WIDTH_STEP = 128

#: Batches whose samples are prepared together and then grouped by image width
#: (:class:`BatchSequence`): more groups closer widths, but holds more images in memory.
CHUNK_BATCHES = 32


@dataclass
class TrainConfig:
    """Everything that decides a training run (recorded in the model card)."""

    data: list[str]
    output: Path
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 50
    batch_size: int = 16
    learning_rate: float | None = None  # None: 1e-3 for a new run, the checkpoint's on resume
    epoch_size: int | None = None  # training samples per epoch; None = one pass over the data
    val_fraction: float = 0.1
    val_limit: int = 600  # validation samples per data set scored each epoch
    patience: int = 6
    time_budget_minutes: float | None = None
    augment_strength: float = 1.0
    seed: int = 1
    workers: int = 2
    resume: bool = False
    init_from: Path | None = None  # a model folder whose weights and charset start the run
    # With init_from: grow its charset by every character written at least this many times in
    # the training texts (e.g. French letters), widening the output layer (widen_charset).
    extend_charset: int | None = None
    # With init_from: add this many residual BiLSTM layers (add_residual_lstm_layers).
    grow: int = 0
    select: tuple[str, ...] = ()  # validation sets whose mean CER picks the best epoch (): all
    exclude: Path | None = None  # a leave-out list of training samples (read_exclusions)
    # A trained model folder whose readings guide this run (htr.distill); on resume, the run's own.
    teacher: Path | None = None
    distill_weight: float | None = None  # None: 1.0, or on resume the run's; 0 drops the teacher
    # The teacher reads each line moved by these rows (htr.distill); None: (), or on resume the run's.
    teacher_shifts: tuple[int, ...] | None = None
    command: str = ""


@dataclass
class DataSplit:
    """Training samples (weighted) and validation samples per data set."""

    train: list[Sample]
    val: dict[str, list[Sample]]
    counts: dict[str, dict[str, int]]


def read_exclusions(path: str | Path) -> dict[str, set[str]]:
    """A leave-out list: one ``SET<TAB>ID`` a line, ``SET`` a data set's name as the logs give it
    (:attr:`htr.readers.DataSpec.name`, e.g. ``folder:iam-forms``) and ``ID`` a sample's id; more
    columns (a reason) and lines starting with ``#`` are ignored. ``bench/two_row_crops.py``
    writes one of the crops that hold two rows of writing."""
    out: dict[str, set[str]] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{path}, line {number}: expected SET<TAB>ID, got {line!r}")
        out.setdefault(fields[0], set()).add(fields[1])
    return out


def load_data(specs: Sequence[str], val_fraction: float, val_limit: int, seed: int,
              exclude: str | Path | None = None) -> DataSplit:
    """Read every data set and split each by writer/document (never by line).

    IAM's own split lists decide where present; "test" items are left out of both sides.
    ``exclude``: a leave-out list (:func:`read_exclusions`) of training samples to leave out;
    validation keeps them, so that its figures stay comparable.
    """
    left_out_of = read_exclusions(exclude) if exclude else {}
    train: list[Sample] = []
    val: dict[str, list[Sample]] = {}
    counts: dict[str, dict[str, int]] = {}
    rng = np.random.default_rng(seed)
    for text in specs:
        spec = DataSpec.parse(text)
        samples = open_data(spec)
        tr = [s for s in samples if split_of(s, val_fraction) == "train"]
        left_out = left_out_of.get(spec.name, set())
        excluded = sum(s.id in left_out for s in tr)
        tr = [s for s in tr if s.id not in left_out]
        va = [s for s in samples if split_of(s, val_fraction) == "val"]
        # Repeat a data set ``weight`` times (the fraction as a random subset).
        whole, frac = divmod(spec.weight, 1.0)
        train += tr * int(whole)
        if frac > 0:
            train += list(rng.choice(np.array(tr, dtype=object), int(frac * len(tr)), replace=False))
        if len(va) > val_limit:  # a fixed, seeded subset, so epochs compare like with like
            va = list(np.random.default_rng(seed).choice(np.array(va, dtype=object), val_limit,
                                                        replace=False))
        if va:
            val[spec.name] = va
        counts[spec.name] = {"train": len(tr), "val": len(va),
                             "train_groups": len({s.group for s in tr}),
                             "val_groups": len({s.group for s in va}),
                             "weight": spec.weight, **({"excluded": excluded} if excluded else {})}
    return DataSplit(train, val, counts)


class BatchSequence(keras.utils.PyDataset):
    """Training batches: load (render) -> augment -> preprocess, on ``workers`` threads.

    Each epoch reshuffles and is cut into chunks of :data:`CHUNK_BATCHES` batches. A chunk's
    samples are all prepared before it is cut into batches of similar *image width*, so that
    little of what the network reads is padding (on the 9-set training mix, grouping by text
    length instead left 39% of the batches' columns padding; by width, 6%), and the next chunk is
    prepared while this one trains. Every sample's randomness comes from (seed, epoch, position),
    so a run is reproducible. Read its batches in order (``fit(..., shuffle=False)``): it shuffles
    itself, and a batch of a chunk neither just read nor next is prepared from scratch.
    """

    def __init__(self, samples: Sequence[Sample], charset: Charset, config: TrainConfig,
                 epoch: int = 0) -> None:
        super().__init__(workers=config.workers, use_multiprocessing=False, max_queue_size=16)
        self.samples = list(samples)
        self.charset = charset
        self.height = config.model.height
        self.batch_size = config.batch_size
        self.strength = config.augment_strength
        self.seed = config.seed
        self.epoch_size = config.epoch_size or len(self.samples)
        self.epoch = epoch
        self._pool = ThreadPoolExecutor(max(1, config.workers), thread_name_prefix="batches")
        self._lock = threading.Lock()
        self._plan()

    def _plan(self) -> None:
        rng = np.random.default_rng((self.seed, self.epoch))
        order = rng.permutation(len(self.samples))
        while len(order) < self.epoch_size:
            order = np.concatenate([order, rng.permutation(len(self.samples))])
        # Full batches only: a short last batch would be one more shape to trace.
        self.order = order[:max(self.batch_size, self.epoch_size // self.batch_size * self.batch_size)]
        self.n_batches = max(1, len(self.order) // self.batch_size)
        self._chunks: dict[int, list] = {}  # chunk -> its samples' futures, then its batches

    def __len__(self) -> int:
        return self.n_batches

    def on_epoch_end(self) -> None:
        with self._lock:
            self.epoch += 1
            self._plan()
            self._start(0)  # prepared while the epoch's validation runs

    def _start(self, chunk: int) -> None:
        """Submit the preparation of a chunk's samples (called under the lock)."""
        first = chunk * CHUNK_BATCHES * self.batch_size
        if chunk in self._chunks or first >= len(self.order):
            return
        epoch, positions = self.epoch, range(first, min(first + CHUNK_BATCHES * self.batch_size,
                                                       len(self.order)))
        self._chunks[chunk] = [self._pool.submit(
            self.load, int(self.order[k]), np.random.default_rng((self.seed, epoch, k)))
            for k in positions]

    def _batches(self, chunk: int) -> list[list[tuple[np.ndarray, list[int]]]]:
        """A chunk's batches, its next chunk set going."""
        with self._lock:
            self._start(chunk)
            self._start(chunk + 1)
            # The previous chunk stays: the loader's threads may still ask for its last batches.
            for old in [c for c in self._chunks if c < chunk - 1]:
                del self._chunks[old]
            entry, epoch = self._chunks[chunk], self.epoch
        if isinstance(entry[0], Future):
            # Awaited outside the lock, so that a thread asking for a batch already cut goes on.
            # Two threads may cut the same chunk: the cut is the same, the first is kept.
            batches = self._cut([f.result() for f in entry], chunk, epoch)
            with self._lock:
                if self._chunks.get(chunk) is entry:
                    self._chunks[chunk] = batches
            entry = batches
        return entry

    def _cut(self, prepared: list[tuple[np.ndarray, list[int]]], chunk: int, epoch: int
             ) -> list[list[tuple[np.ndarray, list[int]]]]:
        """A chunk's prepared samples cut into batches of similar width, in a shuffled order (the
        first chunk's narrowest and widest first: the TensorFlow adapter infers which dimensions
        vary from the first batches it sees)."""
        prepared = sorted(prepared, key=lambda item: item[0].shape[1])
        batches = [prepared[j:j + self.batch_size] for j in range(0, len(prepared), self.batch_size)]
        order = list(np.random.default_rng((self.seed, epoch, chunk, 1)).permutation(len(batches)))
        if chunk == 0 and len(batches) > 2:
            ends = [0, len(batches) - 1]
            order = ends + [b for b in order if b not in ends]
        return [batches[b] for b in order]

    def close(self) -> None:
        """Stop preparing samples no batch will be asked for (the run is over)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def load(self, index: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
        sample = self.samples[index]
        image = sample.image(rng)
        if self.strength > 0:
            image = augment(image, rng, self.strength)
        x = preprocess(image, self.height)
        label = self.charset.encode(sample.text)
        # CTC needs a frame per character plus one between repeated characters.
        needed = len(label) + sum(a == b for a, b in zip(label, label[1:]))
        if x.shape[1] // WIDTH_REDUCTION < needed:
            x = cv2.resize(x, (needed * WIDTH_REDUCTION + 8, self.height))
        return x, label

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        items = self._batches(i // CHUNK_BATCHES)[i % CHUNK_BATCHES]
        images = [x for x, _ in items]
        labels = [label for _, label in items]
        batch = pad_batch(images)
        width = -(-batch.shape[2] // BATCH_WIDTH_STEP) * BATCH_WIDTH_STEP
        batch = np.pad(batch, ((0, 0), (0, 0), (0, width - batch.shape[2]), (0, 0)))
        y = np.zeros((len(labels), max(1, max(map(len, labels)))), np.int32)
        for row, label in enumerate(labels):
            y[row, :len(label)] = label
        return batch, y


def selection_cer(scores: dict[str, dict], select: Sequence[str] = ()) -> float:
    """The mean CER the best epoch is chosen by: over the validation sets named in ``select``
    (``kind:folder``, as the epoch lines print them), or over all of them."""
    if select:
        names = [n for n in scores if n in select]
        if len(names) < len(select):
            raise DataError(f"--select {', '.join(select)}: the validation sets are "
                            f"{', '.join(scores)}")
    else:
        names = list(scores)
    return float(np.mean([scores[n]["cer"] for n in names])) if names else float("nan")


class Validation(keras.callbacks.Callback):
    """After each epoch: score every validation set, keep the best model, save the resumable
    state, lower the learning rate on a plateau, stop early or when the time budget is spent."""

    def __init__(self, config: TrainConfig, data: DataSplit, charset: Charset,
                 state: dict) -> None:
        super().__init__()
        self.config = config
        self.data = data
        self.charset = charset
        self.state = state
        self.epoch_start = time.time()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch_start = time.time()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        cfg = self.config
        seconds = time.time() - self.epoch_start
        recognizer = Recognizer(self.model, self.charset, cfg.model)
        scores = {}
        for name, samples in self.data.val.items():
            ev = evaluate(recognizer, samples, desc=f"validate {name}")
            scores[name] = {"cer": ev.cer, "wer": ev.wer, "n": ev.n}
        mean_cer = selection_cer(scores, cfg.select)
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        steps = self.state["steps_per_epoch"]
        record = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan"))),
                  "val": scores, "mean_cer": mean_cer, "learning_rate": lr,
                  "seconds": seconds, "samples_per_second": steps * cfg.batch_size / seconds}
        self.state["history"].append(record)
        self.state["train_seconds"] += seconds
        line = " | ".join(f"{n} CER {s['cer']:.2%} WER {s['wer']:.2%}" for n, s in scores.items())
        print(f"epoch {epoch + 1}: loss {record['loss']:.3f} | {line} | "
              f"{record['samples_per_second']:.1f} samples/s", flush=True)

        out = cfg.output
        if mean_cer < self.state["best_cer"]:
            self.state["best_cer"] = mean_cer
            self.state["best_epoch"] = epoch + 1
            self.state["stale"] = 0
            save_model_dir(out, self.model, self.charset, cfg.model)
            print(f"  new best model (mean CER {mean_cer:.2%}) saved to {out}", flush=True)
        else:
            self.state["stale"] += 1
            if self.state["stale"] % max(2, cfg.patience // 2) == 0:
                new_lr = lr * 0.5
                self.model.optimizer.learning_rate.assign(new_lr)
                print(f"  no improvement for {self.state['stale']} epochs: learning rate {new_lr:.2e}")
        if self.state["stale"] >= cfg.patience:
            print(f"  stopping early: no improvement for {cfg.patience} epochs", flush=True)
            self.model.stop_training = True
        budget = cfg.time_budget_minutes
        if budget and self.state["train_seconds"] + seconds > budget * 60:
            print("  stopping: the next epoch would exceed the time budget", flush=True)
            self.model.stop_training = True
        self.state["epoch"] = epoch + 1
        save_checkpoint(out, self.model, self.state)
        # Every epoch's weights stay, for averaging (``python -m htr average``).
        self.model.save_weights(checkpoint_dir(out) / f"epoch-{epoch + 1}.weights.h5")
        write_history(out, self.state)


class LogProgress(keras.callbacks.Callback):
    """Progress lines for a log file (when output is not a terminal, Keras prints per epoch only)."""

    def __init__(self, steps: int, batch_size: int, every: int = 50) -> None:
        super().__init__()
        self.steps, self.batch_size, self.every = steps, batch_size, every
        self.start = time.time()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.start = time.time()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if (batch + 1) % self.every == 0:
            rate = (batch + 1) * self.batch_size / (time.time() - self.start)
            print(f"  step {batch + 1}/{self.steps} loss {logs.get('loss', float('nan')):.3f} "
                  f"{rate:.1f} samples/s", flush=True)


def checkpoint_dir(output: Path) -> Path:
    return output / "checkpoint"


def save_checkpoint(output: Path, model: keras.Model, state: dict) -> None:
    """The last epoch's model with its optimiser state, written atomically, for ``--resume``."""
    d = checkpoint_dir(output)
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "last.tmp.keras"
    model.save(tmp)
    os.replace(tmp, d / "last.keras")
    (d / "state.tmp.json").write_text(json.dumps(state, indent=1))
    os.replace(d / "state.tmp.json", d / "state.json")


def write_history(output: Path, state: dict) -> None:
    (output / "history.json").write_text(json.dumps(state["history"], indent=1) + "\n")
    plot_history(state["history"], output / "training.png", distilled=bool(state.get("teacher")))


def plot_history(history: list[dict], path: Path, distilled: bool = False) -> None:
    """Loss and validation CER per epoch, one PNG (``distilled``: the loss holds the teacher's
    term too, :mod:`htr.distill`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(epochs, [h["loss"] for h in history], marker="o")
    ax1.set(title="training loss (CTC + distillation)" if distilled else "training loss (CTC)",
            xlabel="epoch", yscale="log")
    for name in history[-1]["val"]:
        ax2.plot(epochs, [100 * h["val"].get(name, {}).get("cer", np.nan) for h in history],
                 marker="o", label=name)
    ax2.set(title="validation CER (%)", xlabel="epoch")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_preview(samples: Sequence[Sample], config: TrainConfig, path: Path, n: int = 16) -> Path:
    """A grid of augmented training samples (what the network sees, before resizing)."""
    rng = np.random.default_rng(config.seed)
    chosen = [samples[i] for i in rng.choice(len(samples), min(n, len(samples)), replace=False)]
    images, texts = [], []
    for k, s in enumerate(chosen):
        r = np.random.default_rng((config.seed, k))
        image = augment(s.image(r), r, config.augment_strength)
        images.append(np.clip((1 - preprocess(image, config.model.height)) * 255, 0, 255).astype(np.uint8))
        texts.append(f"{s.source or s.id}: {s.text}")
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), preview_grid(images, texts))
    return path


def write_prediction_grid(recognizer: Recognizer, val: dict[str, list[Sample]], path: Path,
                          per_set: int = 6) -> None:
    """Validation images with truth and prediction under each: a quick look at the errors."""
    images, texts = [], []
    for name, samples in val.items():
        chosen = samples[:per_set]
        readings = recognizer.read([s.image(None) for s in chosen])
        for s, r in zip(chosen, readings):
            images.append(s.image(None))
            texts.append(f"truth: {s.text}  |  read: {r.text}  ({r.confidence:.2f})")
    if images:
        cv2.imwrite(str(path), preview_grid(images, texts))


def train(config: TrainConfig) -> dict:
    """Train a model as ``config`` says; returns the final state (history, best epoch, ...)."""
    if config.grow and not config.init_from:
        raise ModelError("--grow adds layers to a trained network: give it one with --init")
    out = config.output
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    data = load_data(config.data, config.val_fraction, config.val_limit, config.seed,
                     config.exclude)
    for name, count in data.counts.items():
        if count.get("excluded"):
            print(f"{name}: {count['excluded']} training samples left out ({config.exclude})")
    selection_cer({name: {"cer": 0.0} for name in data.val}, config.select)  # names checked now
    if not data.train:
        raise SystemExit("no training samples: check the --data sets and their splits")
    ckpt = checkpoint_dir(out)
    state_file = ckpt / "state.json"
    if config.resume and state_file.is_file():
        state = json.loads(state_file.read_text())
        charset = Charset(state["charset"])
        model = keras.saving.load_model(ckpt / "last.keras")
        if "model" in state:  # the network the run trains, not the command line's preset
            config.model = ModelConfig.from_dict(state["model"])
        compile_model(model, optimizer=model.optimizer)
        if config.learning_rate:  # e.g. a lower rate for the last epochs of a run
            model.optimizer.learning_rate.assign(config.learning_rate)
            state["stale"] = 0
        print(f"resuming after epoch {state['epoch']} from {ckpt}", flush=True)
    else:
        if config.init_from:  # fine-tune or continue a shipped model (weights, not optimiser)
            model, charset, config.model = load_model_dir(config.init_from)
            print(f"starting from the weights of {config.init_from}", flush=True)
            if config.extend_charset:
                grown = Charset(charset.chars + Charset.from_texts(
                    (s.text for s in data.train), config.extend_charset).chars)
                if grown != charset:
                    added = "".join(c for c in grown.chars if c not in charset.chars)
                    print(f"charset grows by {len(added)} characters: {added}", flush=True)
                    model, charset = widen_charset(model, config.model, charset, grown), grown
            if config.grow:
                model, config.model = add_residual_lstm_layers(model, config.model, config.grow)
                print(f"{config.grow} residual BiLSTM layer(s) added", flush=True)
        else:
            charset = Charset.from_texts(s.text for s in data.train)
            model = build_model(charset.num_classes, config.model)
        compile_model(model, config.learning_rate or 1e-3)
        state = {"epoch": 0, "history": [], "best_cer": math.inf, "best_epoch": 0, "stale": 0,
                 "train_seconds": 0.0, "charset": charset.chars,
                 "initialised_from": str(config.init_from or "")}
    distil(model, charset, config, state)
    # Every invocation (first run and each resume, possibly with other data) is part of the recipe.
    state.setdefault("commands", []).append(config.command)
    train_samples = [s for s in data.train if charset.covers(s.text)]
    dropped = len(data.train) - len(train_samples)
    if dropped:
        print(f"{dropped} training samples hold characters outside the charset: left out")
    sequence = BatchSequence(train_samples, charset, config, epoch=state["epoch"])
    state["steps_per_epoch"] = len(sequence)
    state["data"] = data.counts
    state["parameters"] = model.count_params()
    state["model"] = config.model.to_dict()
    print(f"{len(train_samples)} training samples, {sum(map(len, data.val.values()))} validation "
          f"samples; {len(charset)} characters; {model.count_params():,} parameters", flush=True)
    callbacks: list[keras.callbacks.Callback] = [Validation(config, data, charset, state)]
    if not sys.stdout.isatty():
        callbacks.append(LogProgress(len(sequence), config.batch_size))
    if state["epoch"] < config.epochs and state["stale"] < config.patience:
        try:
            # shuffle=False: the sequence shuffles itself, and is read chunk by chunk, in order.
            model.fit(sequence, epochs=config.epochs, initial_epoch=state["epoch"], shuffle=False,
                      callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
        finally:
            sequence.close()
    best = Recognizer.load(out)
    write_prediction_grid(best, data.val, out / "validation_predictions.png")
    write_model_card(config, state, charset)
    return state


def distil(model: keras.Model, charset: Charset, config: TrainConfig, state: dict) -> None:
    """Attach the run's teacher, if it has one (``config``'s, else the resumed run's), and
    record it in ``state``."""
    teacher_dir = config.teacher or state.get("teacher")
    weight = config.distill_weight
    if weight is None:
        weight = state.get("distill_weight", 1.0)
    if not teacher_dir or weight <= 0:
        state.pop("teacher", None)
        state.pop("distill_weight", None)
        state.pop("teacher_shifts", None)
        return
    shifts = config.teacher_shifts
    if shifts is None:
        shifts = tuple(state.get("teacher_shifts", ()))
    teacher, teacher_charset = load_teacher(teacher_dir)
    attach_teacher(model, charset, teacher, teacher_charset, weight, shifts)
    state["teacher"], state["distill_weight"] = str(teacher_dir), weight
    state["teacher_shifts"] = list(shifts)
    read = f", read moved by {shifts} rows" if shifts else ""
    print(f"distilling from {teacher_dir} (weight {weight:g}{read})", flush=True)


def network_kind(config: ModelConfig) -> str:
    """The network in a few words, for its card: e.g. "CNN + 2 BiLSTM layers" or "separable CNN
    + 6 residual Conv1D layers"."""
    cnn = "separable CNN" if config.separable else "CNN"
    if config.sequence == "conv":
        return f"{cnn} + {config.conv1d_layers} residual Conv1D layers"
    layers = config.lstm_layers + config.residual_lstm_layers
    return f"{cnn} + {layers} BiLSTM layer{'s' if layers != 1 else ''}"


def write_model_card(config: TrainConfig, state: dict, charset: Charset) -> None:
    """README.md of the model folder: data, command, time, size and validation scores."""
    history = state["history"]
    best = next((h for h in history if h["epoch"] == state["best_epoch"]), None)
    speed = np.mean([h["samples_per_second"] for h in history]) if history else float("nan")
    commands = state.get("commands") or [config.command]
    lines = [
        f"# Handwriting recognition model `{config.output.name}`", "",
        f"{network_kind(config.model)} + CTC line/word recognizer (Keras 3), greedy decoding.", "",
        "## Validation (best epoch, greedy decoding)", "",
        "Split by writer, form group or letter, never by line. `iam-lines` are lines from IAM's "
        "test lists: scores on them are not comparable with published IAM test results.", "",
        "| set | samples | CER | WER |", "| --- | --- | --- | --- |",
    ]
    for name, s in (best or {"val": {}})["val"].items():
        lines.append(f"| {name} | {s['n']} | {s['cer']:.2%} | {s['wer']:.2%} |")
    lines += ["", "## Data", "", "| set | train samples | train groups | val samples | val groups | weight |",
              "| --- | --- | --- | --- | --- | --- |"]
    for name, c in state["data"].items():
        lines.append(f"| {name} | {c['train']} | {c['train_groups']} | {c['val']} | "
                     f"{c['val_groups']} | {c['weight']} |")
    lines += [
        "", "## Training", "",
        *[f"- command{f' {i + 1}' if len(commands) > 1 else ''}: `{c}`"
          for i, c in enumerate(commands)],
        *([f"- initialised from the weights of `{state['initialised_from']}`"]
          if state.get("initialised_from") else []),
        *([f"- distilled from `{state['teacher']}` (weight {state['distill_weight']:g}"
           + (f"; the teacher read moved by {tuple(state['teacher_shifts'])} rows"
              if state.get("teacher_shifts") else "") + "; `htr.distill`)"]
          if state.get("teacher") else []),
        f"- seed {config.seed}; {len(history)} epochs run, best epoch {state['best_epoch']}",
        f"- wall time {state['train_seconds'] / 60:.1f} min training on "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Keras {keras.__version__} on {keras.backend.backend()}",
        f"- throughput {speed:.1f} training samples/second (loading, augmentation and the network)",
        f"- {state['parameters']:,} parameters; input height {config.model.height} px; "
        f"{len(charset)} characters",
        f"- model: `{json.dumps(config.model.to_dict())}`", "",
        "Files: `model.keras` (weights), `charset.json`, `config.json`, `history.json`, "
        "`training.png` (loss and CER per epoch), `validation_predictions.png`.",
    ]
    (config.output / "README.md").write_text("\n".join(lines) + "\n")


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name, *sys.argv[1:]])


__all__ = ["TrainConfig", "train", "load_data", "read_exclusions", "write_preview", "BatchSequence",
           "command_line", "network_kind", "MODEL_FILE", "CHARSET_FILE", "CONFIG_FILE"]
