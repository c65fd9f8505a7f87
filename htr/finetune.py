"""Fine-tuning: adapt a trained model to one person's hand from a few dozen corrected lines, in
minutes on a CPU.

:func:`finetune` starts from a model folder's weights, holds back whole pages of the person's lines
(never single lines of a page that trains), trains the recurrent head and the output layer on the
rest (the convolutions, which see strokes rather than a hand, stay frozen: that halves a step's
work and keeps the model from forgetting how ink looks), stops early when the held-back pages stop
improving or when the time budget is spent, and writes a complete model folder: the weights, the
base model's charset, configuration, calibration and lexicons (the words the person typed added to
them), and a card (``README.md`` and ``finetune.json``) saying what it was trained on and how it
reads the held-back pages against the base model.

``python -m htr finetune`` and the web app's "Learn my handwriting" are thin shells over it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import DataError
from .readers import DataSpec, Sample, open_data

#: Progress reports: (fraction done 0..1, a short message).
Progress = Callable[[float, str], None]
#: The machine-readable card written beside README.md.
CARD_FILE = "finetune.json"
#: Lexicons of the base folder; the typed words join each of them.
LEXICON_FILES = ("lexicon.npz", "lexicon-fr.npz")
#: What ``freeze`` keeps as it was (layer-name prefixes): ``cnn`` the convolutions and their
#: batch norms, ``encoder`` those and the projection and the first sequence layer (the first
#: BiLSTM, or in a conv-only network, ``--size fast``, the first 1-D convolution and its batch
#: norm), ``none`` nothing.
FROZEN = {"cnn": ("conv", "bn"),
          "encoder": ("conv", "bn", "project", "bilstm0", "seq0", "seq_bn0"), "none": ()}
_LINE_NUMBER = re.compile(r"[-_]\d{2,3}$")


def freeze_layers(model, freeze: str) -> list[str]:
    """Keep the layers ``freeze`` names (:data:`FROZEN`) as they are in training; returns their
    names."""
    if freeze not in FROZEN:
        raise ValueError(f"freeze must be one of {', '.join(FROZEN)}, not {freeze!r}")
    frozen = [layer for layer in model.layers if layer.name.startswith(FROZEN[freeze])]
    for layer in frozen:
        layer.trainable = False
    return [layer.name for layer in frozen]


@dataclass
class FinetuneConfig:
    """How a fine-tuning run goes (recorded in the card). The defaults were measured on held-out
    IAM writers (README, "Learning a hand")."""

    time_budget_minutes: float = 5.0
    max_epochs: int = 60
    #: Epochs when nothing can be held back (one page): about where held-back scores stopped
    #: improving in the measurements.
    epochs_without_val: int = 10
    learning_rate: float = 1e-4
    batch_size: int = 8
    #: Training samples per epoch (lines repeated, each time augmented afresh): an epoch is then
    #: long enough for its validation to be a small part of the time.
    epoch_size: int = 96
    augment_strength: float = 0.4
    #: Held-back share of the pages (at least one page; none when there is only one page).
    val_fraction: float = 0.2
    patience: int = 6
    freeze: str = "cnn"  # FROZEN: "cnn", "encoder" or "none"
    #: How far the saved weights go from the base's towards the fine-tuned ones (1: all the way).
    #: Measured on 6 IAM writers (README, "Learning a hand"): 0.6 keeps most of the gain on the
    #: person's hand (CER -39% against -48% at 1) and forgets about half as much of other hands.
    mix: float = 0.6
    #: Unigram log-probability percentile of the base lexicon given to typed words it lacks.
    word_percentile: float = 90.0
    seed: int = 1


@dataclass
class FinetuneResult:
    """What :func:`finetune` did: the card's content."""

    base: str
    output: str
    data: list[str]
    train_lines: int
    train_pages: int
    val_lines: int
    val_pages: int
    base_cer: float | None
    cer: float | None
    epochs: int
    best_epoch: int
    seconds: float
    train_seconds: float
    stopped: str
    words_added: int
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    created: str = ""

    @property
    def relative_change(self) -> float | None:
        if self.base_cer is None or self.cer is None or self.base_cer == 0:
            return None
        return (self.cer - self.base_cer) / self.base_cer


def page_of(sample: Sample) -> str:
    """The page a line sample comes from: the page image a PAGE-XML or ALTO line is cut from, or
    a line file's name less its line number (``c03-000a-04`` -> ``c03-000a``)."""
    load = sample.load
    args = getattr(load, "args", ())
    func = getattr(getattr(load, "func", None), "__name__", "")
    if func == "_load_line" and args:
        return str(args[0])
    if args and isinstance(args[0], str):
        stem = Path(args[0]).stem
        return str(Path(args[0]).parent / (_LINE_NUMBER.sub("", stem) or stem))
    return sample.group


