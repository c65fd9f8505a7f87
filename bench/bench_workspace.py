"""The workspace (htr.workspace): how long saving a page, correcting a line and exporting take,
with real pages, and what several writers at once get.

    python bench/bench_workspace.py --pages 20                  # Hooker pages from ../shared/data
    python bench/bench_workspace.py --pages 20 --writers 8      # 8 threads correcting one page

Each page is a Hooker scan (JPEG, about 1067x1613) with its transcribed lines (PAGE-XML) standing
for a reading: it is saved (image and PAGE-XML written, index row), then every line corrected one at
a time (a PUT each, a new version each), then the workspace exported as a training set and read
back by the training reader. Writers: ``--writers`` threads correct the same page from the same
version at once, over and over; each round exactly one must win and the others get a conflict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from htr.readers.pagexml import read_page_lines, read_pagexml  # noqa: E402
from htr.workspace import Conflict, Workspace  # noqa: E402


def hooker_pages(n: int) -> list[tuple[Path, dict]]:
    from PIL import Image

    folder = ROOT.parent / "shared" / "data" / "hooker"
    out = []
    for xml in sorted(folder.glob("*.xml"))[:n]:
        lines = read_page_lines(xml)
        width, height = Image.open(lines[0].image).size
        result = {"width": width, "height": height, "level": "page", "model": "default", "lines": [
            {"box": list(ln.box), "polygon": [list(p) for p in ln.polygon],
             "baseline": [list(p) for p in ln.baseline or []], "text": ln.text,
             "confidence": 0.8, "words": []} for ln in lines]}
        out.append((lines[0].image, result))
    return out


def ms(seconds: list[float]) -> str:
    s = sorted(seconds)
    return (f"p50 {1000 * statistics.median(s):.1f} ms, p95 {1000 * s[int(.95 * (len(s) - 1))]:.1f}"
            f" ms (n={len(s)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    pages = hooker_pages(args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        saves, lines, ids = [], [], []
        for image, result in pages:
            t = time.perf_counter()
            info = ws.save(result, image, name=image.name)
            saves.append(time.perf_counter() - t)
            ids.append(info.id)
            version = info.version
            for n, line in enumerate(result["lines"], 1):
                t = time.perf_counter()
                version = ws.correct_line(info.id, n, line["text"] + " (checked)", version).version
                lines.append(time.perf_counter() - t)
        print(f"save a page (image + PAGE-XML + index): {ms(saves)}")
        print(f"correct one line (new PAGE-XML + index): {ms(lines)}")
        t = time.perf_counter()
        data = ws.export_zip()
        print(f"export {len(ids)} pages as a ZIP: {time.perf_counter() - t:.2f} s, "
              f"{len(data) / 1e6:.1f} MB")
        t = time.perf_counter()
        samples = read_pagexml(ws.root)
        print(f"training reader: {len(samples)} line samples from {len({s.group for s in samples})}"
              f" groups in {time.perf_counter() - t:.2f} s; corrected text on all: "
              f"{all(s.text.endswith('(checked)') for s in samples)}")

        page_id = ids[0]
        wins = conflicts = 0
        for _ in range(args.rounds):
            version = ws.get(page_id).info.version
            outcomes: list[str] = []
            start = threading.Barrier(args.writers)

            def write(k: int) -> None:
                start.wait()
                try:
                    ws.correct_line(page_id, 1, f"writer {k}", version)
                    outcomes.append("won")
                except Conflict:
                    outcomes.append("conflict")
            threads = [threading.Thread(target=write, args=(k,)) for k in range(args.writers)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            wins += outcomes.count("won")
            conflicts += outcomes.count("conflict")
            assert outcomes.count("won") == 1, outcomes
        print(f"{args.writers} writers from one version, {args.rounds} rounds: {wins} saves, "
              f"{conflicts} conflicts, none lost (version {ws.get(page_id).info.version})")


if __name__ == "__main__":
    main()
