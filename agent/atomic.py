"""Writing a file so that a crash leaves the old content or the new, never a mix.

The task journal, the ``.phi`` vault and the task files ``submit`` writes all go
through :func:`write_atomically`: a temporary file beside the target, flushed to
the disk, renamed over the target, and the folder flushed so the rename itself
survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from agent.private import PRIVATE_FILE
from transfer.replacing import replace_file


def write_atomically(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves the old file or the new, whole.

    Parameters
    ----------
    path
        The file to write; its folder must exist.
    data
        The whole new content.
    mode
        Permission bits for the new file on POSIX; by default 0o600, readable by the
        agent's user alone, whatever mode the file it replaces had.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        replace_file(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to the disk, where the system allows it."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
