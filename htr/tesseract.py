"""Tesseract's reading of an image: the baseline that the web app shows beside ours and that the
benchmarks score on the same crops. Runs the ``tesseract`` binary through pytesseract."""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Tesseract's page segmentation mode for each reading level: a page (automatic), one line, one
#: word; ``auto`` leaves it to Tesseract.
PAGE_SEGMENTATION = {"auto": 3, "page": 3, "line": 7, "word": 8}


def tesseract_version() -> str | None:
    """The installed Tesseract's version, or None when it (or pytesseract) cannot be run."""
    try:
        import pytesseract

        return str(pytesseract.get_tesseract_version())
    except Exception:  # not installed, not runnable, pytesseract missing
        return None


def tesseract_text(grey: np.ndarray, level: str = "auto", lang: str = "eng",
                   timeout: float = 0) -> str:
    """Tesseract's text of a greyscale image read at ``level`` (see :data:`PAGE_SEGMENTATION`),
    its lines stripped and blank lines dropped. ``timeout`` in seconds (0: none); pytesseract
    raises RuntimeError when it runs out, and its own errors when Tesseract fails."""
    import pytesseract

    text = pytesseract.image_to_string(Image.fromarray(grey), lang=lang, timeout=timeout,
                                       config=f"--psm {PAGE_SEGMENTATION.get(level, 3)}")
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
