"""Command line of Listen and Translate, over :mod:`htr.speech` and :mod:`htr.translate`:
``python -m htr speak FILE_OR_TEXT... -o out.wav`` and ``python -m htr translate --to es
FILE_OR_TEXT...`` (``--list``: the pairs installed). Registered by :mod:`htr.cli`.

Each input is a text file, an image or document (read first, in the language its reading fits
best: that language is then the one it is spoken or translated from), ``-`` (standard input),
or else the text itself. TensorFlow is loaded only when an image is to be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import speech, translate


def add_parsers(sub) -> None:
    """Add ``speak`` and ``translate`` to :mod:`htr.cli`'s subcommands."""
    s = sub.add_parser("speak", help="speak texts (text files, images or documents read first, "
                                     "or the text itself) with espeak-ng into a WAV file")
    s.add_argument("inputs", nargs="+", metavar="FILE_OR_TEXT")
    s.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.wav",
                   help="the WAV file to write (all inputs, one after the other)")
    s.add_argument("--language", help="the texts' language: en, fr, or any espeak-ng voice "
                                      "(default: an image's is the one it was read in, else en)")
    s.add_argument("--rate", type=int, default=speech.DEFAULT_RATE,
                   help=f"words per minute ({speech.MIN_RATE}-{speech.MAX_RATE}, default "
                        f"{speech.DEFAULT_RATE})")
    s.add_argument("--model", type=Path, help="model folder, for images (default: the shipped model)")
    t = sub.add_parser("translate", help="machine-translate texts (text files, images or documents "
                                         "read first, or the text itself) with Apertium, offline")
    t.add_argument("inputs", nargs="*", metavar="FILE_OR_TEXT")
    t.add_argument("--to", dest="target", metavar="LANG",
                   help="the language to translate into (es, ca ...: see --list)")
    t.add_argument("--from", dest="source", metavar="LANG",
                   help="the texts' language (default: an image's is the one it was read in, else en)")
    t.add_argument("--list", action="store_true", help="list the translations installed and exit")
    t.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default: the translation, its lines kept; the machine-translation "
                        "note on stderr) or json (one object an input, marked machine translation)")
    t.add_argument("--model", type=Path, help="model folder, for images (default: the shipped model)")


def run(args: argparse.Namespace) -> int:
    """Run ``speak`` or ``translate``: 0 when done, 1 when some input failed, 2 for a usage
    error or a program missing."""
    try:
        return _speak(args) if args.command == "speak" else _translate(args)
    except (speech.SpeechError, translate.TranslationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _texts(inputs: list[str], model: Path | None) -> tuple[list[tuple[str, str, str | None]], int]:
    """``(name, text, language or None)`` of each input (see the module), and how many failed."""
    from .documents import sniff

    texts, failed, recognizer = [], 0, None
    for name in inputs:
        if name == "-":
            texts.append(("-", sys.stdin.read(), None))
            continue
        path = Path(name)
        try:
            is_file = path.is_file()
        except OSError:  # a text too long to be a file's name
            is_file = False
        if not is_file:
            if path.suffix and not any(c.isspace() for c in name):  # a file name, mistyped
                print(f"error: {name}: no such file", file=sys.stderr)
                failed += 1
            else:
                texts.append(("text", name, None))  # the text itself
            continue
        data = path.read_bytes()
        if sniff(data[:1024]) is None:
            try:
                texts.append((name, data.decode("utf-8"), None))
            except UnicodeDecodeError:
                print(f"error: {name}: neither an image, a document nor UTF-8 text", file=sys.stderr)
                failed += 1
            continue
        from .cli import _import_tensorflow_quietly, _read_texts

        if recognizer is None:
            _import_tensorflow_quietly()
            from .recognizer import Recognizer

            recognizer = Recognizer.load(model, language="auto")
        read, errors = _read_texts(recognizer, name)
        texts += read
        failed += errors
    return texts, failed


def _speak(args: argparse.Namespace) -> int:
    import io
    import wave

    texts, failed = _texts(args.inputs, args.model)
    frames, params = [], None
    for name, text, language in texts:
        if not text.strip():
            print(f"note: {name}: no text to speak", file=sys.stderr)
            continue
        wav = speech.speak(text, args.language or language or "en", rate=args.rate)
        with wave.open(io.BytesIO(wav)) as w:
            params = w.getparams()
            frames.append(w.readframes(w.getnframes()))
    if params is None:
        print("error: nothing to speak", file=sys.stderr)
        return 1
    with wave.open(str(args.output), "wb") as out:
        out.setnchannels(params.nchannels)
        out.setsampwidth(params.sampwidth)
        out.setframerate(params.framerate)
        out.writeframes(b"".join(frames))
    seconds = sum(len(f) for f in frames) / (params.sampwidth * params.framerate)
    print(f"{args.output}: {seconds:.1f} s of speech", file=sys.stderr)
    return 1 if failed else 0


def _translate(args: argparse.Namespace) -> int:
    if args.list:
        status = translate.available()
        if not status.available:
            print(f"error: {status.reason}", file=sys.stderr)
            return 2
        for pair in sorted(status.pairs, key=lambda p: (p.source, p.target)):
            print(f"{pair.source} -> {pair.target}  ({translate.name(pair.source)} to "
                  f"{translate.name(pair.target)}, apertium {pair.mode})")
        return 0
    if not args.target or not args.inputs:
        print("error: give --to LANG and at least one FILE_OR_TEXT (or --list)", file=sys.stderr)
        return 2
    texts, failed = _texts(args.inputs, args.model)
    out = []
    for name, text, language in texts:
        if not text.strip():
            print(f"note: {name}: no text to translate", file=sys.stderr)
            continue
        result = translate.translate(text, args.source or language or "en", args.target)
        out.append({"file": name, **result.to_dict()})
        if args.format == "text":
            print(f"{name}: {result.note}, {translate.name(result.source)} to "
                  f"{translate.name(result.target)}", file=sys.stderr)
            print(result.text)
    if args.format == "json":
        print(json.dumps(out, ensure_ascii=False, indent=2))
    return 1 if failed else 0
