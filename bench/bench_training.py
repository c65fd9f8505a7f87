#!/usr/bin/env python3
"""Where a training step's time goes on this machine: the data side (loading, augmentation,
preprocessing, per sample on one thread) and the network's training steps per second for the
shipped network and smaller variants of it.

    python bench/bench_training.py [--data folder:../shared/data/iam-lines] [-n 96]

Real training lines (their own labels) in the very batches ``train.py`` makes of them
(:class:`htr.training.BatchSequence`: augmented, grouped by image width, widths rounded up), built
once before the timing. Each network is timed with ``train_on_batch`` after a warm-up pass over
the same batches, then with ``predict_on_batch`` (the network alone, no decoding). Run it on a
quiet machine: it measures what the cores give, nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from htr.augment import augment  # noqa: E402
from htr.image import preprocess  # noqa: E402
from htr.model import SIZES, ModelConfig, build_model, compile_model  # noqa: E402
from htr.readers import open_data, split_of  # noqa: E402
from htr.text import Charset  # noqa: E402
from htr.training import BatchSequence, TrainConfig  # noqa: E402

#: name -> (network, batch size[, Keras dtype policy]); the first is the shipped network at
#: train.py's default batch.
VARIANTS: dict[str, tuple] = {
    "shipped (2 BiLSTM layers of 192), batch 16": (ModelConfig(), 16),
    "the same, batch 32": (ModelConfig(), 32),
    "2 BiLSTM layers of 128": (ModelConfig(lstm_units=128), 16),
    "1 BiLSTM layer of 192": (ModelConfig(lstm_layers=1), 16),
    "no LSTM (convolutions and the output layer)": (ModelConfig(lstm_layers=0), 16),
    "fast: separable CNN, column pooling, 4 residual separable Conv1D (k=7)": (SIZES["fast"], 16),
    "fast, batch 32": (SIZES["fast"], 32),
    "fast-large: wider convolutions, 6 Conv1D of 512": (SIZES["fast-large"], 16),
    "shipped, bfloat16 (logits float32)": (ModelConfig(), 16, "mixed_bfloat16"),
    "fast, bfloat16 (logits float32)": (SIZES["fast"], 16, "mixed_bfloat16"),
}


def per_sample_ms(step, items) -> tuple[float, list]:
    start = time.perf_counter()
    out = [step(x) for x in items]
    return (time.perf_counter() - start) * 1000 / len(items), out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="folder:../shared/data/iam-lines", help="a training set, KIND:PATH")
    p.add_argument("-n", type=int, default=96, help="training lines to time")
    p.add_argument("--augment", type=float, default=0.5, help="augmentation strength timed")
    p.add_argument("--only", nargs="*", help="time only the variants whose name contains one of these")
    args = p.parse_args()

    samples = [s for s in open_data(args.data) if split_of(s) == "train"][:args.n]
    rng = np.random.default_rng(0)
    load_ms, images = per_sample_ms(lambda s: s.image(rng), samples)
    augment_ms, augmented = per_sample_ms(lambda g: augment(g, rng, args.augment), images)
    height = ModelConfig().height
    preprocess_ms, inputs = per_sample_ms(lambda g: preprocess(g, height), augmented)
    print(f"{len(samples)} lines of {args.data}, per sample on one thread: load {load_ms:.1f} ms, "
          f"augment ({args.augment}) {augment_ms:.1f} ms, preprocess {preprocess_ms:.1f} ms; "
          f"mean input width {np.mean([x.shape[1] for x in inputs]):.0f} px")

    charset = Charset.from_texts(s.text for s in samples)
    print("| network | parameters | training samples/s | network alone, reading lines/s |")
    print("| --- | --- | --- | --- |")
    import keras

    for name, (config, batch_size, *policy) in VARIANTS.items():
        if args.only and not any(word in name for word in args.only):
            continue
        keras.config.set_dtype_policy(policy[0] if policy else "float32")
        sequence = BatchSequence(samples, charset, TrainConfig(
            [args.data], Path("."), config, batch_size=batch_size, augment_strength=args.augment, seed=0))
        batches = [sequence[i] for i in range(len(sequence))]
        sequence.close()
        timed = sum(len(x) for x, _ in batches)
        model = compile_model(build_model(charset.num_classes, config))
        for x, y in batches:  # warm-up: trace the steps for these shapes
            model.train_on_batch(x, y)
            model.predict_on_batch(x)
        start = time.perf_counter()
        for x, y in batches:
            model.train_on_batch(x, y)
        train_rate = timed / (time.perf_counter() - start)
        start = time.perf_counter()
        for x, _ in batches:
            model.predict_on_batch(x)
        read_rate = timed / (time.perf_counter() - start)
        print(f"| {name} | {model.count_params() / 1e6:.2f}M | {train_rate:.1f} | {read_rate:.1f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
