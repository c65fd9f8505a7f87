#!/usr/bin/env python3
"""Speed of the recognizer on this machine: model load time, line and word images per second
(batched, after warm-up, preprocessing and decoding included) and peak memory.

    python bench/bench_recognizer.py [--model DIR] [--lines folder:../shared/data/iam-lines]
                                     [--words iam-ondb-words:../shared/data/iam-ondb]
                                     [--fields folder:../shared/data/kaggle-names] [-n 400]

Words are single words cut from handwritten lines (issue 3's word images); fields are the Kaggle
name crops from forms, wider (a printed label and a name) and so slower per image.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def images_per_second(recognizer, images, batch_size: int, repeats: int = 2) -> float:
    recognizer.read(images[:64], batch_size)  # warm-up: trace the network for these shapes
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        recognizer.read(images, batch_size)
        best = max(best, len(images) / (time.perf_counter() - start))
    return best


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path)
    p.add_argument("--lines", default="folder:../shared/data/iam-lines")
    p.add_argument("--words", default="iam-ondb-words:../shared/data/iam-ondb")
    p.add_argument("--fields", default="folder:../shared/data/kaggle-names")
    p.add_argument("-n", type=int, default=400, help="images of each kind")
    p.add_argument("--decoder", help="decoder (default: the library's default)")
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args()

    start = time.perf_counter()
    import keras  # noqa: F401  (the framework import is not the model's load time)
    imported = time.perf_counter() - start
    from htr.readers import open_data
    from htr.recognizer import Recognizer

    start = time.perf_counter()
    recognizer = Recognizer.load(args.model, decoder=args.decoder)
    load_seconds = time.perf_counter() - start
    result = {"framework_import_s": round(imported, 2), "model_load_s": round(load_seconds, 2),
              "decoder": recognizer.decoder, "batch_size": args.batch_size,
              "cpu_count": os.cpu_count()}
    for kind, spec in (("lines", args.lines), ("words", args.words), ("fields", args.fields)):
        samples = open_data(spec)[:args.n]
        images = [s.image(None) for s in samples]  # decoded from disk beforehand
        result[f"{kind}_per_second"] = round(images_per_second(recognizer, images, args.batch_size), 1)
        result[f"{kind}_n"] = len(images)
        result[f"{kind}_mean_width_px"] = round(sum(i.shape[1] for i in images) / len(images))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
