"""How the model reads the same validation lines when they look like a user's photo instead
of a clean scan: faint or coloured ink, dim or uneven light, blur, JPEG, small or large text,
a tilt, ruled paper, noise, light ink on a dark board.

    python bench/robustness.py --model models/default --data folder:../shared/data/iam-lines -n 300

Each condition is applied to every line (fixed seed, the same lines for every condition) and
the result goes through the recognizer's own loading and preprocessing (``Recognizer.read``),
as a user's image would. These conditions are written here independently of the training
augmentation (``htr.augment``), though several resemble it. Prints greedy (and, with
``--decoder wordbeam``, word beam) CER per condition.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from htr.metrics import cer, wer  # noqa: E402
from htr.readers import DataSpec, open_data, split_of  # noqa: E402
from htr.recognizer import Recognizer  # noqa: E402

Condition = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _levels(g: np.ndarray, paper: float, ink: float) -> np.ndarray:
    """Map the scan's paper to ``paper`` and its darkest ink to ``ink`` (grey levels)."""
    f = g.astype(np.float32)
    lo, hi = np.percentile(f, 1), np.percentile(f, 90)
    t = np.clip((f - lo) / max(1.0, hi - lo), 0, 1)  # 0 = ink, 1 = paper
    return (ink + t * (paper - ink)).clip(0, 255).astype(np.uint8)


def faint(g, rng):  # pencil or a faded ballpoint
    return _levels(g, 215, 150)


def dim(g, rng):  # a photo taken in poor light: grey paper, grey ink
    return _levels(g, 110, 45)


def shadow(g, rng):  # light falling off across the line (a hand's or phone's shadow)
    h, w = g.shape
    ramp = np.linspace(1.0, 0.35, w, dtype=np.float32)[None, :]
    return (g.astype(np.float32) * ramp).astype(np.uint8)


def blur(g, rng):  # out of focus
    return cv2.GaussianBlur(g, (0, 0), 0.02 * g.shape[0])


def jpeg(g, rng):  # a heavily compressed upload
    ok, buf = cv2.imencode(".jpg", g, [cv2.IMWRITE_JPEG_QUALITY, 20])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def small(g, rng):  # text 24 px high: a whole page photographed from afar
    h, w = g.shape
    return cv2.resize(g, (max(1, round(w * 24 / h)), 24), interpolation=cv2.INTER_AREA)


def large(g, rng):  # a close-up: text 300 px high
    h, w = g.shape
    return cv2.resize(g, (round(w * 300 / h), 300), interpolation=cv2.INTER_CUBIC)


def _tilt(g: np.ndarray, degrees: float) -> np.ndarray:  # the phone held a little off
    h, w = g.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(w * cos + h * sin), int(h * cos + w * sin)
    m[0, 2] += (nw - w) / 2
    m[1, 2] += (nh - h) / 2
    return cv2.warpAffine(g, m, (nw, nh), borderValue=int(np.median(g)))


def ruled(g, rng):  # lined paper: grey rules at the baseline and one line height apart
    out = g.copy()
    h = g.shape[0]
    for y in (int(h * 0.78), int(h * 0.78) - int(h * 0.6), int(h * 0.78) + int(h * 0.6)):
        if 0 <= y < h:
            out[max(0, y - 1):y + 1] = np.minimum(out[max(0, y - 1):y + 1], 165)
    return out


def noise(g, rng):  # sensor noise of a dim phone photo
    return (g.astype(np.float32) + rng.normal(0, 20, g.shape)).clip(0, 255).astype(np.uint8)


def blue_ink(g, rng):  # a blue ballpoint: a colour image, ink (40, 60, 170) on white
    t = (g.astype(np.float32) / 255.0)[..., None]
    ink = np.array([40, 60, 170], np.float32)
    return (ink + t * (255 - ink)).clip(0, 255).astype(np.uint8)


def board(g, rng):  # light writing on a dark board: the scan's tones inverted
    return 255 - g


CONDITIONS: dict[str, Condition] = {
    "clean": lambda g, rng: g, "faint": faint, "dim": dim, "shadow": shadow, "blur": blur,
    "jpeg q20": jpeg, "small (24 px)": small, "large (300 px)": large,
    "tilt 3 deg": lambda g, rng: _tilt(g, 3.0), "tilt -5 deg": lambda g, rng: _tilt(g, -5.0),
    "ruled": ruled, "noise": noise, "blue ink": blue_ink, "board (inverted)": board,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: the shipped model)")
    ap.add_argument("--data", default="folder:../shared/data/iam-lines", metavar="KIND:PATH")
    ap.add_argument("--split", default="val", choices=("all", "train", "val", "test"))
    ap.add_argument("-n", type=int, default=300, help="lines (a fixed random subset)")
    ap.add_argument("--decoder", action="append", choices=("greedy", "beam", "wordbeam"))
    ap.add_argument("--conditions", nargs="+", choices=sorted(CONDITIONS), metavar="NAME",
                    help=f"default: all of {', '.join(CONDITIONS)}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    spec = DataSpec.parse(args.data)
    samples = [s for s in open_data(spec) if args.split == "all" or split_of(s) == args.split]
    rng = np.random.default_rng(args.seed)
    if len(samples) > args.n:
        samples = [samples[i] for i in sorted(rng.choice(len(samples), args.n, replace=False))]
    images = [s.image(None) for s in samples]
    refs = [s.text for s in samples]
    base = Recognizer.load(args.model, decoder="greedy")
    decoders = args.decoder or ["greedy"]
    recognizers = {d: base if d == "greedy" else base.with_decoder(d) for d in decoders}
    heads = "".join(f" {d + ' CER':>14} {d + ' WER':>14}" for d in decoders)
    print(f"{spec.name}, {len(samples)} {args.split} lines")
    print(f"{'condition':18}{heads}")
    for name in args.conditions or CONDITIONS:
        condition = CONDITIONS[name]
        crng = np.random.default_rng(args.seed + 1)
        shown = [condition(g, crng) for g in images]
        cells = ""
        for d, rec in recognizers.items():
            hyps = [r.text for r in rec.read(shown)]
            cells += f" {cer(refs, hyps):>14.2%} {wer(refs, hyps):>14.2%}"
        print(f"{name:18}{cells}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
