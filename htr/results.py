"""Result types shared by the library, the command line and (later) the web app."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    (a frame covers :data:`htr.model.WIDTH_REDUCTION` input columns).
    """

    text: str
    confidence: float
    chars: tuple[CharSpan, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": round(self.confidence, 4)}
