"""Error types: one per kind of bad input, each with a message a person can act on."""

from __future__ import annotations


class HTRError(Exception):
    """Base class of every error the library raises on purpose."""


#: What :class:`ImageError` says went wrong, for programs.
IMAGE_ERROR_CODES = ("missing", "empty", "not_image", "corrupt", "too_large", "no_pixels",
                     "unsupported", "unreadable")


class ImageError(HTRError):
    """An image could not be read: missing, empty, corrupt, not an image, or too large.

    The message names the file (when there is one) and the reason, on one line. ``code`` is
    stable for programs (the web API's error codes): one of :data:`IMAGE_ERROR_CODES`. ``size``
    is the image's (width, height) when it is known (a "too_large" image's header).
    """

    def __init__(self, reason: str, source: str | None = None, code: str = "unreadable",
                 size: tuple[int, int] | None = None) -> None:
        if code not in IMAGE_ERROR_CODES:
            raise ValueError(f"unknown image error code {code!r}")
        self.reason = reason
        self.source = source
        self.code = code
        self.size = size
        super().__init__(f"{source}: {reason}" if source else reason)


class CodedError(HTRError):
    """An error with a stable ``code`` for programs (the web API's error codes), one of the
    subclass's :attr:`CODES`, and a message a person can act on."""

    #: The codes this kind of error may carry.
    CODES: tuple[str, ...] = ()

    def __init__(self, code: str, message: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown {type(self).__name__} code {code!r}")
        self.code = code
        super().__init__(message)


class DataError(HTRError):
    """A training or evaluation data set is missing, malformed or of an unknown kind."""


class ModelError(HTRError):
    """A model folder is missing, incomplete, or does not match its charset."""
