"""``python -m htr read letter.pdf scans.tif page.png``: every page of every document is read; a
document's JSON is ``{"file", "pages"}``; a broken page is named on stderr and the rest is read."""

from __future__ import annotations

import json

import cv2
import pytest

import document_files as files
from conftest import draw_text
from test_cli import htr


@pytest.mark.slow
def test_read_every_page_of_pdfs_and_tiffs(tiny_model_dir, tmp_path):
    pdf = tmp_path / "letter.pdf"
    pdf.write_bytes(files.pdf(3))
    tif = tmp_path / "scans.tif"
    tif.write_bytes(files.tiff(3, broken=2))
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(files.encrypted_pdf())
    png = tmp_path / "word.png"
    cv2.imwrite(str(png), draw_text("hello"))
    run = htr("read", str(pdf), str(tif), str(secret), str(png), "--model", str(tiny_model_dir),
              "--decoder", "greedy", "--format", "json")
    assert run.returncode == 1
    entries = json.loads(run.stdout)
    assert [e["file"] for e in entries] == [str(pdf), str(tif), str(png)]
    assert set(entries[0]) == {"file", "pages"}
    assert [p["page"] for p in entries[0]["pages"]] == [1, 2, 3]
    assert all(set(p) == {"page", "width", "height", "level", "lines", "insights"}
               for p in entries[0]["pages"])
    assert [p.get("error", {}).get("error") for p in entries[1]["pages"]] == [
        None, "corrupt_page", None]
    assert set(entries[2]) == {"file", "width", "height", "level", "lines", "insights"}  # an image
    # (libtiff itself also writes a line about the broken page to stderr: not ours to word)
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {secret}: the PDF is encrypted (protected by a password): remove the protection "
        "and send it again.",
        f"error: {tif}: page 2 is damaged and cannot be read (decoder error -2)."], run.stderr
    # No terminal here, so no progress bar: stderr holds only the errors.
    searchable = tmp_path / "letter-read.pdf"
    run = htr("read", str(pdf), "--model", str(tiny_model_dir), "--decoder", "greedy",
              "--format", "pdf", "-o", str(searchable))
    assert run.returncode == 0 and run.stderr == ""
    import pypdfium2 as pdfium

    assert len(pdfium.PdfDocument(searchable.read_bytes())) == 3
    text = htr("read", str(pdf), "--model", str(tiny_model_dir), "--decoder", "greedy")
    assert {line.split("\t")[0] for line in text.stdout.splitlines()} <= {
        f"{pdf} page {n}" for n in (1, 2, 3)}
