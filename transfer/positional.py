"""A file read and written at given offsets, from several threads, on POSIX and Windows alike.

``os.pread`` and ``os.pwrite`` do this without moving a shared position, but
Windows' Python lacks both. :class:`RandomAccessFile` seeks and reads (or
writes) under a lock of its own instead, and opens the file in binary mode,
which a plain ``os.open`` on Windows does not (it would translate line ends
and stop reading at a Ctrl-Z byte).
"""

from __future__ import annotations

import os
import threading
from typing import Literal


class RandomAccessFile:
    """A file opened once and read or written at offsets; safe to share between threads.

    Parameters
    ----------
    path
        The file; it must exist.
    mode
        ``"rb"`` to read, ``"r+b"`` to read and write.
    """

    def __init__(self, path: str | os.PathLike[str], mode: Literal["rb", "r+b"] = "rb") -> None:
        self._file = open(path, mode, buffering=0)  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()

    def __enter__(self) -> RandomAccessFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        return self._file.fileno()

    def stat(self) -> os.stat_result:
        return os.fstat(self._file.fileno())

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``; fewer only where the file ends."""
        with self._lock:
            self._file.seek(offset)
            parts = []
            left = length
            while left > 0:
                chunk = self._file.read(left)
                if not chunk:
                    break
                parts.append(chunk)
                left -= len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Write all of ``data`` at ``offset``."""
        view = memoryview(data)
        with self._lock:
            self._file.seek(offset)
            while view:
                written = self._file.write(view)
                view = view[written or 0 :]

    def sync(self) -> None:
        """Flush what was written to the disk."""
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()
