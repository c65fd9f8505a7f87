#!/usr/bin/env python3
"""The shipped network in each runtime: size on disk, load time, lines per second and the text it
reads, against TensorFlow (the Recognizer's Keras model).

    python bench/bench_runtimes.py [--model DIR] [-n 200] [--rounds 5] [--threads 2]
        [--data folder:../shared/data/iam-lines --data pagexml:../shared/data/hooker]

Lines: validation lines (``split_of(s) == "val"``, as in training), ``n`` spread evenly over the
``--data`` sets, preprocessed once beforehand. Speed is the network alone (preprocessing and
decoding are our code, the same for every runtime): ``probabilities`` of all the lines, timed.
TensorFlow and ONNX Runtime read them in batches of 32 of similar width (as the Recognizer does);
the TFLite files read one line at a time (a batch of one is what makes them built-in only, and
what a phone does), so each line is read at its own width, without a batch's padding.

Each round runs every runtime once, in a rotated order (interleaved, so that a busy machine slows
them alike); the table gives each runtime's median lines/s over the rounds (and the range), with
the load average at the start and the end. CER is the greedy text against TensorFlow's greedy text
at the same batch size on the same lines ("vs TF": a batch's padding moves a reading a little),
and against the truth.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: (name, export format, quantisation, batch size); TensorFlow is the Keras model itself.
RUNTIMES = [("tensorflow", None, None, 32), ("tensorflow 1 line", None, None, 1),
            ("onnx", "onnx", None, 32), ("onnx int8", "onnx", "int8", 32),
            ("tflite", "tflite", None, 1), ("tflite float16", "tflite", "float16", 1),
            ("tflite int8", "tflite", "int8", 1)]


def validation_lines(specs: list[str], n: int):
    from htr.readers import open_data, split_of

    per_set = -(-n // len(specs))
    samples = []
    for spec in specs:
        val = [s for s in open_data(spec) if split_of(s) == "val"]
        step = max(1, len(val) // per_set)
        samples += val[::step][:per_set]
    return samples[:n]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    p.add_argument("--data", action="append", metavar="KIND:PATH",
                   help="validation lines from these sets (default: IAM lines and Hooker)")
    p.add_argument("-n", type=int, default=200, help="lines in all")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", action="append", help="runtimes to run (default: all)")
    args = p.parse_args()
    specs = args.data or ["folder:../shared/data/iam-lines", "pagexml:../shared/data/hooker"]
    runtimes = [r for r in RUNTIMES if not args.only or r[0] in args.only or r[0].startswith("tensorflow")]

    load_start = os.getloadavg()
    started = time.perf_counter()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf_import = time.perf_counter() - started
    from htr.decode import greedy_decode
    from htr.image import preprocess
    from htr.metrics import cer
    from htr.model import MODEL_FILE
    from htr.recognizer import DEFAULT_MODEL, Recognizer
    from htr.runtimes import export_network, load_network

    directory = args.model or DEFAULT_MODEL
    samples = validation_lines(specs, args.n)
    truth = [s.text for s in samples]
    print(f"{len(samples)} validation lines of {', '.join(specs)}; {args.threads} threads; "
          f"load average at start {load_start[0]:.1f} (1 min), {os.cpu_count()} CPUs; "
          f"TensorFlow import {tf_import:.1f} s", file=sys.stderr)
    tmp = tempfile.TemporaryDirectory()
    networks, sizes, loads = {}, {}, {}
    for name, fmt, quantize, _ in runtimes:
        if fmt is None:
            if "tensorflow" not in networks:
                start = time.perf_counter()
                networks["tensorflow"] = Recognizer.load(directory, "greedy", backend="tensorflow")
                loads["tensorflow"] = time.perf_counter() - start
            networks[name], loads[name] = networks["tensorflow"], loads["tensorflow"]
            sizes[name] = (Path(directory) / MODEL_FILE).stat().st_size
            continue
        path = export_network(fmt, Path(tmp.name) / f"{name.replace(' ', '-')}.{fmt}", directory, quantize)
        sizes[name] = path.stat().st_size
        start = time.perf_counter()
        networks[name] = load_network(path, args.threads)
        loads[name] = time.perf_counter() - start
    recognizer = networks["tensorflow"]
    inputs = [preprocess(s.image(None), recognizer.height) for s in samples]
    texts = {}
    for name, _, _, batch in runtimes:  # warm-up (TensorFlow traces its shapes), and the text
        probs = networks[name].probabilities(inputs, batch)
        texts[name] = [greedy_decode(pr, recognizer.charset).text for pr in probs]
    speeds: dict[str, list[float]] = {name: [] for name, *_ in runtimes}
    for r in range(args.rounds):
        order = runtimes[r % len(runtimes):] + runtimes[:r % len(runtimes)]
        for name, _, _, batch in order:
            start = time.perf_counter()
            networks[name].probabilities(inputs, batch)
            speeds[name].append(len(inputs) / (time.perf_counter() - start))
        print(f"round {r + 1}: " + ", ".join(f"{n} {speeds[n][-1]:.1f}" for n, *_ in runtimes),
              file=sys.stderr)
    load_end = os.getloadavg()
    base = statistics.median(speeds["tensorflow"])
    print(f"\n{len(samples)} validation lines ({', '.join(specs)}), {args.threads} threads, "
          f"{args.rounds} rounds; load average {load_start[0]:.1f} at the start, "
          f"{load_end[0]:.1f} at the end, {os.cpu_count()} CPUs\n")
    # A batch's padding moves a line's reading a little (the backward LSTM reads the padding
    # first), so each runtime's text is compared with TensorFlow's at the same batch size.
    reference = {1: "tensorflow 1 line", 32: "tensorflow"}
    print("| runtime | batch | file MB | load s | lines/s (median) | range | vs TF | CER vs TF | "
          "same lines | CER |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, _, _, batch in runtimes:
        median = statistics.median(speeds[name])
        ref = texts.get(reference[batch], texts["tensorflow"])
        same = sum(a == b for a, b in zip(ref, texts[name]))
        print(f"| {name} | {batch} | {sizes[name] / 1e6:.1f} | {loads[name]:.2f} | {median:.1f} | "
              f"{min(speeds[name]):.1f}-{max(speeds[name]):.1f} | {median / base:.2f}x | "
              f"{cer(ref, texts[name]):.2%} | {same}/{len(samples)} | {cer(truth, texts[name]):.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
