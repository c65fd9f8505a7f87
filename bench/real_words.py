#!/usr/bin/env python3
"""Single words cut from real scanned lines, to score how word images are read.

    python bench/real_words.py --data folder:../shared/data/iam-lines \\
        --data folder:../shared/data/iam-forms --out ~/.cache/htr/real-words [--preview words.png]
    python -m htr evaluate --split all --data folder:~/.cache/htr/real-words \\
        --decoder greedy --decoder wordbeam --language en

The words of the shared data's only real word-level handwriting are in its line images; this
cuts them out: the validation lines (split by writer, as in training), or with ``--split train``
the training writers' lines, to train on. Each line's
transcription is placed on the line by forced CTC alignment with the model
(:func:`htr.wordbeam.forced_reading`), and each word is boxed as the page reader boxes the words
it reads (:func:`htr.page.aligned_words`: from half-way to the previous word to half-way to the
next, shrunk to the ink there; its rows kept within the line's own band, as the recognizer cuts
a line, :func:`htr.image.ink_bounds`, so that a loose crop's neighbouring lines stay out), then
cut with a small margin of paper. Lines whose crop holds two rows of writing (a few IAM forms
crops take in the whole next line: :func:`htr.input_kind.classify_input` says "page") are left out. The output is the folder
layout ``python -m htr evaluate`` reads (``labels.tsv``, ``writers.tsv`` with each line's
writer, ``images/``), written outside the repository.

The boxes come from the model's own alignment, so a word the model places badly is cut badly
(a letter short, a neighbour's letter in): ``--preview`` draws a sample of the crops with their
texts, to look at.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from htr.image import ink_bounds, normalize_ink, preprocess_normalized  # noqa: E402
from htr.page import aligned_words  # noqa: E402
from htr.readers import open_data, split_of  # noqa: E402
from htr.recognizer import Recognizer  # noqa: E402
from htr.input_kind import classify_input  # noqa: E402
from htr.segment import LineSegmenter  # noqa: E402
from htr.wordbeam import forced_reading  # noqa: E402

#: Paper kept round a word's ink, in line heights (IAM's own word images are cut tight).
MARGIN = 0.04


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", action="append", required=True, help="folder:PATH of line images")
    ap.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    ap.add_argument("--model", default=None, help="model folder whose alignment places the words")
    ap.add_argument("--preview", type=Path, default=None, help="PNG of 40 of the crops")
    ap.add_argument("--split", choices=("val", "train"), default="val",
                    help="the lines of the validation writers (to score) or the training writers' "
                         "(to train on)")
    args = ap.parse_args()

    recognizer = Recognizer.load(args.model, "greedy")
    images = args.out / "images"
    images.mkdir(parents=True, exist_ok=True)
    labels, writers, shown = [], [], []
    skipped = two_rows = 0
    segmenter = LineSegmenter()
    for spec in args.data:
        lines = [(s, s.image(None)) for s in open_data(spec) if split_of(s) == args.split]
        single = [(s, grey) for s, grey in lines if classify_input(grey, segmenter) != "page"]
        two_rows += len(lines) - len(single)
        lines = single
        normals = [normalize_ink(grey) for _, grey in lines]
        prepared = [preprocess_normalized(n, recognizer.height) for n in normals]
        probs = recognizer.probabilities([x for x, _ in prepared])
        for (sample, grey), grey_normal, (_, geometry), p in zip(lines, normals, prepared, probs):
            try:
                reading = forced_reading(p, recognizer.charset, sample.text)
            except ValueError:
                skipped += 1
                continue
            h, w = grey.shape
            top, bottom = ink_bounds(grey_normal)[:2]  # the line's own rows
            own = np.zeros(grey.shape, bool)
            own[top:bottom] = True
            pad = max(1, round(MARGIN * (bottom - top)))
            for k, word in enumerate(aligned_words(reading, geometry, recognizer.frame_width,
                                                   grey_normal, (0, 0), own)):
                x0, y0, x1, y1 = word.box
                crop = grey[max(0, y0 - pad):min(h, y1 + pad), max(0, x0 - pad):min(w, x1 + pad)]
                name = f"images/{Path(sample.id).name}-w{k:02d}.png"
                cv2.imwrite(str(args.out / name), crop)
                labels.append(f"{name}\t{word.text}")
                writers.append(f"{name}\t{sample.group}")
                if len(shown) < 40 and k == 1 and len(labels) % 7 == 0:
                    shown.append((crop, word.text))
        print(f"{spec}: {len(lines)} {args.split} lines", file=sys.stderr)
    (args.out / "labels.tsv").write_text("file\ttext\n" + "\n".join(labels) + "\n", encoding="utf-8")
    (args.out / "writers.tsv").write_text("file\twriter\n" + "\n".join(writers) + "\n",
                                          encoding="utf-8")
    print(f"{len(labels)} words written to {args.out} ({two_rows} lines left out with two rows of "
          f"writing in their crop, {skipped} that could not be aligned)")
    if args.preview and shown:
        from htr.augment import preview_grid

        grid = preview_grid([c for c, _ in shown], [t for _, t in shown], columns=4)
        cv2.imwrite(str(args.preview), grid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
