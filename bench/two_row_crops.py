#!/usr/bin/env python3
"""List the line crops of data sets that hold two rows of writing: mis-cut crops, for
``train.py --exclude``.

    python bench/two_row_crops.py --data folder:../shared/data/iam-forms [--split train] \\
        > ~/.cache/htr/iam-forms-two-rows.tsv
    python train.py ... --exclude ~/.cache/htr/iam-forms-two-rows.tsv

A crop counts as two rows when :func:`htr.input_kind.ink_rows` finds two or more rows of writing in
it (each with at least 40% of the heaviest row's ink). In the IAM forms set these are crops cut
half a line off, the labelled line's lower half above the next line (147 of 3,582; read at 61%
greedy CER by the shipped model against 11% for the rest: README, "The shipped model"). Not every
set's two-row crops are mis-cut: Copiste's are lines with long flourishes, and some of Hooker's
hold words written between the lines; look before leaving a set's crops out.

Output: one ``SET<TAB>ID<TAB>ROWS`` line a crop (the set as the training logs name it), after a
``#`` line saying what was read; a count per set goes to standard error.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tqdm import tqdm  # noqa: E402

from htr.readers import DataSpec, open_data, split_of  # noqa: E402
from htr.input_kind import ink_rows  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    p.add_argument("--split", choices=("all", "train", "val"), default="train")
    args = p.parse_args()
    print(f"# crops holding two or more rows of writing (htr.input_kind.ink_rows), split {args.split}")
    for text in args.data:
        spec = DataSpec.parse(text)
        samples = [s for s in open_data(spec) if args.split == "all" or split_of(s) == args.split]
        with ThreadPoolExecutor(2) as pool:  # OpenCV lets go of Python's lock
            rows = list(tqdm(pool.map(lambda s: ink_rows(s.image(None)), samples), total=len(samples),
                             desc=spec.name, unit="crop", disable=not sys.stderr.isatty()))
        listed = [(s, r) for s, r in zip(samples, rows) if r >= 2]
        for s, r in listed:
            print(f"{spec.name}\t{s.id}\t{r}")
        print(f"{spec.name}: {len(listed)} of {len(samples)} crops hold two rows or more",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
