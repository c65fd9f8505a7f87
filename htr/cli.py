"""Command line: ``python -m htr read IMAGE...`` and ``python -m htr evaluate --data KIND:PATH``.

A thin shell over the library; exit status 0 when everything was read, 1 when some input failed,
2 for a usage or data error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .decode import DECODERS
from .errors import HTRError, ImageError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m htr", description="Read handwriting.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read", help="read word or line images")
    r.add_argument("images", nargs="+", metavar="IMAGE")
    r.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    r.add_argument("--format", choices=("text", "json"), default="text")
    r.add_argument("--decoder", choices=DECODERS, default="greedy")
    r.add_argument("--lexicon", type=Path, help="wordbeam: a lexicon .npz or a word list")
    e = sub.add_parser("evaluate", help="score a model on a labelled data set")
    e.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    e.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    e.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="which part of each set to score (splits as in training)")
    e.add_argument("--val-fraction", type=float, default=0.1)
    e.add_argument("--limit", type=int, help="score at most this many samples per set")
    e.add_argument("--decoder", action="append", choices=DECODERS,
                   help="decoder(s) to compare, one row each (default: greedy)")
    e.add_argument("--lexicon", type=Path, help="wordbeam: a lexicon .npz or a word list")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _import_tensorflow_quietly()
    from .recognizer import Recognizer

    try:
        if args.command == "read":
            return _read(Recognizer.load(args.model, args.decoder, args.lexicon), args)
        decoders = args.decoder or ["greedy"]
        recognizers = [Recognizer.load(args.model, d, args.lexicon) for d in decoders]
        return _evaluate(recognizers, args)
    except HTRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _import_tensorflow_quietly() -> None:
    """TensorFlow writes start-up chatter straight to the stderr file descriptor, before its
    logging is configured; keep it out of the one-line-per-error output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _read(recognizer, args: argparse.Namespace) -> int:
    from .image import load_image

    loaded, failed = [], 0
    for name in args.images:
        try:
            loaded.append((name, load_image(name)))
        except ImageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    results = recognizer.read([image for _, image in loaded]) if loaded else []
    if args.format == "json":
        print(json.dumps([{"file": name, **r.to_dict()} for (name, _), r in zip(loaded, results)],
                         ensure_ascii=False, indent=2))
    elif len(args.images) == 1:
        for r in results:
            print(r.text)
    else:
        for (name, _), r in zip(loaded, results):
            print(f"{name}\t{r.text}")
    return 1 if failed else 0


def _evaluate(recognizers, args: argparse.Namespace) -> int:
    from .evaluate import evaluate
    from .readers import DataSpec, open_data, split_of

    print(f"{'data':40} {'decoder':9} {'n':>6} {'CER':>7} {'WER':>7} {'items/s':>8}")
    for text in args.data:
        spec = DataSpec.parse(text)
        samples = [s for s in open_data(spec)
                   if args.split == "all" or split_of(s, args.val_fraction) == args.split]
        samples = samples[:args.limit] if args.limit else samples
        if not samples:
            print(f"{spec.name:40} {'':9} {0:>6}  (no samples in split {args.split!r})")
            continue
        for recognizer in recognizers:
            ev = evaluate(recognizer, samples, desc=spec.name, progress=sys.stderr.isatty())
            print(f"{spec.name:40} {recognizer.decoder:9} {ev.n:>6} {ev.cer:>7.2%} {ev.wer:>7.2%} "
                  f"{ev.items_per_second:>8.1f}")
    return 0
