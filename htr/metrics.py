"""Accuracy measures: character and word error rates over a corpus (edit distance by rapidfuzz)."""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein


def char_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(reference, hypothesis)


def word_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(reference.split(), hypothesis.split())


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Character error rate: total edits over total reference characters."""
    _check(references, hypotheses)
    total = sum(len(r) for r in references)
    return sum(map(char_errors, references, hypotheses)) / max(total, 1)


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Word error rate on white-space separated words (punctuation stays attached to its word)."""
    _check(references, hypotheses)
    total = sum(len(r.split()) for r in references)
    return sum(map(word_errors, references, hypotheses)) / max(total, 1)


def _check(references: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
