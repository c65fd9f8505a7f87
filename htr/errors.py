"""Error types: one per kind of bad input, each with a message a person can act on."""

from __future__ import annotations


class HTRError(Exception):
    """Base class of every error the library raises on purpose."""


class ImageError(HTRError):
    """An image could not be read: missing, empty, corrupt, not an image, or too large.

    The message names the file (when there is one) and the reason, on one line.
    """

    def __init__(self, reason: str, source: str | None = None) -> None:
        self.reason = reason
        self.source = source
        super().__init__(f"{source}: {reason}" if source else reason)


class DataError(HTRError):
    """A training or evaluation data set is missing, malformed or of an unknown kind."""


class ModelError(HTRError):
    """A model folder is missing, incomplete, or does not match its charset."""
