"""Result types shared by the library, the command line and (later) the web app."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class CharSpan:
    """One decoded character: the output frames it spans and its probability."""

    char: str
    start: int
    end: int
    confidence: float


@dataclass(frozen=True)
class Recognition:
    """The text read from one word or line image, with a confidence in [0, 1].

    ``chars`` keeps each character's frame span, from which word boxes can be derived
    (a frame covers :data:`htr.model.WIDTH_REDUCTION` input columns). ``word_posteriors``, from
    the lexicon decoders: each word's share of their final beams that read it too (one per word
    of :meth:`words`; empty from best-path decoding).
    """

    text: str
    confidence: float
    chars: tuple[CharSpan, ...] = field(default=(), repr=False)
    word_posteriors: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 4)}

    def words(self) -> list["WordSpan"]:
        """The white-space separated words of ``text`` with their frame spans and confidences.

        A word's confidence is its least confident character's: one doubtful letter makes the
        word doubtful, which is what a reader checking the text needs to know.
        """
        out: list[WordSpan] = []
        current: list[CharSpan] = []
        for c in (*self.chars, CharSpan(" ", 0, 0, 1.0)):
            if c.char != " ":
                current.append(c)
            elif current:
                out.append(WordSpan("".join(x.char for x in current), current[0].start,
                                    current[-1].end, min(x.confidence for x in current)))
                current = []
        if len(self.word_posteriors) == len(out):
            out = [replace(w, posterior=p) for w, p in zip(out, self.word_posteriors)]
        return out


@dataclass(frozen=True)
class WordSpan:
    """A word of a :class:`Recognition`: its text, output frames ``[start, end)``, confidence,
    and from a lexicon decoder its posterior among the final beams."""

    text: str
    start: int
    end: int
    confidence: float
    posterior: float | None = None


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the original image's pixels (x1, y1 exclusive)
Point = tuple[int, int]


def box_union(boxes: Iterable[Box]) -> Box:
    """The smallest box holding all of ``boxes`` (at least one)."""
    x0, y0, x1, y1 = zip(*boxes)
    return min(x0), min(y0), max(x1), max(y1)


@dataclass(frozen=True)
class Word:
    """A word on a page: its box, text and confidence."""

    box: Box
    text: str = ""
    confidence: float = 0.0

    def to_dict(self) -> dict:
        return {"box": list(self.box), "text": self.text, "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Line:
    """A text line on a page: its geometry (box, polygon, baseline when known), text and words.

    ``id`` and ``region`` are the line's and its text region's ids when the line came from a
    layout file made elsewhere (PAGE-XML, ALTO): kept so that the text can go back where it came
    from. Lines the page reader found itself have none ("").
    """

    box: Box
    polygon: tuple[Point, ...] = ()
    baseline: tuple[Point, ...] = ()
    text: str = ""
    confidence: float = 0.0
    words: tuple[Word, ...] = ()
    id: str = ""
    region: str = ""

    def to_dict(self) -> dict:
        out = {"box": list(self.box), "polygon": [list(p) for p in self.polygon],
               "baseline": [list(p) for p in self.baseline], "text": self.text,
               "confidence": round(self.confidence, 4), "words": [w.to_dict() for w in self.words]}
        # Only when known: the output of a page read without a layout stays as it was.
        if self.id:
            out["id"] = self.id
        if self.region:
            out["region"] = self.region
        return out


@dataclass(frozen=True)
class Page:
    """A read page: its size and its lines in reading order.

    ``sheet``: where a photo's sheet of paper lies in it (:mod:`htr.sheet`), its four corners
    clockwise from the top left of the page as read, in the image's pixels; None when the image
    showed no sheet against a background (a scan, a crop), and then absent from :meth:`to_dict`.

    ``turned``: the degrees (90, 180, 270) the image was turned counter-clockwise to be read the
    right way up (:mod:`htr.orientation`), everything in it still in the image's own pixels; 0
    for an image read as it came, and then absent from :meth:`to_dict`.
    """

    width: int
    height: int
    lines: tuple[Line, ...] = ()
    level: str = "page"  # what the image was read as: "page", "line" or "word"
    sheet: tuple[Point, ...] | None = None
    #: The language of the lexicon it was decoded with (``en``, ``fr``; chosen by ``auto``, or
    #: given); None without one (the greedy decoder, a word list of one's own).
    language: str | None = None
    turned: int = 0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        out = {"width": self.width, "height": self.height, "level": self.level,
               "lines": [line.to_dict() for line in self.lines]}
        if self.sheet is not None:  # only for photos: a scan's output stays as it was
            out["sheet"] = [list(p) for p in self.sheet]
        if self.language is not None:
            out["language"] = self.language
        if self.turned:
            out["turned"] = self.turned
        return out
