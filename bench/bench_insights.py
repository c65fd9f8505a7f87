#!/usr/bin/env python3
"""How long understanding a page of text takes (:mod:`htr.insights`): the first call in a
process (loading dateparser's and YAKE's data), then each page after it, in English and French.

    python bench/bench_insights.py [--repeat 20] [--pagexml ../shared/data/hooker --limit 150]

The page is a letter of about 1,000 characters with every kind of entity in it, as a page read
from a scan gives (lines joined by newlines), with a few recognition errors. ``--pagexml DIR``
also understands the true text of the PAGE-XML pages in DIR (their lines joined by newlines):
the time they take, and what was found in them, a few of each kind, to look over.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAGES = {
    "en": """Kew Gardens, Thursday 3rd of March 1887
Dear Mr Smith,
I write to tell you that the seeds from the botanical garden at
Calcutta arrived safely on the 1st of this month, and that the box of
orchid seeds cost £2.10s with the carriage 5s. 6d. which I have paid.
The gardeners have sown them in the new hot house and we expect the
first shoots before the end of April. Tbe palms are doing well and
the ferns from Ceylon have all taken, save two which were damaged
in the voyage. I should be glad if you would send the rest of the
collection by the next steamer, packed in moss as before.
Should you wish to speak to me, ring +44 20 7946 0958 on any day
but Sunday, or write to j.smith@example.org; the catalogue is at
www.kew.org/catalogue. Our next meeting is on 3/4/21 at 10:30.
Mrs Hooker sends her kind regards and hopes your daughter is
recovered from the fever. The weather here has been cold and wet
for the season, and the lake was frozen for a week in February.
I remain, dear Sir, yours very truly,
J. D. Hooker
""",
    "fr": """Paris, le 3 mars 1887
Monsieur,
Je vous écris pour vous dire que les graines du jardin botanique de
Calcutta sont bien arrivées le 1er de ce mois, et que la caisse a
coûté 12,50 € avec le port de 3 francs que j'ai payé.
Les jardiniers les ont semées dans la nouvelle serre chaude et nous
attendons les premières pousses avant la fin d'avril. Les palmiers
se portent bien et les fougères de Ceylan ont toutes pris, sauf deux
qui ont souffert du voyage. Je vous serais obligé de m'envoyer le
reste de la collection par le prochain vapeur, emballé dans la mousse.
Si vous voulez me parler, appelez le 01 42 68 53 00 tous les jours
sauf le dimanche, ou écrivez à j.dupont@example.fr ; le catalogue est
sur www.jardin.fr. Notre prochaine réunion est le 1er mai 1887 à 14h30.
Veuillez agréer, Monsieur, mes salutations distinguées.
J. Dupont
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pagexml", type=Path, help="a folder of PAGE-XML pages (English)")
    parser.add_argument("--limit", type=int, default=150, help="pages of --pagexml at most")
    args = parser.parse_args()
    started = time.perf_counter()
    from htr.insights import understand

    print(f"import: {time.perf_counter() - started:.2f} s")
    for language, page in PAGES.items():
        started = time.perf_counter()
        first = understand(page, language)
        once = time.perf_counter() - started
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            understand(page, language)
            times.append(time.perf_counter() - started)
        print(f"{language}: {len(page)} characters, {len(first.key_phrases)} key phrases, "
              f"{len(first.entities)} entities; first call {once:.2f} s, then median "
              f"{statistics.median(times) * 1000:.0f} ms (max {max(times) * 1000:.0f} ms) per page")
    if args.pagexml:
        pagexml(args.pagexml, args.limit)


def pagexml(folder: Path, limit: int) -> None:
    from collections import Counter, defaultdict

    from lxml import etree

    from htr.insights import understand

    kinds, examples, chars, seconds = Counter(), defaultdict(list), 0, 0.0
    files = sorted(folder.glob("*.xml"))[:limit]
    for path in files:
        tree = etree.parse(str(path))
        text = "\n".join(u.text or "" for u in tree.xpath(
            "//*[local-name()='TextLine']/*[local-name()='TextEquiv']/*[local-name()='Unicode']"))
        chars += len(text)
        started = time.perf_counter()
        found = understand(text, "en")
        seconds += time.perf_counter() - started
        for e in found.entities:
            kinds[e.kind] += 1
            examples[e.kind].append(f"{' '.join(e.text.split())!r} -> {e.value}")
    print(f"{folder}: {len(files)} pages, {chars:,} characters in {seconds:.1f} s "
          f"({seconds / max(len(files), 1) * 1000:.0f} ms a page); found {dict(kinds)}")
    for kind, shown in examples.items():
        print(f"  {kind}: " + "; ".join(shown[:8]))


if __name__ == "__main__":
    main()
