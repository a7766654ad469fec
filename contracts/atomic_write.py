"""Writing a file so that a crash leaves the old content or the new, never a mix.

A temporary file beside the target is written, flushed to the disk, renamed over
the target, and the folder flushed so the rename itself survives a power cut.

On Windows a file that another process holds open (ORT reading a ``.phi``,
``status`` reading a journal, a virus scanner looking at a new file) cannot be
replaced, moved or removed: ``os.replace`` fails with ``PermissionError`` until
that process closes it, which is usually a matter of milliseconds.
:func:`replace_file` tries again for a short while before it gives up. On POSIX
a rename never waits for readers, and a ``PermissionError`` there is lasting, so
the same bounded retry only delays the error.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PRIVATE_FILE = 0o600
"""Readable and writable by the writer's user alone: the default for a new file."""

TRIES = 40
PAUSE_S = 0.05
"""Up to two seconds in all: long enough for a reader to close, short enough to wait in a step."""

Replace = Callable[[str | os.PathLike[str], str | os.PathLike[str]], None]


def write_atomically(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves the old file or the new, whole.

    Parameters
    ----------
    path
        The file to write; its folder must exist.
    data
        The whole new content.
    mode
        Permission bits for the new file on POSIX, whatever mode the file it replaces
        had; by default readable by the writer's user alone.
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


def replace_file(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    tries: int = TRIES,
    pause_s: float = PAUSE_S,
    sleep: Callable[[float], None] = time.sleep,
    replace: Replace = os.replace,
) -> None:
    """``os.replace(source, target)``, tried again while the target is held open elsewhere.

    Raises
    ------
    PermissionError
        When the target is still held open (or not writable) after ``tries`` attempts.
    """
    for attempt in range(1, tries + 1):
        try:
            replace(source, target)
            return
        except PermissionError:
            if attempt == tries:
                raise
            sleep(pause_s)