def split_by_page(samples: Sequence[Sample], val_fraction: float = 0.2,
                  seed: int = 1) -> tuple[list[Sample], list[Sample]]:
    """(train, held back): whole pages held back, taken in a fixed order (a hash of their names)
    while they keep the held-back lines within about ``val_fraction`` of all (half as much again
    at most); when no page is that small, the smallest page, if it is at most half the lines.
    With a single page nothing is held back."""
    pages: dict[str, list[Sample]] = {}
    for s in samples:
        pages.setdefault(page_of(s), []).append(s)
    if len(pages) < 2:
        return list(samples), []
    order = sorted(pages, key=lambda p: hashlib.md5(f"{seed}:{p}".encode()).hexdigest())
    limit = max(1.0, val_fraction * len(samples)) * 1.5
    chosen: set[str] = set()
    held = 0
    for p in order:
        if held + len(pages[p]) <= limit and len(chosen) < len(pages) - 1:
            chosen.add(p)
            held += len(pages[p])
    if not chosen:
        smallest = min(order, key=lambda p: len(pages[p]))
        if len(pages[smallest]) * 2 <= len(samples):
            chosen.add(smallest)
    return ([s for s in samples if page_of(s) not in chosen],
            [s for s in samples if page_of(s) in chosen])


def read_specs(specs: Sequence[str]) -> list[Sample]:
    """Every labelled line of the ``KIND:PATH`` data sets, whatever their own split says: a
    person's corrections are all theirs to learn from (``*WEIGHT`` repeats a set)."""
    out: list[Sample] = []
    for text in specs:
        spec = DataSpec.parse(text)
        samples = open_data(spec)
        whole = max(1, int(round(spec.weight)))
        out += samples * whole
    return out


def typed_words(texts: Sequence[str]) -> list[str]:
    """The words of the corrected texts, as the lexicon splits words, each once, in order."""
    from .lexicon import WORD_RE

    seen: dict[str, None] = {}
    for text in texts:
        for m in WORD_RE.finditer(text):
            seen.setdefault(m.group(0), None)
    return list(seen)


def add_words_to_lexicons(base: Path, output: Path, words: Sequence[str],
                          percentile: float = 90.0) -> int:
    """Copy the base folder's lexicons into ``output`` with ``words`` added, each new word as
    frequent as the base lexicon's ``percentile``-th word (a common word: a name typed once should
    win over a near spelling next time). Returns how many words were new to the first lexicon."""
    import numpy as np

    from .lexicon import Lexicon

    added = 0
    for i, name in enumerate(LEXICON_FILES):
        source = base / name
        if not source.is_file():
            continue
        lexicon = Lexicon.load(source)
        logp = float(np.percentile(lexicon.unigram, percentile))
        grown = lexicon.with_words(list(words), logp=logp)
        if i == 0 or not added:
            added = len(grown) - len(lexicon)
        grown.save(output / name)
    return added


