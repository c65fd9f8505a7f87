"""Writing a file so that a reader (another request, worker or command) sees the old file or the
new one, never a part of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``: a temporary file in the same folder (a dot name no reader of
    the folder's files picks up), flushed to disk, then moved over ``path``. The file gets the
    permissions any new file gets (``mkstemp`` makes it private, and a model file written so
    and copied into the container was unreadable by its user)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back: done once,
    at import, before any thread of ours creates files)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
