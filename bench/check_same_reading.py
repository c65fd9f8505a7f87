"""Check that a speed-up reads exactly what the code did before: the same text, the same
confidences (within 1e-9) and the same boxes, on real validation lines and pages.

    # dump what one checkout reads (the library of --root, the model of --model):
    python bench/check_same_reading.py dump /tmp/new.json
    python bench/check_same_reading.py dump /tmp/old.json --root /tmp/old-checkout
    # and tell every difference:
    python bench/check_same_reading.py compare /tmp/old.json /tmp/new.json

A dump holds ``--lines`` validation lines (half IAM lines, half Hooker lines cut by the PAGE-XML
reader; preprocessed, read by the network and decoded as :meth:`Recognizer.read` does: text, line
confidence, every character's frames and confidence) and ``--pages`` Hooker validation pages read
end to end (:meth:`Recognizer.read_page`: every line's box, text and confidence, every word's box,
text and confidence). Both dumps should use the same model folder (``--model``, by default this
checkout's shipped one), so that only the code differs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def dump(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(args.root).resolve()))
    from htr.image import load_image
    from htr.readers import group_split, open_data, split_of
    from htr.readers.pagexml import read_pagexml_pages
    from htr.recognizer import Recognizer

    import htr
    print(f"library: {Path(htr.__file__).parent}", file=sys.stderr)
    recognizer = Recognizer.load(args.model, decoder=args.decoder)
    half = args.lines // 2
    samples = []
    for spec, n in ((f"folder:{args.data}/iam-lines", half), (f"pagexml:{args.data}/hooker", args.lines - half)):
        samples += [s for s in open_data(spec) if split_of(s) == "val"][:n]
    out: dict = {"decoder": recognizer.decoder, "lines": {}, "pages": {}}
    images = [s.image() for s in samples]
    for s, rec in zip(samples, recognizer.read(images)):
        out["lines"][s.id] = {"text": rec.text, "confidence": rec.confidence,
                              "chars": [[c.char, c.start, c.end, c.confidence] for c in rec.chars]}
    pages = [p for p in read_pagexml_pages(Path(args.data) / "hooker")
             if group_split(p.group) == "val"][:args.pages]
    for p in pages:
        page = recognizer.read_page(load_image(p.image))
        out["pages"][str(p.image)] = [
            {"box": list(line.box), "text": line.text, "confidence": line.confidence,
             "words": [[list(w.box), w.text, w.confidence] for w in line.words]}
            for line in page.lines]
    Path(args.out).write_text(json.dumps(out))
    print(f"{len(out['lines'])} lines, {len(out['pages'])} pages "
          f"({sum(len(v) for v in out['pages'].values())} lines) -> {args.out}", file=sys.stderr)
    return 0


def compare(args: argparse.Namespace) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (args.a, args.b))
    diffs: list[str] = []

    def same(x, y, where: str) -> None:
        if isinstance(x, float) or isinstance(y, float):
            if not (isinstance(x, (int, float)) and isinstance(y, (int, float))) or abs(x - y) > args.tol:
                diffs.append(f"{where}: {x!r} != {y!r}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                diffs.append(f"{where}: {len(x)} items != {len(y)}")
            else:
                for i, (u, v) in enumerate(zip(x, y)):
                    same(u, v, f"{where}[{i}]")
        elif isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    diffs.append(f"{where}.{k}: only in {'b' if k not in x else 'a'}")
                else:
                    same(x[k], y[k], f"{where}.{k}")
        elif x != y:
            diffs.append(f"{where}: {x!r} != {y!r}")

    same(a, b, "")
    n_pages_lines = sum(len(v) for v in a["pages"].values())
    print(f"compared {len(a['lines'])} lines and {len(a['pages'])} pages ({n_pages_lines} lines), "
          f"decoder {a['decoder']}: {len(diffs)} differences")
    for d in diffs[:40]:
        print("  " + d)
    return 1 if diffs or not a["lines"] else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="read lines and pages, write what was read as JSON")
    d.add_argument("out")
    d.add_argument("--root", default=str(HERE), help="checkout whose htr library reads")
    d.add_argument("--model", default=str(HERE / "models" / "default"))
    d.add_argument("--data", default=str(HERE.parent / "shared" / "data"))
    d.add_argument("--decoder", default=None, help="decoder (default: the library's)")
    d.add_argument("--lines", type=int, default=200)
    d.add_argument("--pages", type=int, default=10)
    c = sub.add_parser("compare", help="differences between two dumps")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--tol", type=float, default=1e-9, help="largest confidence difference allowed")
    args = ap.parse_args()
    return dump(args) if args.cmd == "dump" else compare(args)


if __name__ == "__main__":
    raise SystemExit(main())
