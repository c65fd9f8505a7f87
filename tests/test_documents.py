"""Documents in (htr/documents.py): formats sniffed from the bytes, every page of a PDF, TIFF and
HEIF, limits of pages, bytes and pixels, and the bad documents: a PDF bomb, an encrypted PDF, a
TIFF with a broken page (each a clear error naming the page, the other pages still read)."""

from __future__ import annotations

import io

import numpy as np
import pytest

import document_files as files
from htr.documents import DocumentError, Limits, open_document, page_from_dict, sniff


def read_all(document):
    return [(n, None if e else img.shape, e) for n, img, e in document]


def test_formats_are_sniffed_from_the_bytes_never_the_name():
    png = io.BytesIO()
    files.page_image().save(png, "PNG")
    jpeg = io.BytesIO()
    files.page_image().save(jpeg, "JPEG")
    cases = {"PDF": files.pdf(1), "TIFF": files.tiff(1), "HEIF": files.heif(1),
             "WEBP": files.webp(), "PNG": png.getvalue(), "JPEG": jpeg.getvalue()}
    for kind, data in cases.items():
        assert sniff(data) == kind
        document = open_document([("scan.txt", data)])  # the name says nothing
        assert document.kind == kind and len(document.pages) == 1
        [(number, shape, error)] = read_all(document)
        assert number == 1 and error is None and shape[0] > 100 and shape[1] > 500
    assert sniff(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 20) is None  # an MP4 is no HEIF
    with pytest.raises(DocumentError) as err:
        open_document([("letter.pdf", b"Dear Sir, " * 50)])
    assert err.value.code == "not_an_image" and "letter.pdf" in err.value.message
    with pytest.raises(DocumentError) as err:
        open_document([("x.pdf", b"")])
    assert err.value.code == "empty_file"
    gif = io.BytesIO()
    files.page_image().save(gif, "GIF")
    with pytest.raises(DocumentError) as err:
        open_document([("x.pdf", gif.getvalue())])
    assert err.value.code == "unsupported_format" and "GIF" in err.value.message


def test_every_page_of_a_pdf_tiff_and_heif_and_several_files_as_one_document():
    pdf = open_document([("letter.pdf", files.pdf(4))], Limits(dpi=200))
    pages = read_all(pdf)
    assert [n for n, _, _ in pages] == [1, 2, 3, 4] and all(e is None for *_, e in pages)
    # 100 dpi scans rendered at 200 dpi: twice the pixels a side
    assert pages[0][1] == tuple(2 * s for s in np.asarray(files.page_image(0)).shape)
    assert [s for _, s, _ in read_all(open_document([("a.tif", files.tiff(3))]))] == \
        [np.asarray(files.page_image(i)).shape for i in range(3)]
    assert len(read_all(open_document([("a.heic", files.heif(2))]))) == 2
    both = open_document([("a.pdf", files.pdf(2)), ("b.tif", files.tiff(3))])
    assert both.name == "document" and len(both.pages) == 5
    assert [(r.source, r.index) for r in both.pages] == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    assert all(e is None for *_, e in read_all(both))


def test_an_encrypted_pdf_is_a_clear_error():
    with pytest.raises(DocumentError) as err:
        open_document([("secret.pdf", files.encrypted_pdf())])
    assert err.value.code == "encrypted_document"
    assert "secret.pdf" in err.value.message and "password" in err.value.message


def test_a_pdf_bomb_reads_the_pages_within_the_limits_and_names_the_rest():
    document = open_document([("bomb.pdf", files.pdf_bomb(3000, huge_page=2))],
                             Limits(max_pages=5, dpi=200))
    assert len(document.pages) == 5
    assert document.notes == ["bomb.pdf has 3000 pages: only the first 5 pages of the document "
                              "are read (the limit per document)."]
    pages = read_all(document)
    assert [n for n, _, _ in pages] == [1, 2, 3, 4, 5]
    error = pages[1][2]
    assert error.code == "too_many_pixels" and error.page == 2
    assert error.message.startswith("bomb.pdf: page 2 is 190 x 190 inches")
    assert all(e is None and s == (200, 200) for n, s, e in pages if n != 2)  # 1 inch at 200 dpi


def test_a_tiff_with_a_broken_page_names_it_and_reads_the_others():
    pages = read_all(open_document([("archive.tif", files.tiff(3, broken=2))]))
    assert [e is None for *_, e in pages] == [True, False, True]
    error = pages[1][2]
    assert error.code == "corrupt_page" and error.page == 2
    assert error.message.startswith("archive.tif: page 2 is damaged")


def test_limits_of_bytes_and_pixels_per_page():
    data = files.tiff(2)
    with pytest.raises(DocumentError) as err:
        open_document([("big.tif", data)], Limits(max_bytes=len(data) - 1))
    assert err.value.code == "file_too_large"
    pages = read_all(open_document([("big.tif", data)], Limits(max_pixels=250_000)))
    # page 1 is 778x260 (202k pixels), page 2 1256x307 (386k)
    assert pages[0][2] is None and pages[1][2].code == "too_many_pixels"
    assert "page 2" in pages[1][2].message
    pdf = read_all(open_document([("a.pdf", files.pdf(1))], Limits(max_pixels=100_000)))
    assert pdf[0][2].code == "too_many_pixels" and "at 200 dpi" in pdf[0][2].message


def test_a_page_comes_back_from_its_dict():
    from htr.results import Line, Page, Word

    page = Page(100, 50, (Line((1, 2, 90, 20), ((1, 2), (90, 2), (90, 20)), ((1, 18), (90, 18)),
                               "to be", 0.8, (Word((1, 2, 30, 20), "to", 0.9),
                                              Word((35, 2, 90, 20), "be", 0.7)), "l1", "r1"),),
                "page")
    assert page_from_dict(page.to_dict()) == page
    assert page_from_dict(page.to_dict()).to_dict() == page.to_dict()
