#!/usr/bin/env python3
"""Training samples per second as ``train.py`` trains: ``model.fit`` over
:class:`htr.training.BatchSequence` of a data mix (loading, augmentation and preprocessing on
the worker threads, the network's steps), the first epoch (tracing) left out of the rate.

    python bench/bench_fit.py [--data KIND:PATH[*W] ...] [--model models/default] [--seed 1]
    python bench/bench_fit.py --size fast-large [--teacher models/default]   # a new network,
                                                  # alone or distilled from a trained one

The code timed is the working directory's: to compare two versions of the training code, run
this file in this checkout and, in turns, from a ``git worktree`` of the other commit
(``cd ../old && python ../main/bench/bench_fit.py``; the machine's speed swings up to 2x between
runs). The data sets' ``..`` is this file's checkout's parent folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))  # the checkout it is run in, so a worktree times its own code
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

#: The shipped model's scanned and rendered sets, weighted as its last runs (no photo sets:
#: a page photo made on first use would count in whichever run meets it first).
MIX = ["iam-ondb:../shared/data/iam-ondb*0.25", "folder:../shared/data/iam-lines*3",
       "folder:../shared/data/iam-forms*1.5", "pagexml:../shared/data/hooker*2",
       "alto:../shared/data/copiste", "folder:../shared/data/kaggle-names*2",
       "iam-ondb-words:../shared/data/iam-ondb*0.25"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", help="training sets (default: the shipped mix)")
    p.add_argument("--model", type=Path, default=ROOT / "models/default",
                   help="the network trained (its weights start the timing run)")
    p.add_argument("--size", help="time a new network of this preset instead (train.py --size)")
    p.add_argument("--teacher", type=Path, help="distil from this model folder (train.py --teacher)")
    p.add_argument("--epochs", type=int, default=3, help="epochs; the first is not timed")
    p.add_argument("--epoch-size", type=int, default=1024)
    p.add_argument("--augment", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    import keras

    from htr.model import SIZES, build_model, compile_model, load_model_dir
    from htr.training import BatchSequence, TrainConfig, distil, load_data

    specs = args.data or [spec.replace("../", f"{ROOT.parent}/", 1) for spec in MIX]
    data = load_data(specs, 0.1, 10, args.seed, None)
    model, charset, config = load_model_dir(args.model)
    if args.size:  # the same charset, a new network
        config = SIZES[args.size]
        model = build_model(charset.num_classes, config)
    compile_model(model, 1e-5)
    train = TrainConfig(specs, Path("."), config, batch_size=16, augment_strength=args.augment,
                        seed=args.seed, epoch_size=args.epoch_size, teacher=args.teacher)
    distil(model, charset, train, {})  # as train.py does (nothing without --teacher)
    sequence = BatchSequence([s for s in data.train if charset.covers(s.text)], charset, train)
    seconds: list[float] = []

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(sequence, epochs=args.epochs, verbose=0, callbacks=[EpochTimes()], shuffle=False)
    if hasattr(sequence, "close"):  # older checkouts' sequences have no threads of their own
        sequence.close()
    rate = args.epoch_size * (args.epochs - 1) / sum(seconds[1:])
    print(f"{Path.cwd()}: epochs {', '.join(f'{s:.1f}' for s in seconds)} s; "
          f"{rate:.1f} training samples/s after the first", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
