#!/usr/bin/env python3
"""The command line against Tesseract on a folder of line images, end to end, as a user runs
them: ``python -m htr read --level line FILE...`` (one process: start-up, imports, model and
lexicon load, reading, decoding, printing) against ``tesseract FILE stdout --psm 7`` run on each
file (Tesseract reads one image per run). Both in turns, ``--rounds`` times; wall seconds per
line, and the ratio.

    python bench/bench_cli_lines.py --data ../shared/data/iam-lines --data ../shared/data/iam-forms \
        -n 600 --rounds 3 [--decoder wordbeam] [--read-shifts none]

The lines are the validation writers' (``writers.tsv`` and the split rule of ``htr.readers``),
spread over each folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from htr.readers import split_of  # noqa: E402
from htr.readers.folder import read_folder  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def line_files(folders: list[Path], n: int) -> list[Path]:
    per = -(-n // len(folders))
    files: list[Path] = []
    for folder in folders:
        # A sample's id is its image's path under the folder, less the suffix.
        val = [next(folder.glob(s.id + ".*")) for s in read_folder(folder) if split_of(s) == "val"]
        step = max(1, len(val) // per)
        files += val[::step][:per]
    return files[:n]


def run_ours(files: list[Path], decoder: str, read_shifts: str | None = None) -> float:
    shifts = [] if read_shifts is None else [f"--read-shifts={read_shifts}"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "htr", "read", "--level", "line", "--decoder", decoder,
                    *shifts, *map(str, files)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - start


def run_tesseract(files: list[Path]) -> float:
    start = time.perf_counter()
    for f in files:
        subprocess.run(["tesseract", str(f), "stdout", "--psm", "7"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, action="append", required=True, help="a folder of line images")
    p.add_argument("-n", type=int, default=600, help="line images in all")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--decoder", default="wordbeam")
    p.add_argument("--read-shifts", metavar="ROWS",
                   help="passed to read (e.g. none: each line read once; default: the model's)")
    args = p.parse_args()
    files = line_files(args.data, args.n)
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"no such image: {missing[0]}")
    ours, tess = [], []
    for r in range(args.rounds):
        ours.append(run_ours(files, args.decoder, args.read_shifts))
        tess.append(run_tesseract(files))
        print(f"round {r + 1}: ours {ours[-1]:.1f} s, tesseract {tess[-1]:.1f} s "
              f"({len(files)} lines; load {os.getloadavg()[0]:.1f})", flush=True)
    o, t = statistics.median(ours), statistics.median(tess)
    print(f"median: ours {1000 * o / len(files):.1f} ms a line, tesseract {1000 * t / len(files):.1f} "
          f"ms a line; ours takes {o / t:.2f}x Tesseract's time ({t / o:.1f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
