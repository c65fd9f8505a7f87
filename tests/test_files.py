"""Writing files whole (htr/files.py)."""

from __future__ import annotations

import os
import stat

from htr.files import write_atomically


def test_a_file_written_whole_replaces_the_old_one_and_is_readable_by_others(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # no temporary file left
    # As any new file: a model written so is copied into the container, whose user is not root.
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
