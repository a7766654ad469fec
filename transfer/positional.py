"""A file read and written at given offsets, from several threads, on POSIX and Windows alike.

``os.pread`` and ``os.pwrite`` do this without moving a shared position, so threads
read and write side by side, as a download's ranges land. Windows' Python lacks both:
there :class:`RandomAccessFile` seeks and reads (or writes) under a lock of its own
instead. It opens the file in binary mode, which a plain ``os.open`` on Windows does not
(it would translate line ends and stop reading at a Ctrl-Z byte).
"""

from __future__ import annotations

import os
import threading
from typing import Literal

_PREAD = getattr(os, "pread", None)
_PWRITE = getattr(os, "pwrite", None)
"""``os.pread`` and ``os.pwrite`` where the OS has them (not on Windows), else None."""
_POSITIONAL = _PREAD is not None and _PWRITE is not None


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
        if _POSITIONAL:
            return self._pread(offset, length)
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

    def _pread(self, offset: int, length: int) -> bytes:
        fd, parts, left = self._file.fileno(), [], length
        while left > 0:
            chunk = _PREAD(fd, left, offset)
            if not chunk:
                break
            parts.append(chunk)
            offset += len(chunk)
            left -= len(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def write_at(self, offset: int, data: bytes | memoryview) -> None:
        """Write all of ``data`` at ``offset``."""
        view = memoryview(data)
        if _POSITIONAL:
            fd = self._file.fileno()
            while view:
                written = _PWRITE(fd, view, offset)
                view, offset = view[written:], offset + written
            return
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
