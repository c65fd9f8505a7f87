"""Text on both sides of the network: label normalisation and the charset (text <-> label ids)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# IAM tokenises contractions as separate words: "it 's", "Seaweed ' s", "do n't".
_CONTRACTION = re.compile(r"\s*'\s*(s|t|d|m|re|ve|ll)\b", re.IGNORECASE)
_NT = re.compile(r"\s+(n't)\b", re.IGNORECASE)
_ATTACH_LEFT = {".", ",", ";", ":", "!", "?", ")", "]", "}", "%"}
_ATTACH_RIGHT = {"(", "[", "{"}


def normalize_text(text: str) -> str:
    """Turn IAM-style tokenised text into what a writer would put on paper.

    ``Mr . Gaitskell`` -> ``Mr. Gaitskell``, ``Seaweed ' s`` -> ``Seaweed's``, ``( 1 )`` -> ``(1)``,
    ``" Bella Marie "`` -> ``"Bella Marie"``. Text that is not tokenised passes through unchanged
    (apart from collapsing runs of white space), so the same function serves every data set and
    the scoring of predictions.
    """
    text = text.replace("&quot;", '"').replace("&amp;", "&")
    text = " ".join(text.split())
    text = _NT.sub(r"\1", text)
    text = _CONTRACTION.sub(lambda m: "'" + m.group(1), text)
    out: list[str] = []
    glue_next = False
    quote_open = False
    for token in text.split(" "):
        attach = glue_next
        glue_next = False
        if token == '"':
            if quote_open:
                attach = True
            else:
                glue_next = True
            quote_open = not quote_open
        elif token in _ATTACH_LEFT or (token and set(token) <= {"."}):
            attach = True
        elif token in _ATTACH_RIGHT:
            glue_next = True
        if attach and out:
            out[-1] += token
        else:
            out.append(token)
    return " ".join(out)


class Charset:
    """The characters a model can write, mapped to label ids.

    Id 0 is the CTC blank; characters take ids 1..len(charset). A model is saved with its own
    charset so that it always decodes with the mapping it was trained on.
    """

    BLANK = 0

    def __init__(self, chars: Iterable[str]) -> None:
        unique = sorted(set(chars))
        if any(len(c) != 1 for c in unique):
            raise ValueError("a charset holds single characters")
        self.chars: list[str] = unique
        self._index = {c: i + 1 for i, c in enumerate(unique)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 1) -> "Charset":
        """Build the charset of every character that occurs at least ``min_count`` times."""
        counts = Counter(c for text in texts for c in text)
        return cls(c for c, n in counts.items() if n >= min_count and c not in "\n\t\r")

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Charset) and self.chars == other.chars

    @property
    def num_classes(self) -> int:
        """Size of the network's output layer: the characters plus the blank."""
        return len(self.chars) + 1

    def covers(self, text: str) -> bool:
        return all(c in self._index for c in text)

    def encode(self, text: str) -> list[int]:
        """Label ids of ``text``; raises ValueError on a character outside the charset."""
        try:
            return [self._index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the charset") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Text of label ids (no CTC collapsing: blanks and unknown ids are skipped)."""
        n = len(self.chars)
        return "".join(self.chars[i - 1] for i in ids if 0 < i <= n)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"blank": self.BLANK, "chars": self.chars},
                                         ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Charset":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["chars"])
