"""Command line: ``python -m htr read IMAGE...``, ``python -m htr evaluate --data KIND:PATH``,
``python -m htr average --output DIR SNAPSHOT...``, ``python -m htr blank-offset --data KIND:PATH``
and ``python -m htr export --format onnx|tflite --output FILE``.

A thin shell over the library; exit status 0 when everything was read, 1 when some input failed,
2 for a usage or data error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .decode import DECODERS, DEFAULT_DECODER
from .errors import HTRError, ImageError
from .export import FORMATS
from .insights import LANGUAGES as INSIGHT_LANGUAGES
from .language_cli import add_parsers as add_language_parsers
from .language_cli import run as run_language_command
from .lexicon import LANGUAGE_CHOICES
from .page import LEVELS, RECOGNISE
from .runtimes import BACKENDS, QUANTIZATIONS, STATIC_INT8
from .runtimes import FORMATS as RUNTIME_FORMATS


READ_SHIFTS_HELP = ("read each line once per shift, moved that many rows of the network's input "
                    "down (negative: up), and average the readings, e.g. -1,1; none: read each "
                    "line once (faster); default: the model folder's read_shifts")


def parse_read_shifts(text: str) -> tuple[int, ...]:
    """``--read-shifts``: ``-1,1`` -> (-1, 1); ``none`` (or nothing) -> () (the benchmarks' too)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers of rows, e.g. -1,1, "
                                         f"or none") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m htr", description="Read handwriting.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read", help="read page, line or word images, and documents (every "
                                    "page of a PDF, TIFF, HEIC/HEIF or WEBP)")
    r.add_argument("images", nargs="+", metavar="FILE")
    r.add_argument("--level", choices=LEVELS, default="auto",
                   help="what each image shows: a page of lines, one line, one word (read with "
                        "no space in it); auto (default) decides from the image")
    r.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    r.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json, page (PAGE-XML 2019), alto (ALTO 4.2), hocr, pdf "
                        "(searchable: the image under an invisible text layer). Several images: "
                        "one file of all pages; page and alto: a ZIP of one XML per page and the "
                        "page images")
    r.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the export to FILE (default: standard output; a PDF or ZIP only "
                        "when that is not a terminal)")
    r.add_argument("--layout", type=Path, metavar="XML",
                   help="read the image along the lines of this PAGE-XML or ALTO file (from "
                        "Transkribus, eScriptorium, kraken), in its reading order, keeping its "
                        "line and region ids; one image only")
    r.add_argument("--max-pages", type=int, default=200, metavar="N",
                   help="read at most N pages of a document (PDF, TIFF, HEIF, WEBP; default 200)")
    r.add_argument("--dpi", type=int, default=200,
                   help="resolution PDF pages are rendered at (default 200)")
    r.add_argument("--decoder", choices=DECODERS,
                   help=f"greedy, beam or wordbeam (default: {DEFAULT_DECODER})")
    r.add_argument("--lexicon", type=Path, help="wordbeam: a lexicon .npz or a word list")
    r.add_argument("--backend", choices=BACKENDS,
                   help="what runs the network: tensorflow or onnx (ONNX Runtime, same text; "
                        "default: $HTR_BACKEND, else onnx where the model folder ships its ONNX file, "
                        "as the default model does, else tensorflow)")
    r.add_argument("--language", choices=LANGUAGE_CHOICES,
                   help=f"the lexicon decoders' language: {', '.join(LANGUAGE_CHOICES[1:])}, or auto (the "
                        f"default: each page or line picks the lexicon its reading fits best, the "
                        f"word images read together the one that fits them all)")
    r.add_argument("--read-shifts", type=parse_read_shifts, metavar="ROWS",
                   help=READ_SHIFTS_HELP)
    i = sub.add_parser("insights", help="key phrases, dates, amounts of money, phone numbers, "
                                        "e-mail addresses and URLs of texts (text files, or "
                                        "images and documents read first)")
    i.add_argument("files", nargs="+", metavar="FILE")
    i.add_argument("--language", choices=INSIGHT_LANGUAGES,
                   help="the texts' language (default: an image's is the one it was read in, a "
                        "text file's is en)")
    i.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default: one entity a line) or json (a list, one object a file)")
    i.add_argument("--model", type=Path, help="model folder, for images (default: the shipped model)")
    e = sub.add_parser("evaluate", help="score a model on a labelled data set")
    e.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    e.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    e.add_argument("--split", choices=("all", "train", "val", "test"), default="all",
                   help="which part of each set to score (splits as in training)")
    e.add_argument("--val-fraction", type=float, default=0.1)
    e.add_argument("--limit", type=int, help="score at most this many samples per set")
    e.add_argument("--decoder", action="append", choices=DECODERS,
                   help=f"decoder(s) to compare, one row each (default: {DEFAULT_DECODER})")
    e.add_argument("--lexicon", type=Path, help="wordbeam: a lexicon .npz or a word list")
    e.add_argument("--language", action="append", choices=LANGUAGE_CHOICES,
                   help="the lexicon decoders' language(s) to compare, one row each (default: auto)")
    e.add_argument("--level", choices=("line", "word", "auto", "page"), default="line",
                   help="line: read the sets' line (or word) crops; word: read each crop as one "
                        "word (as read --level word does); auto: let each crop's kind be decided "
                        "from the image, as read does by default, and count what they were taken "
                        "for; page: read whole pages of page-level sets (pagexml, alto) and score "
                        "line detection and page CER")
    e.add_argument("--recognise", choices=RECOGNISE, default="lines",
                   help="with --level page: read whole lines (default) or word crops")
    e.add_argument("--read-shifts", type=parse_read_shifts, metavar="ROWS", help=READ_SHIFTS_HELP)
    a = sub.add_parser("average", help="average the weights of snapshots of one network "
                                       "(epochs of a fine-tuning run) into a model folder")
    a.add_argument("snapshots", nargs="+", metavar="SNAPSHOT",
                   help="model folders, .keras checkpoints or .weights.h5 files")
    a.add_argument("--output", type=Path, required=True, help="model folder to write")
    a.add_argument("--reference", type=Path,
                   help="model folder of the network, for its charset and configuration "
                        "(default: the first snapshot)")
    x = sub.add_parser("export", help="write the recognition network (up to its per-frame scores) "
                                      "for another runtime, with a model card beside it")
    x.add_argument("--format", choices=RUNTIME_FORMATS, required=True,
                   help="onnx (ONNX Runtime; any batch and width) or tflite (LiteRT/TFLite, "
                        "built-in operators only; one line at a time, any width)")
    x.add_argument("--quantize", choices=(*QUANTIZATIONS, STATIC_INT8),
                   help="float16 (half-size weights), int8 (dynamic-range: int8 weights; "
                        "reads a little differently) or, for ONNX, int8-static (int8 "
                        "convolutions calibrated on --calibrate lines, int8 LSTM weights: about "
                        "twice as fast on a PC); default: float32 as trained")
    x.add_argument("--calibrate", action="append", metavar="KIND:PATH",
                   help="with --quantize int8-static: data whose training lines set the "
                        "activations' ranges (repeat for several sets)")
    x.add_argument("--calibrate-lines", type=int, default=64, metavar="N",
                   help="lines drawn from each --calibrate set (default 64)")
    x.add_argument("--output", type=Path, required=True, metavar="FILE")
    x.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    b = sub.add_parser("blank-offset", help="measure CER with the CTC blank's logit shifted, "
                                            "and keep the best shift in the model (--write)")
    b.add_argument("--data", action="append", required=True, metavar="KIND:PATH")
    b.add_argument("--model", type=Path, help="model folder (default: the shipped model)")
    b.add_argument("--decoder", choices=("greedy", "wordbeam"), default="greedy",
                   help="greedy (default): --write shifts the blank in the weights; wordbeam: the "
                        "blank's and the space's logits shifted together, and --write sets the shift "
                        "word beam search reads with (config.json's wordbeam_gap_offset)")
    b.add_argument("--level", choices=("line", "word"), default="line",
                   help="line (default), or word: each image read as one word, and with wordbeam "
                        "--write sets the shift for images read as words (config.json's "
                        "wordbeam_word_gap_offset)")
    b.add_argument("--language", choices=LANGUAGE_CHOICES, help="wordbeam's lexicon (default: auto)")
    b.add_argument("--split", choices=("all", "train", "val"), default="train",
                   help="where to measure (default train: the validation sets stay unseen)")
    b.add_argument("--val-fraction", type=float, default=0.1)
    b.add_argument("--limit", type=int, default=300,
                   help="a seeded random sample of this many per set (default 300)")
    b.add_argument("--offsets", type=_numbers,
                   default="0,-0.25,-0.5,-0.75,-1,-1.25,-1.5,-1.75,-2,-2.5,-3",
                   help="comma-separated logit shifts to try, after an equals sign (--offsets=-1,-2); "
                        "0 is always tried")
    b.add_argument("--write", type=shift, nargs="?", const="best", metavar="OFFSET",
                   help="shift the model folder's blank logit by the offset with the lowest mean "
                        "CER over the sets, or by OFFSET (--write=-1) when the sets disagree")
    f = sub.add_parser("finetune", help="adapt a model to one person's hand from their "
                                          "corrected lines (minutes on a CPU)")
    f.add_argument("--model", type=Path, help="model folder to start from (default: the shipped model)")
    f.add_argument("--data", action="append", required=True, metavar="KIND:PATH",
                   help="corrected lines (repeatable), any set train.py takes, e.g. "
                        "pagexml:WORKSPACE or folder:my-lines")
    f.add_argument("--output", type=Path, required=True, help="model folder to write")
    f.add_argument("--time-budget", type=float, default=5.0, metavar="MINUTES",
                   help="stop training before this (default 5)")
    f.add_argument("--freeze", choices=("cnn", "encoder", "none"), default="cnn",
                   help="what stays as it was: cnn (default) the convolutions; encoder those, the "
                        "projection and the first BiLSTM; none")
    f.add_argument("--mix", type=float, default=0.6,
                   help="save base + MIX x (fine-tuned - base) weights: 0.6 (default) forgets "
                        "about half as much of other hands as 1 (all the way)")
    m = sub.add_parser("train-linemask", help="train the network that tells the segmenter where "
                                             "lines run (htr.linemask) on pages with drawn lines")
    m.add_argument("--data", action="append", required=True, metavar="KIND:PATH",
                   help="pagexml:FOLDER or alto:FOLDER (repeatable); their train split is used")
    m.add_argument("--lines", action="append", default=[], metavar="KIND:PATH[*PAGES]",
                   help="line images (folder:PATH and the like; repeatable) stacked into PAGES "
                        "pages (default 100) of their train split, for modern hands")
    m.add_argument("--photos", type=int, default=0, metavar="N",
                   help="each training page also N times as a synthetic phone photo, its sheet "
                        "found and flattened as the page reader does (htr.photo; default 0)")
    m.add_argument("--output", type=Path, required=True,
                   help="folder for linemask.onnx (and linemask-int8.onnx, what the segmenter "
                        "reads), linemask.keras and history.json")
    m.add_argument("--steps", type=int, default=3000, help="batches of 8 crops (default 3000)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--calibrate-pages", type=int, default=32, metavar="N",
                   help="training pages whose activations set linemask-int8.onnx's ranges "
                        "(default 32)")
    q = sub.add_parser("quantize-linemask", help="quantise a trained line network (htr.linemask) "
                                                 "to int8, calibrated on training pages")
    q.add_argument("--data", action="append", required=True, metavar="KIND:PATH",
                   help="pagexml:FOLDER or alto:FOLDER (repeatable); pages of their train split")
    q.add_argument("--source", type=Path,
                   help="the float network (default: the shipped models/linemask/linemask.onnx)")
    q.add_argument("--output", type=Path,
                   help="the int8 file to write (default: the shipped "
                        "models/linemask/linemask-int8.onnx, what the segmenter reads)")
    q.add_argument("--pages", type=int, default=32, help="pages to calibrate on (default 32)")
    q.add_argument("--seed", type=int, default=0)
    add_language_parsers(sub)  # speak, translate
    return p


