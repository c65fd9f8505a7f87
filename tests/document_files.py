"""Documents made on the fly for the documents' and jobs' tests: PDFs, multi-page TIFFs (one
with a damaged page), HEIF and WEBP, of pages of real handwritten lines."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from conftest import stacked_lines

LINES = ["line-iam-ondb-a01-020w-02.png", "line-iam-ondb-f01-017z-04.png",
         "line-iam-ondb-l06-637z-04.png", "line-hooker-JDH_2_16_56_001_r1l17.png"]


def page_image(n: int = 0, lines: int = 2) -> Image.Image:
    """A page of ``lines`` real handwritten lines; ``n`` picks which (pages differ)."""
    return Image.fromarray(stacked_lines([LINES[(n + i) % len(LINES)] for i in range(lines)]))


def pdf(pages: int, lines: int = 2, resolution: float = 100) -> bytes:
    """A PDF of ``pages`` scanned pages (rendered at 200 dpi they come out twice as large)."""
    images = [page_image(i, lines) for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=resolution)
    return out.getvalue()


def tiff(pages: int, broken: int | None = None) -> bytes:
    """A multi-page TIFF (each page deflate-compressed); page ``broken`` (from 1) has its image
    data overwritten with garbage: its directory is fine, its pixels cannot be decoded."""
    images = [page_image(i) for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:],
                   compression="tiff_adobe_deflate")
    data = bytearray(out.getvalue())
    if broken is not None:
        image = Image.open(io.BytesIO(bytes(data)))
        image.seek(broken - 1)
        offset = image.tag_v2[273][0]  # StripOffsets: where its first strip lies
        data[offset:offset + 64] = bytes(np.random.default_rng(0).integers(0, 256, 64, np.uint8))
    return bytes(data)


def heif(pages: int) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    images = [page_image(i).convert("RGB") for i in range(pages)]
    out = io.BytesIO()
    images[0].save(out, "HEIF", save_all=True, append_images=images[1:], quality=90)
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    page_image().save(out, "WEBP", lossless=True)
    return out.getvalue()


def encrypted_pdf() -> bytes:
    from fpdf import FPDF

    doc = FPDF()
    doc.add_page()
    doc.set_encryption(owner_password="owner", user_password="secret")
    return bytes(doc.output())


def pdf_bomb(pages: int = 3000, huge_page: int | None = None) -> bytes:
    """Thousands of small blank pages; ``huge_page`` (from 1) is 190 inches a side."""
    from fpdf import FPDF

    doc = FPDF(unit="pt", format=(72, 72))
    for n in range(1, pages + 1):
        doc.add_page(format=(13700, 13700) if n == huge_page else (72, 72))
    return bytes(doc.output())
