"""Protections of what the agent keeps on the site's host: patient data and secrets.

On POSIX every file the agent writes, moves or archives that holds patient data
(a ``.phi`` file, re-identified or delivered DICOM, a task file or raw file it
queues) is made 0600 and every folder of its own 0700, whatever mode the file
arrived with or the umask gave it. On Windows permission bits mean nothing: the
folders' access control lists protect the files, which inherit them
(``agent/WINDOWS.md``), so these functions leave Windows files as they are.
"""

from __future__ import annotations

import os
from pathlib import Path

from contracts.atomic_write import PRIVATE_FILE

PRIVATE_FOLDER = 0o700


def protect_file(path: Path) -> None:
    """Make ``path`` readable and writable by the agent's user alone."""
    if os.name == "posix":
        os.chmod(path, PRIVATE_FILE)


def private_folder(path: Path) -> Path:
    """Create ``path`` (and its parents) where missing; make it the agent's user's alone."""
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        os.chmod(path, PRIVATE_FOLDER)
    return path
