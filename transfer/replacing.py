"""Renaming a file over another, on Windows too.

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
import time
from collections.abc import Callable

TRIES = 40
PAUSE_S = 0.05
"""Up to two seconds in all: long enough for a reader to close, short enough to wait in a step."""

Replace = Callable[[str | os.PathLike[str], str | os.PathLike[str]], None]


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