def finetune(base: str | Path, data: Sequence[str] | Sequence[Sample], output: str | Path,
             config: FinetuneConfig | None = None, *, val: Sequence[Sample] | None = None,
             progress: Progress | None = None, log: Callable[[str], None] | None = None,
             add_words: bool = True) -> FinetuneResult:
    """Fine-tune the model folder ``base`` on ``data`` (``KIND:PATH`` specs as ``train.py`` takes,
    or samples) and write the new model folder ``output``.

    ``val``: the held-back lines, when the caller chose them (a benchmark); otherwise whole pages
    of ``data`` are held back (:func:`split_by_page`). ``progress(fraction, message)`` is called as
    training goes; ``log`` gets a line per epoch. Raises :class:`DataError` when there is nothing
    to learn from and :class:`htr.errors.ModelError` for a bad base folder.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    from .evaluate import evaluate
    from .model import compile_model, load_model_dir, save_model_dir, widen_charset
    from .recognizer import Recognizer
    from .text import Charset
    from .training import BatchSequence, TrainConfig

    cfg = config or FinetuneConfig()
    start = time.time()
    base, output = Path(base), Path(output)
    say = log or (lambda line: None)
    report = progress or (lambda fraction, message: None)
    specs = [d for d in data if isinstance(d, str)]
    samples = read_specs(specs) + [d for d in data if not isinstance(d, str)]
    if not samples:
        raise DataError("no corrected lines to learn from")
    if val is None:
        train, held = split_by_page(samples, cfg.val_fraction, cfg.seed)
    else:
        train, held = list(samples), list(val)
    report(0.0, f"loading {base.name}")
    model, charset, model_config = load_model_dir(base)
    # Characters the base model cannot write (a name's accent, a currency sign) widen its output
    # when the person wrote them at least twice; lines with rarer ones are left out.
    grown = Charset(charset.chars + Charset.from_texts((s.text for s in train), 2).chars)
    if grown != charset:
        model, charset = widen_charset(model, model_config, charset, grown), grown
    train = [s for s in train if charset.covers(s.text)]
    held = [s for s in held if charset.covers(s.text)]
    if not train:
        raise DataError("none of the corrected lines can be written with the model's characters")

    freeze_layers(model, cfg.freeze)
    keras.utils.set_random_seed(cfg.seed)
    compile_model(model, cfg.learning_rate)

    def held_cer() -> float | None:
        if not held:
            return None
        return evaluate(Recognizer(model, charset, model_config), held, progress=False).cer

    base_cer = held_cer()
    if base_cer is not None:
        say(f"base model on {len(held)} held-back lines: CER {base_cer:.2%}")
    train_cfg = TrainConfig(data=specs, output=output, model=model_config,
                            batch_size=min(cfg.batch_size, len(train)),
                            epoch_size=max(cfg.epoch_size, len(train)),
                            augment_strength=cfg.augment_strength, seed=cfg.seed, workers=2)
    sequence = BatchSequence(train, charset, train_cfg)
    budget = cfg.time_budget_minutes * 60
    best_cer = base_cer if base_cer is not None else math.inf
    history: list[dict] = []
    train_start = time.time()
    steps = len(sequence)

    best_weights, best_epoch, stale, stopped = model.get_weights(), 0, 0, "epochs"
    start_weights = best_weights
    # A plain loop of train_on_batch rather than fit(): fit's data adapter fixes the batch shape
    # it expects from the first batches it sees, and with a few lines (every batch the same
    # lines, augmented) the first batches can all be one width and a later one wider. The next
    # batch is made on a thread while the network trains on this one.
    epochs = cfg.max_epochs if held else min(cfg.max_epochs, cfg.epochs_without_val)
    with ThreadPoolExecutor(1) as pool:
        for epoch in range(epochs):
            epoch_start, losses = time.time(), []
            pending = pool.submit(sequence.__getitem__, 0)
            for i in range(steps):
                x, y = pending.result()
                if i + 1 < steps:
                    pending = pool.submit(sequence.__getitem__, i + 1)
                losses.append(float(np.asarray(model.train_on_batch(x, y)).ravel()[0]))
                done = (time.time() - train_start) / budget
                by_epochs = (epoch + (i + 1) / steps) / epochs
                report(min(0.99, max(done, by_epochs)), f"epoch {epoch + 1}, loss {losses[-1]:.2f}")
            sequence.on_epoch_end()
            loss, score = float(np.mean(losses)), held_cer()
            seconds = time.time() - epoch_start
            history.append({"epoch": epoch + 1, "loss": loss, "cer": score, "seconds": seconds})
            say(f"epoch {epoch + 1}: loss {loss:.3f}"
                + (f", held-back CER {score:.2%}" if score is not None else "")
                + f" ({seconds:.0f} s)")
            # A tie takes the later weights (a few held-back lines score in coarse steps, and the
            # later epoch fits the hand better) but does not count as progress.
            if score is None or score <= best_cer:
                stale = 0 if score is None or score < best_cer else stale + 1
                best_cer = score if score is not None else best_cer
                best_weights, best_epoch = model.get_weights(), epoch + 1
            else:
                stale += 1
            if stale >= cfg.patience:
                stopped = "early"
                break
            if time.time() - train_start + seconds > budget:
                stopped = "time budget"
                break
    sequence.close()
    train_seconds = time.time() - train_start
    if cfg.mix < 1.0:
        best_weights = [b + cfg.mix * (w - b) for b, w in zip(start_weights, best_weights)]
    model.set_weights(best_weights)
    if cfg.mix < 1.0 and held:
        best_cer = held_cer()
    report(0.99, "saving")
    output.mkdir(parents=True, exist_ok=True)
    save_model_dir(output, model, charset, model_config)
    carry_calibration(base, output)
    words = typed_words([s.text for s in samples]) if add_words else []
    added = add_words_to_lexicons(base, output, words, cfg.word_percentile)
    for name in LEXICON_FILES:  # lexicons of the base that were not rewritten (add_words off)
        if (base / name).is_file() and not (output / name).is_file():
            shutil.copy2(base / name, output / name)
    result = FinetuneResult(
        base=str(base), output=str(output), data=[str(d) for d in specs] or
        sorted({s.source for s in samples if s.source}),
        train_lines=len(train), train_pages=len({page_of(s) for s in train}),
        val_lines=len(held), val_pages=len({page_of(s) for s in held}),
        base_cer=base_cer, cer=best_cer if held else None, epochs=len(history),
        best_epoch=best_epoch, seconds=time.time() - start, train_seconds=train_seconds,
        stopped=stopped, words_added=added, history=history, config=asdict(cfg),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    write_card(result, base)
    report(1.0, "done")
    return result


def write_card(result: FinetuneResult, base: Path) -> None:
    """``finetune.json`` (everything) and ``README.md`` (for a person) in the output folder."""
    out = Path(result.output)
    data = asdict(result)
    data["relative_change"] = result.relative_change
    (out / CARD_FILE).write_text(json.dumps(data, indent=1) + "\n")

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2%}"

    def pages(n: int) -> str:
        return f"{n} page{'' if n == 1 else 's'}"

    lexicons = [n for n in LEXICON_FILES if (out / n).is_file()]

    lines = [
        f"# Handwriting model `{out.name}`, fine-tuned", "",
        f"Fine-tuned from `{base}` ({result.created}) with `htr.finetune`: the convolutions kept "
        "as they were, the recurrent layers and the output trained on the lines below."
        if result.config.get("freeze") == "cnn" else
        f"Fine-tuned from `{base}` ({result.created}) with `htr.finetune`, every layer trained.", "",
        *([f"Saved weights: the base's plus {result.config['mix']:g} x (fine-tuned - base), so "
           "that it forgets less of other hands.", ""] if result.config.get("mix", 1) < 1 else []),
        "## Data", "",
        *[f"- `{d}`" for d in result.data],
        f"- {result.train_lines} lines of {pages(result.train_pages)} trained on; "
        f"{result.val_lines} lines of {pages(result.val_pages)} more held back to score and stop on "
        "(split by page, never by line)", "",
        "## Held-back pages (greedy decoding)", "",
        "| model | CER |", "| --- | --- |",
        f"| base `{Path(result.base).name}` | {pct(result.base_cer)} |",
        f"| fine-tuned (epoch {result.best_epoch}, as saved) | {pct(result.cer)} |", "",
        "## Training", "",
        f"- {result.epochs} epochs of {result.config.get('epoch_size')} augmented lines, stopped "
        f"by: {result.stopped}; {result.train_seconds:.0f} s training, {result.seconds:.0f} s in "
        f"all on {os.cpu_count()} cores",
        f"- settings: `{json.dumps(result.config)}`",
        *([f"- {result.words_added} typed words new to the lexicon added to it "
           f"(`{'`, `'.join(lexicons)}`)"] if lexicons else []),
        *(["- `calibration.json` is the base model's, carried over (fitted on the base weights, "
           "not refitted on these)"] if (out / "calibration.json").is_file() else []), "",
    ]
    (out / "README.md").write_text("\n".join(lines))


def carry_calibration(base: Path, output: Path) -> None:
    """The base model's confidence calibration, stamped for the new weights. It was fitted on the
    base weights: fine-tuning on a person's lines changes how sure the network is on their hand,
    but the map from raw confidence to "probably right" keeps its order, and an approximate map
    marks doubtful words better than none (the base's raw greedy confidences: ECE 0.175, mapped
    0.075). The file says it was carried over, so a later ``bench/calibration.py --write`` can
    fit it properly."""
    from .decode import CALIBRATION_FILE, model_fingerprint
    from .model import MODEL_FILE

    source = base / CALIBRATION_FILE
    if not source.is_file():
        return
    data = json.loads(source.read_text())
    data["carried_over_from"] = {"model": str(base), "fingerprint": data.get("model")}
    data["model"] = model_fingerprint(output / MODEL_FILE)
    (output / CALIBRATION_FILE).write_text(json.dumps(data, indent=1) + "\n")


def read_card(folder: str | Path) -> dict | None:
    """A fine-tuned folder's ``finetune.json``, or None for another model folder."""
    path = Path(folder) / CARD_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


__all__ = ["FinetuneConfig", "FinetuneResult", "finetune", "split_by_page", "page_of",
           "typed_words", "add_words_to_lexicons", "read_card", "CARD_FILE"]
