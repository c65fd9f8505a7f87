#!/usr/bin/env python3
"""Train the handwriting recognizer: a thin command line over :mod:`htr.training`.

Example::

    python train.py --data iam-ondb:../shared/data/iam-ondb --data folder:../shared/data/iam-lines*3 \\
        --output runs/my-model --epochs 30 --time-budget 110
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from htr.cli import parse_read_shifts
from htr.errors import HTRError
from htr.model import SIZES
from htr.readers import READERS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True, metavar="KIND:PATH[*WEIGHT]",
                   help=f"a data set (repeatable), KIND one of {', '.join(READERS)}; *WEIGHT repeats "
                        "it per epoch (*0: validate on it, do not train on it)")
    p.add_argument("--output", type=Path, default=Path("runs/model"), help="output folder")
    p.add_argument("--size", choices=sorted(SIZES), default="medium", help="model size preset")
    p.add_argument("--height", type=int, help="input height in pixels (default: the preset's)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float,
                   help="initial rate (default 1e-3); with --resume, replaces the checkpoint's")
    p.add_argument("--epoch-size", type=int, help="training samples per epoch (default: all)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="fraction of writers/documents held out where a set has no split lists")
    p.add_argument("--val-limit", type=int, default=600, help="validation samples per set")
    p.add_argument("--patience", type=int, default=6, help="epochs without improvement before stopping")
    p.add_argument("--time-budget", type=float, metavar="MINUTES", help="stop before exceeding this")
    p.add_argument("--augment", type=float, default=1.0, help="augmentation strength (0 = off)")
    p.add_argument("--workers", type=int, default=2, help="threads preparing batches")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint")
    p.add_argument("--init", type=Path, metavar="MODEL_DIR",
                   help="start from a trained model folder's weights and charset (fine-tuning)")
    p.add_argument("--extend-charset", type=int, metavar="MIN_COUNT",
                   help="with --init: add every character written at least MIN_COUNT times in the "
                        "training texts to the charset (e.g. French letters), widening the output")
    p.add_argument("--grow", type=int, default=0, metavar="LAYERS",
                   help="with --init: add LAYERS residual BiLSTM layers on top, which start out "
                        "reading nothing, so the network reads as before until trained")
    p.add_argument("--teacher", type=Path, metavar="MODEL_DIR",
                   help="a trained model folder whose per-frame readings guide the new network "
                        "(knowledge distillation, added to the CTC loss); kept on --resume")
    p.add_argument("--distill-weight", type=float, metavar="W",
                   help="weight of the teacher's term (default 1; on --resume the run's; 0 drops it)")
    p.add_argument("--teacher-shifts", type=parse_read_shifts, metavar="ROWS",
                   help="the teacher reads each line moved by these rows and teaches the mean "
                        "of its readings, e.g. --teacher-shifts=-1,1 as the shipped model reads "
                        "(default: once, as it is; on --resume the run's)")
    p.add_argument("--select", action="append", default=[], metavar="KIND:FOLDER",
                   help="validation set(s) whose mean CER picks the best epoch (default: all), "
                        "e.g. --select folder:iam-lines --select pagexml:hooker")
    p.add_argument("--exclude", type=Path, metavar="FILE",
                   help="leave out the training samples listed, one SET<TAB>ID a line (e.g. the "
                        "mis-cut crops bench/two_row_crops.py lists)")
    p.add_argument("--preview", action="store_true",
                   help="write OUTPUT/augmentation_preview.png of augmented samples and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from htr import training  # heavy import (TensorFlow) after the arguments are checked

    model = SIZES[args.size]
    if args.height:
        model = dataclasses.replace(model, height=args.height)
    config = training.TrainConfig(
        data=args.data, output=args.output, model=model, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, epoch_size=args.epoch_size,
        val_fraction=args.val_fraction, val_limit=args.val_limit, patience=args.patience,
        time_budget_minutes=args.time_budget, augment_strength=args.augment, seed=args.seed,
        workers=args.workers, resume=args.resume, init_from=args.init,
        extend_charset=args.extend_charset, grow=args.grow, select=tuple(args.select),
        exclude=args.exclude, teacher=args.teacher, distill_weight=args.distill_weight,
        teacher_shifts=args.teacher_shifts, command=training.command_line())
    try:
        if args.preview:
            data = training.load_data(config.data, config.val_fraction, config.val_limit,
                                      config.seed, config.exclude)
            path = training.write_preview(data.train, config, args.output / "augmentation_preview.png")
            print(f"wrote {path}")
            return 0
        state = training.train(config)
    except HTRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"best epoch {state['best_epoch']}: mean validation CER {state['best_cer']:.2%}; "
          f"model in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