def _numbers(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def shift(text: str) -> float | str:
    """``--write``'s value: a number, or ``best`` (argparse names this function in its error)."""
    return text if text == "best" else float(text)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "insights":  # TensorFlow only if an image is to be read
        return _insights(args)
    if args.command in ("speak", "translate"):  # the same
        return run_language_command(args)
    from .recognizer import DEFAULT_MODEL, Recognizer
    from .runtimes import default_backend

    # Reading and evaluating run the network in ONNX Runtime where the model folder ships its
    # ONNX file: TensorFlow's import (3-5 s) is then not paid at all.
    if args.command not in ("read", "evaluate") or \
            (getattr(args, "backend", None) or default_backend(args.model or DEFAULT_MODEL)) == "tensorflow":
        _import_tensorflow_quietly()

    try:
        if args.command == "average":
            return _average(args)
        if args.command == "finetune":
            return _finetune(args)
        if args.command == "export":
            return _export(args)
        if args.command == "train-linemask":
            return _train_linemask(args)
        if args.command == "quantize-linemask":
            return _quantize_linemask(args)
        if args.command == "blank-offset":  # greedy shifts the Keras model's weights: TensorFlow's
            return _blank_offset(Recognizer.load(
                args.model, args.decoder, language=args.language,
                backend="tensorflow" if args.decoder == "greedy" else None), args)
        if args.command == "read":
            return _read(Recognizer.load(args.model, args.decoder, args.lexicon,
                                         language=args.language, backend=args.backend,
                                         read_shifts=args.read_shifts), args)
        decoders = args.decoder or [None]  # None: the default decoder
        first = Recognizer.load(args.model, "greedy", read_shifts=args.read_shifts)
        recognizers = [first.with_decoder(d, args.lexicon, language=lang)
                       for d in decoders for lang in ([None] if d == "greedy" else args.language or [None])]
        return _evaluate(recognizers, args)
    except HTRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train_linemask(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .linemask_training import (INT8_FILE, line_pages, prepare_page, prepare_photos,
                                    quantize_line_mask, read_pages, train)

    pages = read_pages(args.data, "train")
    quiet = not sys.stderr.isatty()
    prepared = [p for p in (prepare_page(page) for page in tqdm(pages, desc="pages", unit="page",
                                                                 disable=quiet))
                if p is not None]
    if not prepared:
        print("no training page has two level lines with a baseline", file=sys.stderr)
        return 2
    print(f"{len(prepared)} of {len(pages)} training pages", flush=True)
    if args.photos > 0:
        photos = [p for p in tqdm(prepare_photos(pages, args.photos, args.seed), desc="photos",
                                  unit="page", total=len(pages) * args.photos, disable=quiet)
                  if p is not None]
        print(f"{len(photos)} of {len(pages) * args.photos} photographed pages (no sheet found "
              f"in the rest)", flush=True)
        prepared += photos
    for i, spec in enumerate(args.lines):
        spec, _, count = spec.partition("*")
        stacked = line_pages(spec, int(count or 100), seed=args.seed + i)
        print(f"{len(stacked)} pages stacked from {spec}", flush=True)
        prepared += stacked
    path = train(prepared, args.output, steps=args.steps, seed=args.seed,
                 log=lambda text: print(text, flush=True))
    print(f"wrote {path}")
    quantized = quantize_line_mask(path, _some(prepared, args.calibrate_pages, args.seed),
                                   args.output / INT8_FILE)
    print(f"wrote {quantized}")
    return 0


def _quantize_linemask(args: argparse.Namespace) -> int:
    from .linemask import DEFAULT_LINE_MASK, FLOAT_LINE_MASK
    from .linemask_training import prepare_page, quantize_line_mask, read_pages

    source = args.source or FLOAT_LINE_MASK
    if not source.is_file():
        print(f"error: {source}: no such file", file=sys.stderr)
        return 2
    pages = _some(read_pages(args.data, "train"), args.pages, args.seed)
    prepared = [p for p in map(prepare_page, pages) if p is not None]
    if not prepared:
        print("error: no training page has two level lines to calibrate on", file=sys.stderr)
        return 2
    path = quantize_line_mask(source, prepared, args.output or DEFAULT_LINE_MASK)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, calibrated on {len(prepared)} training pages")
    return 0


def _some(items: list, n: int, seed: int) -> list:
    """``n`` of ``items`` drawn at random (seeded), in their order; all of them when fewer."""
    import numpy as np

    if len(items) <= n:
        return list(items)
    return [items[i] for i in sorted(np.random.default_rng(seed).choice(len(items), n, replace=False))]


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


def _finetune(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .finetune import FinetuneConfig, finetune
    from .recognizer import DEFAULT_MODEL

    with tqdm(total=100, unit="%", disable=not sys.stderr.isatty()) as bar:
        def progress(fraction: float, message: str) -> None:
            bar.set_description(message)
            bar.update(round(100 * fraction) - bar.n)

        result = finetune(args.model or DEFAULT_MODEL, args.data, args.output,
                          FinetuneConfig(time_budget_minutes=args.time_budget, freeze=args.freeze,
                                         mix=args.mix),
                          progress=progress, log=tqdm.write)
    scores = ("" if result.cer is None else f"; held-back pages CER {result.base_cer:.2%} (base) "
              f"-> {result.cer:.2%}")
    pages = f"{result.train_pages} page{'' if result.train_pages == 1 else 's'}"
    print(f"{args.output}: fine-tuned on {result.train_lines} lines of {pages} in "
          f"{result.seconds:.0f} s{scores}")
    return 0


def _average(args: argparse.Namespace) -> int:
    from .model import average_snapshots, save_model_dir

    model, charset, config = average_snapshots(args.reference or args.snapshots[0], args.snapshots)
    save_model_dir(args.output, model, charset, config)
    print(f"{args.output}: the mean of {len(args.snapshots)} snapshots")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .model import read_model_dir
    from .recognizer import DEFAULT_MODEL
    from .runtimes import calibration_inputs, export_network

    if (args.quantize == STATIC_INT8) != bool(args.calibrate):
        print(f"error: --quantize {STATIC_INT8} and --calibrate KIND:PATH go together",
              file=sys.stderr)
        return 2
    calibration = None
    if args.calibrate:
        _, config = read_model_dir(args.model or DEFAULT_MODEL)
        calibration = calibration_inputs(args.calibrate, config.height, args.calibrate_lines)
    path = export_network(args.format, args.output, args.model, args.quantize, calibration)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB; model card {path.name}.card.json and .card.md")
    return 0


def _blank_offset(recognizer, args: argparse.Namespace) -> int:
    from dataclasses import replace

    import numpy as np

    from .evaluate import blank_offset_sweep
    from .model import save_model_dir, shift_blank_logit, write_model_config
    from .readers import DataSpec

    words = args.level == "word"
    if words and args.write is not None and args.decoder != "wordbeam":
        print("error: --level word --write sets word beam search's shift for words: "
              "use it with --decoder wordbeam", file=sys.stderr)
        return 2
    offsets = sorted({0.0, *args.offsets}, reverse=True)
    sets = {}
    for text in args.data:
        spec = DataSpec.parse(text)
        # Spread over the writers, not the first few's lines.
        samples = _some(_split_samples(spec, args), args.limit, seed=0)
        if not samples:
            print(f"error: {spec.name}: no samples in split {args.split!r}", file=sys.stderr)
            return 2
        sets[spec.name] = samples
    table = blank_offset_sweep(recognizer, sets, offsets, progress=sys.stderr.isatty(),
                               level=args.level)
    names = list(sets)
    print(f"{'offset':>7} " + " ".join(f"{n[-20:]:>20}" for n in names) + f" {'mean':>7}")
    for offset, scores in table.items():
        print(f"{offset:>7.2f} " + " ".join(f"{scores[n]:>20.2%}" for n in names)
              + f" {np.mean(list(scores.values())):>7.2%}")
    best = min(offsets, key=lambda o: (np.mean(list(table[o].values())), abs(o)))
    print(f"lowest mean CER ({args.split} split, {args.decoder}, read as {args.level}s): offset {best:g}")
    applied = best if args.write == "best" else args.write or 0.0
    if args.decoder == "wordbeam" and args.write is not None:
        directory = recognizer.directory
        field = "wordbeam_word_gap_offset" if words else "wordbeam_gap_offset"
        write_model_config(directory, replace(recognizer.config, **{field: applied}))
        print(f"{directory}: word beam search reads {'words' if words else 'lines'} with the "
              f"blank's and the space's logits shifted by {applied:g}; "
              f"fit its calibration again (python bench/calibration.py --write)")
    elif applied:
        directory = recognizer.directory
        shift_blank_logit(recognizer.model, applied)
        save_model_dir(directory, recognizer.model, recognizer.charset, recognizer.config)
        print(f"{directory}: blank logit shifted by {applied:g}; fit its calibration again "
              f"(python bench/calibration.py --write)")
    return 0


#: Formats read as documents, page by page (the others are one image each, as before).
_DOCUMENT_KINDS = ("PDF", "TIFF", "HEIF", "WEBP")


def _read(recognizer, args: argparse.Namespace) -> int:
    """Read every image, and every page of every document (PDF, TIFF, HEIF, WEBP), with a
    progress bar on stderr when it is a terminal."""
    import json

    from .documents import DocumentError, Limits, open_document, sniff
    from .export import SourcePage, export
    from .orientation import turn_note
    from .readers.pagexml import read_layout

    as_json = args.format == "json"
    if as_json:
        from .insights import page_insights

    def described(page) -> dict:
        """A page's JSON entry, made only for JSON output (its insights cost a few ms a page)."""
        return {**page.to_dict(), "insights": page_insights(page)} if as_json else {}

    if args.layout and len(args.images) != 1:
        print("error: --layout describes one page: give exactly one image", file=sys.stderr)
        return 2
    binary_out = args.format == "pdf" or (args.format in ("page", "alto") and len(args.images) > 1)
    if binary_out and args.output is None and sys.stdout.isatty():
        # Checked before reading: a PDF or ZIP on a terminal is garbage, and a read is seconds.
        print(f"error: --format {args.format} writes a binary file: give -o FILE or redirect "
              "standard output", file=sys.stderr)
        return 2
    limits = Limits(max_pages=args.max_pages, dpi=args.dpi)
    # What to read: (input name, its document or None for a plain image); documents opened
    # first, so that the progress bar knows every page.
    inputs, failed = [], 0
    for name in args.images:
        document = None
        path = Path(name)
        if path.is_file() and path.stat().st_size <= limits.max_bytes:
            with open(path, "rb") as f:
                kind = sniff(f.read(1024))
            if kind in _DOCUMENT_KINDS:
                try:
                    document = open_document([(name, path.read_bytes())], limits)
                except DocumentError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    failed += 1
                    continue
                for note in document.notes:
                    print(f"note: {note}", file=sys.stderr)
        inputs.append((name, document))
    layout = read_layout(args.layout, Path(args.images[0])) if args.layout and inputs else None
    total = sum(len(d.pages) if d else 1 for _, d in inputs)
    from tqdm import tqdm

    progress = tqdm(total=total, unit="page", file=sys.stderr, disable=not sys.stderr.isatty(),
                    leave=False)
    entries, sources = [], []  # JSON entries (one per input), pages for the other exports
    # The plain images, read as one stream: their line and word crops share network calls.
    plain = [name for name, document in inputs if document is None]
    reads = (iter([_read_or_error(recognizer, plain[0], args.level, layout)]) if layout is not None
             else recognizer.read_pages(plain, args.level))
    for name, document in inputs:
        if document is None:
            page = next(reads)
            if isinstance(page, ImageError):
                print(f"error: {page}", file=sys.stderr)
                failed += 1
            else:
                if page.turned:
                    print(f"note: {name}: {turn_note(page.turned)}", file=sys.stderr)
                entries.append({"file": name, **described(page)})
                sources.append(SourcePage(page, name, Path(name)))
            progress.update()
            continue
        pages = []
        stem = Path(name).stem
        for number, grey, error in document:
            progress.set_description(f"{Path(name).name} p{number}")
            if error is None:
                try:
                    page = recognizer.read_page(grey, args.level)
                except ImageError as exc:
                    error = DocumentError("unreadable_page", f"{name}: page {number}: {exc}",
                                          number)
            if error is not None:
                print(f"error: {error}", file=sys.stderr)
                pages.append({"page": number, "error": error.to_dict()})
                failed += 1
            else:
                if page.turned:
                    print(f"note: {name}: page {number}: {turn_note(page.turned)}", file=sys.stderr)
                pages.append({"page": number, **described(page)})
                shown = name if args.format == "text" else f"{stem}-p{number:03d}.png"
                sources.append(SourcePage(page, f"{shown} page {number}"
                                          if args.format == "text" else shown, grey))
            progress.update()
        entries.append({"file": name, "pages": pages})
    progress.close()
    if not sources and args.format not in ("text", "json"):
        return 1  # nothing was read: no empty PDF or XML to stand for it
    if args.format == "json":  # one entry per input: a page, or a document {"file", "pages"}
        data = (json.dumps(entries, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif not sources:  # the same empty output as one page without text
        data = b""
    else:
        data = export(sources, args.format).data
    if args.output is not None:
        args.output.write_bytes(data)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 1 if failed else 0


def _insights(args: argparse.Namespace) -> int:
    """Each file's insights: a text file's text, or the text read from an image or document."""
    import json

    from .documents import sniff
    from .insights import understand

    out, failed, recognizer = [], 0, None
    for name in args.files:
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            print(f"error: {name}: {exc.strerror}", file=sys.stderr)
            failed += 1
            continue
        if sniff(data[:1024]) is None:
            try:
                texts = [(name, data.decode("utf-8"), None)]
            except UnicodeDecodeError:
                print(f"error: {name}: neither an image, a document nor UTF-8 text",
                      file=sys.stderr)
                failed += 1
                continue
        else:
            if recognizer is None:
                _import_tensorflow_quietly()
                from .recognizer import Recognizer

                recognizer = Recognizer.load(args.model, language=args.language or "auto")
            texts, errors = _read_texts(recognizer, name)
            failed += errors
        for shown, text, language in texts:
            found = understand(text, args.language or language)
            out.append({"file": shown, **found.to_dict()})
    if args.format == "json":
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for entry in out:
            print(f"{entry['file']} ({entry['language']})")
            print("  key phrases: " + "; ".join(" ".join(k["text"].split())
                                                for k in entry["key_phrases"]))
            for e in entry["entities"]:
                value = e["value"]
                if isinstance(value, dict):
                    value = f"{value['amount']} {value['currency']}"
                print(f"  {e['kind']:6} {' '.join(e['text'].split())!r} -> {value}  "
                      f"[{e['start']}:{e['end']}]")
    return 1 if failed else 0


def _read_texts(recognizer, name: str) -> tuple[list[tuple[str, str, str | None]], int]:
    """An image's or document's pages read: ``(name, text, language)`` each, and how many
    pages could not be read (said on stderr)."""
    from .documents import DocumentError, open_document
    from .image import load_image

    try:
        path = Path(name)
        document = open_document([(name, path.read_bytes())])
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return [], 1
    if len(document.pages) == 1 and document.kind not in _DOCUMENT_KINDS:
        try:
            page = recognizer.read_page(load_image(name))
        except ImageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return [], 1
        return [(name, page.text, page.language)], 0
    texts, failed = [], 0
    for number, grey, error in document:
        if error is None:
            try:
                page = recognizer.read_page(grey)
                texts.append((f"{name} page {number}", page.text, page.language))
                continue
            except ImageError as exc:
                error = exc
        print(f"error: {error}", file=sys.stderr)
        failed += 1
    return texts, failed


def _read_or_error(recognizer, name: str, level: str, layout):
    """One image's page, or the :class:`ImageError` that stopped it."""
    try:
        return recognizer.read_page(name, level, layout)
    except ImageError as exc:
        return exc


def _evaluate(recognizers, args: argparse.Namespace) -> int:
    if args.level == "page":
        return _evaluate_pages(recognizers, args)
    from .evaluate import evaluate
    from .readers import DataSpec

    print(f"{'data':40} {'decoder':14} {'n':>6} {'CER':>7} {'WER':>7} {'items/s':>8}")
    for text in args.data:
        spec = DataSpec.parse(text)
        samples = _split_samples(spec, args)
        samples = samples[:args.limit] if args.limit else samples
        if not samples:
            print(f"{spec.name:40} {'':14} {0:>6}  (no samples in split {args.split!r})")
            continue
        for recognizer in recognizers:
            ev = evaluate(recognizer, samples, desc=spec.name, progress=sys.stderr.isatty(),
                          level=args.level)
            print(f"{spec.name:40} {_decoder_name(recognizer):14} {ev.n:>6} {ev.cer:>7.2%} "
                  f"{ev.wer:>7.2%} {ev.items_per_second:>8.1f}")
            if ev.kinds is not None:
                taken = ", ".join(f"{n} {kind}s" for kind, n in sorted(ev.kinds.items()))
                print(f"{'':40} taken for: {taken}")
    return 0


def _decoder_name(recognizer) -> str:
    """``wordbeam``, or ``wordbeam/fr`` where the decoder has a language."""
    return f"{recognizer.decoder}/{recognizer.language}" if recognizer.language else recognizer.decoder


def _split_samples(spec, args: argparse.Namespace) -> list:
    """The samples of a data set in ``args.split`` (split as in training; ``all``: every one)."""
    from .readers import open_data, split_of

    return [s for s in open_data(spec)
            if args.split == "all" or split_of(s, args.val_fraction) == args.split]


def _evaluate_pages(recognizers, args: argparse.Namespace) -> int:
    from .evaluate import evaluate, evaluate_pages
    from .readers import PAGE_KINDS, DataSpec, open_data, open_pages

    for text in args.data:
        spec = DataSpec.parse(text)
        if spec.kind not in PAGE_KINDS:
            print(f"{spec.name}: --level page needs page-level data (pagexml or alto)",
                  file=sys.stderr)
            return 2
        pages = open_pages(spec, args.split, args.val_fraction)
        pages = pages[:args.limit] if args.limit else pages
        if not pages:
            print(f"{spec.name}: no pages in split {args.split!r}")
            continue
        # The same pages' true line crops, read one by one: what segmentation costs is the gap.
        prefixes = tuple(f"{p.id}_" for p in pages)
        crops = [s for s in open_data(spec) if s.id.startswith(prefixes)]
        for recognizer in recognizers:
            ev = evaluate_pages(recognizer, pages, progress=sys.stderr.isatty(), desc=spec.name,
                                recognise=args.recognise)
            lines = evaluate(recognizer, crops, desc=spec.name, progress=sys.stderr.isatty())
            d, drawn = ev.detection, ev.detection_drawn
            print(f"{spec.name} ({_decoder_name(recognizer)}, reading {args.recognise}): {ev.n} pages, "
                  f"{d.truth} true lines, "
                  f"{d.found} found")
            print(f"  line detection (IoU >= 0.5, one to one): precision {d.precision:.3f}  "
                  f"recall {d.recall:.3f}  F1 {d.f1:.3f}")
            print(f"    against the boxes as drawn: precision {drawn.precision:.3f}  "
                  f"recall {drawn.recall:.3f}  F1 {drawn.f1:.3f}")
            print(f"  page CER {ev.cer:.2%}  WER {ev.wer:.2%}   (true line crops: CER "
                  f"{lines.cer:.2%} WER {lines.wer:.2%}, {lines.n} lines)")
            print(f"  page CER with the lines in the reference's order "
                  f"{ev.cer_in_reference_order:.2%}")
            print(f"  {ev.seconds_per_page:.2f} s per page end to end, segmentation "
                  f"{ev.segment_seconds_per_page:.2f} s")
    return 0
