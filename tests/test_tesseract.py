"""Tesseract, the baseline shown beside our reading, reads printed text it is good at."""

import cv2
import numpy as np
import pytest

from htr.tesseract import tesseract_text, tesseract_version

pytestmark = pytest.mark.skipif(tesseract_version() is None, reason="tesseract not installed")


def test_tesseract_reads_a_printed_line_and_keeps_lines_apart():
    page = np.full((200, 900), 250, np.uint8)
    cv2.putText(page, "The quick brown fox", (30, 70), cv2.FONT_HERSHEY_DUPLEX, 1.6, 20, 2)
    cv2.putText(page, "jumps over the dog", (30, 150), cv2.FONT_HERSHEY_DUPLEX, 1.6, 20, 2)
    assert tesseract_text(page, "page").splitlines() == ["The quick brown fox", "jumps over the dog"]
    assert tesseract_text(page[:100], "line") == "The quick brown fox"
